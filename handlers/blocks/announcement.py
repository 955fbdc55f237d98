"""The stage-change announcement sent to champions and the announcement channel (docs/rollouts.md: “Announcements”).

Written in the announcement's own language (`Announcement.language`, fixed when it was queued):
a champion's, or the rollout's for its channel."""

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
from runtime.i18n import Texts
from services.announcements import Announcement


def _headline_template(t: Texts, a: Announcement) -> str:
    """The headline, with TITLE_SLOT where the rollout's title goes (a title may be long)."""
    title, frm, to = TITLE_SLOT, a.from_stage or "", a.to_stage or ""
    if a.kind == "start":
        return t._("🚀 {title} has started: {stage}", title=title, stage=to)
    if a.kind == "advance":
        return t._("⏩ {title}: {from_stage} → {stage}", title=title, from_stage=frm, stage=to)
    if a.kind == "complete":
        return t._("🏁 {title} is complete", title=title)
    if a.kind == "rollback":
        return t._(
            "⏪ {title} rolled back: {from_stage} → {stage}", title=title, from_stage=frm or t._("complete"), stage=to
        )
    if a.kind == "pause":
        return t._("⏸ {title} is paused", title=title)
    return t._("▶️ {title} resumed in {stage}", title=title, stage=to)


def _headline(t: Texts, a: Announcement) -> str:
    return _headline_template(t, a).replace(TITLE_SLOT, a.title)


def _who_did_it(t: Texts, a: Announcement) -> str:
    person = fmt.actor(t, a.actor)
    if a.kind == "start":
        return t._("{person} started it", person=person)
    if a.kind == "advance":
        return t._("{person} moved it on", person=person)
    if a.kind == "complete":
        return t._("{person} completed it", person=person)
    if a.kind == "rollback":
        return t._("{person} rolled it back", person=person)
    if a.kind == "pause":
        return t._("{person} paused it", person=person)
    return t._("{person} resumed it", person=person)


def build_announcement(t: Texts, a: Announcement) -> Message:
    headline = _headline(t, a)
    blocks: list[Block] = [header(_headline_template(t, a), a.title)]
    why = f" — {fmt.quoted(a.reason)}" if a.reason else ""
    approved = " " + t._("(approved by {person})", person=fmt.user(t, a.approved_by)) if a.approved_by else ""
    blocks.append(section(f"{_who_did_it(t, a)}{approved}{why}"))
    if a.gates:
        head = t._("*Advanced anyway* — not every gate passed:") if a.overridden else t._("*Every gate passed:*")
        blocks += sections_from_lines([head, *(fmt.gate(t, g) for g in a.gates)])
    elif a.kind in ("advance", "complete") and a.overridden:
        blocks.append(section(t._("*Advanced anyway.*")))
    fields = []
    if a.cohort_size is not None:
        people = t.n_("{n} person", "{n} people", a.cohort_size)
        fields.append(mrkdwn(t._("*Cohort now*\n{people}", people=people)))
    if a.kind != "complete":
        if a.next_stage:
            planned = t._("not planned yet")
            if a.next_planned:
                planned = t._("planned {day}", day=a.next_planned.isoformat())
            fields.append(mrkdwn(t._("*Next stage*\n{stage} · {planned}", stage=escape(a.next_stage), planned=planned)))
        elif a.kind in ("start", "advance", "rollback", "resume"):
            fields.append(mrkdwn(t._("*Next stage*\nthis is the last one")))
    if fields:
        blocks.append({"type": "section", "fields": fields})
    what_to_do = escape(t.say(a.what_to_do))
    blocks.append(section(t._("*What champions should do now*\n{what}", what=what_to_do)))
    slug = f"`{a.rollout_slug}`"
    status_command, roadmap_command = f"/rollout status {a.rollout_slug}", f"/rollout roadmap {a.rollout_slug}"
    status, roadmap = f"`{status_command}`", f"`{roadmap_command}`"
    if a.audience == "champion":
        note = t._("You get this as a champion of {slug}. {status} shows the card.", slug=slug, status=status)
    else:
        note = t._("{status} shows the card · {roadmap} the plan.", status=status, roadmap=roadmap)
    blocks.append(context(note))
    # The header is plain text, shown as typed; the fallback text is mrkdwn, so escaped.
    text = f"{escape(headline)}. {what_to_do}"
    return Message(text=text, blocks=blocks)
