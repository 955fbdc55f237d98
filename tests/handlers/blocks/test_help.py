"""The help of both commands and the answer to a problem: within Slack's limits with every
subcommand, the longest problem a person's input can cause and many people named in it."""

from __future__ import annotations

import pytest

from handlers.blocks.help import build_help, build_problem
from handlers.blocks.text import escape
from handlers.catalog import PULSE, ROLLOUT, Catalog
from runtime.i18n import LANGUAGES, N_, texts
from sandbox.blockkit import SECTION_TEXT
from tests.handlers.blocks.extremes import REASON, message_problems, shown, user

CATALOGS = [pytest.param(ROLLOUT, id="rollout"), pytest.param(PULSE, id="pulse")]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("catalog", CATALOGS)
def test_the_help_lists_every_subcommand(catalog: Catalog, language: str) -> None:
    t = texts(language)
    message = build_help(t, catalog)
    assert message_problems(message) == []
    text = shown(message.blocks)
    for sub in catalog.subcommands:
        assert f"`{escape(sub.usage)}`\n{escape(t.say(sub.summary))} · _{escape(t.say(sub.who))}_" in text
        assert escape(sub.usage) in message.text


@pytest.mark.parametrize("catalog", CATALOGS)
def test_a_long_problem_naming_many_people_comes_with_the_usage_and_the_help(catalog: Catalog) -> None:
    # What a person typed comes back escaped in problems (“no rollout named …”).
    problem = f"No rollout named “{REASON}”. Only its owners or an admin can change it. Its owners:"
    usage = max((sub.usage for sub in catalog.subcommands), key=len)
    people = tuple(user(i) for i in range(300))
    message = build_problem(texts("en"), N_(problem), usage, catalog, people)
    assert message_problems(message) == []
    first = message.blocks[0]["text"]["text"]
    assert first.startswith(f":warning: {escape(problem)} <@{user(0)}>, <@{user(1)}>")
    assert len(first) == SECTION_TEXT and first.endswith("…")  # too many to name: cut, and it says so
    assert f"Usage: `{escape(usage)}`" in shown(message.blocks)
    assert f"*{catalog.command}* —" in shown(message.blocks)
    assert message.text.startswith(f"{escape(problem)} Usage: {escape(usage)}\n{catalog.command} —")


def test_a_problem_alone_is_one_section() -> None:
    message = build_problem(texts("en"), N_("The title is {title}.", title="<empty>"), None)
    assert message_problems(message) == []
    assert message.blocks == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": ":warning: The title is &lt;empty&gt;.", "verbatim": True},
        }
    ]
    assert message.text == "The title is &lt;empty&gt;."
