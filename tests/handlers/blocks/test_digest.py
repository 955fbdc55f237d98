"""The digest of many rollouts, each with the longest texts and the most touchpoints, gates,
comments, stage changes and periods: split into messages of at most 50 blocks, the first small
enough to go with the chart, every rollout shown, and below the minimum group only the note."""

from __future__ import annotations

import json

from handlers.blocks import format as fmt
from handlers.blocks.digest import FIRST_MESSAGE_JSON, build_digest, build_preview, sparkline
from handlers.blocks.text import escape
from sandbox.blockkit import MESSAGE_BLOCKS
from services.digests import DIGEST_COMMENTS, TREND_PERIODS
from tests.handlers.blocks.extremes import (
    ROLLOUTS,
    STAGE_NAMES,
    TITLE,
    digest_content,
    message_problems,
    rollout_digest,
    shown,
)

CONTENT = digest_content([rollout_digest(i) for i in range(1, ROLLOUTS + 1)])
PERIOD = "Mon 16 Nov 09:00 – Mon 23 Nov 2026 09:00 (America/Argentina/ComodRivadavia)"


def test_a_digest_of_many_rollouts_is_split_within_slacks_limits() -> None:
    messages = build_digest(CONTENT)
    assert len(messages) > 1
    for message in messages:
        assert message_problems(message) == []
        assert len(message.blocks) <= MESSAGE_BLOCKS
        assert len(message.text) <= 3000
    # The first message goes with the chart, its blocks in the upload's URL.
    assert len(json.dumps(messages[0].blocks)) <= FIRST_MESSAGE_JSON
    assert shown(messages[0].blocks).startswith(f"Rollout Pulse digest\n{PERIOD} · {ROLLOUTS} rollouts · ")
    for i, message in enumerate(messages[1:], start=2):
        assert shown(message.blocks).startswith(f"Rollout Pulse digest, continued ({i}/{len(messages)}) · {PERIOD}")
    everything = "\n".join(shown(m.blocks) for m in messages)
    assert everything.count(f"*{escape(TITLE)}* · {STAGE_NAMES[4]}, day 10001") == ROLLOUTS
    assert everything.count(" · ⏸ paused\nNPS *+44* (n=45, ±24) · ▲ +111 since the last period") == ROLLOUTS // 2
    assert everything.count("Trend `▁█·▅▆▃·█` (last 8 periods)") == ROLLOUTS


def test_the_preview_is_the_first_message_and_says_how_many_follow() -> None:
    messages = build_digest(CONTENT)
    preview = build_preview(messages)
    assert message_problems(preview) == []
    assert preview.blocks[:-1] == messages[0].blocks[: MESSAGE_BLOCKS - 1]
    assert shown(preview.blocks[-1:]) == (
        f"…and {len(messages) - 1} more message(s) when posted; the trend chart is uploaded with the first."
    )


def test_below_the_minimum_group_only_the_note_shows() -> None:
    content = digest_content([rollout_digest(1, enough=False, min_group=1000)], min_group=1000)
    messages = build_digest(content)
    assert all(message_problems(m) == [] for m in messages)
    text = "\n".join(shown(m.blocks) for m in messages)
    assert "NPS: fewer than 1000 answers this period" in text and "n=" not in text
    assert "not enough answers yet" in text
    assert fmt.group_rule(1000) in text


def test_a_digest_without_rollouts_says_so() -> None:
    [message] = build_digest(digest_content([]))
    assert message_problems(message) == []
    assert "No active rollouts this period." in shown(message.blocks)
    assert message.text == f"Rollout Pulse digest {PERIOD}"


def test_the_trend_shows_every_period_and_gaps_where_too_few_answered() -> None:
    trend = CONTENT.rollouts[0].trend
    assert len(trend) == TREND_PERIODS
    assert sparkline(trend) == "▁█·▅▆▃·█"


def test_each_rollout_shows_its_targets_and_comments() -> None:
    text = "\n".join(shown(m.blocks) for m in build_digest(digest_content([rollout_digest(1)])))
    assert "Targets: " in text
    assert text.count("_(week of 16 Nov 2026)_") == DIGEST_COMMENTS
