"""The metrics of a rollout stage over a time window, and the gates they pass or fail.

Plain computation over the store, shared by the status card, results and digests. Figures are
computed from the groups of answers released together (storage.disclosure), never from the
answers themselves, and withheld below PULSE_MIN_GROUP respondents.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Literal

from runtime.i18n import N_, Phrase
from storage.db import Store, day_of
from storage.disclosure import Disclosures
from storage.models import GateRecord, Scale, Target, Touchpoint, in_language

Z_95 = 1.96

GateState = Literal["pass", "fail", "not_enough_data"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": lambda a, b: math.isclose(a, b, abs_tol=1e-9),
}
# What people type, and what we store.
OPERATOR_SPELLINGS = {
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
    ">": ">",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    "<": "<",
    "==": "==",
    "=": "==",
}

WHOLE_STAGE_METRICS = ("nps", "response_rate", "responses")
TOUCHPOINT_METRICS: tuple[Scale, ...] = ("csat", "ces", "thumbs", "minutes")
_METRIC = re.compile(r"^(nps|response_rate|responses|(csat|ces|thumbs|minutes):([a-z0-9][a-z0-9-]{0,39}))\Z")

# The range a target value must lie in, per metric family, and how it reads.
VALUE_RANGES: dict[str, tuple[float, float, Phrase]] = {
    "nps": (-100, 100, N_("an NPS from -100 to 100")),
    "response_rate": (0, 1, N_("a share from 0 to 1 (or a percentage such as 40%)")),
    "responses": (0, 1_000_000, N_("a count of responses, 0 or more")),
    "csat": (0, 100, N_("a percentage of satisfied answers, 0 to 100")),
    "ces": (1, 7, N_("an average effort score from 1 to 7")),
    "thumbs": (0, 100, N_("a percentage of thumbs up, 0 to 100")),
    "minutes": (0, 24 * 60, N_("a number of minutes, 0 or more")),
}

# Answers on the `minutes` scale are stored as the midpoint of the bucket chosen.
MINUTE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<5", 2.5),
    ("5–15", 10.0),
    ("15–30", 22.5),
    ("30–60", 45.0),
    (">60", 90.0),
)


@dataclass(frozen=True)
class MetricName:
    family: str
    touchpoint: str | None = None

    def __str__(self) -> str:
        return f"{self.family}:{self.touchpoint}" if self.touchpoint else self.family


def parse_metric(text: str) -> MetricName | None:
    match = _METRIC.match(text.strip().lower())
    if match is None:
        return None
    if match.group(2):
        return MetricName(match.group(2), match.group(3))
    return MetricName(match.group(1))


@dataclass(frozen=True)
class NpsSummary:
    """NPS of n respondents with its 95% interval: X ∈ {+1, 0, −1}, NPS = 100·mean(X),
    margin = 1.96·100·sqrt(Var(X)/n) with the population variance of X."""

    n: int
    score: float
    margin: float
    promoters: float
    passives: float
    detractors: float

    @property
    def low(self) -> float:
        return self.score - self.margin

    @property
    def high(self) -> float:
        return self.score + self.margin


Histogram = Mapping[float, int]  # score → how many gave it


def histogram(scores: Iterable[float]) -> Counter[float]:
    return Counter(float(s) for s in scores)


def nps_summary(scores: Sequence[float] | Histogram) -> NpsSummary | None:
    counts = scores if isinstance(scores, Mapping) else histogram(scores)
    n = sum(counts.values())
    if n == 0:
        return None
    promoters = sum(c for s, c in counts.items() if s >= 9)
    detractors = sum(c for s, c in counts.items() if s <= 6)
    passives = n - promoters - detractors
    p, d = promoters / n, detractors / n
    mean = p - d
    variance = p + d - mean * mean
    margin = Z_95 * 100 * math.sqrt(max(variance, 0.0) / n)
    return NpsSummary(n=n, score=100 * mean, margin=margin, promoters=p, passives=passives / n, detractors=d)


def touchpoint_score(scale: Scale, scores: Sequence[float] | Histogram) -> float | None:
    """CSAT: % of 4–5; CES: mean; thumbs: % up; minutes: median."""
    counts = scores if isinstance(scores, Mapping) else histogram(scores)
    n = sum(counts.values())
    if n == 0:
        return None
    if scale == "csat":
        return 100 * sum(c for s, c in counts.items() if s >= 4) / n
    if scale == "ces":
        return sum(s * c for s, c in counts.items()) / n
    if scale == "thumbs":
        return 100 * sum(c for s, c in counts.items() if s >= 1) / n
    return _median(counts, n)


def _nth(counts: Histogram, k: int) -> float:
    """The k-th smallest score (from 0) of a histogram."""
    seen = 0
    for score, count in sorted(counts.items()):
        seen += count
        if k < seen:
            return score
    raise AssertionError("k is within n")


def _median(counts: Histogram, n: int) -> float:
    """The median of a histogram, as statistics.median would give for the expanded list."""
    return _nth(counts, n // 2) if n % 2 else (_nth(counts, n // 2 - 1) + _nth(counts, n // 2)) / 2


def share_interval(hits: int, n: int) -> tuple[float, float]:
    """The 95% Wilson interval of a share hits/n (0..1): unlike p ± 1.96·sqrt(p(1−p)/n), it
    does not shrink to a point when every answer agrees, so five answers are never "certain"."""
    p, z2 = hits / n, Z_95 * Z_95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score_interval(scale: Scale, counts: Histogram) -> tuple[float, float] | None:
    """The 95% interval of a touchpoint's score: Wilson for the shares (CSAT, thumbs), the
    normal interval of the mean for CES, and the order-statistic interval of the median for
    minutes (the ranks n/2 ∓ 1.96·√n/2, the binomial interval of the median's rank)."""
    n = sum(counts.values())
    if n == 0:
        return None
    if scale in ("csat", "thumbs"):
        hits = sum(c for s, c in counts.items() if s >= (4 if scale == "csat" else 1))
        low, high = share_interval(hits, n)
        return 100 * low, 100 * high
    if scale == "ces":
        mean = sum(s * c for s, c in counts.items()) / n
        variance = sum(c * (s - mean) ** 2 for s, c in counts.items()) / max(n - 1, 1)
        margin = Z_95 * math.sqrt(variance / n)
        return mean - margin, mean + margin
    spread = Z_95 * math.sqrt(n) / 2
    low_rank = max(0, math.floor(n / 2 - spread))
    high_rank = min(n - 1, math.ceil(n / 2 + spread) - 1)
    return _nth(counts, low_rank), _nth(counts, high_rank)


@dataclass(frozen=True)
class TouchpointMetrics:
    key: str
    label: str
    scale: Scale
    n: int
    score: float | None  # None when n is below the anonymity threshold
    label_variants: Mapping[str, str] = field(default_factory=dict)
    interval: tuple[float, float] | None = None  # the score's 95% interval, when it is shown

    def label_in(self, language: str) -> str:
        return in_language(self.label, self.label_variants, language)


@dataclass(frozen=True)
class StageMetrics:
    """What the status card, results and digests show for one stage and window."""

    min_group: int
    respondents: int  # NPS respondents
    nps: NpsSummary | None  # None below the threshold
    asked: int  # NPS surveys delivered
    answered: int  # of those, answered
    responses: int  # every answer, NPS and touchpoints
    touchpoints: dict[str, TouchpointMetrics] = field(default_factory=dict)

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None

    @property
    def enough(self) -> bool:
        return self.respondents >= self.min_group


def day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Window:
    """A period: waves opened in [start, end) (Unix seconds), and groups of answers released from
    `first_day` up to, not including, `end_day` (YYYY-MM-DD). None means unbounded."""

    start: int | None = None
    end: int | None = None
    first_day: str | None = None
    end_day: str | None = None

    @classmethod
    def of(cls, start: int, end: int, zone: tzinfo, *, through_end_day: bool = False) -> Window:
        """Groups are dated by the day, so a period holds the days from the one it starts on
        to the one before it ends on: every day lands in exactly one period of a schedule, and
        only once it is over. `through_end_day`: a period that runs up to now takes today too."""
        end_day = day_of(end, zone)
        return cls(start, end, day_of(start, zone), day_after(end_day) if through_end_day else end_day)


def compute_metrics(
    *,
    min_group: int,
    nps_scores: Sequence[float] | Histogram,
    asked: int,
    answered: int,
    touchpoint_scores: Mapping[int, Sequence[float] | Histogram],
    touchpoints: Iterable[Touchpoint],
) -> StageMetrics:
    """Assemble the metrics from scores (lists or histograms), withholding what the threshold hides."""
    nps_counts = nps_scores if isinstance(nps_scores, Mapping) else histogram(nps_scores)
    respondents = sum(nps_counts.values())
    nps = nps_summary(nps_counts) if respondents >= min_group else None
    per_touchpoint = {}
    answers = respondents
    for tp in touchpoints:
        raw = touchpoint_scores.get(tp.id, {})
        counts = raw if isinstance(raw, Mapping) else histogram(raw)
        n = sum(counts.values())
        answers += n
        shown = touchpoint_score(tp.scale, counts) if n >= min_group else None
        interval = score_interval(tp.scale, counts) if shown is not None else None
        per_touchpoint[tp.key] = TouchpointMetrics(tp.key, tp.label, tp.scale, n, shown, tp.label_variants, interval)
    return StageMetrics(
        min_group=min_group,
        respondents=respondents,
        nps=nps,
        asked=asked,
        answered=answered,
        responses=answers,
        touchpoints=per_touchpoint,
    )


async def stage_metrics(
    store: Store,
    *,
    stage_id: int,
    touchpoints: Iterable[Touchpoint],
    min_group: int,
    window: Window | None = None,
) -> StageMetrics:
    """The metrics of one stage (its waves and answers) within an optional window."""
    return await scoped_metrics(
        store, column="stage_id", value=stage_id, touchpoints=touchpoints, min_group=min_group, window=window
    )


async def rollout_metrics(
    store: Store,
    *,
    rollout_id: int,
    touchpoints: Iterable[Touchpoint],
    min_group: int,
    window: Window | None = None,
) -> StageMetrics:
    """The metrics of a whole rollout (every stage) within an optional window: what digests show."""
    return await scoped_metrics(
        store, column="rollout_id", value=rollout_id, touchpoints=touchpoints, min_group=min_group, window=window
    )


async def scoped_metrics(
    store: Store,
    *,
    column: Literal["stage_id", "rollout_id"],
    value: int,
    touchpoints: Iterable[Touchpoint],
    min_group: int,
    window: Window | None = None,
) -> StageMetrics:
    """Figures of the groups of answers released in the window (by the day they were released):
    never the answers themselves, so that no figure moves by fewer than a group."""
    window = window or Window()
    disclosures = Disclosures(store)
    released = await disclosures.released_counts(
        column=column, value=value, first_day=window.first_day, end_day=window.end_day
    )
    # The response rate: the released NPS answers over the NPS surveys delivered in waves opened
    # in the window. Counting answers by their wave instead would split a group between windows,
    # and two windows could then differ by one answer: whether one person had answered.
    asked = await disclosures.nps_surveys_sent(
        column=column, value=value, opened_from=window.start, opened_to=window.end
    )
    # Groups keep the answers of people forgotten since, whose deliveries are gone: capped.
    answered = min(sum(released.nps.values()), asked)
    return compute_metrics(
        min_group=min_group,
        nps_scores=released.nps,
        asked=asked,
        answered=answered,
        touchpoint_scores=released.touchpoints,
        touchpoints=touchpoints,
    )


async def nps_by_period(store: Store, rollout_id: int, days: Sequence[str]) -> list[Counter[float]]:
    """Released NPS answers of a rollout per period, as histograms, for the days [d0, d1), [d1, d2) …
    (by the day each group was released): one query for all periods."""
    if len(days) < 2:
        return []
    periods: list[Counter[float]] = [Counter() for _ in days[1:]]
    for period, score, count in await Disclosures(store).released_nps_by_period(rollout_id, days):
        periods[period][score] += count
    return periods


def metric_value(metrics: StageMetrics, name: MetricName) -> tuple[float | None, bool]:
    """(value, enough data) for a metric name."""
    if name.family == "responses":
        return float(metrics.responses), True
    if name.family == "nps":
        return (metrics.nps.score if metrics.nps else None), metrics.nps is not None
    if name.family == "response_rate":
        enough = metrics.respondents >= metrics.min_group and metrics.asked > 0
        return (metrics.response_rate if enough else None), enough
    tp = metrics.touchpoints.get(name.touchpoint or "")
    if tp is None or tp.scale != name.family:
        return None, False
    return tp.score, tp.score is not None


def metric_interval(metrics: StageMetrics, name: MetricName) -> tuple[float, float] | None:
    """The 95% interval of a metric's value, in its own units; None when it is withheld or is a
    count (`responses` only grows: it has no interval and never regresses)."""
    if name.family == "nps":
        return (metrics.nps.low, metrics.nps.high) if metrics.nps else None
    if name.family == "response_rate":
        value, enough = metric_value(metrics, name)
        return share_interval(metrics.answered, metrics.asked) if enough and value is not None else None
    if name.family == "responses":
        return None
    tp = metrics.touchpoints.get(name.touchpoint or "")
    return tp.interval if tp is not None and tp.scale == name.family else None


def clearly_fails(op: str, target: float, interval: tuple[float, float] | None) -> bool:
    """The whole 95% interval lies on the wrong side of the target: not a wobble."""
    if interval is None:
        return False
    low, high = interval
    if op in (">=", ">"):
        return high < target
    if op in ("<=", "<"):
        return low > target
    return high < target or low > target


def evaluate_gate(target: Target, metrics: StageMetrics) -> GateRecord:
    name = parse_metric(target.metric)
    value, enough = metric_value(metrics, name) if name else (None, False)
    state: GateState
    if not enough or value is None:
        state = "not_enough_data"
    else:
        state = "pass" if OPERATORS[target.op](value, target.value) else "fail"
    return GateRecord(
        metric=target.metric,
        op=target.op,
        target=target.value,
        value=value,
        state=state,
        stage_specific=target.stage_id is not None,
    )


def evaluate_gates(targets: Iterable[Target], metrics: StageMetrics) -> list[GateRecord]:
    return [evaluate_gate(t, metrics) for t in targets]
