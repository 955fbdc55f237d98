"""The feedback map as a PNG heatmap: rows NPS and each touchpoint, columns the stages. Every
scale is put on one footing — the share of favourable answers, the colour — with the native
figure and n in each cell's label; a cell below the minimum group is grey and says so. Drawn with
matplotlib's Agg canvas (no display, no pyplot global state), as the digest's chart is."""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from handlers.blocks import format as fmt
from runtime.i18n import Texts
from services.feedback_map import NPS_ROW, FeedbackMap

LABEL_SHOWN = 40  # characters of a row's label at the left


@dataclass(frozen=True)
class Heatmap:
    png: bytes
    cells: int  # cells drawn with a figure
    withheld: int  # cells below the minimum group
    texts: tuple[str, ...] = ()  # every text drawn on it


def render_heatmap(t: Texts, fmap: FeedbackMap) -> Heatmap:
    rows, stages = fmap.rows, fmap.stages
    touchpoints = {tp.key: tp for tp in fmap.detail.touchpoints}
    shares = np.full((len(rows), max(1, len(stages))), np.nan)
    labels: list[list[str]] = []
    withheld = 0
    for i, (row, _label, scale) in enumerate(rows):
        metric = "nps" if row == NPS_ROW else f"{scale}:{row}"
        line = []
        for j, stage in enumerate(stages):
            cell = fmap.cells.get((row, stage.name))
            if cell is None or cell.value is None or cell.favourable is None:
                withheld += 1
                line.append(t._("too few"))
                continue
            shares[i, j] = cell.favourable
            line.append(f"{fmt.metric_value(t, metric, cell.value)}\nn={cell.n}")
        labels.append(line)
    figure = Figure(figsize=(2 + 1.6 * max(1, len(stages)), 1.2 + 0.55 * len(rows)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    palette = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")  # grey: too few to show
    colours = axes.imshow(np.ma.masked_invalid(shares), cmap=palette, vmin=0, vmax=1, aspect="auto")
    for i, line in enumerate(labels):
        for j, label in enumerate(line):
            axes.text(j, i, label, ha="center", va="center", fontsize=7)
    names = [
        "NPS" if row == NPS_ROW else f"{touchpoints[row].label_in(t.language)[:LABEL_SHOWN]} ({scale})"
        for row, _label, scale in rows
    ]
    axes.set_yticks(range(len(rows)), names, fontsize=8)
    axes.set_xticks(range(len(stages)), [s.name for s in stages], fontsize=8)
    axes.xaxis.tick_top()
    bar = figure.colorbar(colours, ax=axes, fraction=0.04)
    bar.set_label(t._("share of favourable answers"), fontsize=8)
    figure.suptitle(fmap.detail.rollout.title_in(t.language)[:60], fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    drawn = tuple(text.get_text() for text in figure.findobj(Text) if text.get_text())
    shown = len(rows) * len(stages) - withheld
    return Heatmap(buffer.getvalue(), shown, withheld, drawn)
