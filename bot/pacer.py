"""Pacing calls to a rate-limited Slack method so that throughput approaches what Slack allows.

A token bucket whose rate follows Slack's answers: it climbs while calls go through, holds while
429s stay occasional (a few always happen, and some are not about our pace at all), and when
they become frequent drops to the rate Slack actually accepted and pauses for Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 2.0
ADJUST_EVERY_SECONDS = 0.5
CLIMB = 1.25  # per adjustment while 429s are rare
RARE = 0.10  # below this share of 429s, climb
FREQUENT = 0.20  # above it, back off


class Pacer:
    def __init__(
        self,
        *,
        rate: float = 50.0,
        min_rate: float = 1.0,
        max_rate: float = 2000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.min_rate = min_rate
        self.max_rate = max_rate
        self._clock = clock
        self._tokens = 1.0
        self._updated = clock()
        self._paused_until = 0.0
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._adjusted = clock()

    async def acquire(self) -> None:
        """Wait for a turn to call."""
        while True:
            now = self._clock()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            # Up to a second's worth of calls may go at once (Slack allows short bursts too).
            self._tokens = min(self.rate, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)

    def succeeded(self) -> None:
        self._note(False, 0.0)

    def rate_limited(self, retry_after: float) -> None:
        self._note(True, retry_after)

    def _note(self, limited: bool, retry_after: float) -> None:
        now = self._clock()
        self._outcomes.append((now, limited))
        while self._outcomes and self._outcomes[0][0] < now - WINDOW_SECONDS:
            self._outcomes.popleft()
        if now - self._adjusted < ADJUST_EVERY_SECONDS:
            return
        self._adjusted = now
        total = len(self._outcomes)
        refused = sum(1 for _, was_limited in self._outcomes if was_limited)
        accepted_rate = (total - refused) / WINDOW_SECONDS
        if refused > 1 and refused > FREQUENT * total:
            self.rate = max(self.min_rate, min(self.rate, accepted_rate))
            self._paused_until = max(self._paused_until, now + retry_after)
            self._tokens = 0.0
            self._outcomes.clear()
        elif refused <= RARE * total and accepted_rate >= 0.5 * self.rate:
            # Only climb while we actually use the rate we have.
            self.rate = min(self.max_rate, self.rate * CLIMB)
