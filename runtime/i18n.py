"""Texts in each person's own language.

A text is written in English in the code, marked with `_` (or `n_` where it has a plural), and
looked up in the language's gettext catalog, `runtime/locales/<language>/LC_MESSAGES/messages.po`,
kept in the repository. A catalog is compiled with Babel when first needed (in memory: there is
no `.mo` file to forget to rebuild) and read by the standard library's gettext, which also picks
the plural form. English needs no catalog: the English text is the message id. Dates, numbers
and percentages follow the language's conventions from Babel's locale data ("8 dec." / "Dec 8",
"84 %" / "84%").
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LANGUAGES = ("en", "sv")
DEFAULT_LANGUAGE = "en"
LOCALES = Path(__file__).with_name("locales")


def language_of(locale: str | None) -> str | None:
    """The language of ours that a Slack locale ("sv-SE", "en-GB") names, or None."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-", 1)[0].lower()
    return code if code in LANGUAGES else None


def catalog_path(language: str, locales: Path = LOCALES) -> Path:
    return locales / language / "LC_MESSAGES" / "messages.po"


@cache
def _translations(language: str, locales: Path) -> gettext.NullTranslations:
    path = catalog_path(language, locales)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt leaves them
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class Phrase:
    """A text to be said later, in the language of whoever reads it: the domain raises errors
    and keeps notes as phrases, and the edge says them in the reader's language (`Texts.say`).
    `values` fill its `{name}` slots; a value that is itself a Phrase is said in the same language.
    With `plural`, `n` picks the form and fills `{n}`."""

    message: str
    values: Mapping[str, object] = field(default_factory=dict)
    plural: str | None = None
    n: int = 0

    def __str__(self) -> str:  # logs and exceptions read English
        return texts(DEFAULT_LANGUAGE).say(self)


def N_(message: str, **values: object) -> Phrase:
    """Mark `message` for the catalog, to be said later in the reader's language."""
    return Phrase(message, values)


def Nn_(singular: str, plural: str, n: int, **values: object) -> Phrase:
    """Mark a text with a plural for the catalog, to be said later in the reader's language."""
    return Phrase(singular, values, plural, n)


def for_operator(text: str) -> str:
    """Mark a text that only the operator reads (an error kept in the database, a CLI line): it
    stays English, and is left out of the catalog on purpose (tests/test_texts_in_catalog.py)."""
    return text


@dataclass(frozen=True)
class Texts:
    """The texts of one language: what a builder is given to write in it."""

    language: str
    locales: Path = LOCALES  # where the catalogs are (tests give their own)
    _locale: Locale = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_locale", Locale.parse(self.language))

    def _(self, message: str, **values: object) -> str:
        """`message` in this language, with `{name}` filled from `values`."""
        text = _translations(self.language, self.locales).gettext(message)
        return text.format(**values) if values else text

    def n_(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form for `n` of a text with a plural; `{n}` is the number, written as this
        language writes numbers."""
        text = _translations(self.language, self.locales).ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    def say(self, text: Phrase | str) -> str:
        """A phrase in this language; a plain string is what a person typed and stays as it is."""
        if isinstance(text, str):
            return text
        values = {k: self.say(v) if isinstance(v, Phrase) else v for k, v in text.values.items()}
        if text.plural is not None:
            return self.n_(text.message, text.plural, text.n, **values)
        return self._(text.message, **values)

    def day(self, day: date) -> str:
        """A day without its year, as this language writes it: "8 dec." / "Dec 8"."""
        return _day(self.language, "MMMd", day)

    def day_with_year(self, day: date) -> str:
        """A day with its year: "8 dec. 2026" / "Dec 8, 2026"."""
        return _day(self.language, "yMMMd", day)

    def number(self, value: float, digits: int | None = None) -> str:
        """`value` as this language writes numbers ("2,5" / "2.5"); with `digits`, always that
        many after the decimal sign."""
        pattern = None if digits is None else "0." + "0" * digits if digits else "0"
        return str(format_decimal(value, format=pattern, locale=self._locale))

    def percent(self, share: float) -> str:
        """A share (0.84) as a whole percentage: "84 %" / "84%"."""
        return str(format_percent(share, locale=self._locale))


@lru_cache(maxsize=512)
def _day(language: str, skeleton: str, day: date) -> str:
    """Babel's formatting of a day, kept: every survey of a wave shows the same closing day, and
    formatting it anew took a tenth of a millisecond of each survey click."""
    return str(format_skeleton(skeleton, day, locale=Locale.parse(language)))


@cache
def texts(language: str | None) -> Texts:
    """The texts of `language`, or of English for a language we do not have."""
    return Texts(language if language in LANGUAGES else DEFAULT_LANGUAGE)
