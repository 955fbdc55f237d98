"""What the fuzz tests share: bounded, seeded Hypothesis settings; a fingerprint of what a person
could notice in the database; how to tell a refusal from an accepted answer; hostile text."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from handlers.errors import SORRY
from sandbox.markup_check import live_markup
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from storage import Store


def fuzz(max_examples: int) -> hypothesis_settings:
    """Seeded and bounded, so that CI runs the same examples every time, in a known time.

    One `bot` (a function-scoped fixture) serves every example of a test: each example checks what
    it did itself (the fingerprint before and after), so the examples need not start from the same
    state.
    """
    return hypothesis_settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


T = TypeVar("T")


def usually(draw: st.DrawFn, value: T, other: st.SearchStrategy[Any], *, one_in: int = 4) -> T | Any:
    """`value`, except about one time in `one_in`, when anything `other` gives: most examples are
    right but for one or two things, and so get past the first check to the ones behind it."""
    return draw(other) if draw(st.integers(1, one_in)) == 1 else value


# -- the database as a person would notice it -------------------------------------------------------

# Tables a refused request may write to without anything changing for anyone:
IGNORED_TABLES = frozenset(
    {
        "schema_migrations",  # migration bookkeeping
        # Every event_id is recorded before any handler runs, so that a retry is handled once:
        # an event is "seen" whether or not it then changes anything.
        "seen_events",
        # The people cache (users.info answers: time zone, bot, deactivated). Checking that a
        # named person exists fills it, also when the command is then refused for another reason
        # (a stranger naming a real person in `/rollout champions … add`). It holds nothing the
        # person typed, and only what Slack says anyway.
        "slack_users",
        # The generated secret of the respondent keys (docs/privacy.md: “The key file”), created on first use.
        "meta",
    }
)

# Rows the senders update as they work (pending → sending → sent, attempts, message ts): what a
# request may not do is add or remove such rows, or change what they say.
STABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "outbox": ("id", "kind", "dedupe_key", "transition_id", "delivery_id", "channel", "payload"),
    "deliveries": ("id", "wave_id", "user_id", "answered", "created_at"),
    "digest_runs": ("id", "subscription_id", "channel_id", "period_start", "period_end", "trigger"),
}

Fingerprint = dict[str, list[tuple[object, ...]]]


async def fingerprint(store: Store) -> Fingerprint:
    """Every row a request could change, table by table (of the senders' tables, the stable columns)."""
    names = [
        str(row[0])
        for row in await store.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    shot: Fingerprint = {}
    for table in names:
        if table in IGNORED_TABLES:
            continue
        columns = ", ".join(STABLE_COLUMNS.get(table, ("*",)))
        rows = await store.fetch_all(f"SELECT {columns} FROM {table}")
        shot[table] = sorted((tuple(r) for r in rows), key=repr)
    return shot


def changed_tables(before: Fingerprint, after: Fingerprint) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


# -- answers ---------------------------------------------------------------------------------------


def is_refusal(message: Message) -> bool:
    """Refusals and errors are built by handlers.blocks.help.build_problem (or handlers.errors'
    apology): they open with the warning sign; nothing else the bot says does."""
    first = message.blocks[0].get("text", {}).get("text", "") if message.blocks else ""
    return message.text.startswith(":warning:") or str(first).startswith(":warning:")


def is_apology(text: str) -> bool:
    """The answer to an unexpected exception: the bot failed, not the input."""
    return str(SORRY) in text


def live_markup_sent(standin: SlackStandIn, since: tuple[int, int] = (0, 0)) -> list[str]:
    """Markup someone typed that the bot sent on live (since `standin.sent_mark()`): it would ping
    or link. The bot's own mentions of real people and channels are not looked for."""
    return live_markup(standin.sent_payloads(since=since), live=LIVE_MARKUP, bare=BARE_MARKUP)


def unexpected_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors logged since the last `caplog.clear()`: an exception no handler expected, a
    background task that failed, Bolt failing on a request."""
    found = []
    for record in caplog.records:
        if record.levelno >= logging.ERROR:
            detail = f" ({record.exc_info[1]!r})" if record.exc_info and record.exc_info[1] else ""
            found.append(f"{record.name}: {record.getMessage()}{detail}")
    return found


# -- hostile text ----------------------------------------------------------------------------------

EVIL_URL = "http://evil.example"
# Slack markup that would ping or link if the bot sent it on as typed (the IDs are nobody's).
MARKUP_STRINGS = (
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!here|here>",
    "<@UEVIL1>",
    "<@UEVIL1|boss>",
    "<#CEVIL1>",
    "<#CEVIL1|general>",
    "<!subteam^SEVIL>",
    "<!subteam^SEVIL|@admins>",
    f"<{EVIL_URL}|click>",
    f"<{EVIL_URL}>",
    "<mailto:evil@example.com|mail>",
    EVIL_URL,
    "@here",
    "@channel",
    "<!here> Mandatory: reset your password",
)
# What a spreadsheet takes for the start of a formula, when a CSV export begins a cell with it.
FORMULA_STRINGS = (
    "=1+2",
    '=HYPERLINK("http://evil.example","click")',
    "+1 great",
    "-2 bad",
    "@SUM(A1:A9)",
    "\t=1+2",
    "\r=1+2",
    "=cmd|' /C calc'!A0",
)
# Marks of live markup from MARKUP_STRINGS: none may reach Slack unescaped.
LIVE_MARKUP = ("<!here", "<!channel", "<!everyone", "<@UEVIL", "<#CEVIL", "<!subteam^SEVIL", "<http://evil", "<mailto:")
# Typed text Slack links or parses unless a mrkdwn object is verbatim.
BARE_MARKUP = (EVIL_URL, "@here", "@channel")

NASTY_STRINGS = (
    *MARKUP_STRINGS,
    *FORMULA_STRINGS,
    "",
    " ",
    "\t",
    "\n\n",
    "\x00",
    "\x1b[31m",
    "\u200b",
    "\u202e",
    "\ufeff",
    "🚀",
    "𝕏𝕐",
    "null",
    "None",
    "NaN",
    "inf",
    "-1",
    "0",
    "1e309",
    "9" * 30,
    "²",
    "٣",
    "Ⅻ",
    "<",
    ">",
    "&amp;",
    "<!channel>",
    "<!here>",
    "*bold*",
    "```",
    "'",
    '"',
    "\\",
    "%s%n",
    "{0}",
    "' OR 1=1 --",
    "x'); DROP TABLE rollouts;--",
    "../../etc/passwd",
    "x" * 3001,
    "<&>" * 600,  # five times as long once escaped for Slack
)

nasty = st.sampled_from(NASTY_STRINGS)
# A title, label, reason or comment mixing markup and formula prefixes with words.
markup_text = st.lists(
    st.one_of(st.sampled_from(MARKUP_STRINGS), st.sampled_from(FORMULA_STRINGS), st.sampled_from(["Expense", "tool"])),
    min_size=1,
    max_size=4,
).map(" ".join)
# Any text Slack could carry (no lone surrogates: those cannot be encoded, in Slack or here).
any_text = st.text(max_size=40)
short_text = st.text(max_size=12)
huge_text = st.integers(1000, 6000).map(lambda n: ("ab <@U1|x> “q” " * (n // 15 + 1))[:n])
control_text = st.text(st.characters(max_codepoint=0x9F, categories=["Cc"]), min_size=1, max_size=8)
hostile_text = st.one_of(nasty, markup_text, any_text, control_text, huge_text)

# What replaces one field of JSON the bot wrote into a button or a form, such as {"rollout": 1, "stage": 2}.
json_fields = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),  # inf and nan too: json.dumps writes them, json.loads reads them back
    st.none(),
    st.booleans(),
    any_text,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(short_text, st.integers(), max_size=2),
)
