"""Survey DMs go out exactly once: through 429s and 5xx, across a killed process, inside each
person's working hours."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_bot
from bot.settings import Settings
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.services.test_surveys import SLUG, people, roll_out, started_with
from tests.support import (
    StandInThread,
    bot_environment,
    serve_process,
    slack_to,
    survey_dms,
    wait_for,
    wait_for_sync,
)
from tests.world import World, seed_world


def dm_counts(standin: SlackStandIn, users: list[str]) -> list[int]:
    return [len(survey_dms(standin, u)) for u in users]


class TestUnderFaults:
    @pytest.fixture
    def settings(self, standin: SlackStandIn, tmp_path: Path) -> Settings:
        return make_settings(standin, tmp_path, pulse_quiet_hours="off")

    async def test_with_a_tenth_of_calls_answered_429_or_503_everyone_gets_exactly_one_dm(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        bot.bot.surveys_sender.retry_scale = 0.0
        cohort = people(standin, 60)
        await started_with(bot, world, cohort)
        standin.faults.fail("chat.postMessage", share=0.1, statuses=(429, 503))
        standin.faults.lose_responses("chat.postMessage", times=3)  # posted, but the bot heard 503
        await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")

        async def settled() -> bool:
            pending = await store.fetch_value("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')")
            return bool(pending == 0)

        await wait_for(settled, timeout=30, what="every delivery to be sent")
        assert standin.faults.failed > 0
        assert dm_counts(standin, cohort) == [1] * 60
        assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 60

    async def test_permanent_errors_mark_the_delivery_failed_with_the_reason(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 2)
        await started_with(bot, world, cohort)
        # deactivated after the cohort was resolved: the cached answer still says active
        standin.workspace.users[cohort[1]].deleted = True
        await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")

        async def failed() -> bool:
            return await store.fetch_value("SELECT reason FROM deliveries WHERE status = 'failed'") is not None

        await wait_for(failed)
        assert await store.fetch_value("SELECT reason FROM deliveries WHERE status = 'failed'") == "user_disabled"
        assert dm_counts(standin, cohort) == [1, 0]


class TestQuietHours:
    """Monday 23 November 2026, 08:30 UTC: Berlin 09:30 (inside), New York 03:30, Tokyo 17:30
    (after hours), Sydney 19:30; windows 09:00–17:00 local, Monday to Friday."""

    START = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(self.START)

    @pytest.fixture
    def zones(self, standin: SlackStandIn) -> dict[str, str]:
        ws = standin.workspace
        return {
            tz: ws.add_user(f"U0TZ{i}", f"tz{i}", tz=tz).id
            for i, tz in enumerate(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"])
        }

    async def test_dms_wait_for_each_persons_working_hours(
        self, bot: RunningBot, standin: SlackStandIn, world: World, zones: dict[str, str], clock: ManualClock
    ) -> None:
        users = list(zones.values())
        await started_with(bot, world, users)
        report = await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
        assert "1 go out now" in report and "3 wait for the person's working hours" in report

        async def at(moment: datetime) -> list[int]:
            clock.set(moment)
            await bot.send_due_surveys()
            return dm_counts(standin, users)

        assert await at(self.START) == [1, 0, 0, 0]
        assert await at(datetime(2026, 11, 23, 13, 59, tzinfo=UTC)) == [1, 0, 0, 0]
        assert await at(datetime(2026, 11, 23, 14, 0, tzinfo=UTC)) == [1, 1, 0, 0]  # 09:00 in New York
        assert await at(datetime(2026, 11, 23, 22, 0, tzinfo=UTC)) == [1, 1, 0, 1]  # 09:00 Tuesday in Sydney
        assert await at(datetime(2026, 11, 24, 0, 0, tzinfo=UTC)) == [1, 1, 1, 1]  # 09:00 Tuesday in Tokyo

    async def test_friday_evening_waits_for_monday(
        self, bot: RunningBot, standin: SlackStandIn, world: World, zones: dict[str, str], clock: ManualClock
    ) -> None:
        berlin = zones["Europe/Berlin"]
        await started_with(bot, world, [berlin])
        clock.set(datetime(2026, 11, 27, 16, 30, tzinfo=UTC))  # Friday 17:30 in Berlin
        await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
        for moment, expected in (
            (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), 0),  # Saturday
            (datetime(2026, 11, 30, 7, 59, tzinfo=UTC), 0),  # Monday 08:59
            (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), 1),  # Monday 09:00
        ):
            clock.set(moment)
            await bot.send_due_surveys()
            assert dm_counts(standin, [berlin]) == [expected]

    async def test_a_late_sender_holds_a_survey_until_the_next_window(
        self,
        bot: RunningBot,
        standin: SlackStandIn,
        world: World,
        zones: dict[str, str],
        clock: ManualClock,
        store: Store,
    ) -> None:
        berlin = zones["Europe/Berlin"]
        await started_with(bot, world, [berlin])
        bot.bot.surveys_sender.stop()  # as if the bot were down
        await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
        clock.set(datetime(2026, 11, 23, 20, 0, tzinfo=UTC))  # it comes back at 21:00 Berlin time
        await bot.bot.surveys_sender.send((await bot.bot.surveys_sender.due(int(clock.now().timestamp())))[0])
        assert dm_counts(standin, [berlin]) == [0]
        held_until = await store.fetch_value("SELECT not_before FROM deliveries")
        assert held_until == int(datetime(2026, 11, 24, 8, 0, tzinfo=UTC).timestamp())


class TestAutomaticNps:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))

    @pytest.fixture
    def settings(self, standin: SlackStandIn, tmp_path: Path) -> Settings:
        return make_settings(standin, tmp_path, pulse_quiet_hours="off")

    async def test_an_nps_wave_opens_seven_days_after_a_stage_is_entered_once_across_restarts(
        self, bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock, store: Store,
        settings: Settings,
    ) -> None:  # fmt: skip
        cohort = people(standin, 3)
        await started_with(bot, world, cohort)
        surveys = bot.services.surveys
        clock.advance(timedelta(days=6, hours=23))
        assert await surveys.open_auto_waves(bot.services.directory) == 0
        clock.advance(timedelta(hours=1))
        assert await surveys.open_auto_waves(bot.services.directory) == 1
        assert await surveys.open_auto_waves(bot.services.directory) == 0
        # a restarted bot on the same database does not open it again
        again = build_bot(settings, store, clock=clock)
        assert await again.services.surveys.open_auto_waves(again.services.directory) == 0
        await bot.send_due_surveys()
        assert dm_counts(standin, cohort) == [1, 1, 1]
        assert await store.fetch_value("SELECT origin FROM waves") == "auto"

    async def test_the_scheduler_holds_the_job(self, bot: RunningBot) -> None:
        from bot.scheduler import create_scheduler

        scheduler = create_scheduler(bot.services, bot.bot.digests)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert {"surveys:automatic-nps", "surveys:reminders", "surveys:close-waves"} <= set(jobs)


def test_a_sender_killed_mid_wave_resumes_with_no_duplicates(tmp_path: Path) -> None:
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, 40)
        env = bot_environment(standin, tmp_path / "pulse.db", PULSE_QUIET_HOURS="off")
        with serve_process(env, tmp_path) as first:
            slack, transport = slack_to(first, standin)

            async def prepare() -> None:
                await roll_out(slack, world.owner, cohort)
                standin.faults.hold("chat.postMessage", after=15)
                await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")

            thread.run(prepare())
            wait_for_sync(lambda: standin.faults.held >= 1, what="surveys to be in flight")
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)
            thread.run(transport.close())
        assert sum(dm_counts(standin, cohort)) == 15
        standin.faults.release()
        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(lambda: sum(dm_counts(standin, cohort)) >= 40, timeout=30, what="the rest of the wave")
            assert second.stop() == 0
        assert dm_counts(standin, cohort) == [1] * 40
        assert "surveys were being sent when the bot stopped" in second.log
