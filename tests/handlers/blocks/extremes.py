"""The longest texts people can type and the most items a surface is asked to show, built with
the real models, and what Slack would refuse of a message, for the tests of this package.

Free texts are as long as the input checks let them be (services.inputs, services.surveys) and
padded with `&`, which `escape` turns into five characters: what a builder shows back is as long
as it can get. Identifiers are as long as their patterns allow; Slack's IDs have 11 characters.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.blocks.text import Block, Message
from sandbox import blockkit
from sandbox.workspace import render_text
from services import inputs
from services.cron import Period
from services.digests import DIGEST_COMMENTS, TREND_PERIODS, DigestContent, RolloutDigest, TrendPoint
from services.metrics import StageMetrics, TouchpointMetrics, compute_metrics, histogram, nps_summary
from services.scales import SurveyScale
from services.surveys import COMMENT_MAX, LABEL_MAX, SurveyView
from storage.actions import Action
from storage.disclosure import ReleasedComment
from storage.models import (
    AuditEntry,
    GateRecord,
    Rollout,
    RolloutStatus,
    Scale,
    Stage,
    Touchpoint,
    Transition,
    TransitionKind,
)
from storage.rollouts import RolloutDetail
from storage.threads import Waiting

ID_MAX = 40  # slugs, stage names and touchpoint keys: inputs.SLUG, inputs.STAGE_NAME
SCALES: tuple[Scale, ...] = ("csat", "ces", "thumbs", "minutes")
# The largest row id a button or a form's metadata can carry back (handlers.ids.row_id).
BIG_ID = 10**18 - 1
# The longest IANA zone name: digests and wave reports print it.
LONGEST_TZ = ZoneInfo("America/Argentina/ComodRivadavia")
CLOSES_AT = 1_795_000_000  # 18 Nov 2026

# The most items. Stages are capped (inputs.MAX_STAGES); the others are not, so these are many.
TOUCHPOINTS = 50
GATES = 3 + TOUCHPOINTS  # a stage has one gate per metric: nps, response_rate, responses, each touchpoint's
CHAMPIONS = 60
OWNERS = 20
ROLLOUTS = 300


def typed(words: str, length: int) -> str:
    """`words`, then `&` up to `length` characters."""
    return (words + " " + "&" * length)[:length]


def name(prefix: str, i: int) -> str:
    """A slug, stage name or touchpoint key of the longest allowed length, different for each `i`."""
    return f"{prefix}-{i:03d}-".ljust(ID_MAX, "x")


TITLE = typed("Expense tool", inputs.TITLE_MAX)
VISION = typed("Every expense filed in a minute", inputs.VISION_MAX)
REASON = typed("The pilot team is blocked", inputs.REASON_MAX)
LABEL = typed("Submitting a claim", LABEL_MAX)
COMMENT = typed("It broke\n\non Monday,\n  twice", COMMENT_MAX)
ACTION = typed("Receipts can be photographed", 500)
ACTIONS = 20  # a busy week of changes
ALERTS = 20  # a bad week: every gate of a stage failing, recovering and failing again
SLUG = name("expense-tool", 0)
STAGE_NAMES = tuple(name("stage", i) for i in range(1, inputs.MAX_STAGES + 1))
CHANNEL = "C0123456789"
# What a button's click brings: a form's metadata carries it on.
RESPONSE_URL = "https://hooks.slack.com/actions/T0123456789/9876543210987/" + "a" * 24


def user(i: int, prefix: str = "U") -> str:
    return f"{prefix}{i:010d}"


def message_problems(message: Message) -> list[str]:
    """What Slack would refuse of a message: its blocks as sandbox.blockkit checks them, and its
    fallback text as chat.postMessage does (msg_too_long), which every message of the bot has."""
    problems = blockkit.check_message(message.text, message.blocks)
    if not message.text:
        problems.append("no fallback text")
    elif len(message.text) > blockkit.MESSAGE_TEXT:
        problems.append(f"msg_too_long: {len(message.text)} characters")
    return problems


def shown(blocks: list[Block] | dict[str, Any]) -> str:
    """The text of blocks (or of a view) as a person reads it, fallback text aside."""
    return render_text({"blocks": blocks["blocks"] if isinstance(blocks, dict) else blocks})


def touchpoints(rollout_id: int = 1, count: int = TOUCHPOINTS, label: str = LABEL) -> list[Touchpoint]:
    return [
        Touchpoint(id=rollout_id * 1000 + i, rollout_id=rollout_id, key=name("touchpoint", i), label=label,
                   scale=SCALES[i % len(SCALES)])
        for i in range(count)
    ]  # fmt: skip


def stages(rollout_id: int = 1, current: int = 5, count: int = inputs.MAX_STAGES) -> list[Stage]:
    """`count` stages, the ones before position `current` entered and left, that one entered."""
    day = 86_400
    return [
        Stage(
            id=rollout_id * 100 + position,
            rollout_id=rollout_id,
            position=position,
            name=STAGE_NAMES[position - 1],
            planned_start=date(2026, 1, 1 + 3 * position),
            entered_at=1_767_000_000 + position * 7 * day if position <= current else None,
            left_at=1_767_000_000 + (position + 1) * 7 * day if position < current else None,
        )
        for position in range(1, count + 1)
    ]


def rollout_detail(
    rollout_id: int = 1,
    *,
    status: RolloutStatus = RolloutStatus.ACTIVE,
    current: int = 5,
    title: str = TITLE,
    champions: int = CHAMPIONS,
    owners: int = OWNERS,
    touchpoint_count: int = TOUCHPOINTS,
) -> RolloutDetail:
    """A rollout with every stage, the longest texts, and many people and touchpoints."""
    rollout = Rollout(
        id=rollout_id, slug=name("rollout", rollout_id) if rollout_id != 1 else SLUG, title=title, vision=VISION,
        status=status, current_stage_id=rollout_id * 100 + current, channel_id=CHANNEL, auto_nps_after_days=7,
        created_by=user(0), created_at=1_767_000_000, updated_at=1_767_000_000,
    )  # fmt: skip
    return RolloutDetail(
        rollout,
        stages(rollout_id, current),
        owners=[user(i) for i in range(owners)],
        champions=[user(i, "W") for i in range(champions)],
        touchpoints=touchpoints(rollout_id, touchpoint_count),
    )


# Scores each scale takes, a few of each so that every touchpoint shows a figure.
_SCORES: dict[Scale, list[float]] = {
    "csat": [5, 4, 4, 2, 1, 5],
    "ces": [7, 6, 1, 3, 5, 2],
    "thumbs": [1, 1, 0, 1, 0, 1],
    "minutes": [2.5, 10, 22.5, 45, 90, 90],
}


def metrics(tps: list[Touchpoint], *, enough: bool = True, min_group: int = 5) -> StageMetrics:
    """Metrics with figures for NPS and every touchpoint (`enough`), or too few answers for any."""
    if enough:
        nps: list[float] = [10.0] * 30 + [0.0] * 10 + [7.0] * 5
        scores = {tp.id: _SCORES[tp.scale] * min_group for tp in tps}
    else:
        nps = [10] * (min_group - 1)
        scores = {tp.id: _SCORES[tp.scale][: min_group - 1] for tp in tps}
    return compute_metrics(
        min_group=min_group, nps_scores=nps, asked=10**6, answered=10**6 // 2, touchpoint_scores=scores, touchpoints=tps
    )


def gates(tps: list[Touchpoint]) -> list[GateRecord]:
    """A gate for every metric a stage can have, missed, met and waiting for data in turn."""
    names = ["nps", "response_rate", "responses", *(f"{tp.scale}:{tp.key}" for tp in tps)]
    states = ("fail", "pass", "not_enough_data")
    return [
        GateRecord(metric=metric, op=">=", target=80, value=None if i % 3 == 2 else 55.5, state=states[i % 3],
                   stage_specific=i % 2 == 0)
        for i, metric in enumerate(names)
    ]  # fmt: skip


def survey_view(scale: SurveyScale, *, i: int = 0, asked: int = 10**6, min_group: int = 5) -> SurveyView:
    """A survey about the longest title and touchpoint label, with the largest row ids."""
    return SurveyView(
        wave_id=BIG_ID - i, delivery_id=BIG_ID - i, rollout_title=TITLE,
        kind="nps" if scale == "nps" else "touchpoint", scale=scale,
        touchpoint_label=None if scale == "nps" else LABEL, closes_at=CLOSES_AT, min_group=min_group, asked=asked,
    )  # fmt: skip


# A digest's periods: the most it shows (TREND_PERIODS), a week each, in the longest zone name.
DIGEST_END = datetime(2026, 11, 23, 9, tzinfo=LONGEST_TZ)
PERIODS = [
    Period(DIGEST_END - timedelta(weeks=k + 1), DIGEST_END - timedelta(weeks=k)) for k in reversed(range(TREND_PERIODS))
]
# NPS over the periods: both ends, the middle, and periods with too few answers to show.
TREND_NPS: list[float | None] = [-100.0, 100.0, None, 0.0, 33.3, -50.0, None, 99.0]
KINDS: tuple[TransitionKind, ...] = ("start", "advance", "rollback", "pause", "resume", "complete")
TRANSITIONS = 30  # stage changes in the last period


def rollout_digest(
    rollout_id: int, *, enough: bool = True, min_group: int = 5, touchpoint_count: int = TOUCHPOINTS
) -> RolloutDigest:
    """A rollout's part of a digest with the most of everything: touchpoints, gates, comments,
    stage changes and periods."""
    status = RolloutStatus.PAUSED if rollout_id % 2 else RolloutStatus.ACTIVE
    detail = rollout_detail(rollout_id, status=status, touchpoint_count=touchpoint_count)
    first = PERIODS[-1].start_at
    transitions = [
        Transition(id=rollout_id * 1000 + k, rollout_id=rollout_id, kind=KINDS[k % len(KINDS)],
                   from_stage_id=rollout_id * 100 + 1 + k % 9, to_stage_id=rollout_id * 100 + 2 + k % 9,
                   actor=user(k), reason=REASON, gates=None, overridden=True, cohort_size=10**6, at=first + k * 3600)
        for k in range(TRANSITIONS)
    ]  # fmt: skip
    trend = [TrendPoint(period, 10**4, nps) for period, nps in zip(PERIODS, TREND_NPS, strict=True)]
    return RolloutDigest(
        detail=detail, stage=detail.current, days_in_stage=10**4,
        metrics=metrics(detail.touchpoints, enough=enough, min_group=min_group),
        previous=nps_summary(histogram([0.0] * 10 + [10.0] * 2)), gates=gates(detail.touchpoints),
        comments=[ReleasedComment(body=COMMENT, released_on="2026-11-18")] * DIGEST_COMMENTS,
        transitions=transitions, trend=trend, marks=transitions,
        waiting=Waiting(count=10**6, oldest="2026-11-18"),
        actions=[
            Action(id=k, rollout_id=rollout_id, stage_id=detail.stages[0].id, touchpoint_id=None, body=ACTION,
                   created_by=user(k), created_at=first, told=10**6, check_in_at=first if k % 2 else None,
                   check_in_id=k if k % 2 else None, checked_in_at=first if k % 4 == 1 else None)
            for k in range(ACTIONS)
        ],
        check_ins={
            k: TouchpointMetrics(f"check-in-{k}", LABEL, "thumbs", 10**6, 0.5 if enough else None)
            for k in range(1, ACTIONS, 4)
        },
        alerts=[
            AuditEntry(id=k, rollout_id=rollout_id, actor="watch", action="regression alert", reason=None,
                       detail={"stage": STAGE_NAMES[k % 9], "rule": "nps-drop", "reason": typed("regression:", 500)},
                       at=first + k)
            for k in range(ALERTS)
        ],
    )  # fmt: skip


def digest_content(rollouts: list[RolloutDigest], min_group: int = 5) -> DigestContent:
    return DigestContent(PERIODS[-1], LONGEST_TZ, min_group, rollouts)
