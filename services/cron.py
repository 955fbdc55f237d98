"""Digest schedules: standard five-field cron strings, their fire times, and the periods between.

APScheduler 3 counts weekdays from Monday = 0 where cron counts from Sunday = 0; numeric weekdays
are turned into names here so that "0 9 * * 1" means Monday, as everywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from runtime.i18n import N_
from services.errors import BadInput

DEFAULT_CRON = "0 9 * * MON"
EXAMPLE = N_('"0 9 * * MON" (Mondays at 09:00)')
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far back to look for the previous fire time: a yearly schedule is the longest we accept.
_LOOK_BACK = (timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))


def _weekday(token: str) -> str:
    """One cron weekday (number or name) as a name."""
    if token.isdigit():
        number = int(token)
        if not 0 <= number <= 7:
            raise ValueError(f"weekday {number} is out of range")
        return _DAYS[number]
    return token.lower()


def _weekdays(field: str) -> str:
    """A cron weekday field with cron's numbering, written so that APScheduler reads it alike."""
    parts = []
    for item in field.split(","):
        part, step = item, ""
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError("bad step")
            if part == "*":
                # */n counts from Sunday in cron: spell the days out.
                parts += [_DAYS[d] for d in range(0, 7, int(step_text))]
                continue
            step = f"/{step_text}"
        if part == "*":
            parts.append("*" + step)
        elif "-" in part:
            low, high = part.split("-", 1)
            first, last = _weekday(low), _weekday(high)
            if first == "sun" and last != "sun":
                # sun-x: Sunday and then mon-x (APScheduler's weeks start on Monday).
                parts.append("sun")
                first = "mon"
            parts.append(f"{first}-{last}{step}")
        else:
            parts.append(_weekday(part) + step)
    return ",".join(parts)


def parse_cron(expr: str, tz: ZoneInfo) -> CronTrigger:
    """A trigger for a five-field cron string in `tz`; BadInput with an example otherwise."""
    fields = expr.split()
    try:
        # ASCII only: \w and int() also take other scripts' digits ("٠ ٩ * * ١").
        if len(fields) != 5 or not all(re.fullmatch(r"[A-Za-z0-9*/,\-]+", f) for f in fields):
            raise ValueError("five fields expected")
        minute, hour, day, month, weekday = fields
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(weekday), timezone=tz)
    except (ValueError, KeyError, IndexError):
        raise BadInput(
            N_(
                "“{schedule}” is not a cron schedule. Give five fields — minute hour day month weekday — "
                "in quotes, e.g. {example}.",
                schedule=expr[:60],
                example=EXAMPLE,
            )
        ) from None


@dataclass(frozen=True)
class Period:
    """[start, end): the time between two fire times of a schedule."""

    start: datetime
    end: datetime
    # A period that runs up to this moment (a digest asked for now) rather than to a fire time.
    up_to_now: bool = False

    @property
    def start_at(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_at(self) -> int:
        return int(self.end.timestamp())


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`."""
    found: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return found


def latest_fire(trigger: CronTrigger, at_or_before: datetime) -> datetime | None:
    """The last fire time at or before a moment (within a year)."""
    for back in _LOOK_BACK:
        cursor = at_or_before - back
        latest = None
        while True:
            fire = next_fire(trigger, cursor)
            if fire is None or fire > at_or_before:
                break
            latest, cursor = fire, fire
        if latest is not None:
            return latest
    return None


def period_ending(trigger: CronTrigger, end: datetime) -> Period:
    """The period a digest firing at `end` covers: since the fire time before it."""
    start = latest_fire(trigger, end - timedelta(microseconds=1))
    return Period(start if start is not None else end - timedelta(days=7), end)


def more_than_daily(trigger: CronTrigger, after: datetime, fires: int = 400) -> bool:
    """True if the schedule fires twice within some day (looked at over its next `fires` times)."""
    previous = next_fire(trigger, after)
    for _ in range(fires):
        if previous is None:
            return False
        following = next_fire(trigger, previous)
        if following is not None and following - previous < timedelta(days=1):
            return True
        previous = following
    return False


def periods_ending(trigger: CronTrigger, end: datetime, count: int) -> list[Period]:
    """The `count` periods up to `end`, oldest first."""
    periods: list[Period] = []
    for _ in range(count):
        period = period_ending(trigger, end)
        periods.append(period)
        end = period.start
    return list(reversed(periods))
