"""Guarded stages as people read them: an advance waiting for approval, the approver's DM, a
regression alert, and the status card's lines for each rule (docs/rollouts.md: "Guarded stages")."""

from __future__ import annotations

from typing import Any

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
from handlers.ids import Action
from runtime.i18n import Texts
from services.announcements import ApprovalNote, Figures, RegressionAlert
from services.models import RolloutDetail, RolloutStatus
from services.rollouts import Held
from services.watch import DROP_RULE

CARD_APPROVERS = 40  # named on the status card; the rest are counted
TITLE_SHOWN = 120  # of a title in a header, which holds 150 characters with the words around it


def build_held(t: Texts, held: Held) -> Message:
    """The answer to an advance into a stage with approvers: it waits for one of them."""
    detail, request = held.detail, held.request
    stage = detail.stage_by_id(request.to_stage_id)
    title = escape(detail.rollout.title_in(t.language))
    approvers = fmt.people(t, held.approvers, most=CARD_APPROVERS)
    if held.already:
        text = t._(
            "⏳ An advance of *{title}* into *{stage}* already waits for approval from {approvers}; nothing more "
            "was asked.",
            title=title,
            stage=escape(stage.name if stage else ""),
            approvers=approvers,
        )
    else:
        text = t._(
            "⏳ *{title}* moves into *{stage}* once one of its approvers approves, if its gates still pass then: "
            "{approvers}. Each of them has a DM with the figures and the gates.",
            title=title,
            stage=escape(stage.name if stage else ""),
            approvers=approvers,
        )
    return Message(text=text, blocks=[section(text)])


def _figures(t: Texts, figures: Figures) -> list[Block]:
    if figures.nps is None or figures.nps_margin is None:
        nps = fmt.not_enough(t, figures.min_group)
    else:
        nps = fmt.nps_figure(figures.nps, figures.nps_margin, figures.respondents)
    enough = figures.respondents >= figures.min_group
    rate = fmt.rate(t, asked=figures.asked, answered=figures.answered, enough=enough, min_group=figures.min_group)
    fields = [mrkdwn(t._("*NPS*\n{value}", value=nps)), mrkdwn(t._("*Response rate*\n{value}", value=rate))]
    return [{"type": "section", "fields": fields}]


def build_approval_request(t: Texts, note: ApprovalNote) -> Message:
    """An approver's DM: who asks to move the rollout on, the figures and gates, and Approve."""
    title = escape(note.title[:TITLE_SHOWN])
    frm, to = escape(note.from_stage), escape(note.to_stage)
    if note.requested_by == "soak":
        asked = t._(
            "*{title}* has held every gate of *{stage}* for its soak and is ready to move into *{next}*.",
            title=title,
            stage=frm,
            next=to,
        )
    else:
        asked = t._(
            "{person} asks to move *{title}* from *{stage}* into *{next}*.",
            person=fmt.user(t, note.requested_by),
            title=title,
            stage=frm,
            next=to,
        )
    if note.reason:
        asked += f" — {fmt.quoted(note.reason)}"
    blocks: list[Block] = [header(t._("Approve: {title} → {stage}", title=TITLE_SLOT, stage=note.to_stage), note.title)]
    blocks.append(section(asked))
    blocks += _figures(t, note.figures)
    if note.gates:
        head = t._("*Advanced anyway* — not every gate passed:") if note.overridden else t._("*Gates*")
        blocks += sections_from_lines([head, *(fmt.gate(t, g) for g in note.gates)])
    elif note.overridden:
        blocks.append(section(t._("*Advanced anyway.*")))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": t._("Approve")},
                    "action_id": Action.APPROVE.value,
                    "value": str(note.request_id),
                    "style": "primary",
                }
            ],
        }
    )
    slug = f"`{note.rollout_slug}`"
    blocks.append(
        context(
            t._(
                "You get this as an approver of *{stage}* in {slug}. The figures and gates are as they stood when "
                "it was asked; Approve checks the gates again. One approver's click is enough.",
                stage=to,
                slug=slug,
            )
        )
    )
    text = t._("{title}: approve the move into {stage}?", title=title, stage=to)
    return Message(text=text, blocks=blocks)


def _interval(t: Texts, metric: str, low: float, high: float) -> str:
    return t._(
        "95% interval {low} to {high}",
        low=fmt.metric_value(t, metric, low),
        high=fmt.metric_value(t, metric, high),
    )


def build_alert(t: Texts, alert: RegressionAlert) -> Message:
    """The alert to owners and champions: the figure, the target, the trend, the comments."""
    title, stage, metric = escape(alert.title[:TITLE_SHOWN]), escape(alert.stage), alert.metric
    value = fmt.metric_value(t, metric, alert.value)
    interval = _interval(t, metric, alert.low, alert.high)
    if alert.kind == "nps_drop" and alert.previous is not None:
        assert alert.previous_low is not None
        assert alert.previous_high is not None
        what = t._(
            "🚨 *{title}*, *{stage}*: NPS fell clearly week over week: {before} ({before_interval}) the seven "
            "days before, {now} ({now_interval}) the last seven.",
            title=title,
            stage=stage,
            before=fmt.metric_value(t, metric, alert.previous),
            before_interval=_interval(t, metric, alert.previous_low, alert.previous_high),
            now=value,
            now_interval=interval,
        )
    else:
        assert alert.op is not None
        assert alert.target is not None
        what = t._(
            "🚨 *{title}*, *{stage}*: the gate `{target}` fails clearly. It is {value} now ({interval}), wholly on "
            "the wrong side of the target.",
            title=title,
            stage=stage,
            target=fmt.target(t, metric, alert.op, alert.target),
            value=value,
            interval=interval,
        )
    blocks: list[Block] = [section(what)]
    if alert.kind == "gate":
        unknown = t._("too few answers")
        before = fmt.metric_value(t, metric, alert.previous) if alert.previous is not None else unknown
        latest = fmt.metric_value(t, metric, alert.latest) if alert.latest is not None else unknown
        blocks.append(
            section(
                t._("*Trend*: {before} the seven days before → {latest} the last seven.", before=before, latest=latest)
            )
        )
    results_command = f"/pulse results {alert.rollout_slug}"
    results = f"`{results_command}`"
    blocks.append(
        section(
            t.n_(
                "{n} comment was released in this stage in the last seven days: {command} shows comments.",
                "{n} comments were released in this stage in the last seven days: {command} shows comments.",
                alert.comments,
                command=results,
            )
        )
    )
    slug = f"`{alert.rollout_slug}`"
    if alert.paused:
        resume_command = f"/rollout resume {alert.rollout_slug}"
        resume = f"`{resume_command}`"
        blocks.append(
            section(
                t._("⏸ {slug} is paused, as its rule says for a clear regression. {command} moves it again.",
                    slug=slug, command=resume)
            )
        )  # fmt: skip
    blocks.append(
        context(
            t._(
                "You get this as an owner or champion of {slug}. The watch says nothing more about it until it "
                "has recovered.",
                slug=slug,
            )
        )
    )
    return Message(text=what, blocks=blocks)


def rule_lines(t: Texts, detail: RolloutDetail, raised: list[str]) -> list[str]:
    """The status card's lines for approvals and the watch."""
    lines: list[str] = []
    rollout, current = detail.rollout, detail.current
    following = detail.next_stage(current) if current is not None else None
    waiting = detail.waiting
    if waiting is not None:
        stage = detail.stage_by_id(waiting.to_stage_id)
        lines.append(
            t._(
                "⏳ Waiting for approval from {approvers} to move into *{stage}* (asked by {person}).",
                approvers=fmt.people(t, detail.approvers_of(stage), most=CARD_APPROVERS),
                stage=escape(stage.name if stage else ""),
                person=fmt.actor(t, waiting.requested_by),
            )
        )
    elif following is not None and detail.approvers_of(following) and rollout.status != RolloutStatus.COMPLETED:
        lines.append(
            t._(
                "🔐 Moving into *{stage}* waits for approval from {approvers}.",
                stage=escape(following.name),
                approvers=fmt.people(t, detail.approvers_of(following), most=CARD_APPROVERS),
            )
        )
    if raised:
        shown = ", ".join(_rule_name(t, rule) for rule in raised)
        lines.append(
            t.n_(
                "🚨 Regression alert raised: {rules}; quiet until it recovers.",
                "🚨 Regression alerts raised: {rules}; quiet until they recover.",
                len(raised),
                rules=shown,
            )
        )
    if rollout.on_regression == "pause" and rollout.status != RolloutStatus.COMPLETED:
        lines.append(t._("👁 A clear regression pauses it."))
    return lines


def _rule_name(t: Texts, rule: str) -> str:
    return t._("week-over-week NPS drop") if rule == DROP_RULE else f"`{escape(rule.split(':', 1)[-1])}`"


def guard_history_extra(t: Texts, action: str, detail: dict[str, Any]) -> str | None:
    """The facts after a guarded-stage entry of the history; None for other entries."""
    if action in ("approval asked", "approved"):
        return f": {escape(str(detail.get('from')))} → {escape(str(detail.get('to')))}"
    if action == "approvers set":
        who = fmt.people(t, list(detail.get("people", [])), none=t._("nobody"))
        return ": " + t._("{stage}, {people}", stage=escape(str(detail.get("stage"))), people=who)
    if action == "on regression set":
        return ": " + (t._("pause") if detail.get("on_regression") == "pause" else t._("notify"))
    if action in ("regression alert", "regression recovered"):
        extra = f" ({escape(str(detail.get('stage')))}): {_rule_name(t, str(detail.get('rule', '')))}"
        if action == "regression alert" and detail.get("reason"):
            extra += f" — {escape(str(detail['reason']))}"
        return extra
    return None
