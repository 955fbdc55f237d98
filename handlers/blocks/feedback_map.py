"""`/pulse map`: the feedback map as Block Kit — a section per row (NPS, then each touchpoint),
a line per stage with the cell's figure, its n, its change over the last seven days and its
themes; a cell below the minimum says so and nothing else."""

from __future__ import annotations

from handlers.blocks import format as fmt
from handlers.blocks.text import TITLE_SLOT, Block, Message, context, escape, header, section
from runtime.i18n import Texts
from services.feedback_map import NPS_ROW, FeedbackMap, MapCell
from services.themes import Theme

QUOTE_SHOWN = 200  # characters of a theme's quote on the map (the full comment is in results)
LABEL_SHOWN = 150


def _metric(row: str, scale: str) -> str:
    return "nps" if row == NPS_ROW else f"{scale}:{row}"


def _change(t: Texts, metric: str, change: float | None) -> str:
    if change is None:
        return ""
    if abs(change) < 0.05:
        return " · " + t._("no change in seven days")
    arrow = "▲" if change > 0 else "▼"
    shown = fmt.metric_value(t, metric, abs(change))
    return " · " + t._("{arrow} {change} in seven days", arrow=arrow, change=shown)


def _theme(t: Texts, theme: Theme) -> str:
    said = f"_{escape(theme.phrase)}_ ({theme.count})"
    if theme.quote:
        quote = theme.quote if len(theme.quote) <= QUOTE_SHOWN else theme.quote[: QUOTE_SHOWN - 1] + "…"
        said += f" {fmt.quoted(quote)}"
    return said


def cell_line(t: Texts, stage: str, metric: str, cell: MapCell | None) -> str:
    """One stage of a row: "*beta* +40 (n=12) · ▲ +5 in seven days", then its themes."""
    name = f"*{escape(stage)}*"
    if cell is None or not cell.shown or cell.value is None:
        return f"{name} " + t._("not enough answers yet")
    line = f"{name} {fmt.metric_value(t, metric, cell.value)} (n={cell.n}){_change(t, metric, cell.change)}"
    if cell.themes:
        line += "\n    " + t._("Themes: {themes}", themes=" · ".join(_theme(t, theme) for theme in cell.themes))
    return line


def build_map_message(t: Texts, fmap: FeedbackMap) -> Message:
    title = fmap.detail.rollout.title_in(t.language)
    blocks: list[Block] = [header(t._("Feedback map: {title}", title=TITLE_SLOT), title)]
    blocks.append(
        context(
            t._(
                "Each stage's figure, how it changed since {day}, and the themes of its comments, counted once "
                "every survey they could have come with has closed. {rule}",
                day=t.day(fmap.since),
                rule=fmt.group_rule(t, fmap.min_group),
            )
        )
    )
    touchpoints = {tp.key: tp for tp in fmap.detail.touchpoints}
    for row, _label, scale in fmap.rows:
        metric = _metric(row, str(scale))
        shown = "NPS" if row == NPS_ROW else escape(touchpoints[row].label_in(t.language)[:LABEL_SHOWN])
        head = f"*{shown}*" + ("" if row == NPS_ROW else f" ({scale})")
        lines = [cell_line(t, stage.name, metric, fmap.cells.get((row, stage.name))) for stage in fmap.stages]
        blocks.append(section("\n".join([head, *lines])))
    text = t._("Feedback map: {title}", title=escape(title))
    return Message(text=text, blocks=blocks[:50])


def build_map_share(t: Texts, fmap: FeedbackMap) -> Message:
    """The text a heatmap is shared with (in a digest, in the caller's DM): what the colours say,
    and where the figures and themes are."""
    title = fmap.detail.rollout.title_in(t.language)
    said = t._(
        "*Feedback map: {title}*\nThe colour of each cell is its share of favourable answers, the same footing for "
        "every scale; the cell's own figure and n are written in it. Grey: too few answers to show. "
        "`/pulse map {slug}` gives each cell's change and themes.",
        title=TITLE_SLOT,
        slug=fmap.detail.rollout.slug,
    )
    text = t._("Feedback map: {title}", title=escape(title))
    return Message(text=text, blocks=[section(said.replace(TITLE_SLOT, escape(title[:200])))])
