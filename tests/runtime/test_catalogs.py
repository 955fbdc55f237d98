"""Each language's catalog holds exactly the texts the code marks, every one translated, with
the same `{name}` slots: a text added in English and not in Swedish fails here."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Message

from runtime.catalogs import extract, read, update
from runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog_path, texts

TRANSLATED = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]


def _slots(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _forms(message: Message) -> list[str]:
    string = message.string
    return [str(s) for s in string] if isinstance(string, (tuple, list)) else [str(string or "")]


def _ids(message: Message) -> list[str]:
    return [str(i) for i in message.id] if isinstance(message.id, (tuple, list)) else [str(message.id)]


@pytest.fixture(scope="module")
def code_texts() -> set[str]:
    return {_ids(m)[0] for m in extract() if m.id}


def test_the_code_marks_its_texts(code_texts: set[str]) -> None:
    # Not an empty extraction passing every check below: the survey's own words are found.
    assert "Change answer" in code_texts and "Usage: {usage}" in code_texts


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_catalog_holds_exactly_the_texts_of_the_code(language: str, code_texts: set[str]) -> None:
    in_catalog = {_ids(m)[0] for m in read(language) if m.id}
    assert sorted(code_texts - in_catalog) == [], f"run ./scripts/i18n: texts missing from {language}"
    assert sorted(in_catalog - code_texts) == [], f"run ./scripts/i18n: texts no longer in the code, in {language}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_has_a_translation_that_is_not_a_draft(language: str) -> None:
    untranslated = [_ids(m)[0] for m in read(language) if m.id and (m.fuzzy or not all(_forms(m)))]
    assert untranslated == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_fills_the_same_slots_as_its_english(language: str) -> None:
    wrong = []
    for m in read(language):
        if not m.id:
            continue
        english = set().union(*(_slots(i) for i in _ids(m)))
        wrong += [(_ids(m)[0], form) for form in _forms(m) if _slots(form) != english]
    assert wrong == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translation_can_be_said(language: str) -> None:
    """Every text in the catalog is found, and fills in, in that language."""
    t = texts(language)
    for m in read(language):
        if not m.id:
            continue
        values = {name: "x" for i in _ids(m) for name in _slots(i)}
        ids, forms = _ids(m), _forms(m)
        if len(ids) == 2:
            values.pop("n", None)  # the count fills {n} of a plural
            assert t.n_(ids[0], ids[1], 2, **values) == forms[1].format(n=2, **values)
        else:
            assert t._(ids[0], **values) == (forms[0].format(**values) if values else forms[0])


def test_updating_keeps_translations_and_drops_what_the_code_no_longer_has(tmp_path: Path) -> None:
    code = tmp_path / "services"
    code.mkdir()
    for source in ("handlers", "outbound"):
        (tmp_path / source).mkdir()
    (code / "a.py").write_text('N_("Kept")\nN_("New")\nNn_("{n} answer", "{n} answers", 2)\n')
    locales = tmp_path / "locales"
    po = catalog_path("sv", locales)
    po.parent.mkdir(parents=True)
    po.write_text('msgid "Kept"\nmsgstr "Kvar"\n\nmsgid "Gone"\nmsgstr "Borta"\n', encoding="utf-8")
    fragment = tmp_path / "more.po"
    fragment.write_text('msgid "New"\nmsgstr "Ny"\n\nmsgid "Not in the code"\nmsgstr "Nej"\n', encoding="utf-8")
    catalog = update("sv", merge=[fragment], root=tmp_path, locales=locales)
    assert {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog if m.id} == {
        "Kept": "Kvar",
        "New": "Ny",
        "{n} answer": ("", ""),
    }
    assert re.search(r'msgid "Kept"\nmsgstr "Kvar"', po.read_text(encoding="utf-8"))
