"""The rollout surfaces: status card, list, roadmap, history, gate verdicts, confirmations.

Each builder takes the reader's `Texts`. The history is said from each entry's action code and
its facts, so it reads in the reader's language, old entries too (an action this version does
not know is shown by its code)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.blocks import format as fmt
from handlers.blocks.guards import build_held, guard_history_extra, rule_lines
from handlers.blocks.text import Block, Message, context, escape, mrkdwn, plain, section, sections_from_lines
from handlers.ids import Action, Callback
from runtime.i18n import N_, Phrase, Texts
from services.announcements import LateStage
from services.models import AuditEntry, RolloutDetail, RolloutStatus, Stage
from services.rollouts import Blocked, GateCheck, Held, HistoryView, Moved, StatusView

MESSAGE_BLOCK_LIMIT = 50
HISTORY_LINES = 40
NEW_ROLLOUT = '/rollout new <slug> "<title>"'

LANGUAGE_NAMES: dict[str, Phrase] = {"en": N_("English"), "sv": N_("Swedish")}


def language_name(t: Texts, code: str) -> str:
    """A language's name in the reader's language ("Swedish" / "svenska"); an unknown code as it is."""
    name = LANGUAGE_NAMES.get(code)
    return t.say(name) if name is not None else escape(code)


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


def status_line(t: Texts, detail: RolloutDetail) -> str:
    status = detail.rollout.status
    if status == RolloutStatus.PLANNED:
        return t._("🗓 Planned — not started yet")
    if status == RolloutStatus.PAUSED:
        return t._("⏸ Paused")
    if status == RolloutStatus.COMPLETED:
        return t._("🏁 Complete")
    return t._("▶️ Active")


def _local(at: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(at, tz).date()


def _entered(detail: RolloutDetail, tz: ZoneInfo) -> date | None:
    """The day the current stage was entered; None before the start."""
    stage = detail.current
    if stage is None or stage.entered_at is None or detail.rollout.status == RolloutStatus.PLANNED:
        return None
    return _local(stage.entered_at, tz)


def stage_day(t: Texts, detail: RolloutDetail, today: date, tz: ZoneInfo) -> str:
    """ "day 3" of the current stage, or "not started"."""
    entered = _entered(detail, tz)
    if entered is None:
        return t._("not started")
    return t._("day {n}", n=(today - entered).days + 1)


def days_in_stage(t: Texts, detail: RolloutDetail, today: date, tz: ZoneInfo) -> str:
    entered = _entered(detail, tz)
    if entered is None:
        return t._("not started")
    text = t._("day {n} (since {day})", n=(today - entered).days + 1, day=entered.isoformat())
    following = detail.next_stage(detail.current)
    if following and following.planned_start:
        left = (following.planned_start - today).days
        until = following.planned_start.isoformat()
        if left >= 0:
            plan = t._("planned until {day}, {days} left", day=until, days=fmt.days(t, left))
        else:
            plan = t._("planned until {day}, {days} over plan", day=until, days=fmt.days(t, -left))
        text += f" · {plan}"
    return text


def build_status_card(t: Texts, view: StatusView, *, viewer_may_change: bool, tz: ZoneInfo) -> Message:
    detail = view.detail
    rollout = detail.rollout
    blocks: list[Block] = [{"type": "header", "text": plain(rollout.title_in(t.language)[:150])}]
    vision = rollout.vision_in(t.language)
    if vision:
        blocks.append(section(f"_{escape(vision)}_"))
    blocks.append(section(f"{stage_track(detail)}\n{status_line(t, detail)} · `{rollout.slug}`"))
    fields = [fmt_field(t._("In this stage"), days_in_stage(t, detail, view.today, tz))]
    fields.append(fmt_field(t._("Cohort"), _cohort_text(t, view.cohort_size)))
    if view.metrics is not None:
        metrics = view.metrics
        fields.append(fmt_field(t._("NPS"), fmt.nps(t, metrics.nps, metrics.respondents, metrics.min_group)))
        fields.append(fmt_field(t._("Response rate"), fmt.response_rate(t, metrics)))
    blocks.append({"type": "section", "fields": fields})
    if view.gates:
        stage_name = detail.current.name if detail.current else None
        blocks += sections_from_lines([t._("*Gates*"), *(fmt.gate(t, g, stage_name) for g in view.gates)])
    elif rollout.status != RolloutStatus.COMPLETED:
        blocks.append(
            section(
                t._(
                    "*Gates*\nNone set: advancing needs no numbers. Add one with {command}.",
                    command="`/rollout target`",
                )
            )
        )
    rules = rule_lines(t, detail, view.raised)
    if (soaking := _soak_line(t, view)) is not None:
        rules.insert(0, soaking)
    blocks += [context(rule) for rule in rules]  # a few lines, each with room of its own
    champions = fmt.people(t, detail.champions, most=CARD_CHAMPIONS)
    owners = fmt.people(t, detail.owners, most=CARD_OWNERS)
    people = t._("Champions: {champions} · Owners: {owners}", champions=champions, owners=owners)
    if rollout.channel_id:
        people += " · " + t._("announced in {channel}", channel=fmt.channel(rollout.channel_id))
    blocks.append(context(people))
    buttons = []
    if viewer_may_change and rollout.status == RolloutStatus.ACTIVE:
        buttons.append(_button(t._("Advance"), Action.ADVANCE, rollout.slug, style="primary"))
    buttons.append(_button(t._("Roadmap"), Action.ROADMAP, rollout.slug))
    blocks.append({"type": "actions", "block_id": "status_actions", "elements": buttons})
    text = f"{escape(rollout.title_in(t.language))}: {status_line(t, detail)}"
    return Message(text=text, blocks=blocks)


# The status card's context names at most this many (a mention is up to 16 characters; the
# context's text may hold 3000): the rest are counted.
CARD_CHAMPIONS = 100
CARD_OWNERS = 40


def fmt_field(label: str, value: str) -> Block:
    return mrkdwn(f"*{label}*\n{value}")


def _cohort_text(t: Texts, size: int | None) -> str:
    if size is None:
        return "—"
    return t.n_("{n} person", "{n} people", size)


def _button(text: str, action: Action, value: str, *, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": plain(text), "action_id": action.value, "value": value}
    if style:
        button["style"] = style
    return button


def build_list(t: Texts, items: list[tuple[RolloutDetail, str]], completed: int, today: date, tz: ZoneInfo) -> Message:
    """`/rollout list`: each open rollout with its stage, days in stage and current NPS."""
    command = f"`{NEW_ROLLOUT}`"
    if not items:
        if completed:
            note = t.n_(
                "No active or planned rollouts ({n} completed). Create one with {command}.",
                "No active or planned rollouts ({n} completed). Create one with {command}.",
                completed,
                command=command,
            )
        else:
            note = t._("No active or planned rollouts. Create one with {command}.", command=command)
        return Message(text=t._("No active or planned rollouts."), blocks=[section(note)])
    lines = []
    for detail, nps_text in items:
        rollout = detail.rollout
        stage = detail.current
        where = status_line(t, detail)
        if stage and rollout.status != RolloutStatus.PLANNED:
            where = f"{escape(stage.name)} · {stage_day(t, detail, today, tz)}"
            if rollout.status == RolloutStatus.PAUSED:
                where += " · ⏸ " + t._("paused")
        lines.append(f"*{escape(rollout.title_in(t.language))}* (`{rollout.slug}`) — {where} · NPS {nps_text}")
    blocks = sections_from_lines(lines)[: MESSAGE_BLOCK_LIMIT - 1]
    if completed:
        blocks.append(context(t.n_("{n} completed rollout not shown.", "{n} completed rollouts not shown.", completed)))
    return Message(text=t.n_("{n} rollout", "{n} rollouts", len(items)), blocks=blocks)


def roadmap_line(t: Texts, stage: Stage, detail: RolloutDetail, today: date, tz: ZoneInfo) -> str:
    status = detail.rollout.status
    current = detail.current
    is_current = (
        current is not None and stage.id == current.id and status in (RolloutStatus.ACTIVE, RolloutStatus.PAUSED)
    )
    done = status == RolloutStatus.COMPLETED or (
        current is not None and stage.position < current.position and status != RolloutStatus.PLANNED
    )
    icon = "✓" if done else ("▶" if is_current else "○")
    parts = [f"{icon} *{escape(stage.name)}*", t._("planned {day}", day=fmt.day(stage.planned_start))]
    if stage.entered_at is not None and (done or is_current):
        entered = _local(stage.entered_at, tz)
        if stage.planned_start is not None and entered > stage.planned_start:
            late = fmt.days(t, (entered - stage.planned_start).days)
            parts.append(t._("entered {day} ({days} late)", day=entered.isoformat(), days=late))
        else:
            parts.append(t._("entered {day}", day=entered.isoformat()))
        if stage.left_at is not None and done:
            parts.append(t._("left {day}", day=_local(stage.left_at, tz).isoformat()))
    elif stage.planned_start is not None and stage.planned_start < today:
        parts.append(t._("⚠️ *late*: due {days} ago", days=fmt.days(t, (today - stage.planned_start).days)))
    return " · ".join(parts)


def build_roadmap(t: Texts, detail: RolloutDetail, today: date, tz: ZoneInfo) -> Message:
    title = escape(detail.rollout.title_in(t.language))
    lines = [t._("*Roadmap — {title}*", title=title)]
    lines += [roadmap_line(t, stage, detail, today, tz) for stage in detail.stages]
    return Message(text=t._("Roadmap of {title}", title=title), blocks=sections_from_lines(lines))


# What each audit action reads as. The log keeps the action's code and its facts, never these
# words: a line is said in the language of whoever reads the history.
def _soak_line(t: Texts, view: StatusView) -> str | None:
    """How far the current stage's soak has come: "soaking: day 3 of 7", or what it waits for."""
    stage = view.detail.current
    if stage is None or not stage.soak_days or view.detail.rollout.status != RolloutStatus.ACTIVE:
        return None
    if stage.passing_since is None:
        return t.n_(
            "⏳ Soak of {n} day: it starts once every gate passes.",
            "⏳ Soak of {n} days: it starts once every gate passes.",
            stage.soak_days,
        )
    start = max(stage.passing_since, stage.entered_at or stage.passing_since)
    day = min(stage.soak_days, (view.now - start) // 86400 + 1)
    return t._("⏳ Soaking: day {day} of {days}; it advances by itself then.", day=day, days=stage.soak_days)


_ACTIONS: dict[str, Phrase] = {
    "created": N_("created the rollout"),
    "stages set": N_("set the stages"),
    "vision set": N_("set the vision"),
    "planned": N_("planned a stage"),
    "cohort added": N_("added to a cohort"),
    "cohort removed": N_("removed from a cohort"),
    "owners added": N_("added owners"),
    "owners removed": N_("removed owners"),
    "champions added": N_("added champions"),
    "champions removed": N_("removed champions"),
    "channel set": N_("set the announcement channel"),
    "language set": N_("set the announcement language"),
    "target added": N_("added a target"),
    "target replaced": N_("replaced a target"),
    "target removed": N_("removed a target"),
    "start": N_("started it"),
    "advance": N_("advanced it"),
    "complete": N_("completed it"),
    "rollback": N_("rolled it back"),
    "pause": N_("paused it"),
    "resume": N_("resumed it"),
    "config applied": N_("changed it with the config file"),
    "touchpoint set": N_("set a touchpoint"),
    "trigger added": N_("added a trigger"),
    "comment replied": N_("replied to a comment"),
    "action recorded": N_("recorded what changed"),
    "soak set": N_("set a soak"),
    "approvers set": N_("set the approvers"),
    "approval asked": N_("asked for approval"),
    "approved": N_("approved the advance"),
    "on regression set": N_("set what a regression does"),
    "regression alert": N_("raised a regression alert"),
    "regression recovered": N_("saw a regression recover"),
}


def _history_extra(t: Texts, entry: AuditEntry) -> str:
    """The facts of an entry after its action ("…: alpha → beta")."""
    detail = entry.detail or {}
    action = entry.action
    if action in ("start", "advance", "rollback", "complete", "resume", "pause"):
        frm, to = detail.get("from"), detail.get("to")
        extra = ""
        if frm or to:
            shown_from = escape(str(frm)) if frm else t._("planned")
            shown_to = escape(str(to)) if to else t._("complete")
            extra = f": {shown_from} → {shown_to}"
        if detail.get("overridden"):
            extra += " " + t._("*(gates overridden)*")
        return extra
    if action == "planned":
        return ": " + t._(
            "{stage} on {day}", stage=escape(str(detail.get("stage"))), day=escape(str(detail.get("date")))
        )
    if action.startswith(("target", "cohort")):
        shown = detail.get("target") or ", ".join(str(e) for e in detail.get("entries", []))
        stage = f" ({escape(str(detail['stage']))})" if detail.get("stage") else ""
        return f": {escape(str(shown))}{stage}"
    if action.startswith(("owners", "champions")):
        return ": " + fmt.people(t, list(detail.get("people", [])))
    if action == "channel set" and detail.get("channel"):
        return f": {fmt.channel(str(detail['channel']))}"
    if action == "language set" and detail.get("language"):
        return f": {language_name(t, str(detail['language']))}"
    if (guarded := guard_history_extra(t, action, detail)) is not None:
        return guarded
    if action == "soak set":
        return ": " + t._("{stage}, {days} days", stage=escape(str(detail.get("stage"))), days=detail.get("days"))
    if action == "action recorded" and detail.get("action"):
        return f": {fmt.quoted(str(detail['action']))}"
    if action == "config applied":
        # A line of the plan `pulse apply` printed, in the config file's own notation.
        return f": `{escape(str(detail.get('change', '')))}`"
    return ""


def history_line(t: Texts, entry: AuditEntry, tz: ZoneInfo) -> str:
    known = _ACTIONS.get(entry.action)
    what = t.say(known) if known is not None else escape(entry.action)
    why = f" — {fmt.quoted(entry.reason)}" if entry.reason else ""
    # The regression watch's entries are dated by the day (services/watch.py: `stamp`).
    when = _local(entry.at, tz).isoformat() if entry.actor == "watch" else fmt.moment(entry.at, tz)
    return f"`{when}` {fmt.actor(t, entry.actor)} {what}{_history_extra(t, entry)}{why}"


def build_history(t: Texts, view: HistoryView, tz: ZoneInfo) -> Message:
    title = escape(view.detail.rollout.title_in(t.language))
    lines = [t._("*History — {title}* (newest first)", title=title)]
    lines += [history_line(t, e, tz) for e in view.entries[:HISTORY_LINES]]
    problems = []
    for item in view.undelivered:
        to = fmt.user(t, item.channel) if item.channel[:1] in ("U", "W") else fmt.channel(item.channel)
        stage = _announced_stage(t, item.payload)
        if item.status == "failed":
            unknown = t._("unknown")
            error = f"`{escape(item.error or unknown)}`"
            problems.append(
                t._("⚠️ The announcement of {stage} to {to} failed: {error}", stage=stage, to=to, error=error)
            )
        else:
            problems.append(t._("⏳ The announcement of {stage} to {to} is waiting to be sent", stage=stage, to=to))
    if problems:
        lines += ["", t._("*Announcements not delivered*"), *problems]
    return Message(
        text=t._("History of {title}", title=title),
        blocks=sections_from_lines(lines)[:MESSAGE_BLOCK_LIMIT],
    )


def _announced_stage(t: Texts, payload: str) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return t._("a stage change")
    return escape(str(data.get("to_stage") or data.get("kind") or t._("a stage change")))


def build_gates_blocked(t: Texts, check: GateCheck) -> Message:
    """Advance refused by its gates: each gate with its value, and the override button."""
    detail = check.detail
    title, stage = escape(detail.rollout.title_in(t.language)), escape(check.stage.name)
    following = detail.next_stage(check.stage)
    if following:
        refusal = t._(
            "*{title}* cannot move into {next} yet: not every gate of *{stage}* passes.",
            title=title,
            next=escape(following.name),
            stage=stage,
        )
    else:
        refusal = t._(
            "*{title}* cannot move to completion yet: not every gate of *{stage}* passes.", title=title, stage=stage
        )
    lines = [refusal, *(fmt.gate(t, g, check.stage.name) for g in check.gates)]
    blocks = sections_from_lines(lines)
    value = json.dumps({"rollout": detail.rollout.id, "stage": check.stage.id})
    blocks.append(
        {
            "type": "actions",
            "block_id": "gates_actions",
            "elements": [_button(t._("Advance anyway"), Action.ADVANCE_ANYWAY, value, style="danger")],
        }
    )
    blocks.append(context(t._("Advancing anyway asks for a reason, which goes into the history and the announcement.")))
    return Message(text=t._("{title} cannot advance yet: a gate does not pass.", title=title), blocks=blocks)


def _moved_text(t: Texts, moved: Moved) -> str:
    title = escape(moved.detail.rollout.title_in(t.language))
    frm, to = escape(moved.from_stage or ""), escape(moved.to_stage or "")
    if moved.kind == "start":
        return t._("🚀 *{title}* has started in *{stage}*.", title=title, stage=to)
    if moved.kind == "advance":
        return t._("⏩ *{title}* moved {from_stage} → *{stage}*.", title=title, from_stage=frm, stage=to)
    if moved.kind == "complete":
        return t._("🏁 *{title}* is complete.", title=title)
    if moved.kind == "rollback":
        return t._("⏪ *{title}* rolled back to *{stage}*.", title=title, stage=to)
    if moved.kind == "pause":
        return t._("⏸ *{title}* is paused; no surveys go out until you resume it.", title=title)
    return t._("▶️ *{title}* resumed in *{stage}*.", title=title, stage=to)


def _announced_to(t: Texts, moved: Moved) -> str:
    champions = len(moved.detail.champions)
    channel_id = moved.detail.rollout.channel_id
    channel = fmt.channel(channel_id) if channel_id else None
    if champions and channel:
        return t.n_(
            "Announcing it to {n} champion and {channel}.",
            "Announcing it to {n} champions and {channel}.",
            champions,
            channel=channel,
        )
    if champions:
        return t.n_("Announcing it to {n} champion.", "Announcing it to {n} champions.", champions)
    if channel:
        return t._("Announcing it to {channel}.", channel=channel)
    return t._("No champions or channel to announce it to yet.")


def build_moved(t: Texts, moved: Moved) -> Message:
    """The confirmation to the person who moved the rollout."""
    text = _moved_text(t, moved)
    if moved.cohort_size is not None and moved.kind in ("start", "advance", "rollback"):
        text += " " + t._("Cohort: {size}.", size=_cohort_text(t, moved.cohort_size))
    return Message(text=text, blocks=[section(text), context(_announced_to(t, moved))])


def build_advanced(t: Texts, outcome: Moved | Blocked | Held) -> Message:
    """The answer to an advance: made, refused by its gates, or waiting for approval."""
    if isinstance(outcome, Blocked):
        return build_gates_blocked(t, outcome.check)
    if isinstance(outcome, Held):
        return build_held(t, outcome)
    return build_moved(t, outcome)


def build_done(text: str) -> Message:
    """A confirmation already written in the reader's language."""
    return Message(text=text, blocks=[section(text)])


def build_override_modal(t: Texts, title: str, stage: str, private_metadata: str) -> dict[str, object]:
    return {
        "type": "modal",
        "callback_id": Callback.ADVANCE_ANYWAY.value,
        "private_metadata": private_metadata,
        "title": plain(t._("Advance anyway")),
        "submit": plain(t._("Advance")),
        "close": plain(t._("Cancel")),
        "blocks": [
            section(
                t._(
                    "*{title}* has gates in *{stage}* that do not pass. Say why it should move on anyway: "
                    "the reason goes into the history and the announcement.",
                    title=escape(title),
                    stage=escape(stage),
                )
            ),
            {
                "type": "input",
                "block_id": "reason",
                "label": plain(t._("Reason")),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "min_length": 1,
                    "max_length": 500,
                    "placeholder": plain(
                        t._("e.g. The pilot team is blocked without it; NPS is low because of a known bug")
                    ),
                },
            },
        ],
    }


def build_late_stage(t: Texts, note: LateStage) -> Message:
    """The owner's reminder that a stage runs late, with the roadmap a click away."""
    title = escape(note.title)
    plan = f"/rollout plan {note.rollout_slug} {note.next_stage} YYYY-MM-DD"
    slug = f"`{note.rollout_slug}`"
    text = t._(
        "⏰ *{title}* is still in *{stage}*, and *{next}* was planned to start on {day}. Advance it when its gates "
        "pass, or plan a new date with `{command}`.",
        title=title,
        stage=escape(note.stage),
        next=escape(note.next_stage),
        day=t.day_with_year(note.planned),
        command=plan,
    )
    blocks: list[Block] = [
        section(text),
        {"type": "actions", "elements": [_button(t._("Roadmap"), Action.ROADMAP, note.rollout_slug)]},
        context(t._("You get this once, as an owner of {slug}.", slug=slug)),
    ]
    return Message(text=text, blocks=blocks)
