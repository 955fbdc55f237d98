"""Keeping the catalogs: the texts the code marks, found with Babel's extractor, and each
language's `.po` file brought up to date with them (`./scripts/i18n`; docs/development.md:
“Translations”).

A text is marked where it is written: `t._("…")` and `t.n_("…", "…", n)` where a builder has the
reader's `Texts`, `N_("…")` and `Nn_("…", "…", n)` where the domain keeps it as a Phrase to be
said later. Only a constant string can be looked up, so values go in `{name}` slots.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALES, catalog_path

ROOT = Path(__file__).resolve().parent.parent
# Where people's texts are written: the domain (its errors and notes) and the Slack edges.
SOURCES = ("services", "handlers", "outbound")
KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "n_": (1, 2), "N_": None, "Nn_": (1, 2)}
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = "Each message id is the English text as the code writes it; {name} is filled in by the bot."


def extract(root: Path = ROOT) -> Catalog:
    """Every text marked in the code, with where it is written."""
    template = Catalog(project="rollout-pulse", fuzzy=False)
    for source in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            root / source, [("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",), strip_comment_tags=True
        ):
            template.add(message, None, [(f"{source}/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def read(language: str, locales: Path = LOCALES) -> Catalog:
    path = catalog_path(language, locales)
    if not path.exists():
        return Catalog(locale=language, project="rollout-pulse", fuzzy=False)
    with path.open("rb") as po:
        return read_po(po, locale=language)


def update(language: str, *, merge: Iterable[Path] = (), root: Path = ROOT, locales: Path = LOCALES) -> Catalog:
    """The language's catalog with exactly the code's texts: translations kept, those of texts
    no longer in the code dropped, new ones left empty; translations in `merge` (`.po` files
    of the same language) filled in where the text is in the code. Written back to its file."""
    template = extract(root)
    catalog = read(language, locales)
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    for path in merge:
        with path.open("rb") as po:
            for message in read_po(po, locale=language):
                if message.id and message.string and (found := catalog.get(message.id)) is not None:
                    found.string = message.string
                    found.flags.discard("fuzzy")
    catalog.header_comment = f"# {language} texts of Rollout Pulse. {HEADER}"
    # No dates or placeholders of Babel's in the header: updating changes only what changed.
    catalog.creation_date = catalog.revision_date = FIXED_DATE
    catalog.msgid_bugs_address = catalog.last_translator = ""
    catalog.language_team = language
    path = catalog_path(language, locales)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, sort_output=True, include_lineno=False, omit_header=False)
    return catalog


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/i18n", description=__doc__.split("\n\n")[0])
    parser.add_argument("language", nargs="?", help="one language (default: all but English)")
    parser.add_argument("--merge", nargs="*", type=Path, default=[], help=".po files whose translations to take")
    args = parser.parse_args(argv)
    languages = [args.language] if args.language else [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]
    for language in languages:
        catalog = update(language, merge=args.merge)
        missing = [m.id for m in catalog if m.id and not _translated(m.string)]
        print(f"{catalog_path(language)}: {len(catalog)} texts, {len(missing)} without a translation")  # noqa: T201
    return 0


def _translated(string: object) -> bool:
    return all(string) if isinstance(string, (tuple, list)) else bool(string)


if __name__ == "__main__":
    raise SystemExit(main())
