"""No text a person reads bypasses the catalog: every string in the domain and the Slack edges
that reads as words is marked for translation, or is in a place people never read (a log line,
a programmer's error, an ID, a key).

What reads as words: two words with a space, or a capitalised word ("Save"). A text built from
what people typed or from IDs (`f"<@{user}>"`) has no words of its own and passes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("services", "handlers", "outbound")
# `for_operator` marks a text only the operator reads (a stored error, a CLI line): English.
MARKERS = frozenset({"_", "n_", "N_", "Nn_", "for_operator"})
# Modules that speak only to the operator or to scripts, in English like their docs.
OPERATORS_ONLY = {
    "handlers/touchpoint_api.py": "an HTTP API for other programs; its errors are as documented",
    "outbound/sender.py": "errors recorded in the outbox for the operator",
    "services/config_file.py": "the config file's problems, reported by `pulse apply`",
    "services/config_apply.py": "what `pulse apply` did, for the operator",
    "services/keys.py": "the master key's problems, for the operator",
}
LOGGING = frozenset({"debug", "info", "warning", "error", "exception", "critical", "log"})
# Exceptions nobody but a programmer or an operator's log sees.
PROGRAMMERS = frozenset(
    {"ValueError", "TypeError", "RuntimeError", "AssertionError", "KeyError", "NotImplementedError", "LookupError"}
)
# Keyword arguments that name things for logs and tasks, never shown.
INTERNAL_KEYWORDS = frozenset({"name", "what", "why_logged"})
WORD = re.compile(r"[^\W\d_]{2,}")
PROSE = re.compile(r"[^\W\d_]{2,}[^\n<>{}]*\s+[^\W\d_]{2,}|^\W*[A-Z][a-z]+")


def reads_as_words(text: str) -> bool:
    if text.startswith("/"):
        return False  # a command's syntax ("/rollout new <slug>"): typed as it is in any language
    return bool(WORD.search(text) and PROSE.search(text))


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _exempt(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Expr) and isinstance(child, ast.Constant):
            return True  # a docstring or a bare string statement
        if isinstance(parent, ast.Call):
            name = _called(parent)
            if name in MARKERS or (isinstance(parent.func, ast.Attribute) and name in LOGGING):
                return True
        if isinstance(parent, ast.keyword) and parent.arg in INTERNAL_KEYWORDS:
            return True
        if isinstance(parent, ast.Raise) and isinstance(parent.exc, ast.Call) and _called(parent.exc) in PROGRAMMERS:
            return True
        if isinstance(parent, (ast.Subscript, ast.Compare)) and child is not getattr(parent, "value", None):
            return True  # a key looked up, a value compared: matched, not shown
        if isinstance(parent, ast.Dict) and any(child is key for key in parent.keys):
            return True
        if isinstance(parent, (ast.arg, ast.AnnAssign)) and child is getattr(parent, "annotation", None):
            return True
        child, parent = parent, parents.get(parent)
    return False


def bypasses(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = _parents(tree)
    for node in ast.walk(tree):
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and reads_as_words(text) and not _exempt(node, parents):
            yield f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}: {text[:70]!r}"


def _modules() -> list[Path]:
    found = (p for source in SOURCES for p in (ROOT / source).rglob("*.py"))
    return sorted(p for p in found if str(p.relative_to(ROOT)) not in OPERATORS_ONLY)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_text_people_read_goes_through_the_catalog(path: Path) -> None:
    assert list(bypasses(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        'x = section("Thanks for answering")',
        'x = plain("Save")',
        'x = f"Open until {day}"',
        'raise BadInput("No such rollout")',
        'x = {"text": "Add a comment"}',
    ],
)
def test_a_bare_text_is_caught(source: str, tmp_path: Path) -> None:
    path = ROOT / "services" / "_probe_for_test.py"
    try:
        path.write_text(source + "\n", encoding="utf-8")
        assert len(list(bypasses(path))) == 1
    finally:
        path.unlink()


@pytest.mark.parametrize(
    "source",
    [
        'x = section(t._("Thanks for answering"))',
        'x = N_("No such rollout {slug}", slug=slug)',
        'log.info("survey %s sent", x)',
        'raise ValueError("not a survey reference")',
        'x = body["user"]["id"]',
        'x = f"<@{user}>"',
        'outbox.failed(item, for_operator(f"could not render: {exc}"))',
        'usage = "/rollout new <slug> \\"<title>\\""',
        'x = {"type": "section"}',
        'background.spawn(job(), name="survey thanks")',
        '"""A docstring reads as words."""',
    ],
)
def test_what_people_never_read_passes(source: str) -> None:
    path = ROOT / "services" / "_probe_for_test.py"
    try:
        path.write_text(source + "\n", encoding="utf-8")
        assert list(bypasses(path)) == []
    finally:
        path.unlink()
