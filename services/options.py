"""What the domain reads from the operator's settings.

The settings themselves are loaded and checked by the wiring (`bot.settings.Settings`, which has
all of these); the domain names only what it uses, so it never imports the layer above it.
"""

from __future__ import annotations

from typing import Protocol
from zoneinfo import ZoneInfo

from services.quiet_hours import QuietHours


class Options(Protocol):
    @property
    def pulse_min_group(self) -> int:
        """The smallest group any figure, comment or export may describe (PULSE_MIN_GROUP)."""
        ...

    @property
    def pulse_quiet_hours(self) -> QuietHours | None:
        """The working-hours window survey DMs are sent in; None: any time."""
        ...

    @property
    def pulse_reply_delay_minutes(self) -> tuple[int, int]:
        """The range of minutes a reply to an anonymous comment waits before it goes (0, 0: at once)."""
        ...

    @property
    def pulse_min_days_between_surveys(self) -> int: ...

    @property
    def pulse_remind_after_hours(self) -> int: ...

    @property
    def pulse_wave_days(self) -> int: ...

    @property
    def pulse_timezone(self) -> str:
        """The organisation's IANA time zone name: days, digests and defaults are counted in it."""
        ...

    @property
    def pulse_language(self) -> str:
        """The language of people who chose none and set none in Slack, and of channel posts."""
        ...

    @property
    def tz(self) -> ZoneInfo: ...

    def is_admin(self, user_id: str) -> bool: ...
