"""The metrics card of `/pulse results`, and the answer to opening a wave, in the reader's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from handlers.blocks import format as fmt
from handlers.blocks.text import (
    TITLE_SLOT,
    Block,
    Message,
    context,
    escape,
    header,
    section,
    sections_from_lines,
)
from handlers.blocks.threads import comment_block
from runtime.i18n import Texts
from services.surveys import ResultsView, SurveyService, WaveReport


def scale_name(t: Texts, scale: str) -> str:
    if scale == "minutes":
        return t._("minutes")
    return {"csat": "CSAT", "ces": "CES", "thumbs": "👍"}.get(scale, scale)


def _touchpoint_value(t: Texts, scale: str, score: float) -> str:
    if scale == "csat":
        return t._("{share} satisfied", share=t.percent(round(score) / 100))
    if scale == "thumbs":
        return t._("{share} up", share=t.percent(round(score) / 100))
    if scale == "ces":
        return t._("{score} of 7", score=t.number(score, 1))
    return t._("median {minutes} min", minutes=t.number(score))


def build_results(t: Texts, view: ResultsView) -> Message:
    detail, stage, metrics = view.detail, view.stage, view.metrics
    rollout_title = detail.rollout.title_in(t.language)
    title = t._("Results · {title} · {stage}", title=rollout_title, stage=stage.name)
    headline = t._("Results · {title} · {stage}", title=TITLE_SLOT, stage=stage.name)
    blocks: list[Block] = [header(headline, rollout_title)]
    if not metrics.enough:
        blocks.append(
            section(
                t._(
                    "*NPS:* {not_enough}: answers are counted in groups of {min}, so that nobody's answer "
                    "can be singled out.",
                    not_enough=fmt.not_enough(t, metrics.min_group),
                    min=metrics.min_group,
                )
            )
        )
    elif metrics.nps is not None:
        nps = metrics.nps
        shares = t._(
            "promoters {promoters} · passives {passives} · detractors {detractors}",
            promoters=fmt.percent(t, nps.promoters),
            passives=fmt.percent(t, nps.passives),
            detractors=fmt.percent(t, nps.detractors),
        )
        score = fmt.nps(t, nps, metrics.respondents, metrics.min_group)
        interval = t._("{low} to {high}", low=fmt.signed(nps.low), high=fmt.signed(nps.high))
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": t._("*NPS*") + f"\n{score}"},
                    {"type": "mrkdwn", "text": t._("*95% interval*") + f"\n{interval}"},
                    {"type": "mrkdwn", "text": t._("*Response rate*") + f"\n{fmt.response_rate(t, metrics)}"},
                    {"type": "mrkdwn", "text": t._("*Responses*") + f"\n{metrics.responses}"},
                ],
            }
        )
        blocks.append(context(shares))
    lines = []
    for tp in metrics.touchpoints.values():
        label = f"*{escape(tp.label_in(t.language))}* ({scale_name(t, tp.scale)})"
        if tp.score is None:
            lines.append(f"{label}: {fmt.not_enough(t, metrics.min_group)}")
        else:
            lines.append(f"{label}: {_touchpoint_value(t, tp.scale, tp.score)} (n={tp.n})")
    if lines:
        blocks += sections_from_lines([t._("*Touchpoints*"), *lines])
    if view.comments:
        blocks.append(section(t._("*Comments* (anonymous, in random order)")))
        blocks += [comment_block(t, c) for c in view.comments]
    elif metrics.enough:
        blocks.append(context(t._("No comments yet.")))
    blocks.append(context(fmt.group_rule(t, metrics.min_group)))
    # The header is plain text, shown as typed; the fallback text is mrkdwn, so escaped.
    return Message(text=escape(title), blocks=blocks)


def build_wave_report(
    t: Texts, report: WaveReport, surveys: SurveyService, tz: ZoneInfo, *, touchpoint: str | None = None
) -> Message:
    """How many were asked now, how many wait for their working hours, how many were skipped and
    why. `touchpoint`: the key of the touchpoint asked about (None: the NPS survey)."""
    title = escape(report.title_in(t.language))
    what = t._("NPS") if touchpoint is None else t._("the {touchpoint} touchpoint", touchpoint=escape(touchpoint))
    if report.queued == 0:
        lines = [t._("Nobody was asked about {what} of *{title}*.", what=what, title=title)]
    else:
        lines = [
            t.n_(
                "Queued *{n}* {what} survey for *{title}*.",
                "Queued *{n}* {what} surveys for *{title}*.",
                report.queued,
                what=what,
                title=title,
            )
        ]
        if report.queued_now:
            lines.append("• " + t._("{count} go out now", count=t.number(report.queued_now)))
        if report.held and report.first_held_until:
            moment = datetime.fromtimestamp(report.first_held_until, tz)
            first = format_skeleton("EHm", moment, locale=t.language)  # "Mon 09:00" / "mån 09:00"
            lines.append(
                "• "
                + t._(
                    "{count} wait for the person's working hours (the first at {first} {zone})",
                    count=t.number(report.held),
                    first=first,
                    zone=tz.key,
                )
            )
    if report.skipped:
        total = sum(report.skipped.values())
        lines.append(t._("Skipped {count}:", count=t.number(total)))
        lines += [f"• {t.number(n)} {t.say(surveys.skip_reason(code))}" for code, n in sorted(report.skipped.items())]
    return Message(text=" ".join(lines).replace("*", ""), blocks=sections_from_lines(lines))
