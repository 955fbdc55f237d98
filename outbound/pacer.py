"""Pacing calls to a rate-limited Slack method so that throughput approaches what Slack allows.

A token bucket whose rate follows Slack's answers over the last two seconds: while fewer than
one call in ten is refused (some 429s always happen, and not all are about our pace) it climbs,
fast at first and then gently; when more are refused it drops to the rate Slack actually
admitted. It so cruises just at the limit, with few wasted calls. Only when most calls are
refused does everything stop for Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

PERIOD_SECONDS = 0.5
WINDOW_SECONDS = 2.0
STARTUP_GROWTH = 1.5  # per period, until the first sign of the limit
CRUISE_GROWTH = 1.05  # per period, after it
TOO_MANY = 0.10  # share of refused calls that means we are above the limit
SEVERE = 0.5  # share that makes everything wait Retry-After
BURST_SECONDS = 0.2  # how much of a second's calls may go at once


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
        self._adjusted = clock()
        self._outcomes: deque[tuple[float, bool, float]] = deque()  # (time, refused, retry_after)
        self._demand = False
        self._starting = True
        self._since = clock()  # when the outcomes in the window began to count

    async def acquire(self) -> None:
        """Wait for a turn to call."""
        while True:
            now = self._clock()
            self.update(now)
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            capacity = max(1.0, self.rate * BURST_SECONDS)
            self._tokens = min(capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            self._demand = True  # callers wait on us: the rate, not the work, is the limit
            await asyncio.sleep((1 - self._tokens) / self.rate)

    def admitted(self) -> None:
        """Slack took the call (whatever it answered, it was not a 429)."""
        self._outcomes.append((self._clock(), False, 0.0))

    def rate_limited(self, retry_after: float) -> None:
        self._outcomes.append((self._clock(), True, retry_after))

    def update(self, now: float) -> None:
        """Re-judge the rate from the last two seconds of answers (at most twice a second)."""
        if now - self._adjusted < PERIOD_SECONDS:
            return
        self._adjusted = now
        while self._outcomes and self._outcomes[0][0] < now - WINDOW_SECONDS:
            self._outcomes.popleft()
        total = len(self._outcomes)
        refused = [wait for _, was_refused, wait in self._outcomes if was_refused]
        share = len(refused) / total if total else 0.0
        if len(refused) >= 3 and share > SEVERE:
            self._paused_until = max(self._paused_until, now + max(refused))
        if share > TOO_MANY and len(refused) >= 2:
            span = max(PERIOD_SECONDS, min(WINDOW_SECONDS, now - self._since))
            admitted_rate = (total - len(refused)) / span
            self.rate = max(self.min_rate, min(self.rate, admitted_rate))
            self._starting = False
            self._outcomes.clear()  # judge the new rate on its own answers
            self._since = now
        elif self._demand:
            growth = STARTUP_GROWTH if self._starting else CRUISE_GROWTH
            self.rate = min(self.max_rate, self.rate * growth)
        self._demand = False
