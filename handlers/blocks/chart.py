"""The digest's trend chart: NPS of the last periods, one small panel per rollout, with stage
changes marked, in the digest's language (its dates too: "7 dec." / "Dec 7"). Drawn with
matplotlib's Agg canvas (no display, no pyplot global state), so it can run in a worker thread
off the event loop."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from runtime.i18n import Texts
from services.digests import DigestContent, RolloutDigest

MAX_PANELS = 12
COLUMNS = 3


@dataclass(frozen=True)
class Chart:
    png: bytes
    points: int  # NPS values drawn (periods with enough answers)
    panels: int
    left_out: int  # rollouts not drawn (beyond MAX_PANELS)
    texts: tuple[str, ...] = ()  # every text drawn on it: titles, dates, stage marks


def _position(digest: RolloutDigest, at: int) -> float:
    """Where a moment falls on the period axis (0 = end of the first period)."""
    for i, point in enumerate(digest.trend):
        start, end = point.period.start_at, point.period.end_at
        if start <= at < end:
            return i - 1 + (at - start) / max(1, end - start)
    return float(len(digest.trend) - 1)


def _kind(t: Texts, kind: str) -> str:
    """A stage change that names no stage it went to: what happened."""
    if kind == "complete":
        return t._("complete")
    if kind == "pause":
        return t._("paused")
    if kind == "resume":
        return t._("resumed")
    if kind == "rollback":
        return t._("rolled back")
    if kind == "start":
        return t._("started")
    return t._("advanced")


def render_trend(t: Texts, content: DigestContent) -> Chart:
    # The rollouts with the most answers get a panel.
    ranked = sorted(content.rollouts, key=lambda d: sum(p.n for p in d.trend), reverse=True)
    shown = ranked[:MAX_PANELS]
    panels = max(1, len(shown))
    columns = min(COLUMNS, panels)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(4.2 * columns, 2.8 * rows), dpi=100)
    FigureCanvasAgg(figure)
    points = 0
    for index, digest in enumerate(shown):
        axes = figure.add_subplot(rows, columns, index + 1)
        xs = [i for i, p in enumerate(digest.trend) if p.nps is not None]
        ys = [p.nps for p in digest.trend if p.nps is not None]
        points += len(xs)
        axes.plot(xs, ys, marker="o", color="#1264a3", linewidth=2)
        axes.axhline(0, color="#999999", linewidth=0.8)
        axes.set_ylim(-100, 100)
        axes.set_xlim(-0.5, len(digest.trend) - 0.5)
        labels = [t.day(datetime.fromtimestamp(p.period.end_at, content.tz).date()) for p in digest.trend]
        axes.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45)
        axes.set_title(digest.detail.rollout.title_in(t.language)[:40], fontsize=9)
        stages = {s.id: s.name for s in digest.detail.stages}
        for transition in digest.marks:
            x = _position(digest, transition.at)
            axes.axvline(x, color="#e01e5a", linestyle="--", linewidth=1)
            label = stages.get(transition.to_stage_id or 0) or _kind(t, transition.kind)
            axes.annotate(label, (x, 85), fontsize=7, color="#e01e5a", ha="left")
    if not shown:
        axes = figure.add_subplot(1, 1, 1)
        axes.text(0.5, 0.5, t._("No active rollouts"), ha="center", va="center")
        axes.set_axis_off()
    figure.suptitle(t._("NPS, last periods (gaps: too few answers to show)"), fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    drawn = tuple(text.get_text() for text in figure.findobj(Text) if text.get_text())
    return Chart(buffer.getvalue(), points, len(shown), len(ranked) - len(shown), drawn)
