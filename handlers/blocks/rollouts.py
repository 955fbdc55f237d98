"""The rollout surfaces: status card, list, roadmap, history, gate verdicts, confirmations."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.blocks import format as fmt
from handlers.blocks.text import Block, Message, context, escape, mrkdwn, plain, section, sections_from_lines
from handlers.ids import Action, Callback
from services.models import FORGOTTEN, AuditEntry, RolloutDetail, RolloutStatus, Stage
from services.rollouts import GateCheck, HistoryView, Moved, StatusView

MESSAGE_BLOCK_LIMIT = 50
HISTORY_LINES = 40


def stage_track(detail: RolloutDetail) -> str:
    """`alpha ✓ → *beta* → ga`: done stages ticked, the current one bold."""
    status = detail.rollout.status
    current = detail.current
    parts = []
    for stage in detail.stages:
        name = escape(stage.name)
        if status == RolloutStatus.COMPLETED or (current and stage.position < current.position):
            parts.append(f"{name} ✓")
        elif current and stage.id == current.id and status != RolloutStatus.PLANNED:
            parts.append(f"*{name}*")
        else:
            parts.append(name)
    return " → ".join(parts)


def status_line(detail: RolloutDetail) -> str:
    status = detail.rollout.status
    if status == RolloutStatus.PLANNED:
        return "🗓 Planned — not started yet"
    if status == RolloutStatus.PAUSED:
        return "⏸ Paused"
    if status == RolloutStatus.COMPLETED:
        return "🏁 Complete"
    return "▶️ Active"


def _local(at: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(at, tz).date()


def days_in_stage(detail: RolloutDetail, today: date, tz: ZoneInfo) -> str:
    stage = detail.current
    if stage is None or stage.entered_at is None or detail.rollout.status == RolloutStatus.PLANNED:
        return "not started"
    entered = _local(stage.entered_at, tz)
    text = f"day {(today - entered).days + 1} (since {entered.isoformat()})"
    following = detail.next_stage(stage)
    if following and following.planned_start:
        left = (following.planned_start - today).days
        plan = f"planned until {following.planned_start.isoformat()}"
        text += f" · {plan}, " + (f"{fmt.days(left)} left" if left >= 0 else f"{fmt.days(-left)} over plan")
    return text


def build_status_card(view: StatusView, *, viewer_may_change: bool, tz: ZoneInfo) -> Message:
    detail = view.detail
    rollout = detail.rollout
    blocks: list[Block] = [{"type": "header", "text": plain(rollout.title[:150])}]
    if rollout.vision:
        blocks.append(section(f"_{escape(rollout.vision)}_"))
    blocks.append(section(f"{stage_track(detail)}\n{status_line(detail)} · `{rollout.slug}`"))
    fields = [fmt_field("In this stage", days_in_stage(detail, view.today, tz))]
    fields.append(fmt_field("Cohort", _cohort_text(view.cohort_size)))
    if view.metrics is not None:
        fields.append(fmt_field("NPS", fmt.nps(view.metrics.nps, view.metrics.respondents, view.metrics.min_group)))
        fields.append(fmt_field("Response rate", fmt.response_rate(view.metrics)))
    blocks.append({"type": "section", "fields": fields})
    if view.gates:
        stage_name = detail.current.name if detail.current else None
        blocks += sections_from_lines(["*Gates*", *(fmt.gate(g, stage_name) for g in view.gates)])
    elif rollout.status != RolloutStatus.COMPLETED:
        blocks.append(section("*Gates*\nNone set: advancing needs no numbers. Add one with `/rollout target`."))
    channel = f" · announced in {fmt.channel(rollout.channel_id)}" if rollout.channel_id else ""
    champions = fmt.people(detail.champions, most=CARD_CHAMPIONS)
    owners = fmt.people(detail.owners, most=CARD_OWNERS)
    blocks.append(context(f"Champions: {champions} · Owners: {owners}{channel}"))
    buttons = []
    if viewer_may_change and rollout.status == RolloutStatus.ACTIVE:
        buttons.append(_button("Advance", Action.ADVANCE, rollout.slug, style="primary"))
    buttons.append(_button("Roadmap", Action.ROADMAP, rollout.slug))
    blocks.append({"type": "actions", "block_id": "status_actions", "elements": buttons})
    text = f"{escape(rollout.title)}: {status_line(detail)}"
    return Message(text=text, blocks=blocks)


# The status card's context names at most this many (a mention is up to 16 characters; the
# context's text may hold 3000): the rest are counted.
CARD_CHAMPIONS = 100
CARD_OWNERS = 40


def fmt_field(label: str, value: str) -> Block:
    return mrkdwn(f"*{label}*\n{value}")


def _cohort_text(size: int | None) -> str:
    if size is None:
        return "—"
    return "1 person" if size == 1 else f"{size} people"


def _button(text: str, action: Action, value: str, *, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": plain(text), "action_id": action.value, "value": value}
    if style:
        button["style"] = style
    return button


def build_list(items: list[tuple[RolloutDetail, str]], completed: int, today: date, tz: ZoneInfo) -> Message:
    """`/rollout list`: each open rollout with its stage, days in stage and current NPS."""
    if not items:
        note = f" ({completed} completed)" if completed else ""
        return Message(
            text="No active or planned rollouts.",
            blocks=[section(f'No active or planned rollouts{note}. Create one with `/rollout new <slug> "<title>"`.')],
        )
    lines = []
    for detail, nps_text in items:
        rollout = detail.rollout
        stage = detail.current
        where = status_line(detail)
        if stage and rollout.status != RolloutStatus.PLANNED:
            where = f"{escape(stage.name)} · {days_in_stage(detail, today, tz).split(' (')[0]}"
            if rollout.status == RolloutStatus.PAUSED:
                where += " · ⏸ paused"
        lines.append(f"*{escape(rollout.title)}* (`{rollout.slug}`) — {where} · NPS {nps_text}")
    blocks = sections_from_lines(lines)[: MESSAGE_BLOCK_LIMIT - 1]
    if completed:
        blocks.append(context(f"{completed} completed rollout(s) not shown."))
    return Message(text=f"{len(items)} rollouts", blocks=blocks)


def roadmap_line(stage: Stage, detail: RolloutDetail, today: date, tz: ZoneInfo) -> str:
    status = detail.rollout.status
    current = detail.current
    is_current = (
        current is not None and stage.id == current.id and status in (RolloutStatus.ACTIVE, RolloutStatus.PAUSED)
    )
    done = status == RolloutStatus.COMPLETED or (
        current is not None and stage.position < current.position and status != RolloutStatus.PLANNED
    )
    icon = "✓" if done else ("▶" if is_current else "○")
    parts = [f"{icon} *{escape(stage.name)}*", f"planned {fmt.day(stage.planned_start)}"]
    if stage.entered_at is not None and (done or is_current):
        entered = _local(stage.entered_at, tz)
        note = ""
        if stage.planned_start is not None and entered > stage.planned_start:
            note = f" ({fmt.days((entered - stage.planned_start).days)} late)"
        parts.append(f"entered {entered.isoformat()}{note}")
        if stage.left_at is not None and done:
            parts.append(f"left {_local(stage.left_at, tz).isoformat()}")
    elif stage.planned_start is not None and stage.planned_start < today:
        parts.append(f"⚠️ *late*: due {fmt.days((today - stage.planned_start).days)} ago")
    return " · ".join(parts)


def build_roadmap(detail: RolloutDetail, today: date, tz: ZoneInfo) -> Message:
    lines = [f"*Roadmap — {escape(detail.rollout.title)}*"]
    lines += [roadmap_line(stage, detail, today, tz) for stage in detail.stages]
    return Message(text=f"Roadmap of {escape(detail.rollout.title)}", blocks=sections_from_lines(lines))


_ACTIONS = {
    "created": "created the rollout",
    "stages set": "set the stages",
    "vision set": "set the vision",
    "planned": "planned a stage",
    "cohort added": "added to a cohort",
    "cohort removed": "removed from a cohort",
    "owners added": "added owners",
    "owners removed": "removed owners",
    "champions added": "added champions",
    "champions removed": "removed champions",
    "channel set": "set the announcement channel",
    "target added": "added a target",
    "target replaced": "replaced a target",
    "target removed": "removed a target",
    "start": "started it",
    "advance": "advanced it",
    "complete": "completed it",
    "rollback": "rolled it back",
    "pause": "paused it",
    "resume": "resumed it",
    "config applied": "changed it with the config file",
    "touchpoint set": "set a touchpoint",
    "trigger added": "added a trigger",
}


def history_line(entry: AuditEntry, tz: ZoneInfo) -> str:
    detail = entry.detail or {}
    what = _ACTIONS.get(entry.action, escape(entry.action))
    extra = ""
    if entry.action in ("start", "advance", "rollback", "complete", "resume", "pause"):
        frm, to = detail.get("from"), detail.get("to")
        if frm or to:
            extra = f": {escape(str(frm or 'planned'))} → {escape(str(to or 'complete'))}"
        if detail.get("overridden"):
            extra += " *(gates overridden)*"
    elif entry.action == "planned":
        extra = f": {escape(str(detail.get('stage')))} on {escape(str(detail.get('date')))}"
    elif entry.action.startswith(("target", "cohort")):
        shown = detail.get("target") or ", ".join(str(e) for e in detail.get("entries", []))
        stage = f" ({escape(str(detail['stage']))})" if detail.get("stage") else ""
        extra = f": {escape(str(shown))}{stage}"
    elif entry.action.startswith(("owners", "champions")):
        extra = ": " + fmt.people(list(detail.get("people", [])))
    elif entry.action == "channel set" and detail.get("channel"):
        extra = f": {fmt.channel(str(detail['channel']))}"
    elif entry.action == "config applied":
        extra = f": `{escape(str(detail.get('change', '')))}`"
    why = f" — {fmt.quoted(entry.reason)}" if entry.reason else ""
    who = (
        fmt.user(entry.actor)
        if entry.actor[:1] in ("U", "W") or entry.actor == FORGOTTEN
        else f"*{escape(entry.actor)}*"
    )
    return f"`{fmt.moment(entry.at, tz)}` {who} {what}{extra}{why}"


def build_history(view: HistoryView, tz: ZoneInfo) -> Message:
    lines = [f"*History — {escape(view.detail.rollout.title)}* (newest first)"]
    lines += [history_line(e, tz) for e in view.entries[:HISTORY_LINES]]
    problems = []
    for item in view.undelivered:
        to = fmt.user(item.channel) if item.channel[:1] in ("U", "W") else fmt.channel(item.channel)
        stage = _announced_stage(item.payload)
        if item.status == "failed":
            problems.append(f"⚠️ The announcement of {stage} to {to} failed: `{escape(item.error or 'unknown')}`")
        else:
            problems.append(f"⏳ The announcement of {stage} to {to} is waiting to be sent")
    if problems:
        lines += ["", "*Announcements not delivered*", *problems]
    return Message(
        text=f"History of {escape(view.detail.rollout.title)}",
        blocks=sections_from_lines(lines)[:MESSAGE_BLOCK_LIMIT],
    )


def _announced_stage(payload: str) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return "a stage change"
    return escape(str(data.get("to_stage") or data.get("kind") or "a stage change"))


def build_gates_blocked(check: GateCheck) -> Message:
    """Advance refused by its gates: each gate with its value, and the override button."""
    detail = check.detail
    following = detail.next_stage(check.stage)
    into = f"into {escape(following.name)}" if following else "to completion"
    lines = [
        f"*{escape(detail.rollout.title)}* cannot move {into} yet: not every gate of "
        f"*{escape(check.stage.name)}* passes."
    ]
    lines += [fmt.gate(g, check.stage.name) for g in check.gates]
    blocks = sections_from_lines(lines)
    value = json.dumps({"rollout": detail.rollout.id, "stage": check.stage.id})
    blocks.append(
        {
            "type": "actions",
            "block_id": "gates_actions",
            "elements": [_button("Advance anyway", Action.ADVANCE_ANYWAY, value, style="danger")],
        }
    )
    blocks.append(context("Advancing anyway asks for a reason, which goes into the history and the announcement."))
    return Message(text=f"{escape(detail.rollout.title)} cannot advance yet: a gate does not pass.", blocks=blocks)


def build_moved(moved: Moved) -> Message:
    """The confirmation to the person who moved the rollout."""
    title = escape(moved.detail.rollout.title)
    size = f" Cohort: {_cohort_text(moved.cohort_size)}." if moved.cohort_size is not None else ""
    texts = {
        "start": f"🚀 *{title}* has started in *{escape(moved.to_stage or '')}*.{size}",
        "advance": f"⏩ *{title}* moved {escape(moved.from_stage or '')} → *{escape(moved.to_stage or '')}*.{size}",
        "complete": f"🏁 *{title}* is complete.",
        "rollback": f"⏪ *{title}* rolled back to *{escape(moved.to_stage or '')}*.{size}",
        "pause": f"⏸ *{title}* is paused; no surveys go out until you resume it.",
        "resume": f"▶️ *{title}* resumed in *{escape(moved.to_stage or '')}*.",
    }
    champions = moved.detail.champions
    told = []
    if champions:
        told.append(f"{len(champions)} champion{'s' if len(champions) != 1 else ''}")
    if moved.detail.rollout.channel_id:
        told.append(fmt.channel(moved.detail.rollout.channel_id))
    note = f"Announcing it to {' and '.join(told)}." if told else "No champions or channel to announce it to yet."
    text = texts[moved.kind]
    return Message(text=text, blocks=[section(text), context(note)])


def build_done(text: str) -> Message:
    return Message(text=text, blocks=[section(text)])


def build_override_modal(title: str, stage: str, private_metadata: str) -> dict[str, object]:
    return {
        "type": "modal",
        "callback_id": Callback.ADVANCE_ANYWAY.value,
        "private_metadata": private_metadata,
        "title": plain("Advance anyway"),
        "submit": plain("Advance"),
        "close": plain("Cancel"),
        "blocks": [
            section(
                f"*{escape(title)}* has gates in *{escape(stage)}* that do not pass. Say why it should "
                "move on anyway: the reason goes into the history and the announcement."
            ),
            {
                "type": "input",
                "block_id": "reason",
                "label": plain("Reason"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "min_length": 1,
                    "max_length": 500,
                    "placeholder": plain(
                        "e.g. The pilot team is blocked without it; NPS is low because of a known bug"
                    ),
                },
            },
        ],
    }
