"""The metrics card of `/pulse results`, and the answer to opening a wave."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

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
from services.surveys import ResultsView, SurveyService, WaveReport

SCALE_NAMES = {"csat": "CSAT", "ces": "CES", "thumbs": "👍", "minutes": "minutes"}


def _touchpoint_value(scale: str, score: float) -> str:
    if scale in ("csat", "thumbs"):
        return f"{round(score)}%" + (" satisfied" if scale == "csat" else " up")
    if scale == "ces":
        return f"{score:.1f} of 7"
    return f"median {score:g} min"


def build_results(view: ResultsView) -> Message:
    detail, stage, metrics = view.detail, view.stage, view.metrics
    title = f"Results · {detail.rollout.title} · {stage.name}"
    blocks: list[Block] = [header(f"Results · {TITLE_SLOT} · {stage.name}", detail.rollout.title)]
    if not metrics.enough:
        blocks.append(
            section(
                f"*NPS:* {fmt.not_enough(metrics.min_group)}: answers are counted in groups of "
                f"{metrics.min_group}, so that nobody's answer can be singled out."
            )
        )
    elif metrics.nps is not None:
        nps = metrics.nps
        shares = (
            f"promoters {fmt.percent(nps.promoters)} · passives {fmt.percent(nps.passives)} · "
            f"detractors {fmt.percent(nps.detractors)}"
        )
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*NPS*\n{fmt.nps(nps, metrics.respondents, metrics.min_group)}"},
                    {"type": "mrkdwn", "text": f"*95% interval*\n{fmt.signed(nps.low)} to {fmt.signed(nps.high)}"},
                    {"type": "mrkdwn", "text": f"*Response rate*\n{fmt.response_rate(metrics)}"},
                    {"type": "mrkdwn", "text": f"*Responses*\n{metrics.responses}"},
                ],
            }
        )
        blocks.append(context(shares))
    lines = []
    for tp in metrics.touchpoints.values():
        label = f"*{escape(tp.label)}* ({SCALE_NAMES[tp.scale]})"
        if tp.score is None:
            lines.append(f"{label}: {fmt.not_enough(metrics.min_group)}")
        else:
            lines.append(f"{label}: {_touchpoint_value(tp.scale, tp.score)} (n={tp.n})")
    if lines:
        blocks += sections_from_lines(["*Touchpoints*", *lines])
    if view.comments:
        quoted = [fmt.comment(c) for c in view.comments]
        blocks += sections_from_lines(["*Comments* (anonymous, in random order)", *quoted])
    elif metrics.enough:
        blocks.append(context("No comments yet."))
    blocks.append(context(fmt.group_rule(metrics.min_group)))
    # The header is plain text, shown as typed; the fallback text is mrkdwn, so escaped.
    return Message(text=escape(title), blocks=blocks)


def build_wave_report(report: WaveReport, surveys: SurveyService, tz: ZoneInfo, *, what: str) -> Message:
    """How many were asked now, how many wait for their working hours, how many were skipped and why."""
    title = escape(report.rollout_title)
    if report.queued == 0:
        lines = [f"Nobody was asked about {what} of *{title}*."]
    else:
        lines = [f"Queued *{report.queued}* {what} survey{'s' if report.queued != 1 else ''} for *{title}*."]
        if report.queued_now:
            lines.append(f"• {report.queued_now} go out now")
        if report.held and report.first_held_until:
            first = datetime.fromtimestamp(report.first_held_until, tz).strftime("%a %H:%M")
            lines.append(f"• {report.held} wait for the person's working hours (the first at {first} {tz.key})")
    if report.skipped:
        total = sum(report.skipped.values())
        lines.append(f"Skipped {total}:")
        lines += [f"• {n} {surveys.skip_reason(code)}" for code, n in sorted(report.skipped.items())]
    return Message(text=" ".join(lines).replace("*", ""), blocks=sections_from_lines(lines))
