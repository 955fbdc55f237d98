"""The translation layer: catalogs, plural forms, and each language's dates and numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from runtime.i18n import Texts, catalog_path, language_of, texts

SWEDISH = """msgid ""
msgstr ""
"Language: sv\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

msgid "How likely are you to recommend {title} to a colleague?"
msgstr "Hur troligt är det att du skulle rekommendera {title} till en kollega?"

msgid "{n} survey for you"
msgid_plural "{n} surveys for you"
msgstr[0] "{n} enkät till dig"
msgstr[1] "{n} enkäter till dig"

#, fuzzy
msgid "Thanks"
msgstr "Tack (utkast)"
"""


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    path = catalog_path("sv", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(SWEDISH, encoding="utf-8")
    return tmp_path


def test_a_text_is_looked_up_in_the_language_and_filled_in(locales: Path) -> None:
    sv, en = Texts("sv", locales), Texts("en", locales)
    question = "How likely are you to recommend {title} to a colleague?"
    assert sv._(question, title="Kvitton") == "Hur troligt är det att du skulle rekommendera Kvitton till en kollega?"
    assert en._(question, title="Expenses") == "How likely are you to recommend Expenses to a colleague?"


def test_plural_forms_follow_each_language(locales: Path) -> None:
    sv, en = Texts("sv", locales), Texts("en", locales)
    forms = ("{n} survey for you", "{n} surveys for you")
    assert [sv.n_(*forms, n) for n in (1, 2, 1200)] == [
        "1 enkät till dig",
        "2 enkäter till dig",
        "1\xa0200 enkäter till dig",
    ]
    assert [en.n_(*forms, n) for n in (1, 2, 1200)] == [
        "1 survey for you",
        "2 surveys for you",
        "1,200 surveys for you",
    ]


def test_an_untranslated_or_draft_text_is_english(locales: Path) -> None:
    sv = Texts("sv", locales)
    assert sv._("Thanks") == "Thanks"  # fuzzy: a draft, never shown
    assert sv._("Not in the catalog") == "Not in the catalog"


def test_dates_and_percentages_as_each_language_writes_them() -> None:
    day = date(2026, 12, 8)
    assert (texts("sv").day(day), texts("en").day(day)) == ("8 dec.", "Dec 8")
    assert (texts("sv").percent(0.84), texts("en").percent(0.84)) == ("84\xa0%", "84%")


@pytest.mark.parametrize(
    ("locale", "language"),
    [("sv-SE", "sv"), ("sv_FI", "sv"), ("en-GB", "en"), ("EN-us", "en"), ("de-DE", None), ("", None), (None, None)],
)
def test_a_slack_locale_names_one_of_our_languages_or_none(locale: str | None, language: str | None) -> None:
    assert language_of(locale) == language


def test_a_language_we_do_not_have_is_english() -> None:
    assert texts("de").language == "en" and texts(None).language == "en"
