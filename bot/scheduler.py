"""APScheduler jobs with explicit ids; each job calls a service and nothing else.

The survey jobs are derived from the store (which waves are due to close, who is due a
reminder, which stage is due its automatic NPS), so a restart loses nothing and repeats nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from outbound.digest_poster import DigestPoster
from runtime.clock import epoch
from services import Services
from services.cron import parse_cron

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


async def close_expired_threads(services: Services) -> None:
    closed = await services.threads.close_expired()
    if closed:
        log.info("closed %d conversations on comments after their 30 days; they name nobody now", closed)


async def open_check_ins(services: Services) -> None:
    await services.actions.open_check_ins(services.directory)


async def watch_soaks(services: Services) -> None:
    advanced = await services.rollouts.watch_soaks(services.directory)
    if advanced:
        log.info("%d stages advanced by themselves after their soak", advanced)


async def watch_new_answers(services: Services) -> None:
    """Within a minute of newly released answers, however many came in: one look."""
    raised = await services.watch.look_if_new(services.directory)
    if raised:
        log.info("the regression watch raised %d alerts", raised)


async def watch_hourly(services: Services) -> None:
    """Every hour regardless: what changes without new answers (a response rate, a new week)."""
    raised = await services.watch.look(services.directory)
    if raised:
        log.info("the regression watch raised %d alerts", raised)


async def remind_late_stages(services: Services) -> None:
    await services.rollouts.remind_late_stages()


async def send_reminders(services: Services) -> None:
    await services.surveys.queue_reminders()


async def open_automatic_nps(services: Services) -> None:
    await services.surveys.open_auto_waves(services.directory)


async def find_themes(services: Services) -> None:
    """Each open rollout's themes, found ahead of `/pulse map` and the digest's maps where a group
    has settled since (most of a map's cost; unchanged comments are not looked at again)."""
    found = await services.maps.warm()
    if found:
        log.info("found the themes of %d rollout(s) whose comments changed", found)


async def wipe_journal(services: Services) -> None:
    """The -wal holds the pages of recent writes in the order they were made (answers among
    them): emptied every minute, a copy of the files shows no more than the last minute's order;
    and a wipe that another process's read held up after a deletion is finished here."""
    await services.store.wipe_journal()


JOBS: tuple[tuple[str, Callable[[Services], Awaitable[None]], timedelta], ...] = (
    ("housekeeping:seen-events", forget_old_event_ids, timedelta(hours=1)),
    ("storage:wipe-journal", wipe_journal, timedelta(minutes=1)),
    ("surveys:close-waves", close_waves, timedelta(minutes=1)),
    ("maps:find-themes", find_themes, timedelta(minutes=10)),
    ("threads:close-expired", close_expired_threads, timedelta(minutes=5)),
    ("actions:check-ins", open_check_ins, timedelta(minutes=5)),
    ("rollouts:soaks", watch_soaks, timedelta(minutes=5)),
    ("rollouts:late-stages", remind_late_stages, timedelta(hours=1)),
    ("rollouts:watch-new-answers", watch_new_answers, timedelta(minutes=1)),
    ("rollouts:watch-hourly", watch_hourly, timedelta(hours=1)),
    ("surveys:reminders", send_reminders, timedelta(minutes=1)),
    ("surveys:automatic-nps", open_automatic_nps, timedelta(minutes=5)),
)


DIGEST_JOB_PREFIX = "digest:"
ScheduledJob = Callable[[Services], Awaitable[None]]


class PulseScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """The APScheduler that runs our jobs, and on stop lets those already running finish.

    A stock `shutdown()` cancels running coroutine jobs, which APScheduler then logs as a
    traceback; a stop right after start (when the catch-up jobs run) did exactly that."""

    def __init__(self, timezone: ZoneInfo) -> None:
        super().__init__(timezone=timezone)
        self._running: set[asyncio.Task[Any]] = set()

    def logged(self, job_id: str, job: Callable[[Services], Awaitable[object]]) -> ScheduledJob:
        """`job` as run here: its failure is logged and does not stop its later runs."""

        async def run(services: Services) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job(services)
            except Exception:
                log.exception("scheduled job %s failed; it runs again at its next time", job_id)
            except asyncio.CancelledError:
                # Only stop() cancels a job, at shutdown: the jobs are derived from the store,
                # so the next start picks up where this one stopped. Not re-raised, so that
                # APScheduler does not log the cancellation as a traceback.
                log.warning("scheduled job %s was stopped mid-way by the shutdown; it resumes at next start", job_id)
            finally:
                self._running.discard(task)

        run.__name__ = job_id
        return run

    async def stop(self, grace: float) -> bool:
        """Start no more jobs, give running ones `grace` seconds (then cancel them), and shut
        down; True if they all finished."""
        if not self.running:
            return True
        self.pause()
        deadline = asyncio.get_running_loop().time() + grace
        # A job APScheduler submitted just now has a task that has not run its first step (and
        # so is not in _running) yet: one turn of the loop lets it register.
        await asyncio.sleep(0)
        finished = True
        while unfinished := {task for task in self._running if not task.done()}:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                finished = False
                for task in unfinished:
                    task.cancel()
                await asyncio.wait(unfinished)
                break
            await asyncio.wait(unfinished, timeout=left)
        self.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        return finished


async def sync_digest_jobs(scheduler: PulseScheduler, services: Services, poster: DigestPoster) -> None:
    """One cron job per digest subscription, in the subscription's time zone; jobs of removed
    subscriptions go. Run at start, when a subscription changes here, and every few minutes
    (a config file applied by another process changes them too)."""
    wanted = {}
    for subscription in await services.digests.subscriptions():
        wanted[f"{DIGEST_JOB_PREFIX}{subscription.id}"] = subscription
    for job in scheduler.get_jobs():
        if job.id.startswith(DIGEST_JOB_PREFIX) and job.id not in wanted:
            job.remove()
    for job_id, subscription in wanted.items():
        trigger = parse_cron(subscription.cron, ZoneInfo(subscription.timezone))
        existing = scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            continue
        scheduler.add_job(
            scheduler.logged(job_id, _poster_of(poster, subscription.id)),
            trigger,
            args=[services],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            # A job that wakes late still posts its period; the catch-up job covers longer gaps.
            misfire_grace_time=3600,
        )


def _poster_of(poster: DigestPoster, subscription_id: int) -> Callable[[Services], Awaitable[None]]:
    async def post(_services: Services) -> None:
        await poster.post_due(subscription_id)

    return post


def create_scheduler(services: Services, poster: DigestPoster) -> PulseScheduler:
    scheduler = PulseScheduler(services.settings.tz)

    async def catch_up(_services: Services) -> None:
        await poster.catch_up()

    async def sync(_services: Services) -> None:
        await sync_digest_jobs(scheduler, services, poster)

    jobs = (*JOBS, ("digests:catch-up", catch_up, timedelta(minutes=10)), ("digests:sync", sync, timedelta(minutes=5)))
    for job_id, job, every in jobs:
        extra = {}
        if not job_id.startswith("housekeeping"):
            # Also run right after start: catch up on what came due while the bot was down.
            # (A next_run_time of None would pause the job, so the key is left out otherwise.)
            extra["next_run_time"] = services.clock.now()
        scheduler.add_job(
            scheduler.logged(job_id, job),
            IntervalTrigger(seconds=int(every.total_seconds())),
            args=[services],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            **extra,
        )
    return scheduler
