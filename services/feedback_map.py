"""The feedback map: every touchpoint (and NPS) at every stage of a rollout, each cell with its
figure, how it changed over the last period, and the themes of its comments.

Under the one disclosure rule: a cell's figures come from released groups only, and a cell with
fewer than PULSE_MIN_GROUP answers shows that and nothing else — no figure, no change, no theme.
Themes are found in the released comments of settled groups only (every wave that could have had
a part in the group has closed, and no conversation on its comments can still go on:
`Disclosures.settled_comments`): a theme's count grows by whole groups, never by one survey's
comment when that survey closes, and cannot drop by one when someone uses forget-me (which would
tell that they had commented).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

from runtime.clock import Clock, epoch
from runtime.i18n import N_
from services.errors import NotAllowed
from services.metrics import Histogram, nps_summary, touchpoint_score
from services.options import Options
from services.rollouts import RolloutService
from services.themes import Theme, themes_by_cell
from storage.db import Store
from storage.disclosure import Disclosures
from storage.map_files import MapFiles
from storage.models import Scale, Stage
from storage.rollouts import RolloutDetail

NPS_ROW = "nps"
PERIOD_DAYS = 7

# The comparable footing of every scale: the share of favourable answers (0–1).
FAVOURABLE: dict[str, float] = {
    "nps": 9,  # promoters
    "csat": 4,  # satisfied or very satisfied
    "ces": 5,  # easy (5–7 of 7)
    "thumbs": 1,  # thumbs up
}
MINUTES_FAVOURABLE = 15.0  # minutes: done within a quarter of an hour (the <5 and 5–15 buckets)


def favourable_share(scale: str, counts: Histogram) -> float | None:
    n = sum(counts.values())
    if n == 0:
        return None
    if scale == "minutes":
        return sum(c for s, c in counts.items() if s <= MINUTES_FAVOURABLE) / n
    return sum(c for s, c in counts.items() if s >= FAVOURABLE[scale]) / n


@dataclass(frozen=True)
class MapCell:
    row: str  # "nps" or a touchpoint key
    stage: str
    scale: str  # "nps" or the touchpoint's scale
    n: int  # released answers (0 when withheld: the count is shown only with the figures)
    value: float | None  # the native figure (NPS, CSAT %, CES mean, thumbs %, minutes median)
    favourable: float | None  # the share of favourable answers, the heatmap's colour
    change: float | None  # the native figure's change over the last period
    themes: list[Theme] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class FeedbackMap:
    detail: RolloutDetail
    rows: list[tuple[str, str, Scale | str]]  # (key, label, scale): NPS first, then the touchpoints
    stages: list[Stage]
    cells: dict[tuple[str, str], MapCell]  # (row, stage name) → cell
    min_group: int
    since: date  # the start of the period the change is measured over


class ThemeCache:
    """A rollout's themes, kept until the comments they come from change: those change only when
    a group settles (or a touchpoint goes), and finding themes is most of a map's cost."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[object, dict[tuple[str, str], list[Theme]]]] = {}
        self._found = 0

    @property
    def found(self) -> int:
        """How many times themes were found rather than kept (a measure of the work done)."""
        return self._found

    async def themes_of(
        self, rollout_id: int, comments: dict[tuple[str, str], list[str]], *, min_group: int
    ) -> dict[tuple[str, str], list[Theme]]:
        mark = (min_group, tuple((key, tuple(said)) for key, said in sorted(comments.items())))
        kept = self._kept.get(rollout_id)
        if kept is not None and kept[0] == mark:
            return kept[1]
        # In a worker thread: tens of milliseconds a rollout, which the event loop need not wait out.
        found = await asyncio.to_thread(partial(themes_by_cell, comments, min_group=min_group))
        self._found += 1
        self._kept[rollout_id] = (mark, found)
        return found


async def build_map(
    store: Store,
    detail: RolloutDetail,
    *,
    min_group: int,
    today: date,
    now: int,
    end_day: str | None = None,
    cache: ThemeCache | None = None,
) -> FeedbackMap:
    """The map of one rollout, as it stands today; with `end_day`, of the groups released before
    that day only (a digest's map counts the days its text counts, no more)."""
    if end_day is not None:
        today = min(today, date.fromisoformat(end_day) - timedelta(days=1))
    since = today - timedelta(days=PERIOD_DAYS - 1)
    disclosures = Disclosures(store)
    rows: list[tuple[str, str, Scale | str]] = [(NPS_ROW, "NPS", "nps")]
    rows += [(t.key, t.label, t.scale) for t in detail.touchpoints]
    by_id = {t.id: t.key for t in detail.touchpoints}
    figures: dict[tuple[str, str], tuple[Histogram, Histogram]] = {}
    for stage in detail.stages:
        released = await disclosures.released_counts(column="stage_id", value=stage.id, end_day=end_day)
        before = await disclosures.released_counts(column="stage_id", value=stage.id, end_day=since.isoformat())
        figures[(NPS_ROW, stage.name)] = (released.nps, before.nps)
        for touchpoint in detail.touchpoints:
            empty: Counter[float] = Counter()
            figures[(touchpoint.key, stage.name)] = (
                released.touchpoints.get(touchpoint.id, empty),
                before.touchpoints.get(touchpoint.id, empty),
            )
    stage_names = {s.id: s.name for s in detail.stages}
    comments: dict[tuple[str, str], list[str]] = {key: [] for key in figures}
    for stage_id, touchpoint_id, body in await disclosures.settled_comments(detail.rollout.id, now, before_day=end_day):
        row = NPS_ROW if touchpoint_id is None else by_id.get(touchpoint_id)
        key = (row or "", stage_names.get(stage_id, ""))
        if key in comments:
            comments[key].append(body)
    scales = {key: scale for key, _, scale in rows}
    # Only the cells shown; in a fixed order, so the same comments find the same themes and quotes.
    shown = {key: sorted(said) for key, said in comments.items() if sum(figures[key][0].values()) >= min_group}
    themes = await (cache or ThemeCache()).themes_of(detail.rollout.id, shown, min_group=min_group)
    cells = {
        key: _cell(key, scales[key[0]], now, before, min_group, themes.get(key, []))
        for key, (now, before) in figures.items()
    }
    return FeedbackMap(detail, rows, list(detail.stages), cells, min_group, since)


def _cell(
    key: tuple[str, str], scale: str, now: Histogram, before: Histogram, min_group: int, themes: list[Theme]
) -> MapCell:
    row, stage = key
    n = sum(now.values())
    if n < min_group:
        return MapCell(row, stage, scale, 0, None, None, None)
    value = _native(scale, now)
    earlier = _native(scale, before) if sum(before.values()) >= min_group else None
    change = value - earlier if value is not None and earlier is not None else None
    return MapCell(row, stage, scale, n, value, favourable_share(scale, now), change, themes)


def _native(scale: str, counts: Mapping[float, int]) -> float | None:
    if scale == "nps":
        summary = nps_summary(counts)
        return summary.score if summary else None
    return touchpoint_score(scale, counts)  # type: ignore[arg-type]  # a touchpoint's scale


class MapService:
    def __init__(self, store: Store, settings: Options, clock: Clock, rollouts: RolloutService) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.themes = ThemeCache()
        self.files = MapFiles(store)

    async def map_for(self, actor: str, slug: str) -> FeedbackMap:
        """`/pulse map`: for the rollout's owners, champions and admins, as results are."""
        detail = await self.rollouts.get(slug)
        if not (self.settings.is_admin(actor) or actor in detail.owners or actor in detail.champions):
            raise NotAllowed(
                N_("The map of {slug} is for its owners, champions and admins. Its owners:", slug=detail.rollout.slug),
                people=tuple(detail.owners),
            )
        return await self.build(detail)

    async def shared(self, fmap: FeedbackMap, user: str, file_id: str) -> None:
        """The map's heatmap is in the person's DM: their Home tab shows it from now on."""
        await self.files.shared(fmap.detail.rollout.id, user, file_id, self.rollouts.today().isoformat())

    async def warm(self) -> int:
        """Every open rollout's map built once, so that its themes are kept for the next ask;
        returns for how many rollouts themes had to be found again."""
        before = self.themes.found
        for detail in await self.rollouts.open_rollouts():
            await self.build(detail)
        return self.themes.found - before

    async def build(self, detail: RolloutDetail, *, end_day: str | None = None) -> FeedbackMap:
        """The map as it stands today (or of the groups released before `end_day`), its themes
        kept between asks."""
        return await build_map(
            self.store,
            detail,
            min_group=self.settings.pulse_min_group,
            today=self.rollouts.today(),
            now=epoch(self.clock.now()),
            end_day=end_day,
            cache=self.themes,
        )
