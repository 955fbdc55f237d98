"""The digest as Block Kit, in its subscription's language (a preview: the reader's): split into
as many messages as 50 blocks each allow."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from babel.dates import format_skeleton

from handlers.blocks import format as fmt
from handlers.blocks.text import Block, Message, context, escape, plain, section, sections_from_lines
from runtime.i18n import Texts
from services.digests import DigestContent, RolloutDigest, TrendPoint
from services.metrics import NpsSummary
from services.models import Action

MESSAGE_BLOCK_LIMIT = 50
SPARKS = "▁▂▃▄▅▆▇█"
KIND_ICONS = {"start": "🚀", "advance": "⏩", "complete": "🏁", "rollback": "⏪", "pause": "⏸", "resume": "▶️"}


def sparkline(trend: list[TrendPoint]) -> str:
    """NPS over the periods, -100 … +100 as ▁ … █; · where too few answered to show."""
    return "".join(
        "·" if p.nps is None else SPARKS[round((max(-100.0, min(100.0, p.nps)) + 100) / 200 * (len(SPARKS) - 1))]
        for p in trend
    )


def _moment(t: Texts, at: datetime, *, year: bool) -> str:
    """A weekday, day and time as the reader's language writes them: "Mon, Nov 16 09:00" / "mån 16 nov. 09:00"."""
    return f"{format_skeleton('yMMMEd' if year else 'MMMEd', at, locale=t.language)} {at:%H:%M}"


def period_label(t: Texts, content: DigestContent) -> str:
    start = content.period.start.astimezone(content.tz)
    end = content.period.end.astimezone(content.tz)
    return f"{_moment(t, start, year=False)} – {_moment(t, end, year=True)} ({content.tz.key})"


def _change(t: Texts, digest: RolloutDigest) -> str:
    change = digest.change
    if change is None:
        return ""
    if round(change) == 0:
        return " · " + t._("no change since the last period")
    arrow = "▲" if change > 0 else "▼"
    return f" · {arrow} " + t._("{change} since the last period", change=fmt.signed(change))


def shares(t: Texts, nps: NpsSummary) -> str:
    return t._(
        "promoters {promoters} · passives {passives} · detractors {detractors}",
        promoters=fmt.percent(t, nps.promoters),
        passives=fmt.percent(t, nps.passives),
        detractors=fmt.percent(t, nps.detractors),
    )


def _gate_state(t: Texts, state: str) -> str:
    if state == "pass":
        return t._("met")
    if state == "fail":
        return t._("missed")
    return t._("not enough data")


def _ends(t: Texts, kind: str) -> tuple[str, str]:
    """What a stage change without a stage on one side names instead: before a start, after the end."""
    return t._("planned") if kind == "start" else t._("complete"), t._("complete")


def rollout_blocks(t: Texts, digest: RolloutDigest, content: DigestContent) -> list[Block]:
    detail, metrics = digest.detail, digest.metrics
    rollout = detail.rollout
    where = escape(digest.stage.name) if digest.stage else t._("not started")
    if digest.days_in_stage is not None:
        where = t._("{stage}, day {day}", stage=where, day=digest.days_in_stage + 1)
    if rollout.status == "paused":
        where += " · ⏸ " + t._("paused")
    if metrics.nps is not None:
        nps = metrics.nps
        rate = t._("response rate {rate}", rate=fmt.response_rate(t, metrics))
        nps_line = (
            f"NPS *{fmt.signed(nps.score)}* (n={nps.n}, ±{round(nps.margin)}){_change(t, digest)}\n"
            f"{shares(t, nps)} · {rate}"
        )
    else:
        nps_line = t._("NPS: fewer than {min} answers this period", min=content.min_group)
    trend = t.n_(
        "Trend `{spark}` (last {n} period)",
        "Trend `{spark}` (last {n} periods)",
        len(digest.trend),
        spark=sparkline(digest.trend),
    )
    head = f"*{escape(rollout.title_in(t.language))}* · {where}\n{nps_line}\n{trend}"
    if waiting := fmt.waiting(t, digest.waiting, yours=False):
        head += f"\n{waiting}"
    blocks: list[Block] = [section(head[:3000])]
    touchpoints = []
    for tp in metrics.touchpoints.values():
        if tp.score is None:
            touchpoints.append(f"{escape(tp.label_in(t.language))} ({tp.scale}) " + t._("not enough answers yet"))
        else:
            value = fmt.metric_value(t, f"{tp.scale}:x", tp.score)
            touchpoints.append(f"{escape(tp.label_in(t.language))} ({tp.scale}) {value} (n={tp.n})")
    # Each part in sections of its own, so that a long one cannot push the next out of the message.
    if touchpoints:
        blocks += sections_from_lines([t._("Touchpoints:") + " " + touchpoints[0], *touchpoints[1:]], sep=" · ")
    if digest.gates:
        gates = [
            f"{fmt.GATE_ICONS[g.state]} `{fmt.target(t, g.metric, g.op, g.target)}` {_gate_state(t, g.state)}"
            + (f" ({fmt.metric_value(t, g.metric, g.value)})" if g.value is not None else "")
            for g in digest.gates
        ]
        blocks += sections_from_lines([t._("Targets:") + " " + gates[0], *gates[1:]], sep=" · ")
    if digest.comments:
        blocks += sections_from_lines([fmt.comment(t, comment) for comment in digest.comments])
    if digest.actions:
        changed = [f"• {escape(a.body)}{_check_in(t, a, digest)}" for a in digest.actions]
        blocks += sections_from_lines([t._("*You said, we did:*"), *changed])
    if digest.alerts:
        raised = [
            "🚨 " + t._("{day}, {stage}: {reason}", day=t.day(datetime.fromtimestamp(a.at, content.tz).date()),
                       stage=escape(str((a.detail or {}).get("stage", ""))),
                       reason=escape(str((a.detail or {}).get("reason", ""))))
            for a in digest.alerts
        ]  # fmt: skip
        blocks.append(context(t._("Regression alerts:") + " " + " · ".join(raised)))  # one block, cut to fit
    if digest.transitions:
        stages = {s.id: s.name for s in detail.stages}
        changes = []
        for change in digest.transitions:
            when = t.day(datetime.fromtimestamp(change.at, content.tz).date())
            before, after = _ends(t, change.kind)
            frm = escape(stages.get(change.from_stage_id or 0, before))
            to = escape(stages.get(change.to_stage_id or 0, after))
            done = t._("on {day} by {person}", day=when, person=fmt.actor(t, change.actor))
            note = " " + t._("(gates overridden)") if change.overridden else ""
            changes.append(f"{KIND_ICONS[change.kind]} {frm} → {to} {done}{note}")
        blocks.append(context((t._("Stage changes:") + " " + " · ".join(changes))[:3000]))
    return blocks


# The first message goes with the chart, and files.completeUploadExternal takes its blocks in the
# request's URL (as slack_sdk sends it), which HTTP servers cap at about 8 KB: URL-encoded, JSON
# grows by up to half again, so the first message keeps to this much.
FIRST_MESSAGE_JSON = 4500


def build_digest(t: Texts, content: DigestContent) -> list[Message]:
    """The digest's messages, in order; none holds more than 50 blocks."""
    label = period_label(t, content)
    n = len(content.rollouts)
    rollouts = t.n_("{n} rollout", "{n} rollouts", n)
    intro: list[Block] = [
        {"type": "header", "text": plain(t._("Rollout Pulse digest"))},
        context(f"{label} · {rollouts} · {fmt.group_rule(t, content.min_group)}"),
    ]
    if not content.rollouts:
        intro.append(section(t._("No active rollouts this period.")))
    groups = [[*rollout_blocks(t, d, content), {"type": "divider"}] for d in content.rollouts]
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
    summary = "; ".join(
        f"{escape(d.detail.rollout.title_in(t.language))} NPS "
        + (fmt.signed(d.metrics.nps.score) if d.metrics.nps else "—")
        for d in content.rollouts
    )
    for i, blocks in enumerate(messages, start=1):
        if total > 1 and i > 1:
            blocks.insert(
                0,
                context(
                    t._("Rollout Pulse digest, continued ({i}/{total}) · {period}", i=i, total=total, period=label)
                ),
            )
        text = t._("Rollout Pulse digest {period}", period=label) + (f": {summary}" if i == 1 and summary else "")
        result.append(Message(text=text[:3000], blocks=blocks))
    return result


def build_preview(t: Texts, parts: list[Message]) -> Message:
    """The first message of a digest, with a note of how many follow: what /pulse digest shows."""
    first = parts[0]
    blocks = list(first.blocks)
    if len(parts) > 1:
        note = context(
            t.n_(
                "…and {n} more message when posted; the trend chart is uploaded with the first.",
                "…and {n} more messages when posted; the trend chart is uploaded with the first.",
                len(parts) - 1,
            )
        )
        blocks = [*blocks[: MESSAGE_BLOCK_LIMIT - 1], note]
    return Message(text=first.text, blocks=blocks)


def _check_in(t: Texts, action: Action, digest: RolloutDigest) -> str:
    """How the change's check-in came out, from released groups only (the disclosure rule)."""
    if action.check_in_id is None or action.check_in_at is None:
        return ""
    if action.checked_in_at is None:
        day = t.day(datetime.fromtimestamp(action.check_in_at, UTC).date())
        return " — " + t._("asked on {day} whether it helped", day=day)
    found = digest.check_ins.get(action.id)
    if found is None or found.score is None:
        return " — " + t._("did it help? not enough answers yet")
    return " — " + t._("did it help? {value} (n={n})", value=fmt.metric_value(t, "thumbs:x", found.score), n=found.n)
