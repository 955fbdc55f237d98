"""The stage-change announcement with the longest title, stage names and reason and every gate a
stage can have: within Slack's limits, with who did it, why, each gate, the cohort and what
champions should do now."""

from __future__ import annotations

from datetime import date
from typing import get_args

import pytest

from handlers.blocks import format as fmt
from handlers.blocks.announcement import build_announcement
from handlers.blocks.text import escape
from runtime.i18n import LANGUAGES, Texts, texts
from services.announcements import WHAT_TO_DO, Announcement, Audience
from storage.models import GateRecord, TransitionKind
from tests.handlers.blocks.extremes import (
    GATES,
    REASON,
    SLUG,
    STAGE_NAMES,
    TITLE,
    gates,
    message_problems,
    shown,
    touchpoints,
    user,
)

KINDS: tuple[TransitionKind, ...] = get_args(TransitionKind)
AUDIENCES: tuple[Audience, ...] = get_args(Audience)
GATED = gates(touchpoints())
EN, SV = texts("en"), texts("sv")


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    return texts(request.param)


def announcement(
    kind: TransitionKind, audience: Audience = "channel", *, gated: list[GateRecord] | None = GATED, last: bool = False
) -> Announcement:
    return Announcement(
        transition_id=10**18 - 1, rollout_slug=SLUG, title=TITLE, kind=kind, from_stage=STAGE_NAMES[-3],
        to_stage=STAGE_NAMES[-2], actor=user(1), reason=REASON, gates=gated, overridden=True, cohort_size=10**6,
        next_stage=None if last else STAGE_NAMES[-1], next_planned=date(2026, 12, 31), audience=audience,
    )  # fmt: skip


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_longest_announcement_says_who_why_and_what_now(kind: TransitionKind, audience: Audience) -> None:
    message = build_announcement(EN, announcement(kind, audience))
    assert message_problems(message) == []
    text = shown(message.blocks)
    heading = message.blocks[0]["text"]["text"]
    assert len(heading) <= 150 and TITLE[:40] in heading  # shortened to leave room for the stages
    assert f"<@{user(1)}> " in text and f"— “{escape(REASON)}”" in text
    assert "*Advanced anyway* — not every gate passed:" in text
    assert all(fmt.gate(EN, g) in text for g in GATED), f"not all {GATES} gates are shown"
    assert "*Cohort now*\n1,000,000 people" in text
    if kind != "complete":
        assert f"*Next stage*\n{STAGE_NAMES[-1]} · planned 2026-12-31" in text
    assert f"*What champions should do now*\n{escape(EN.say(WHAT_TO_DO[kind]))}" in text
    assert f"`/rollout status {SLUG}` shows the card" in text
    assert ("You get this as a champion" in text) is (audience == "champion")
    assert message.text.endswith(escape(EN.say(WHAT_TO_DO[kind])))


@pytest.mark.parametrize("kind", ["start", "advance", "rollback", "resume"])
def test_the_last_stage_says_it_is_the_last(kind: TransitionKind) -> None:
    message = build_announcement(EN, announcement(kind, gated=None, last=True))
    assert message_problems(message) == []
    assert "*Next stage*\nthis is the last one" in shown(message.blocks)


def test_an_override_without_gates_still_says_so() -> None:
    message = build_announcement(EN, announcement("advance", gated=None))
    assert "*Advanced anyway.*" in shown(message.blocks)


@pytest.mark.parametrize("kind", ["start", "advance", "rollback", "resume"])
def test_the_announcement_names_the_stage_it_moved_to(kind: TransitionKind) -> None:
    message = build_announcement(EN, announcement(kind))
    assert STAGE_NAMES[-2] in shown(message.blocks)


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_longest_announcement_fits_in_each_language(kind: TransitionKind, audience: Audience, t: Texts) -> None:
    for gated, last in ((GATED, False), (None, True)):
        message = build_announcement(t, announcement(kind, audience, gated=gated, last=last))
        assert message_problems(message) == []
        assert len(message.blocks[0]["text"]["text"]) <= 150 and TITLE[:40] in message.blocks[0]["text"]["text"]
        assert message.text.endswith(escape(t.say(WHAT_TO_DO[kind])))


def test_an_announcement_in_swedish() -> None:
    a = Announcement(
        transition_id=1, rollout_slug="expense-tool", title="Expense tool", kind="advance", from_stage="alpha",
        to_stage="beta", actor="U0000000001", reason="Pilotteamet väntar", gates=GATED[:2], overridden=True,
        cohort_size=1234, next_stage="ga", next_planned=date(2026, 12, 31), audience="champion", language="sv",
    )  # fmt: skip
    message = build_announcement(SV, a)
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert message.blocks[0]["text"]["text"] == "⏩ Expense tool: alpha → beta"
    assert "<@U0000000001> tog det vidare — “Pilotteamet väntar”" in text
    assert "*Gick vidare ändå* – inte alla grindar var uppfyllda:" in text
    fields = [f["text"] for b in message.blocks if "fields" in b for f in b["fields"]]
    assert fields == ["*Målgrupp nu*\n1\xa0234 personer", "*Nästa steg*\nga · planerat 2026-12-31"]
    assert "*Vad ambassadörerna bör göra nu*\nVälkomna dem som kommer med i det här steget" in text
    assert (
        "Du får det här som ambassadör för `expense-tool`. `/rollout status expense-tool` visar statuskortet." in text
    )
    assert message.text.startswith("⏩ Expense tool: alpha → beta. Välkomna dem")
    paused = build_announcement(SV, a.model_copy(update={"kind": "pause", "audience": "channel"}))
    assert paused.blocks[0]["text"]["text"] == "⏸ Expense tool är pausat"
    assert "`/rollout status expense-tool` visar statuskortet · `/rollout roadmap expense-tool` planen." in shown(
        paused.blocks
    )
