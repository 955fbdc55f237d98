"""The regression watch: every gate of every active stage looked at again within a minute of
newly released answers and every hour, and the rollout's NPS compared week over week.

A gate that has passed and now fails *clearly* — its 95% interval wholly on the wrong side of
its target — raises one alert to the owners and champions, and stays quiet until it passes
again; so does a week whose NPS interval lies wholly below the week before's. With the rollout's
`on_regression` set to `pause`, the alert comes with the pause, in the same transaction, as
`/rollout pause` would make it (docs/rollouts.md: "Guarded stages"). Figures come from released
groups only, like every other figure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from runtime.clock import Clock, epoch
from runtime.i18n import for_operator
from services.announcements import AlertKind, RegressionAlert
from services.directory import Directory
from services.errors import Conflict
from services.metrics import (
    MetricName,
    NpsSummary,
    StageMetrics,
    Window,
    clearly_fails,
    day_after,
    metric_interval,
    metric_value,
    parse_metric,
)
from services.options import Options
from services.rollouts import RolloutService
from storage.db import Store
from storage.disclosure import Disclosures
from storage.guards import Alarm, Guards
from storage.models import GateRecord, RolloutStatus, Stage
from storage.rollouts import RolloutDetail
from storage.writes import Writes, write

log = logging.getLogger(__name__)

WATCH_ACTOR = for_operator("watch")  # who the history says raised an alert or paused
REGRESSION_ALERT = for_operator("regression alert")
REGRESSION_RECOVERED = for_operator("regression recovered")
DROP_RULE = "nps-drop"
PERIOD_DAYS = 7

# A failing gate reads as what holds instead: "nps +12 < +30" for the target nps >= 30.
_FAILED_OP = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "==": "≠"}


def rule_of(metric: str) -> str:
    return f"target:{metric}"


def figure(metric: str, value: float) -> str:
    """A metric's value as the operator's record says it (reasons are stored as written)."""
    family = metric.split(":", 1)[0]
    if family == "nps":
        return f"{value:+.0f}"
    if family == "response_rate":
        return f"{100 * value:.0f}%"
    if family in ("csat", "thumbs"):
        return f"{value:.0f}%"
    if family == "minutes":
        return f"{value:g} min"
    return f"{value:.1f}" if family == "ces" else f"{value:g}"


class _RaisedElsewhere(Exception):
    """Another look raised the alarm first: this look's pause is not made."""


@dataclass(frozen=True)
class Finding:
    """A rule that fails clearly now: what its alert says."""

    rule: str
    kind: AlertKind
    metric: str
    op: str | None
    target: float | None
    value: float
    low: float
    high: float
    previous: float | None
    previous_low: float | None
    previous_high: float | None
    latest: float | None

    @property
    def reason(self) -> str:
        """Why the rollout paused, as its history and announcements say it."""
        if self.kind == "nps_drop" and self.previous is not None:
            return for_operator(
                f"regression: nps fell from {figure('nps', self.previous)} to {figure('nps', self.value)}"
            )
        assert self.op is not None
        assert self.target is not None
        shown = f"{figure(self.metric, self.value)} {_FAILED_OP[self.op]} {figure(self.metric, self.target)}"
        return for_operator(f"regression: {self.metric} {shown}")


class RegressionWatch:
    def __init__(
        self,
        store: Store,
        settings: Options,
        clock: Clock,
        rollouts: RolloutService,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.guards = Guards(store)
        self.on_outbox = on_outbox
        self._groups_seen: int | None = None

    async def look_if_new(self, directory: Directory) -> int:
        """Look again if groups of answers were released since the last look (the minute job:
        however many answers came in, one look)."""
        groups = await self.guards.released_groups()
        if groups == self._groups_seen:
            return 0
        raised = await self.look(directory)
        self._groups_seen = groups
        return raised

    async def look(self, directory: Directory) -> int:
        """Look at every active stage; returns how many alerts were raised."""
        raised = 0
        for detail in await self.rollouts.open_rollouts():
            if detail.rollout.status != RolloutStatus.ACTIVE or detail.current is None:
                continue
            try:
                raised += await self._look_at(detail, detail.current)
            except (Conflict, _RaisedElsewhere):
                continue  # it moved, or another look raised it, meanwhile: the next look sees it as it is
        return raised

    async def _look_at(self, detail: RolloutDetail, stage: Stage) -> int:
        check = await self.rollouts.check_gates(detail)
        alarms = await self.guards.alarms(stage.id)
        latest_window, previous_window, first_day, end_day = self._periods()
        latest = await self.rollouts.metrics_of(detail, stage, latest_window)
        previous = await self.rollouts.metrics_of(detail, stage, previous_window)
        seen = _gate_findings(check.gates, check.metrics, alarms, previous, latest)
        seen = seen.merged(_drop_finding(previous.nps, latest.nps, alarms.get(DROP_RULE)))
        if not seen.falling and all(_armed(alarms.get(rule)) for rule in seen.holding):
            return 0  # nothing to write
        comments = await Disclosures(self.store).released_comment_count(stage.id, first_day, end_day)
        pause = bool(seen.falling) and detail.rollout.on_regression == "pause"
        notes = await self._notes(detail, stage, seen.falling, comments, paused=pause)

        def record(writes: Writes, now: int) -> int:
            raised = _record(writes, now, detail, stage, seen, notes, paused=pause)
            if pause and not raised:
                raise _RaisedElsewhere  # the pause goes with its alert, or not at all
            return raised

        if pause:
            reason = "; ".join(f.reason for f in seen.falling)[:500]
            raised = 0

            def paused(writes: Writes, now: int) -> None:
                nonlocal raised
                raised = record(writes, now)

            await self.rollouts.move(
                detail, WATCH_ACTOR, "pause", expect=(RolloutStatus.ACTIVE, stage.id), to_stage=stage,
                status=RolloutStatus.PAUSED, reason=reason, cohort_size=None, also=paused, at=self.stamp(),
            )  # fmt: skip
            log.info("%s paused by the regression watch: %s", detail.rollout.slug, reason)
            return raised
        stamp = self.stamp()
        raised = await write(self.store, lambda writes: record(writes, stamp))
        if raised:
            self.on_outbox()
        return raised

    def _periods(self) -> tuple[Window, Window, str, str]:
        """The last seven days (today included) and the seven before, by the day groups were
        released (and surveys sent in them, for the response rate, as digests count them); and
        the days of the last seven."""
        zone = self.settings.tz
        today = self.clock.now().astimezone(zone).date()
        first = datetime.combine(today - timedelta(days=PERIOD_DAYS - 1), time(), zone)
        before = first - timedelta(days=PERIOD_DAYS)
        # Surveys sent up to and with this second; groups released through today.
        latest = Window(
            epoch(first), epoch(self.clock.now()) + 1, first.date().isoformat(), day_after(today.isoformat())
        )
        previous = Window.of(epoch(before), epoch(first), zone)
        return latest, previous, str(latest.first_day), str(latest.end_day)

    def stamp(self) -> int:
        """When the watch's rows say they were written: the start of today (PULSE_TIMEZONE). It
        acts within a minute of a released group, so the minute would date that group's last
        answer; the day is what answers are dated by anyway."""
        zone = self.settings.tz
        return epoch(datetime.combine(self.clock.now().astimezone(zone).date(), time(), zone))

    async def _notes(
        self, detail: RolloutDetail, stage: Stage, falling: list[Finding], comments: int, *, paused: bool
    ) -> dict[str, list[tuple[str, RegressionAlert]]]:
        """Each finding's alert to each owner and champion, in their language."""
        languages = await self.rollouts.readers_languages(detail, [*detail.owners, *detail.champions])
        return {
            f.rule: [
                (user, RegressionAlert(
                    rollout_slug=detail.rollout.slug, title=detail.rollout.title_in(language), stage=stage.name,
                    kind=f.kind, metric=f.metric, op=f.op, target=f.target, value=f.value, low=f.low, high=f.high,
                    previous=f.previous, previous_low=f.previous_low, previous_high=f.previous_high,
                    latest=f.latest, comments=comments, paused=paused, language=language,
                ))
                for user, language in languages.items()
            ]
            for f in falling
        }  # fmt: skip


def _armed(alarm: Alarm | None) -> bool:
    return alarm is not None and alarm.state == "armed"


@dataclass(frozen=True)
class _Seen:
    """What one look found: the rules that hold now, and those that fail clearly and may alert."""

    holding: list[str] = field(default_factory=list)
    falling: list[Finding] = field(default_factory=list)

    def merged(self, other: _Seen) -> _Seen:
        return _Seen([*self.holding, *other.holding], [*self.falling, *other.falling])


def _gate_findings(
    gates: list[GateRecord], metrics: StageMetrics, alarms: dict[str, Alarm], previous: StageMetrics,
    latest: StageMetrics,
) -> _Seen:  # fmt: skip
    """A gate that passes holds; one that fails clearly falls, if it has passed since its last alert."""
    seen = _Seen()
    for gate in gates:
        name, rule = parse_metric(gate.metric), rule_of(gate.metric)
        if gate.state == "pass":
            seen.holding.append(rule)
            continue
        interval = metric_interval(metrics, name) if name is not None else None
        alarm = alarms.get(rule)
        if gate.state != "fail" or name is None or interval is None or gate.value is None:
            continue
        if not _armed(alarm) or not clearly_fails(gate.op, gate.target, interval):
            continue  # never passed, already raised, or a wobble
        seen.falling.append(
            Finding(
                rule, "gate", gate.metric, gate.op, gate.target, gate.value, *interval,
                previous=_value(previous, name), previous_low=None, previous_high=None, latest=_value(latest, name),
            )
        )  # fmt: skip
    return seen


def _drop_finding(previous: NpsSummary | None, latest: NpsSummary | None, alarm: Alarm | None) -> _Seen:
    """This week's NPS interval wholly below last week's falls (a drop needs no pass first);
    overlapping intervals hold; a week with too few answers says nothing."""
    if previous is None or latest is None:
        return _Seen()
    if latest.high >= previous.low:
        return _Seen(holding=[DROP_RULE])
    if alarm is not None and alarm.state != "armed":
        return _Seen()
    finding = Finding(
        DROP_RULE, "nps_drop", "nps", None, None, latest.score, latest.low, latest.high,
        previous=previous.score, previous_low=previous.low, previous_high=previous.high, latest=latest.score,
    )  # fmt: skip
    return _Seen(falling=[finding])


def _record(
    writes: Writes, now: int, detail: RolloutDetail, stage: Stage, seen: _Seen,
    notes: dict[str, list[tuple[str, RegressionAlert]]], *, paused: bool,
) -> int:  # fmt: skip
    """Inside the write job: arm what holds (a recovery goes into the history), raise what
    falls with its alerts, each under its own outbox key. Returns how many were raised."""
    for rule in seen.holding:
        if writes.guards.arm(stage.id, rule):
            writes.rollouts.write_audit(
                rollout_id=detail.rollout.id, actor=WATCH_ACTOR, action=REGRESSION_RECOVERED, now=now,
                detail={"stage": stage.name, "rule": rule},
            )  # fmt: skip
    raised = 0
    for finding in seen.falling:
        if finding.rule == DROP_RULE and writes.guards.alarm(stage.id, DROP_RULE) is None:
            writes.guards.arm(stage.id, DROP_RULE)
        number = writes.guards.raise_alarm(stage.id, finding.rule)
        if number is None:
            continue  # another look raised it first
        raised += 1
        writes.rollouts.write_audit(
            rollout_id=detail.rollout.id, actor=WATCH_ACTOR, action=REGRESSION_ALERT, now=now,
            detail={"stage": stage.name, "rule": finding.rule, "reason": finding.reason, "paused": paused},
        )  # fmt: skip
        for user, alert in notes[finding.rule]:
            writes.outbox.enqueue(
                kind="regression_alert",
                dedupe_key=f"alert:{stage.id}:{finding.rule}:{number}:{user}",
                channel=user,
                payload=alert.model_dump_json(),
                now=now,
            )
    return raised


def _value(metrics: StageMetrics, name: MetricName) -> float | None:
    value, enough = metric_value(metrics, name)
    return value if enough else None
