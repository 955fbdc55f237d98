"""Sends survey DMs: paced to what Slack allows, inside each person's working hours, exactly once.

Every delivery ends sent, failed (with Slack's reason) or skipped: a 429 waits Retry-After, a 5xx
or timeout backs off and is checked against Slack's history before it is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.text import Message
from outbound.pacer import Pacer
from outbound.sender import Drainer, Failed, Sent, find_posted, post_once
from runtime.clock import Clock, epoch
from runtime.i18n import Texts, for_operator, texts
from services.models import DueDelivery
from services.options import Options
from services.queues import SurveyQueue
from services.quiet_hours import next_send_time, zone
from services.surveys import SurveyView

log = logging.getLogger(__name__)

# A claimed delivery is not picked again for this long (its own retry time replaces it).
CLAIM_LEASE_SECONDS = 60
BATCH = 200

RenderSurvey = Callable[[Texts, SurveyView], Message]


def view_of(item: DueDelivery, min_group: int, language: str) -> SurveyView:
    """`language`: the default, for a delivery queued before languages were kept."""
    return SurveyView(
        wave_id=item.wave_id,
        delivery_id=item.id,
        rollout_title=item.rollout_title,
        kind=item.kind,
        scale=item.scale or "nps",
        touchpoint_label=item.touchpoint_label,
        closes_at=item.closes_at,
        min_group=min_group,
        asked=item.asked,
        language=item.language or language,
    )


class DeliverySender(Drainer):
    name = for_operator("survey sender")

    def __init__(
        self,
        queue: SurveyQueue,
        client: AsyncWebClient,
        render: RenderSurvey,
        settings: Options,
        clock: Clock,
        *,
        pacer: Pacer | None = None,
        concurrency: int = 16,
        idle_seconds: float = 5.0,
        retry_scale: float = 1.0,
    ) -> None:
        super().__init__(clock, concurrency=concurrency, idle_seconds=idle_seconds, retry_scale=retry_scale)
        self.queue = queue
        self.client = client
        self.render = render
        self.settings = settings
        self.pacer = pacer or Pacer()

    async def recover(self) -> None:
        recovered = await self.queue.recover()
        if recovered:
            log.info("%d surveys were being sent when the bot stopped; checking and resuming", recovered)

    async def due(self, now: float) -> Sequence[DueDelivery]:
        return await self.queue.due(now, BATCH)

    async def next_due_at(self, now: float) -> float | None:
        return await self.queue.next_due_at(now)

    async def send(self, item: DueDelivery) -> None:
        now_dt = self.clock.now()
        now = epoch(now_dt)
        # Quiet hours are checked again: the sender may be late (the bot was down overnight).
        window_opens = epoch(next_send_time(now_dt, zone(item.tz, self.settings.tz), self.settings.pulse_quiet_hours))
        if item.status == "pending" and window_opens <= now:
            # Wait for a turn before claiming, so a claim never outlives a long wait.
            await self.pacer.acquire()
            now = epoch(self.clock.now())
        before = await self.queue.claim(item.id, self.clock.now().timestamp(), CLAIM_LEASE_SECONDS)
        if before is None:
            return
        key = f"delivery:{item.id}"
        earlier = before.claimed_at if before.status == "sending" else None
        if window_opens > now:
            if earlier is not None:
                found = await find_posted(self.client, item.user_id, key, earlier)
                if found is not None:
                    await self.queue.sent(item.id, found.channel, found.ts, now)
                    return
            await self.queue.hold(item.id, window_opens)
            return
        view = view_of(item, self.settings.pulse_min_group, self.settings.pulse_language)
        message = self.render(texts(view.language), view)
        outcome = await post_once(
            self.client, channel=item.user_id, key=key, message=message, earlier_attempt_at=earlier
        )
        now = epoch(self.clock.now())
        what = for_operator(f"the outcome of survey {item.id}")
        if isinstance(outcome, Sent):
            if not outcome.found_in_history:
                self.pacer.admitted()
            await self.record(lambda: self.queue.sent(item.id, outcome.channel, outcome.ts, now), what)
        elif isinstance(outcome, Failed):
            self.pacer.admitted()
            log.info("survey %d to %s failed: %s", item.id, item.user_id, outcome.error)
            await self.record(lambda: self.queue.failed(item.id, outcome.error), what)
        else:
            if outcome.rate_limited:
                self.pacer.rate_limited(outcome.after)
            else:
                self.pacer.admitted()
            at = self.retry_at(outcome, before.attempts)
            await self.record(lambda: self.queue.retry(item.id, at, outcome.error, maybe_sent=outcome.maybe_sent), what)
