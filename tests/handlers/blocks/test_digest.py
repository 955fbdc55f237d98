"""The digest of many rollouts, each with the longest texts and the most touchpoints, gates,
comments, stage changes and periods: split into messages of at most 50 blocks, the first small
enough to go with the chart, every rollout shown, and below the minimum group only the note; in
every language."""

from __future__ import annotations

import json

import pytest

from handlers.blocks import format as fmt
from handlers.blocks.digest import FIRST_MESSAGE_JSON, build_digest, build_preview, sparkline
from handlers.blocks.text import escape
from runtime.i18n import LANGUAGES, texts
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
ZONE = "(America/Argentina/ComodRivadavia)"
PERIOD = {
    "en": f"Mon, Nov 16 09:00 – Mon, Nov 23, 2026 09:00 {ZONE}",
    "sv": f"mån 16 nov. 09:00 – mån 23 nov. 2026 09:00 {ZONE}",
}
EN = texts("en")
SV = texts("sv")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_digest_of_many_rollouts_is_split_within_slacks_limits(language: str) -> None:
    t = texts(language)
    messages = build_digest(t, CONTENT)
    assert len(messages) > 1
    for message in messages:
        assert message_problems(message) == []
        assert len(message.blocks) <= MESSAGE_BLOCKS
        assert len(message.text) <= 3000
    # The first message goes with the chart, its blocks in the upload's URL.
    assert len(json.dumps(messages[0].blocks)) <= FIRST_MESSAGE_JSON
    head = t._("Rollout Pulse digest")
    rollouts = t.n_("{n} rollout", "{n} rollouts", ROLLOUTS)
    assert shown(messages[0].blocks).startswith(f"{head}\n{PERIOD[language]} · {rollouts} · ")
    everything = "\n".join(shown(m.blocks) for m in messages)
    assert everything.count(f"*{escape(TITLE)}* · {STAGE_NAMES[4]}, ") == ROLLOUTS
    assert everything.count("Trend `▁█·▅▆▃·█` (") == ROLLOUTS


def test_every_rollout_of_a_digest_reads_in_english() -> None:
    messages = build_digest(EN, CONTENT)
    for i, message in enumerate(messages[1:], start=2):
        assert shown(message.blocks).startswith(
            f"Rollout Pulse digest, continued ({i}/{len(messages)}) · {PERIOD['en']}"
        )
    everything = "\n".join(shown(m.blocks) for m in messages)
    assert everything.count(f"*{escape(TITLE)}* · {STAGE_NAMES[4]}, day 10001") == ROLLOUTS
    assert everything.count(" · ⏸ paused\nNPS *+44* (n=45, ±24) · ▲ +111 since the last period") == ROLLOUTS // 2
    assert everything.count("Trend `▁█·▅▆▃·█` (last 8 periods)") == ROLLOUTS


def test_a_digest_in_swedish() -> None:
    messages = build_digest(SV, CONTENT)
    assert shown(messages[0].blocks).startswith(f"Sammanfattning från Rollout Pulse\n{PERIOD['sv']} · 300 införanden")
    assert shown(messages[1].blocks).startswith(f"Sammanfattning från Rollout Pulse, fortsättning (2/{len(messages)})")
    everything = "\n".join(shown(m.blocks) for m in messages)
    assert everything.count(f"*{escape(TITLE)}* · {STAGE_NAMES[4]}, dag 10001 · ⏸ pausat\n") == ROLLOUTS // 2
    assert everything.count("· ▲ +111 sedan förra perioden\npromotorer ") == ROLLOUTS
    assert everything.count("Trend `▁█·▅▆▃·█` (senaste 8 perioderna)") == ROLLOUTS
    assert "Mål: ❌ `nps ≥ +80` inte uppnått (+56)" in everything
    assert "den 16 nov. av <@" in everything and "(grindarna åsidosattes)" in everything
    assert "since the last period" not in everything and "Targets:" not in everything


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_preview_is_the_first_message_and_says_how_many_follow(language: str) -> None:
    t = texts(language)
    messages = build_digest(t, CONTENT)
    preview = build_preview(t, messages)
    assert message_problems(preview) == []
    assert preview.blocks[:-1] == messages[0].blocks[: MESSAGE_BLOCKS - 1]
    note = {
        "en": f"…and {len(messages) - 1} more messages when posted; the trend chart is uploaded with the first.",
        "sv": f"…och {len(messages) - 1} meddelanden till när den postas; trenddiagrammet laddas upp med det första.",
    }
    assert shown(preview.blocks[-1:]) == note[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_below_the_minimum_group_only_the_note_shows(language: str) -> None:
    t = texts(language)
    content = digest_content([rollout_digest(1, enough=False, min_group=1000)], min_group=1000)
    messages = build_digest(t, content)
    assert all(message_problems(m) == [] for m in messages)
    text = "\n".join(shown(m.blocks) for m in messages)
    assert t._("NPS: fewer than {min} answers this period", min=1000) in text and "n=" not in text
    assert t._("not enough answers yet") in text
    assert fmt.group_rule(t, 1000) in text
    if language == "sv":
        assert "NPS: färre än 1000 svar den här perioden" in text


def test_a_digest_without_rollouts_says_so() -> None:
    [message] = build_digest(EN, digest_content([]))
    assert message_problems(message) == []
    assert "No active rollouts this period." in shown(message.blocks)
    assert message.text == f"Rollout Pulse digest {PERIOD['en']}"
    [message] = build_digest(SV, digest_content([]))
    assert "Inga pågående införanden den här perioden." in shown(message.blocks)


def test_the_trend_shows_every_period_and_gaps_where_too_few_answered() -> None:
    trend = CONTENT.rollouts[0].trend
    assert len(trend) == TREND_PERIODS
    assert sparkline(trend) == "▁█·▅▆▃·█"


def test_each_rollout_shows_its_targets_and_comments() -> None:
    text = "\n".join(shown(m.blocks) for m in build_digest(EN, digest_content([rollout_digest(1)])))
    assert "Targets: " in text
    assert text.count("_(week of Nov 16, 2026)_") == DIGEST_COMMENTS
    text = "\n".join(shown(m.blocks) for m in build_digest(SV, digest_content([rollout_digest(1)])))
    assert "Mål: " in text
    assert text.count("_(veckan som börjar 16 nov. 2026)_") == DIGEST_COMMENTS
