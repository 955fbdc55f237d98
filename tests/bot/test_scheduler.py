"""Stopping the scheduler lets a job that is running finish instead of cancelling it mid-write."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bot.scheduler import create_scheduler
from services import Services
from tests.conftest import RunningBot
from tests.support import wait_for


async def test_a_running_job_finishes_before_the_scheduler_stops(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = create_scheduler(bot.services, bot.bot.digests)
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_job(_services: Services) -> None:
        started.set()
        await release.wait()
        finished.set()

    scheduler.add_job(scheduler.logged("test:slow", slow_job), "date", run_date=datetime.now(UTC), args=[bot.services])
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(scheduler.stop(grace=5))
    await asyncio.sleep(0)  # stop() has begun waiting; the job is still mid-way
    assert not stopping.done()
    release.set()
    assert await asyncio.wait_for(stopping, 5) is True
    assert finished.is_set()
    assert not scheduler.running
    assert "raised an exception" not in caplog.text and "Traceback" not in caplog.text


async def test_a_job_that_outlives_the_grace_is_cancelled_and_stop_says_so(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = create_scheduler(bot.services, bot.bot.digests)
    started = asyncio.Event()

    async def stuck_job(_services: Services) -> None:
        started.set()
        await asyncio.Event().wait()

    scheduler.add_job(
        scheduler.logged("test:stuck", stuck_job), "date", run_date=datetime.now(UTC), args=[bot.services]
    )
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    assert await scheduler.stop(grace=0.2) is False
    assert not scheduler.running
    assert "scheduled job test:stuck was stopped mid-way by the shutdown" in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_failing_job_is_logged_and_the_scheduler_goes_on(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = create_scheduler(bot.services, bot.bot.digests)
    runs: list[int] = []

    async def failing_job(_services: Services) -> None:
        runs.append(1)
        raise RuntimeError("the disk said no")

    caplog.set_level(logging.ERROR, logger="bot.scheduler")
    scheduler.add_job(scheduler.logged("test:failing", failing_job), "interval", seconds=0.05, args=[bot.services])
    scheduler.start()
    try:
        await wait_for(lambda: len(runs) >= 2, what="the job to run again after failing")
    finally:
        await scheduler.stop(grace=1)
    assert "scheduled job test:failing failed; it runs again at its next time" in caplog.text


async def test_a_job_submitted_in_the_same_turn_as_the_stop_gets_its_grace_too(bot: RunningBot) -> None:
    scheduler = create_scheduler(bot.services, bot.bot.digests)
    finished = asyncio.Event()

    async def short_job(_services: Services) -> None:
        await asyncio.sleep(0.2)
        finished.set()

    scheduler.add_job(
        scheduler.logged("test:short", short_job), "date", run_date=datetime.now(UTC), args=[bot.services]
    )
    scheduler.start()
    await asyncio.sleep(0)  # APScheduler has now submitted the job; its task has not yet begun
    assert await scheduler.stop(grace=3) is True
    assert finished.is_set()
