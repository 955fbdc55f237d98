"""Failures the stand-in can be told to produce: rate limits, 5xx, slow answers, `ok: false`.

A refusal for going too fast comes as Slack sends it: HTTP 429 `ratelimited` with an integer
`Retry-After`, or, for the methods that document it (sandbox.tiers), HTTP 200 `ok: false`
`rate_limited`; by default either, picked by the seeded random source."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from sandbox import tiers

# How a refusal for going too fast is answered: as 429 `ratelimited`, as 200 `rate_limited`
# (where Slack documents it), or either.
Refusal = Literal["429", "200", "either"]


@dataclass
class Outcome:
    """What to answer instead of the real result."""

    status: int
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _TokenBucket:
    """Allows `rate` calls a second with bursts of up to `capacity` (default `rate`: Slack's limits
    allow bursts too)."""

    rate: float
    tokens: float
    updated: float
    capacity: float = 0.0

    def __post_init__(self) -> None:
        self.capacity = self.capacity or self.rate

    def take(self, now: float) -> float:
        """Take a token; return 0, or the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class _MethodFaults:
    bucket: _TokenBucket | None = None
    fail_share: float = 0.0
    fail_statuses: tuple[int, ...] = ()
    errors: deque[str] = field(default_factory=deque)
    delay_seconds: float = 0.0
    delays_left: int | None = None
    hold_after: int | None = None
    answer_hold_after: int | None = None
    answered: int = 0
    lose_left: int = 0
    refusal: Refusal | None = None


class Faults:
    """Per-method fault plan, with a seeded random source so runs repeat."""

    def __init__(self, seed: int = 0, clock: Callable[[], float] = time.monotonic, refusal: Refusal = "either") -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self._methods: dict[str, _MethodFaults] = {}
        self.refusal: Refusal = refusal
        # Buckets of Slack's published tiers, once asked for (hold_to_tiers): per method, and per
        # (method, channel) for the methods limited per channel too.
        self._tiers: dict[str, _TokenBucket] = {}
        self._per_channel: dict[tuple[str, str], _TokenBucket] = {}
        self._tier_speedup = 1.0
        self.rate_limited = 0
        self.failed = 0
        self.held = 0
        self.answers_held = 0
        self._released = asyncio.Event()

    def _for(self, method: str) -> _MethodFaults:
        return self._methods.setdefault(method, _MethodFaults())

    def rate_limit(self, method: str, per_second: float, *, refusal: Refusal | None = None) -> None:
        """Refuse calls beyond `per_second` a second (429 with an integer Retry-After, or 200
        `rate_limited` where Slack documents it: `refusal`, else the stand-in's default)."""
        faults = self._for(method)
        faults.bucket = _TokenBucket(per_second, per_second, self._clock())
        faults.refusal = refusal

    def hold_to_tiers(self, methods: Iterable[str] | None = None, *, speedup: float = 1.0) -> None:
        """Hold `methods` (default: every method in sandbox.tiers) to Slack's published limits,
        `speedup` times as fast (a benchmark may compress minutes into seconds)."""
        self._tier_speedup = speedup
        now = self._clock()
        for method in tiers.METHOD_LIMITS if methods is None else methods:
            limit = tiers.METHOD_LIMITS[method]
            self._tiers[method] = _TokenBucket(limit.per_second * speedup, limit.burst, now, limit.burst)

    def _tier_wait(self, method: str, channel: str) -> float:
        """0 if Slack's tier admits this call now, else the seconds until it would."""
        bucket = self._tiers.get(method)
        if bucket is None:
            return 0.0
        now = self._clock()
        per_channel = tiers.PER_CHANNEL.get(method)
        if per_channel is not None and channel:
            key = (method, channel)
            if key not in self._per_channel:
                rate = per_channel.per_second * self._tier_speedup
                self._per_channel[key] = _TokenBucket(rate, per_channel.burst, now, per_channel.burst)
            wait = self._per_channel[key].take(now)
            if wait > 0:
                return wait
        return bucket.take(now)

    def fail(self, method: str, share: float, statuses: tuple[int, ...] = (503,)) -> None:
        """Answer a random `share` of calls with one of `statuses` (429 carries Retry-After: 1)."""
        faults = self._for(method)
        faults.fail_share = share
        faults.fail_statuses = statuses

    def error(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls with `{"ok": false, "error": error}`."""
        self._for(method).errors.extend([error] * times)

    def delay(self, method: str, seconds: float, times: int | None = None) -> None:
        """Answer `seconds` late (a client with a shorter timeout sees a timeout)."""
        faults = self._for(method)
        faults.delay_seconds = seconds
        faults.delays_left = times

    def hold(self, method: str, after: int) -> None:
        """Answer `after` calls normally, then hold every further call unanswered until
        `release()`; held calls are then refused with 503 and change nothing (so a client
        killed while waiting can be restarted with nothing half-done)."""
        self._for(method).hold_after = after
        self._released.clear()

    def hold_answers(self, method: str, after: int) -> None:
        """Answer `after` calls normally, then carry out every further call but hold its answer
        until `release()` (then given as usual): a client killed while waiting is restarted with
        its call done but never heard of, as if it died after Slack acted and before it recorded
        that. (`hold` is the same with nothing done.)"""
        self._for(method).answer_hold_after = after
        self._released.clear()

    def release(self) -> None:
        for faults in self._methods.values():
            faults.hold_after = None
            faults.answer_hold_after = None
        self._released.set()

    async def wait_if_held(self, method: str) -> bool:
        """True if this call was held (and must now be refused without effect)."""
        if not self._beyond(method, "hold_after"):
            return False
        self.held += 1
        await self._released.wait()
        return True

    async def wait_if_answer_held(self, method: str) -> bool:
        """True if this call, already carried out, had its answer held until `release()`."""
        if not self._beyond(method, "answer_hold_after"):
            return False
        self.answers_held += 1
        await self._released.wait()
        return True

    def _beyond(self, method: str, threshold: Literal["hold_after", "answer_hold_after"]) -> bool:
        """True if `method` has a hold of this kind and has answered as many calls as it allows."""
        faults = self._methods.get(method)
        after = None if faults is None else getattr(faults, threshold)
        return faults is not None and after is not None and faults.answered >= after

    def lose_responses(self, method: str, times: int = 1) -> None:
        """Carry out the next `times` calls but answer them 503, as if the answer got lost."""
        self._for(method).lose_left += times

    def after_success(self, method: str) -> bool:
        """Count an answered call; True if its answer is to be lost."""
        faults = self._methods.get(method)
        if faults is None:
            return False
        faults.answered += 1
        if faults.lose_left > 0:
            faults.lose_left -= 1
            return True
        return False

    def clear(self, method: str | None = None) -> None:
        """Forget the faults set (of one method, or all); the tiers stay as asked for."""
        if method is None:
            self._methods.clear()
        else:
            self._methods.pop(method, None)

    def delay_for(self, method: str) -> float:
        faults = self._methods.get(method)
        if faults is None or faults.delay_seconds <= 0:
            return 0.0
        if faults.delays_left is not None:
            if faults.delays_left <= 0:
                return 0.0
            faults.delays_left -= 1
        return faults.delay_seconds

    def check(self, method: str, channel: str = "") -> Outcome | None:
        """The failure to answer this call with, if any; None to answer normally."""
        tier_wait = self._tier_wait(method, channel)
        if tier_wait > 0:
            self.rate_limited += 1
            return self._too_fast(method, tier_wait, None)
        faults = self._methods.get(method)
        if faults is None:
            return None
        # Injected failures come first and use none of the rate limit's budget, so that a
        # client pacing itself well can still reach the limit.
        if faults.fail_share > 0 and self._rng.random() < faults.fail_share:
            status = self._rng.choice(faults.fail_statuses)
            self.failed += 1
            if status == 429:
                return self._too_fast(method, 1, faults.refusal)
            return Outcome(status, {"ok": False, "error": "service_unavailable"})
        if faults.bucket is not None:
            wait = faults.bucket.take(self._clock())
            if wait > 0:
                self.rate_limited += 1
                return self._too_fast(method, wait, faults.refusal)
        if faults.errors:
            return Outcome(200, {"ok": False, "error": faults.errors.popleft()})
        return None

    def _too_fast(self, method: str, wait: float, refusal: Refusal | None) -> Outcome:
        """A refusal for going too fast, as Slack words it for `method`."""
        style = refusal or self.refusal
        answers_200 = method in tiers.ANSWER_RATE_LIMITED_WITH_200 and style != "429"
        if answers_200 and (style == "200" or self._rng.random() < 0.5):
            # Slack's 200 `rate_limited` says nothing of when to come back.
            return Outcome(200, {"ok": False, "error": "rate_limited"})
        return Outcome(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(max(1, math.ceil(wait)))})
