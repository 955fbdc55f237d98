"""Fuzz `/rollout` and `/pulse`: every subcommand with hostile arguments, typed by an admin, an owner
and a stranger. Each gets an answer (never an apology for a crash), and a refusal changes nothing."""

from __future__ import annotations

import re

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from handlers.blocks.text import escape
from handlers.catalog import PULSE, ROLLOUT, Catalog
from runtime import i18n
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from storage import Store
from tests.conftest import RunningBot
from tests.fuzz.common import (
    any_text,
    changed_tables,
    control_text,
    fingerprint,
    fuzz,
    huge_text,
    is_apology,
    is_refusal,
    live_markup_sent,
    markup_text,
    nasty,
    short_text,
    unexpected_errors,
)
from tests.fuzz.conftest import PLANNED, SLUG, TOUCHPOINT, Seeded
from tests.support import wait_for

CATALOGS = {ROLLOUT.command: ROLLOUT, PULSE.command: PULSE}
PEOPLE = ("{admin}", "{owner}", "{owner}", "{stranger}", "{champion}")

# -- the words of a command -------------------------------------------------------------------------

random_slug = st.from_regex(r"[a-z0-9][a-z0-9-]{1,12}", fullmatch=True)
slugs = st.one_of(
    st.sampled_from([SLUG, PLANNED, "nope", "Bad_Slug", "x", SLUG.upper(), "-dash", "a" * 41]),
    random_slug,
    # Quoted, a name may carry what a shell split would have cut: spaces, a line break at the end.
    st.sampled_from([f'"{SLUG}\n"', '"new-tool\n"', '" spaced "', '"a\tb"']),
)
stages = st.sampled_from(["alpha", "beta", "ga", "pilot", "delta", "ALPHA", "Beta", "'ga'", '"beta\n"'])
stage_lists = st.one_of(
    st.sampled_from(["alpha,beta,ga", "pilot,ga", "a,a", ",,", "x" * 41, ",".join("s" * n for n in range(1, 13))]),
    st.lists(st.from_regex(r"[a-zA-Z0-9_-]{1,8}", fullmatch=True), max_size=12).map(",".join),
)
metrics = st.sampled_from(
    ["nps", "NPS", "response_rate", "responses", f"csat:{TOUCHPOINT}", "ces:setup", "thumbs:x", "minutes:submit",
     "csat:", "happiness", "nps:onboarding", "csat:Onboarding"]
)  # fmt: skip
ops = st.sampled_from([">=", ">", "<=", "<", "==", "=", "=>", "≥", "≤", "~", "!=", "=<"])
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["30%", "40 %", "0,5", "1e309", "-0", "0x10", "1_000", "½", "٣٠", "nan", "-inf", "%", "1e-400"]),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        ["2026-13-45", "2026-02-30", "26-1-1", "2026/12/01", "２０２６-１２-０１", "next-week", "0000-00-00"]
    ),
)
crons = st.sampled_from(
    ['"0 9 * * MON"', '"* * * * *"', '"61 25 * * *"', '"0 9 * * 8"', '"0 9 * * sun-sat"', '"0 9"', "0 9 * * 1",
     '"*/0 * * * *"', '"0 9 * * ²"', '"@weekly"', '"0 9 31 2 *"']
)  # fmt: skip
verbs = st.sampled_from(
    ["add", "remove", "ADD", "subscribe", "unsubscribe", "on-join", "on-leave", "nps", "NPS", "stages", "stages=a,b",
     "help", "-h", "--help", "csat", "ces", "thumbs", "minutes", "stars", TOUCHPOINT, "nothing"]
)  # fmt: skip
fixed_mentions = st.sampled_from(
    [
        "<@{owner}>", "<@{direct}|dora>", "<@{stranger}|>", "<@{champion}|@chloe>", "<@{gone}>", "<@{bot}>",
        "<@U0NOBODY>", "<@W0ENTERPR1|e>", "<#{launch}|launch>", "<#{early}|>", "<#{lonely}|lonely>",
        "<#{trigger}|onboarding>", "<#C0NOPE|nope>", "<#D0DMCHAN|dm>", "<!subteam^{pilots}|@pilots>",
        "<!subteam^{pilots}>", "<!subteam^S0NOPE|@nope>", "{owner}", "{direct}", "{early}", "{pilots}",
        "U0NOBODY", "C0NOPE", "@dora", "#launch", "<@u0owner>", "<@U0OWNER", "<#C1|a|b>", "<!subteam^>", "<@>",
        "<!channel>", "<!here|here>", "<@U0OWNER>\n",
    ]
)  # fmt: skip
# Any ID of the right shape, most of them unknown, with any label.
random_ids = st.from_regex(r"[UWCGDS][A-Z0-9]{2,12}", fullmatch=True)
built_mentions = st.builds(
    lambda form, ident, label: form.format(id=ident, label=label.replace(">", "")),
    st.sampled_from(["<@{id}>", "<@{id}|{label}>", "<#{id}|{label}>", "<#{id}|>", "<!subteam^{id}|@{label}>", "{id}"]),
    random_ids,
    short_text,
)
huge_mention = st.sampled_from([100, 2000, 3100, 5000]).map(lambda n: "<@U" + "A" * n + ">")
mentions = st.one_of(fixed_mentions, built_mentions, huge_mention)


def quoted(words: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Quoted as people type it: straight or curly quotes, balanced or not."""
    return st.builds(
        lambda form, text: form.format(text),
        st.sampled_from(['"{}"', "'{}'", "“{}”", "„{}“", "«{}»", '"{}', '{}"', "'{}", "\"{}'"]),
        words,
    )


words = st.one_of(
    any_text, nasty, markup_text, control_text, st.sampled_from(["Expense tool", "Why not", "Pilot blocked"])
)
texts = st.one_of(quoted(words), words, huge_text)
token = st.one_of(
    slugs, stages, stage_lists, metrics, ops, numbers, dates, crons, verbs, mentions, texts,
    st.sampled_from([n for c in CATALOGS.values() for n in (s.name for s in c.subcommands)]),
)  # fmt: skip

# -- what each subcommand expects ---------------------------------------------------------------------
# Each argument is (a right value, any value): most arguments are right, so that many commands
# are taken, and get as far as the one argument that is not.
Arg = tuple[st.SearchStrategy[str], st.SearchStrategy[str]]

ROLLOUT_SLUG: Arg = (st.sampled_from([SLUG, PLANNED]), slugs)
NEW_SLUG: Arg = (random_slug, slugs)
# Right values too may hold mention syntax and formula prefixes: titles, labels and reasons are free text.
TITLE: Arg = (quoted(st.sampled_from(["Expense tool", "New tool", "Ünïcode 🚀"]) | markup_text), quoted(words))
TEXT: Arg = (quoted(st.sampled_from(["Why not", "Pilot team is blocked"]) | markup_text), texts)
STAGE: Arg = (st.sampled_from(["alpha", "beta", "ga", "pilot"]), stages)
STAGE_LIST: Arg = (st.sampled_from(["alpha,beta,ga", "pilot,ga", "one,two,three"]), stage_lists)
PERSON: Arg = (
    st.sampled_from(["<@{direct}|dora>", "<@{champion}>", "<@{owner}>", "{pilot}", "<@{stranger}|sam>"]),
    mentions,
)
WHO: Arg = (
    st.sampled_from(["<@{direct}|dora>", "<!subteam^{pilots}|@pilots>", "<#{early}|early-adopters>", "{pilot}"]),
    mentions,
)
CHANNEL: Arg = (st.sampled_from(["<#{launch}|launch>", "<#{trigger}|onboarding>", "<#{early}|>"]), mentions)
METRIC: Arg = (st.sampled_from(["nps", "response_rate", "responses", f"csat:{TOUCHPOINT}"]), metrics)
OP: Arg = (st.sampled_from([">=", ">", "<=", "<", "=="]), ops)
NUMBER: Arg = (st.integers(0, 100).map(str), numbers)
DATE: Arg = (st.dates().map(lambda d: d.isoformat()), dates)
KEY: Arg = (st.sampled_from([TOUCHPOINT, "setup"]), verbs)
SCALE: Arg = (st.sampled_from(["csat", "ces", "thumbs", "minutes"]), verbs)
CRON: Arg = (st.sampled_from(['"0 9 * * MON"', '"*/15 * * * *"', '"0 9 * * 1-5"']), crons)
LANGUAGE: Arg = (st.sampled_from(["en", "sv", "SV"]), verbs)


def word(text: str) -> Arg:
    return st.just(text), verbs


SHAPES: dict[str, list[list[Arg]]] = {
    "list": [[]],
    "status": [[], [ROLLOUT_SLUG]],
    "new": [[NEW_SLUG, TITLE], [NEW_SLUG, TITLE, word("stages"), STAGE_LIST]],
    "stages": [[ROLLOUT_SLUG, STAGE_LIST]],
    "vision": [[ROLLOUT_SLUG, TEXT]],
    "plan": [[ROLLOUT_SLUG, STAGE, DATE]],
    "soak": [[ROLLOUT_SLUG, STAGE, NUMBER]],
    "approvers": [[ROLLOUT_SLUG, STAGE, PERSON, PERSON], [ROLLOUT_SLUG, STAGE, word("remove")]],
    "on-regression": [[ROLLOUT_SLUG, (st.sampled_from(["notify", "pause", "explode"]), verbs)]],
    "cohort": [[ROLLOUT_SLUG, STAGE, WHO, WHO], [ROLLOUT_SLUG, STAGE, word("remove"), WHO]],
    "champions": [[ROLLOUT_SLUG, word("add"), PERSON, PERSON], [ROLLOUT_SLUG, word("remove"), PERSON]],
    "owners": [[ROLLOUT_SLUG, word("add"), PERSON], [ROLLOUT_SLUG, word("remove"), PERSON]],
    "channel": [[ROLLOUT_SLUG, CHANNEL]],
    "language": [[ROLLOUT_SLUG, LANGUAGE]],
    "target": [[ROLLOUT_SLUG, METRIC, OP, NUMBER], [ROLLOUT_SLUG, METRIC, OP, NUMBER, STAGE],
               [ROLLOUT_SLUG, word("remove"), METRIC]],
    "start": [[ROLLOUT_SLUG]],
    "advance": [[ROLLOUT_SLUG], [ROLLOUT_SLUG, TEXT]],
    "rollback": [[ROLLOUT_SLUG, TEXT]],
    "pause": [[ROLLOUT_SLUG, TEXT]],
    "resume": [[ROLLOUT_SLUG]],
    "roadmap": [[ROLLOUT_SLUG]],
    "history": [[ROLLOUT_SLUG]],
    "send": [[ROLLOUT_SLUG, word("nps")]],
    "touchpoint": [[ROLLOUT_SLUG, KEY, TITLE, SCALE]],
    "trigger": [[ROLLOUT_SLUG, KEY, word("on-join"), CHANNEL]],
    "ask": [[ROLLOUT_SLUG, KEY, WHO, WHO]],
    "action": [[ROLLOUT_SLUG, TEXT], [ROLLOUT_SLUG, TEXT, KEY], [ROLLOUT_SLUG, TEXT, word("--check-in")]],
    "close": [[ROLLOUT_SLUG], [ROLLOUT_SLUG, word("nps")], [ROLLOUT_SLUG, KEY]],
    "results": [[ROLLOUT_SLUG], [ROLLOUT_SLUG, STAGE]],
    "map": [[ROLLOUT_SLUG]],
    "digest": [[], [word("subscribe"), CHANNEL, CRON], [word("unsubscribe"), CHANNEL]],
    "export": [[ROLLOUT_SLUG]],
    "mydata": [[]],
    "forget-me": [[]],
}  # fmt: skip


@st.composite
def commands(draw: st.DrawFn) -> tuple[str, str, str]:
    """(person, command, text), with {names} for the seeded IDs."""
    person = draw(st.sampled_from(PEOPLE))
    catalog: Catalog = CATALOGS[draw(st.sampled_from(sorted(CATALOGS)))]
    name = draw(st.sampled_from([s.name for s in catalog.subcommands]))
    shaped = draw(st.integers(0, 3))
    if shaped:  # the subcommand's own arguments, each right three times in four
        args: list[str] = []
        for right, anything in draw(st.sampled_from(SHAPES[name])):
            args.append(draw(right) if draw(st.integers(0, 3)) else draw(anything))
        off = draw(st.integers(0, 3)) == 0
        if args and off:  # a word too few, too many, or another
            at = draw(st.integers(0, len(args) - 1))
            how = draw(st.sampled_from(["drop", "double", "replace"]))
            if how == "drop":
                del args[at]
            elif how == "double":
                args.insert(at, args[at])
            else:
                args[at] = draw(token)
    else:  # any words at all
        args = draw(st.lists(token, max_size=6))
    first = draw(st.sampled_from([name, name, name.upper(), name.title()]))
    separator = draw(st.sampled_from([" ", " ", " ", "  ", "\t", "\n", " \u00a0"]))
    return person, catalog.command, separator.join([first, *args])


def answers(standin: SlackStandIn, user: str) -> list[Message]:
    """What the bot has said to this person alone in their DM with it (command answers)."""
    dm = standin.workspace.im_with(user)
    return [m for m in standin.workspace.history(dm.id, viewer=user) if m.ephemeral_to == user]


async def run(bot: RunningBot, standin: SlackStandIn, user: str, command: str, text: str) -> Message:
    """Type the command and wait for its answer (with the acknowledgement or later)."""
    before = len(answers(standin, user))
    rejected = len(standin.rejected)
    reply = await bot.slack.command(user, text, command=command)
    assert reply.status < 500, (reply.status, reply.text[:300])
    assert reply.status == 200, (reply.status, reply.text[:300])
    await wait_for(
        lambda: len(answers(standin, user)) > before or len(standin.rejected) > rejected,
        what=f"an answer to {command} {text[:80]!r}",
    )
    assert standin.rejected[rejected:] == [], "Slack refused the answer's blocks"
    return answers(standin, user)[before]


@fuzz(max_examples=500)
@given(case=commands())
# Was a bug (fixed): a quoted name ending in a line break passed the name check (a regex's $), then
# failed the database's, and was refused as "already exists".
@example(case=("{owner}", "/rollout", f'new "{SLUG}-two\n" "Title"'))
# Was a bug (fixed): a quote left open was refused without the usage line of the subcommand; and
# a subcommand followed by a line break or a tab got the usage line of /rollout help.
@example(case=("{admin}", "/pulse", "send '"))
@example(case=("{stranger}", "/rollout", "status\tnope"))
# Was a bug (fixed): a refusal quoting a 3000-character mention broke Slack's limit for a section,
# so Slack refused the answer and the person saw nothing.
@example(case=("{owner}", "/rollout", f"champions {SLUG} add <@U{'A' * 3100}>"))
# Was a bug (fixed): the same for an accepted vision full of <, & and > (each escaped to 4–5 characters).
@example(case=("{owner}", "/rollout", f'vision {SLUG} "{"<&>" * 600}"'))
async def test_every_subcommand_with_fuzzed_arguments_gets_an_answer_and_a_refusal_changes_nothing(
    bot: RunningBot,
    standin: SlackStandIn,
    store: Store,
    seeded: Seeded,
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, str, str],
) -> None:
    person, command, template = case
    user, text = seeded.fill(person), seeded.fill(template)
    caplog.clear()
    before = await fingerprint(store)
    mark = standin.sent_mark()
    answer = await run(bot, standin, user, command, text)
    await bot.bot.background.settle(10)
    assert live_markup_sent(standin, mark) == []
    shown = answer.shown_text
    refused = is_refusal(answer)
    event(f"{command} {'refused' if refused else 'done'}")
    assert shown.strip(), "an empty answer"
    assert not is_apology(shown), shown[:500]
    assert unexpected_errors(caplog) == []
    if refused:
        # A refusal says what was wrong, with the usage line of the subcommand typed (or, for an
        # unknown one, the whole help), escaped like everything the bot says.
        catalog = CATALOGS[command]
        typed = catalog.get(text.split(maxsplit=1)[0].lower())
        # In the person's language: an earlier example may have chosen one with /pulse language.
        t = i18n.texts(await bot.services.languages.of(user))
        expected = t._("Usage: {usage}", usage=escape(typed.usage)) if typed else escape(t.say(catalog.intro))
        assert expected in shown, shown[:500]
        after = await fingerprint(store)
        assert changed_tables(before, after) == [], shown[:500]
        clash = re.search(r"A rollout called (.+?) already exists", answer.text, re.DOTALL)
        if clash:  # a refusal for a clash must be true
            assert await store.fetch_value("SELECT count(*) FROM rollouts WHERE slug = ?", (clash[1],)) == 1, shown
