"""APScheduler jobs with explicit ids; each job calls a service and nothing else.

The survey jobs are derived from the store (which waves are due to close, who is due a
reminder, which stage is due its automatic NPS), so a restart loses nothing and repeats nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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


async def close_waves(services: Services) -> None:
    await services.surveys.close_due_waves()


async def send_reminders(services: Services) -> None:
    await services.surveys.queue_reminders()


async def open_automatic_nps(services: Services) -> None:
    await services.surveys.open_auto_waves(services.directory)


JOBS: tuple[tuple[str, Callable[[Services], Awaitable[None]], timedelta], ...] = (
    ("housekeeping:seen-events", forget_old_event_ids, timedelta(hours=1)),
    ("surveys:close-waves", close_waves, timedelta(minutes=1)),
    ("surveys:reminders", send_reminders, timedelta(minutes=1)),
    ("surveys:automatic-nps", open_automatic_nps, timedelta(minutes=5)),
)


def create_scheduler(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=services.settings.tz)
    for job_id, job, every in JOBS:
        extra = {}
        if job_id.startswith("surveys"):
            # Also run right after start: catch up on what came due while the bot was down.
            # (A next_run_time of None would pause the job, so the key is left out otherwise.)
            extra["next_run_time"] = services.clock.now()
        scheduler.add_job(
            _logged(job_id, job),
            IntervalTrigger(seconds=int(every.total_seconds())),
            args=[services],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            **extra,
        )
    return scheduler


def _logged(job_id: str, job: Callable[[Services], Awaitable[None]]) -> Callable[[Services], Awaitable[None]]:
    async def run(services: Services) -> None:
        try:
            await job(services)
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next time", job_id)

    run.__name__ = job_id
    return run
