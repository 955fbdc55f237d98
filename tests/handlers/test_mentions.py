from __future__ import annotations

import pytest

from handlers.commands.mentions import Mention, mentions, parse_mention
from services.errors import BadInput


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<@U123ABC>", Mention("user", "U123ABC")),
        ("<@U123ABC|ada>", Mention("user", "U123ABC", "ada")),
        ("<@W0ENTERPRISE|ada>", Mention("user", "W0ENTERPRISE", "ada")),
        ("<#C123ABC|general>", Mention("channel", "C123ABC", "general")),
        ("<#C123ABC|>", Mention("channel", "C123ABC")),
        ("<#G123ABC|private>", Mention("channel", "G123ABC", "private")),
        ("<!subteam^S123ABC|@pilots>", Mention("usergroup", "S123ABC", "pilots")),
        ("<!subteam^S123ABC>", Mention("usergroup", "S123ABC")),
        ("U123ABC", Mention("user", "U123ABC")),
        ("C123ABC", Mention("channel", "C123ABC")),
        ("S123ABC", Mention("usergroup", "S123ABC")),
    ],
)
def test_every_form_slack_sends(token: str, expected: Mention) -> None:
    assert parse_mention(token) == expected


@pytest.mark.parametrize("token", ["@ada", "ada", "<@u123>", "<#C1>", "<!here>", "<https://x.y|x>"])
def test_not_mentions(token: str) -> None:
    assert parse_mention(token) is None


def test_unresolved_mentions_are_explained() -> None:
    with pytest.raises(BadInput, match="pick it from Slack's suggestions"):
        mentions(["@ada"], allowed=("user",))
    with pytest.raises(BadInput, match="is a channel; here I need a person"):
        mentions(["<#C123ABC|general>"], allowed=("user",))


def test_duplicates_collapse() -> None:
    assert mentions(["<@U123ABC>", "U123ABC", "<@U123ABC|ada>"], allowed=("user",)) == [Mention("user", "U123ABC")]
