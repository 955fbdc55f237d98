"""The queues the outbound senders work through, as the senders see them.

What is to be sent is decided by the domain and queued in the store in the same transaction as
the change that caused it (a stage announcement, a survey DM). A sender only takes what is due,
claims it, and records what Slack answered; the store's repositories (`storage.outbox.Outbox`,
`storage.surveys.DeliveryQueue`, `storage.digests.Digests`) are the implementations the wiring
passes in.
"""

from __future__ import annotations

from typing import Protocol

from services.models import Delivery, DigestRun, DueDelivery, NewRun, OutboxItem, RunStatus, Subscription


class OutboxQueue(Protocol):
    """Messages to channels and people: stage announcements, notices, reminders."""

    async def recover(self) -> int:
        """Make posts interrupted by a stop due again; how many there were."""
        ...

    async def due(self, now: float, limit: int = 50) -> list[OutboxItem]: ...

    async def next_due_at(self) -> float | None: ...

    async def claim(self, item_id: int, now: float) -> OutboxItem | None:
        """Take a due item; it is returned as it was before (so an interrupted try shows)."""
        ...

    async def sent(self, item_id: int, ts: str, now: int) -> None: ...

    async def retry(self, item_id: int, at: float, error: str, *, maybe_sent: bool) -> None: ...

    async def failed(self, item_id: int, error: str) -> None: ...

    async def later(self, item_id: int, at: float, *, maybe_sent: bool = False) -> None:
        """Not now, and not a failed attempt: due again at `at`."""
        ...


class SurveyQueue(Protocol):
    """Survey DMs of open waves."""

    async def recover(self) -> int: ...

    async def due(self, now: float, limit: int) -> list[DueDelivery]: ...

    async def next_due_at(self, now: float) -> float | None: ...

    async def claim(self, delivery_id: int, now: float, lease: int) -> Delivery | None: ...

    async def sent(self, delivery_id: int, channel: str, ts: str, now: int) -> None: ...

    async def retry(self, delivery_id: int, at: float, error: str, *, maybe_sent: bool) -> None: ...

    async def hold(self, delivery_id: int, until: int) -> None:
        """Keep it until `until`: the person's working hours begin then."""
        ...

    async def failed(self, delivery_id: int, error: str) -> None: ...


class DigestRuns(Protocol):
    """The digests' subscriptions and the record of each period's run: taken before anything is
    posted, so that each period goes out once, and kept up to date part by part."""

    async def subscriptions(self) -> list[Subscription]: ...

    async def subscription(self, subscription_id: int) -> Subscription | None: ...

    async def run_for(self, subscription_id: int, period_end: int) -> DigestRun | None: ...

    async def start_run(self, new: NewRun) -> tuple[DigestRun, bool]:
        """The run of that period, made now (True) or as it stands (False)."""
        ...

    async def resume(self, run_id: int, now: int) -> None: ...

    async def part_posted(self, run_id: int, parts: int, ts: str, *, chart: str | None = None) -> None: ...

    async def chart_file(self, run_id: int, file_id: str, part: int = 0) -> None: ...

    async def chart_outcome(self, run_id: int, outcome: str) -> None: ...

    async def finished(self, run_id: int, status: RunStatus, now: int, error: str | None = None) -> None: ...

    async def interrupted_now(self, channel_id: str, since: int) -> DigestRun | None: ...

    async def unfinished_scheduled(self) -> list[DigestRun]: ...

    async def abandon(self, run_id: int, now: int, why: str) -> bool:
        """Record an unfinished run as skipped, with why; False if it has finished meanwhile."""
        ...
