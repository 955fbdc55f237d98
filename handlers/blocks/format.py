"""How figures, people, dates and gates read in messages: one place, so every surface agrees."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.blocks.text import escape
from services.disclosure import week_of
from services.metrics import NpsSummary, StageMetrics
from services.models import FORGOTTEN, GateRecord, ReleasedComment

GATE_ICONS = {"pass": "✅", "fail": "❌", "not_enough_data": "⏳"}
OP_SHOWN = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}


def user(user_id: str) -> str:
    if user_id == FORGOTTEN:
        return "_a person who asked to be forgotten_"
    return f"<@{user_id}>"


def channel(channel_id: str) -> str:
    return f"<#{channel_id}>"


def people(user_ids: list[str] | tuple[str, ...], *, none: str = "none yet", most: int | None = None) -> str:
    """The people as mentions; past `most`, the first `most` and how many more (a block's text
    has a limit, and a list of hundreds is read by nobody)."""
    if not user_ids:
        return none
    shown = user_ids if most is None or len(user_ids) <= most else user_ids[:most]
    more = f" and {len(user_ids) - len(shown)} more" if len(shown) < len(user_ids) else ""
    return ", ".join(user(u) for u in shown) + more


def quoted(text: str | None) -> str:
    return f"“{escape(text)}”" if text else ""


def signed(value: float) -> str:
    rounded = round(value)
    return f"+{rounded}" if rounded > 0 else str(rounded)


def not_enough(min_group: int) -> str:
    """Below the minimum group nothing is said, not even how many have answered so far: a count
    that moves with each answer would tell when someone answered."""
    return f"not enough answers yet (shown once {min_group} have answered)"


def nps(summary: NpsSummary | None, respondents: int, min_group: int) -> str:
    if summary is None:
        return not_enough(min_group)
    return f"{signed(summary.score)} (n={summary.n}, ±{round(summary.margin)})"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def response_rate(metrics: StageMetrics) -> str:
    if metrics.asked == 0:
        return "no surveys sent yet"
    if not metrics.enough:
        return not_enough(metrics.min_group)
    return f"{percent(metrics.response_rate)} ({metrics.answered} of {metrics.asked})"


def metric_value(metric: str, value: float) -> str:
    family = metric.split(":", 1)[0]
    if family == "nps":
        return signed(value)
    if family == "response_rate":
        return percent(value)
    if family in ("csat", "thumbs"):
        return f"{round(value)}%"
    if family == "ces":
        return f"{value:.1f}"
    if family == "minutes":
        return f"{value:g} min"
    return f"{value:g}"


def target(metric: str, op: str, value: float) -> str:
    return f"{metric} {OP_SHOWN.get(op, op)} {metric_value(metric, value)}"


def gate(record: GateRecord, stage_name: str | None = None) -> str:
    icon = GATE_ICONS[record.state]
    where = f" _({stage_name} only)_" if record.stage_specific and stage_name else ""
    if record.state == "not_enough_data" or record.value is None:
        now = "not enough data yet"
    else:
        now = f"now {metric_value(record.metric, record.value)}"
    return f"{icon} `{target(record.metric, record.op, record.target)}` — {now}{where}"


def day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def moment(at: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M")


def days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def group_rule(min_group: int) -> str:
    """The disclosure rule as people read it beside figures (it is exactly what the code does)."""
    return (
        f"Answers count only in groups of {min_group} from {min_group} people or more, added a group at a time, "
        "so no figure moves with one answer. Comments are dated by the week, in random order. No names."
    )


def week(day: str) -> str:
    """The week an answer or comment is dated by: never a finer date."""
    return "week of " + datetime.fromisoformat(week_of(day)).strftime("%-d %b %Y")


def comment(released: ReleasedComment) -> str:
    """A released comment, quoted on one line, dated by its group's week."""
    return f"> {escape(' '.join(released.body.split())[:280])} _({week(released.released_on)})_"
