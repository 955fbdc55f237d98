"""When a survey DM may go out: inside PULSE_QUIET_HOURS, Monday to Friday, in the person's
own time zone (docs/surveys.md: “The rules that keep surveys welcome”)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from runtime.timezones import parse_zone


class QuietHours(NamedTuple):
    """The daily window (local time, Monday to Friday) in which survey DMs may go out."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    return parse_zone(name) or fallback


def next_send_time(now: datetime, tz: ZoneInfo, window: QuietHours | None) -> datetime:
    """`now` if it is inside the person's window, otherwise the start of their next one (UTC)."""
    if window is None:
        return now
    local = now.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        start = datetime.combine(day, window.start, tzinfo=tz)
        end = datetime.combine(day, window.end, tzinfo=tz)
        if offset == 0 and start <= local < end:
            return now
        if local < start:
            return start.astimezone(UTC)
    raise AssertionError("a weekday window always comes within a week")


def inside(now: datetime, tz: ZoneInfo, window: QuietHours | None) -> bool:
    return next_send_time(now, tz, window) == now
