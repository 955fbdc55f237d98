"""Time zone names from people, files and Slack, read safely."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of this name, or None for anything else. Besides unknown names this covers
    a folder of the zone database such as "America" (ZoneInfo raises IsADirectoryError) and
    names that are not paths at all."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
