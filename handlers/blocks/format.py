"""How figures, people, dates and gates read in messages: one place, so every surface agrees.
Each takes the reader's `Texts` where its words or its number format depend on the language."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.blocks.text import escape
from runtime.i18n import N_, Phrase, Texts
from services.disclosure import week_of
from services.metrics import NpsSummary, StageMetrics
from services.models import FORGOTTEN, GateRecord, ReleasedComment, Waiting

GATE_ICONS = {"pass": "✅", "fail": "❌", "not_enough_data": "⏳"}
OP_SHOWN = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}


def user(t: Texts, user_id: str) -> str:
    if user_id == FORGOTTEN:
        return "_" + t._("a person who asked to be forgotten") + "_"
    return f"<@{user_id}>"


# Who the history names for a step nobody clicked: the code it keeps, and how it reads.
AUTOMATIC_ACTORS: dict[str, Phrase] = {"soak": N_("the soak"), "watch": N_("the regression watch")}


def actor(t: Texts, who: str) -> str:
    """Who made a change: a person as a mention, an automatic step by name, anything else
    (a config file, an operator's command) by its code."""
    if who[:1] in ("U", "W") or who == FORGOTTEN:
        return user(t, who)
    named = AUTOMATIC_ACTORS.get(who)
    return f"*{t.say(named) if named is not None else escape(who)}*"


def channel(channel_id: str) -> str:
    return f"<#{channel_id}>"


def people(t: Texts, user_ids: list[str] | tuple[str, ...], *, none: str | None = None, most: int | None = None) -> str:
    """The people as mentions; past `most`, the first `most` and how many more (a block's text
    has a limit, and a list of hundreds is read by nobody). `none`: what to say for nobody."""
    if not user_ids:
        return none if none is not None else t._("none yet")
    shown = user_ids if most is None or len(user_ids) <= most else user_ids[:most]
    listed = ", ".join(user(t, u) for u in shown)
    if len(shown) < len(user_ids):
        return t.n_("{people} and {n} more", "{people} and {n} more", len(user_ids) - len(shown), people=listed)
    return listed


def quoted(text: str | None) -> str:
    return f"“{escape(text)}”" if text else ""


def signed(value: float) -> str:
    rounded = round(value)
    return f"+{rounded}" if rounded > 0 else str(rounded)


def not_enough(t: Texts, min_group: int) -> str:
    """Below the minimum group nothing is said, not even how many have answered so far: a count
    that moves with each answer would tell when someone answered."""
    return t._("not enough answers yet (shown once {min} have answered)", min=min_group)


def nps(t: Texts, summary: NpsSummary | None, respondents: int, min_group: int) -> str:
    if summary is None:
        return not_enough(t, min_group)
    return nps_figure(summary.score, summary.margin, summary.n)


def nps_figure(score: float, margin: float, n: int) -> str:
    return f"{signed(score)} (n={n}, ±{round(margin)})"


def percent(t: Texts, share: float | None) -> str:
    return "—" if share is None else t.percent(share)


def response_rate(t: Texts, metrics: StageMetrics) -> str:
    return rate(t, asked=metrics.asked, answered=metrics.answered, enough=metrics.enough, min_group=metrics.min_group)


def rate(t: Texts, *, asked: int, answered: int, enough: bool, min_group: int) -> str:
    """A response rate as every surface says it; `enough`: the NPS answers make a group."""
    if asked == 0:
        return t._("no surveys sent yet")
    if not enough:
        return not_enough(t, min_group)
    return t._("{share} ({answered} of {asked})", share=percent(t, answered / asked), answered=answered, asked=asked)


def metric_value(t: Texts, metric: str, value: float) -> str:
    family = metric.split(":", 1)[0]
    if family == "nps":
        return signed(value)
    if family == "response_rate":
        return percent(t, value)
    if family in ("csat", "thumbs"):
        return percent(t, value / 100)
    if family == "ces":
        return t.number(value, 1)
    if family == "minutes":
        return t._("{n} min", n=t.number(value))
    return t.number(value)


def target(t: Texts, metric: str, op: str, value: float) -> str:
    return f"{metric} {OP_SHOWN.get(op, op)} {metric_value(t, metric, value)}"


def gate(t: Texts, record: GateRecord, stage_name: str | None = None) -> str:
    icon = GATE_ICONS[record.state]
    where = " _" + t._("({stage} only)", stage=stage_name) + "_" if record.stage_specific and stage_name else ""
    if record.state == "not_enough_data" or record.value is None:
        now = t._("not enough data yet")
    else:
        now = t._("now {value}", value=metric_value(t, record.metric, record.value))
    return f"{icon} `{target(t, record.metric, record.op, record.target)}` — {now}{where}"


def day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def moment(at: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M")


def days(t: Texts, n: int) -> str:
    return t.n_("{n} day", "{n} days", n)


def group_rule(t: Texts, min_group: int) -> str:
    """The disclosure rule as people read it beside figures (it is exactly what the code does)."""
    return t._(
        "Answers count only in groups of {min} from {min} people or more, added a group at a time, "
        "so no figure moves with one answer. Comments are dated by the week, in random order. No names.",
        min=min_group,
    )


def week(t: Texts, day: str) -> str:
    """The week an answer or comment is dated by: never a finer date."""
    return t._("week of {day}", day=t.day_with_year(date.fromisoformat(week_of(day))))


def comment(t: Texts, released: ReleasedComment) -> str:
    """A released comment, quoted on one line, dated by its group's week."""
    return f"> {escape(' '.join(released.body.split())[:280])} _({week(t, released.released_on)})_"


def waiting(t: Texts, found: Waiting | None, *, yours: bool) -> str:
    """Conversations on comments whose writer waits for a reply: how many, and since which day,
    never what they said. `yours`: said to an owner or champion (else to a channel)."""
    if found is None or not found.count:
        return ""
    day = t.day(date.fromisoformat(found.oldest)) if found.oldest else "—"
    if yours:
        return t.n_(
            "💬 {n} answer to a reply waits for you (the oldest since {day})",
            "💬 {n} answers to replies wait for you (the oldest since {day})",
            found.count,
            day=day,
        )
    return t.n_(
        "💬 {n} answer to a reply waits for the owners or champions (the oldest since {day})",
        "💬 {n} answers to replies wait for the owners or champions (the oldest since {day})",
        found.count,
        day=day,
    )
