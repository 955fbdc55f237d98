"""An alert's trend tells the true figures of the two weeks it names: the response rate of "the
seven days before" counts the surveys sent in those days, as a digest of that week does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import watch_hourly, watch_new_answers
from bot.settings import Settings
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from tests.conftest import RunningBot, make_settings
from tests.services.test_surveys import SLUG, answer, people, started_with
from tests.support import wait_for, wait_for_surveys
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_min_days_between_surveys=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def alerts(standin: SlackStandIn, user: str) -> list[str]:
    return [m.shown_text for m in standin.workspace.dms_to(user) if m.shown_text.startswith("🚨")]


async def test_a_response_rate_alert_tells_the_true_rate_of_the_seven_days_before(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    cohort = people(standin, 40)
    first, later = cohort[:10], cohort[10:]
    await started_with(bot, world, first)
    await bot.ask(world.owner, f"target {SLUG} response_rate >= 50%")
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for_surveys(standin, first)
    for user in first:
        await answer(bot, standin, user, 9)  # week 1: 10 of 10 surveys answered, 100%
    await watch_new_answers(bot.services)  # the gate passes: armed

    clock.advance(timedelta(days=8))  # Tue Dec 1
    assert "closed" in await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
    await bot.ask(world.owner, f"cohort {SLUG} alpha " + " ".join(f"<@{u}>" for u in later))
    before = {u: len(standin.workspace.dms_to(u)) for u in cohort}
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: all(len(standin.workspace.dms_to(u)) > before[u] for u in cohort))
    for user in later[:5]:
        await answer(bot, standin, user, 9)  # week 2: 5 of 40
    await watch_new_answers(bot.services)
    await watch_hourly(bot.services)
    await bot.bot.sender.drain()
    [alert] = alerts(standin, world.owner)
    trend = next(line for line in alert.splitlines() if "Trend" in line)
    # The week before: 10 answers to the 10 surveys sent in it. The last seven days: 5 of 40.
    assert "100%" in trend and ("12%" in trend or "13%" in trend), trend
