"""Weekly metric digests: subscriptions, and what a digest says for a period (docs/digests.md).

Every figure comes from the metrics service and obeys the anonymity threshold (docs/privacy.md). Posting
(exactly once per subscription and period) is outbound.digest_poster's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from runtime.clock import Clock, epoch
from runtime.i18n import LANGUAGES, N_
from services import disclosure
from services.cron import DEFAULT_CRON, Period, parse_cron, periods_ending
from services.directory import Directory
from services.errors import NotAllowed, NotFound
from services.metrics import (
    NpsSummary,
    StageMetrics,
    TouchpointMetrics,
    Window,
    evaluate_gates,
    nps_by_period,
    nps_summary,
    rollout_metrics,
)
from services.options import Options
from services.rollouts import RolloutService, channel_with_bot
from services.watch import REGRESSION_ALERT, WATCH_ACTOR
from storage.actions import Action, Actions
from storage.db import Store
from storage.digests import Digests, Subscription
from storage.disclosure import ReleasedComment
from storage.models import AuditEntry, GateRecord, RolloutStatus, Stage, Transition
from storage.rollouts import RolloutDetail
from storage.threads import Threads, Waiting

TREND_PERIODS = 8
DIGEST_COMMENTS = 3


@dataclass(frozen=True)
class TrendPoint:
    period: Period
    n: int
    nps: float | None  # None below the anonymity threshold


@dataclass(frozen=True)
class RolloutDigest:
    detail: RolloutDetail
    stage: Stage | None
    days_in_stage: int | None
    metrics: StageMetrics
    previous: NpsSummary | None
    gates: list[GateRecord]
    comments: list[ReleasedComment]
    transitions: list[Transition]
    trend: list[TrendPoint]
    marks: list[Transition]  # stage changes within the trend's span, for the chart
    waiting: Waiting | None = None  # conversations on comments waiting for a reply (a count, no words)
    actions: list[Action] = field(default_factory=list)  # what changed because of the feedback, this period
    # How each listed action's check-in came out, all answers so far (released groups only).
    check_ins: dict[int, TouchpointMetrics] = field(default_factory=dict)
    alerts: list[AuditEntry] = field(default_factory=list)  # the regression watch's alerts this period

    @property
    def change(self) -> float | None:
        """NPS change since the previous period, when both periods are large enough to show."""
        if self.metrics.nps is None or self.previous is None:
            return None
        return self.metrics.nps.score - self.previous.score


@dataclass(frozen=True)
class DigestContent:
    period: Period
    tz: ZoneInfo
    min_group: int
    rollouts: list[RolloutDigest] = field(default_factory=list)


def _day_bounds(window: Window, zone: ZoneInfo) -> tuple[int, int]:
    """The window's days as times: from the start of its first day to the start of its end day."""
    assert window.first_day is not None
    assert window.end_day is not None
    first, end = (datetime.combine(date.fromisoformat(d), time(), zone) for d in (window.first_day, window.end_day))
    return epoch(first), epoch(end)


def _in_period(actor: str, at: int, period: Period, window: Window, zone: ZoneInfo) -> bool:
    """A step in the period: by its time, or, for the regression watch's (dated by the day, as
    answers are), by its day, as released groups are counted."""
    if actor != WATCH_ACTOR:
        return period.start_at <= at < period.end_at
    start, end = _day_bounds(window, zone)
    return start <= at < end


class DigestService:
    def __init__(self, store: Store, settings: Options, clock: Clock, rollouts: RolloutService) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.digests = Digests(store)
        # Told when subscriptions change, so the scheduler can follow.
        self.on_subscriptions_changed: Callable[[], None] = lambda: None

    def require_admin(self, actor: str) -> None:
        if not self.settings.is_admin(actor):
            raise NotAllowed(N_("Only admins (PULSE_ADMINS) can manage and preview digests."))

    async def subscriptions(self) -> list[Subscription]:
        return await self.digests.subscriptions()

    async def subscribe(
        self,
        actor: str,
        channel_id: str,
        cron: str | None,
        directory: Directory,
        language: str | None = None,
    ) -> tuple[str, bool]:
        """Subscribe a channel to the digest (or change its schedule and language: None is
        PULSE_LANGUAGE); (cron, new)."""
        self.require_admin(actor)
        schedule = cron.strip() if cron else DEFAULT_CRON
        parse_cron(schedule, self.settings.tz)
        await channel_with_bot(directory, channel_id, N_("yet, so I could not post the digest there"))
        new = await self.digests.subscribe(
            channel_id=channel_id,
            cron=schedule,
            timezone=self.settings.pulse_timezone,
            actor=actor,
            now=epoch(self.clock.now()),
            source="command",
            language=language,
        )
        self.on_subscriptions_changed()
        return schedule, new

    async def unsubscribe(self, actor: str, channel_id: str) -> None:
        self.require_admin(actor)
        if not await self.digests.unsubscribe(channel_id):
            raise NotFound(N_("That channel has no digest subscription."))
        self.on_subscriptions_changed()

    def language(self, subscription: Subscription | None) -> str:
        """The language a subscription's digest is written in (without one: PULSE_LANGUAGE)."""
        language = subscription.language if subscription else None
        return language if language is not None and language in LANGUAGES else self.settings.pulse_language

    def periods(self, subscription: Subscription | None, end: datetime) -> list[Period]:
        """The last TREND_PERIODS periods of a schedule up to `end` (the default weekly one
        without a subscription), oldest first."""
        tz = ZoneInfo(subscription.timezone) if subscription else self.settings.tz
        trigger = parse_cron(subscription.cron if subscription else DEFAULT_CRON, tz)
        return periods_ending(trigger, end, TREND_PERIODS)

    def current_periods(self, subscription: Subscription | None, now: datetime) -> list[Period]:
        """The periods of a digest asked for now: the last one runs from the latest scheduled
        digest up to this moment."""
        periods = self.periods(subscription, now)
        if periods[-1].end < now:
            return [*periods[1:], Period(periods[-1].end, now, up_to_now=True)]
        # Up to this moment, so today's answers count (a scheduled digest takes whole days only).
        return [*periods[:-1], replace(periods[-1], up_to_now=True)]

    async def compute(self, periods: list[Period], tz: ZoneInfo | None = None) -> DigestContent:
        """The digest of the last of `periods`, with the others as its trend."""
        period = periods[-1]
        tz = tz or self.settings.tz
        content = DigestContent(period=period, tz=tz, min_group=self.settings.pulse_min_group)
        for detail in await self.rollouts.open_rollouts():
            if detail.rollout.status not in (RolloutStatus.ACTIVE, RolloutStatus.PAUSED):
                continue
            content.rollouts.append(await self._rollout(detail, periods, tz))
        return content

    async def _rollout(self, detail: RolloutDetail, periods: list[Period], tz: ZoneInfo) -> RolloutDigest:
        min_group = self.settings.pulse_min_group
        period = periods[-1]
        # Answers are dated by the day in PULSE_TIMEZONE: each period takes whole days.
        windows = [Window.of(p.start_at, p.end_at, self.settings.tz, through_end_day=p.up_to_now) for p in periods]
        window = windows[-1]
        metrics = await rollout_metrics(
            self.store,
            rollout_id=detail.rollout.id,
            touchpoints=detail.touchpoints,
            min_group=min_group,
            window=window,
        )
        boundaries = [periods[0].start_at, *(p.end_at for p in periods)]
        period_days = [str(windows[0].first_day), *(str(w.end_day) for w in windows)]
        counts = await nps_by_period(self.store, detail.rollout.id, period_days)
        trend = []
        for p, histogram in zip(periods, counts, strict=True):
            n = sum(histogram.values())
            summary = nps_summary(histogram) if n >= min_group else None
            trend.append(TrendPoint(p, n, summary.score if summary else None))
        previous = None
        if len(counts) >= 2 and sum(counts[-2].values()) >= min_group:
            previous = nps_summary(counts[-2])
        stage = detail.current
        days = None
        if stage is not None and stage.entered_at is not None:
            entered = datetime.fromtimestamp(stage.entered_at, tz).date()
            days = (period.end.astimezone(tz).date() - entered).days
        gates = evaluate_gates(detail.targets_for(stage), metrics) if stage is not None else []
        comments = await disclosure.period_comments(
            self.store, detail.rollout.id, first_day=window.first_day, end_day=window.end_day, limit=DIGEST_COMMENTS
        )
        transitions = await self.rollouts.rollouts.transitions(detail.rollout.id)
        actions = await Actions(self.store).shown_in(detail.rollout.id, period.start_at, period.end_at)
        return RolloutDigest(
            detail=detail,
            stage=stage,
            days_in_stage=days,
            metrics=metrics,
            previous=previous,
            gates=gates,
            comments=comments,
            transitions=[t for t in transitions if _in_period(t.actor, t.at, period, window, self.settings.tz)],
            trend=trend,
            marks=[t for t in transitions if boundaries[0] <= t.at < boundaries[-1]],
            waiting=(await Threads(self.store).waiting([detail.rollout.id])).get(detail.rollout.id),
            actions=actions,
            check_ins=await self._check_ins(detail, actions, min_group),
            alerts=await self.rollouts.rollouts.audit_between(
                detail.rollout.id, [REGRESSION_ALERT], *_day_bounds(window, self.settings.tz)
            ),
        )

    async def _check_ins(
        self, detail: RolloutDetail, actions: list[Action], min_group: int
    ) -> dict[int, TouchpointMetrics]:
        asked = {a.check_in_id: a.id for a in actions if a.check_in_id is not None and a.checked_in_at is not None}
        touchpoints = [t for t in detail.touchpoints if t.id in asked]
        if not touchpoints:
            return {}
        metrics = await rollout_metrics(
            self.store, rollout_id=detail.rollout.id, touchpoints=touchpoints, min_group=min_group
        )
        return {asked[t.id]: metrics.touchpoints[t.key] for t in touchpoints if t.key in metrics.touchpoints}
