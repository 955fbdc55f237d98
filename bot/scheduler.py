"""APScheduler jobs with explicit ids; each job calls a service and nothing else."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import epoch
from bot.services import Services

log = logging.getLogger(__name__)

# Slack retries an event for up to about an hour; remembering ids for a day is plenty.
SEEN_EVENTS_KEPT = timedelta(days=1)


async def forget_old_event_ids(services: Services) -> None:
    cutoff = epoch(services.clock.now() - SEEN_EVENTS_KEPT)
    removed = await services.seen_events.prune(cutoff)
    if removed:
        log.info("forgot %d Slack event ids older than a day", removed)


def create_scheduler(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=services.settings.tz)
    scheduler.add_job(
        forget_old_event_ids,
        IntervalTrigger(hours=1),
        args=[services],
        id="housekeeping:seen-events",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    return scheduler
