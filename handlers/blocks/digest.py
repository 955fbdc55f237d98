"""The digest as Block Kit: split into as many messages as 50 blocks each allow."""

from __future__ import annotations

import json
from datetime import datetime

from handlers.blocks import format as fmt
from handlers.blocks.text import Block, Message, context, escape, plain, section, sections_from_lines
from services.digests import DigestContent, RolloutDigest, TrendPoint

MESSAGE_BLOCK_LIMIT = 50
SPARKS = "▁▂▃▄▅▆▇█"
KIND_ICONS = {"start": "🚀", "advance": "⏩", "complete": "🏁", "rollback": "⏪", "pause": "⏸", "resume": "▶️"}


def sparkline(trend: list[TrendPoint]) -> str:
    """NPS over the periods, -100 … +100 as ▁ … █; · where too few answered to show."""
    return "".join(
        "·" if p.nps is None else SPARKS[round((max(-100.0, min(100.0, p.nps)) + 100) / 200 * (len(SPARKS) - 1))]
        for p in trend
    )


def period_label(content: DigestContent) -> str:
    start = content.period.start.astimezone(content.tz)
    end = content.period.end.astimezone(content.tz)
    return f"{start:%a %-d %b %H:%M} – {end:%a %-d %b %Y %H:%M} ({content.tz.key})"


def _change(digest: RolloutDigest) -> str:
    change = digest.change
    if change is None:
        return ""
    if round(change) == 0:
        return " · no change since the last period"
    arrow = "▲" if change > 0 else "▼"
    return f" · {arrow} {fmt.signed(change)} since the last period"


def rollout_blocks(digest: RolloutDigest, content: DigestContent) -> list[Block]:
    detail, metrics = digest.detail, digest.metrics
    rollout = detail.rollout
    where = escape(digest.stage.name) if digest.stage else "not started"
    if digest.days_in_stage is not None:
        where += f", day {digest.days_in_stage + 1}"
    if rollout.status == "paused":
        where += " · ⏸ paused"
    if metrics.nps is not None:
        nps = metrics.nps
        nps_line = (
            f"NPS *{fmt.signed(nps.score)}* (n={nps.n}, ±{round(nps.margin)}){_change(digest)}\n"
            f"promoters {fmt.percent(nps.promoters)} · passives {fmt.percent(nps.passives)} · "
            f"detractors {fmt.percent(nps.detractors)} · response rate {fmt.response_rate(metrics)}"
        )
    else:
        nps_line = f"NPS: fewer than {content.min_group} answers this period"
    trend = f"Trend `{sparkline(digest.trend)}` (last {len(digest.trend)} periods)"
    head = f"*{escape(rollout.title)}* · {where}\n{nps_line}\n{trend}"
    blocks: list[Block] = [section(head[:3000])]
    touchpoints = []
    for tp in metrics.touchpoints.values():
        if tp.score is None:
            touchpoints.append(f"{escape(tp.label)} ({tp.scale}) not enough answers yet")
        else:
            touchpoints.append(
                f"{escape(tp.label)} ({tp.scale}) {fmt.metric_value(f'{tp.scale}:x', tp.score)} (n={tp.n})"
            )
    # Each part in sections of its own, so that a long one cannot push the next out of the message.
    if touchpoints:
        blocks += sections_from_lines([f"Touchpoints: {touchpoints[0]}", *touchpoints[1:]], sep=" · ")
    if digest.gates:
        labels = {"pass": "met", "fail": "missed", "not_enough_data": "not enough data"}
        gates = [
            f"{fmt.GATE_ICONS[g.state]} `{fmt.target(g.metric, g.op, g.target)}` {labels[g.state]}"
            + (f" ({fmt.metric_value(g.metric, g.value)})" if g.value is not None else "")
            for g in digest.gates
        ]
        blocks += sections_from_lines([f"Targets: {gates[0]}", *gates[1:]], sep=" · ")
    if digest.comments:
        blocks += sections_from_lines([fmt.comment(comment) for comment in digest.comments])
    if digest.transitions:
        stages = {s.id: s.name for s in detail.stages}
        changes = []
        for t in digest.transitions:
            when = datetime.fromtimestamp(t.at, content.tz).strftime("%-d %b")
            frm = stages.get(t.from_stage_id or 0, "planned" if t.kind == "start" else "complete")
            to = stages.get(t.to_stage_id or 0, "complete")
            note = " (gates overridden)" if t.overridden else ""
            changes.append(f"{KIND_ICONS[t.kind]} {escape(frm)} → {escape(to)} on {when} by {fmt.user(t.actor)}{note}")
        blocks.append(context(("Stage changes: " + " · ".join(changes))[:3000]))
    return blocks


# The first message goes with the chart, and files.completeUploadExternal takes its blocks in the
# request's URL (as slack_sdk sends it), which HTTP servers cap at about 8 KB: URL-encoded, JSON
# grows by up to half again, so the first message keeps to this much.
FIRST_MESSAGE_JSON = 4500


def build_digest(content: DigestContent) -> list[Message]:
    """The digest's messages, in order; none holds more than 50 blocks."""
    label = period_label(content)
    n = len(content.rollouts)
    intro: list[Block] = [
        {"type": "header", "text": plain("Rollout Pulse digest")},
        context(f"{label} · {n} rollout{'s' if n != 1 else ''} · {fmt.group_rule(content.min_group)}"),
    ]
    if not content.rollouts:
        intro.append(section("No active rollouts this period."))
    groups = [[*rollout_blocks(d, content), {"type": "divider"}] for d in content.rollouts]
    messages: list[list[Block]] = [intro]
    for group in groups:
        if len(messages[-1]) + len(group) > MESSAGE_BLOCK_LIMIT or (
            len(messages) == 1 and len(json.dumps([*messages[0], *group])) > FIRST_MESSAGE_JSON
        ):
            messages.append([])
        messages[-1].extend(group)
    for blocks in messages:
        if blocks and blocks[-1].get("type") == "divider":
            blocks.pop()
    total = len(messages)
    result = []
    for i, blocks in enumerate(messages, start=1):
        if total > 1 and i > 1:
            blocks.insert(0, context(f"Rollout Pulse digest, continued ({i}/{total}) · {label}"))
        summary = "; ".join(
            f"{escape(d.detail.rollout.title)} NPS {fmt.signed(d.metrics.nps.score) if d.metrics.nps else '—'}"
            for d in content.rollouts
        )
        text = f"Rollout Pulse digest {label}" + (f": {summary}" if i == 1 and summary else "")
        result.append(Message(text=text[:3000], blocks=blocks))
    return result


def build_preview(parts: list[Message]) -> Message:
    """The first message of a digest, with a note of how many follow: what /pulse digest shows."""
    first = parts[0]
    blocks = list(first.blocks)
    if len(parts) > 1:
        note = context(
            f"…and {len(parts) - 1} more message(s) when posted; the trend chart is uploaded with the first."
        )
        blocks = [*blocks[: MESSAGE_BLOCK_LIMIT - 1], note]
    return Message(text=first.text, blocks=blocks)
