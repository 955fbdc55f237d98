"""The stage-change announcement sent to champions and the announcement channel (docs/rollouts.md: “Announcements”)."""

from __future__ import annotations

from handlers.blocks import format as fmt
from handlers.blocks.text import (
    TITLE_SLOT,
    Block,
    Message,
    context,
    escape,
    header,
    mrkdwn,
    section,
    sections_from_lines,
)
from services.announcements import Announcement


def _headline_template(a: Announcement) -> str:
    """The headline, with TITLE_SLOT where the rollout's title goes (a title may be long)."""
    title, frm, to = TITLE_SLOT, a.from_stage or "", a.to_stage or ""
    return {
        "start": f"🚀 {title} has started: {to}",
        "advance": f"⏩ {title}: {frm} → {to}",
        "complete": f"🏁 {title} is complete",
        "rollback": f"⏪ {title} rolled back: {frm or 'complete'} → {to}",
        "pause": f"⏸ {title} is paused",
        "resume": f"▶️ {title} resumed in {to}",
    }[a.kind]


def _headline(a: Announcement) -> str:
    return _headline_template(a).replace(TITLE_SLOT, a.title)


_VERBS = {
    "start": "started it",
    "advance": "moved it on",
    "complete": "completed it",
    "rollback": "rolled it back",
    "pause": "paused it",
    "resume": "resumed it",
}


def build_announcement(a: Announcement) -> Message:
    headline = _headline(a)
    blocks: list[Block] = [header(_headline_template(a), a.title)]
    why = f" — {fmt.quoted(a.reason)}" if a.reason else ""
    blocks.append(section(f"{fmt.user(a.actor)} {_VERBS[a.kind]}{why}"))
    if a.gates:
        lines = ["*Advanced anyway* — not every gate passed:"] if a.overridden else ["*Every gate passed:*"]
        blocks += sections_from_lines(lines + [fmt.gate(g) for g in a.gates])
    elif a.kind in ("advance", "complete") and a.overridden:
        blocks.append(section("*Advanced anyway.*"))
    fields = []
    if a.cohort_size is not None:
        people = "1 person" if a.cohort_size == 1 else f"{a.cohort_size} people"
        fields.append(mrkdwn(f"*Cohort now*\n{people}"))
    if a.kind != "complete":
        if a.next_stage:
            planned = f"planned {a.next_planned.isoformat()}" if a.next_planned else "not planned yet"
            fields.append(mrkdwn(f"*Next stage*\n{escape(a.next_stage)} · {planned}"))
        elif a.kind in ("start", "advance", "rollback", "resume"):
            fields.append(mrkdwn("*Next stage*\nthis is the last one"))
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(section(f"*What champions should do now*\n{escape(a.what_to_do)}"))
    if a.audience == "champion":
        note = f"You get this as a champion of `{a.rollout_slug}`. `/rollout status {a.rollout_slug}` shows the card."
    else:
        note = f"`/rollout status {a.rollout_slug}` shows the card · `/rollout roadmap {a.rollout_slug}` the plan."
    blocks.append(context(note))
    # The header is plain text, shown as typed; the fallback text is mrkdwn, so escaped.
    text = f"{escape(headline)}. {escape(a.what_to_do)}"
    return Message(text=text, blocks=blocks)
