"""Imports run one way: handlers → services → storage; the outbound Slack side → services and
the block builders; the wiring (bot/) above all; runtime/ beneath everything.

Every module of the product is parsed (imports inside functions and under TYPE_CHECKING count
too) and each import of ours or of a driver is checked against the layer it comes from.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bot", "runtime", "services", "outbound", "handlers", "storage")
# Packages outside the product that sit above it (they drive the bot); nothing may import them.
ABOVE = ("sandbox", "benchmarks", "tests")
SLACK = ("slack_bolt", "slack_sdk")
SQLITE = ("sqlite3", "aiosqlite")


@dataclass(frozen=True)
class Rule:
    may_import: tuple[str, ...]  # packages (or package.module prefixes) of ours
    must_not_import: tuple[str, ...] = ()  # third-party or standard modules


RULES: dict[str, Rule] = {
    # Neutral pieces everyone may import: they import nothing of ours.
    "runtime": Rule(may_import=("runtime",)),
    "storage": Rule(may_import=("storage", "runtime"), must_not_import=(*SLACK, "aiohttp")),
    "services": Rule(may_import=("services", "storage", "runtime"), must_not_import=(*SLACK, *SQLITE, "aiohttp")),
    "handlers": Rule(may_import=("handlers", "services", "runtime"), must_not_import=SQLITE),
    "outbound": Rule(
        may_import=("outbound", "services", "runtime", "handlers.blocks"), must_not_import=(*SQLITE, "slack_bolt")
    ),
    # The wiring is above all; its CLI also starts the sandbox (`pulse sandbox`).
    "bot": Rule(may_import=(*LAYERS, "sandbox")),
}


def _is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imported_names(source: str) -> list[tuple[int, tuple[str, ...]]]:
    """(line, names) for every absolute import in `source`: `import x.y` names x.y; `from x
    import y` names both x and x.y, since y may be a module (`from handlers import blocks`)."""
    found: list[tuple[int, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, (alias.name,)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module != "__future__":
            found += [(node.lineno, (node.module, f"{node.module}.{alias.name}")) for alias in node.names]
    return found


def back_arrows(layer: str, source: str) -> list[str]:
    """Every import in `source`, a module of `layer`, that runs against the direction."""
    rule = RULES[layer]
    wrong: list[str] = []
    for line, names in imported_names(source):
        top = names[0].split(".")[0]
        if top in LAYERS or top in ABOVE:
            allowed = any(_is_under(name, prefix) for name in names for prefix in rule.may_import)
        else:
            allowed = not any(_is_under(names[0], banned) for banned in rule.must_not_import)
        if not allowed:
            wrong.append(f"line {line}: {layer} imports {names[-1]}")
    return wrong


def product_modules() -> list[tuple[str, Path]]:
    return [(layer, path) for layer in LAYERS for path in sorted((ROOT / layer).rglob("*.py"))]


@pytest.mark.parametrize(("layer", "path"), product_modules(), ids=lambda v: str(v).removeprefix(str(ROOT) + "/"))
def test_imports_run_one_way(layer: str, path: Path) -> None:
    assert back_arrows(layer, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("storage", "from services.errors import BadInput"),
        ("storage", "import handlers.blocks.text"),
        ("runtime", "from storage.db import Store"),
        ("services", "import sqlite3"),
        ("services", "from aiosqlite import Connection"),
        ("services", "from slack_sdk.errors import SlackApiError"),
        ("services", "def f():\n    from slack_bolt.async_app import AsyncApp"),
        ("services", "from bot.settings import Settings"),
        ("services", "from handlers.blocks import text"),
        ("handlers", "from storage.models import Rollout"),
        ("handlers", "import sqlite3"),
        ("handlers", "from bot import app"),
        ("handlers", "from outbound.sender import OutboxSender"),
        ("outbound", "from storage.outbox import Outbox"),
        ("outbound", "from handlers.commands import router"),
        ("outbound", "from bot.settings import Settings"),
        ("services", "from sandbox.stand_in import SlackStandIn"),
    ],
)
def test_a_back_arrow_is_caught(layer: str, source: str) -> None:
    assert back_arrows(layer, source) != []


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("handlers", "from services.errors import BadInput"),
        ("handlers", "from handlers import blocks"),
        ("outbound", "from handlers.blocks.text import escape"),
        ("services", "from storage import rollouts as repo"),
        ("storage", "from runtime.write_wait import write_wait_limit"),
        ("bot", "from storage import Store"),
    ],
)
def test_an_arrow_the_right_way_passes(layer: str, source: str) -> None:
    assert back_arrows(layer, source) == []
