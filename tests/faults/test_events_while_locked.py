"""A Slack event arriving while another process holds the database's write lock is not lost:
the bot cannot record it, so it answers 503 with Retry-After, and Slack's retry is handled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.settings import Settings
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.faults.helpers import lock_held_by_another_process
from tests.services.test_surveys import SLUG, started_with
from tests.support import survey_of, wait_for
from tests.world import seed_world


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


async def test_a_join_during_a_lock_is_asked_for_again_and_surveyed_once(
    bot: RunningBot, standin: SlackStandIn, store: Store, settings: Settings
) -> None:
    world = seed_world(standin)
    await started_with(bot, world, [world.direct])
    await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding session" csat', command="/pulse")
    onboarding = standin.workspace.add_channel("onboarding", [world.owner, BOT_USER_ID])
    await bot.ask(world.owner, f"trigger {SLUG} onboarding on-join <#{onboarding.id}|onboarding>", command="/pulse")
    newcomer = world.early[0]
    standin.workspace.join(newcomer, onboarding.id)
    event = bot.slack.event_body({"type": "member_joined_channel", "user": newcomer, "channel": onboarding.id})

    with lock_held_by_another_process(settings.pulse_db, 3.0):
        first = await bot.slack.event(event)
    assert first.status == 503  # not recorded: Slack is to send it again
    assert await store.fetch_value("SELECT count(*) FROM seen_events") == 0

    for retry in (1, 2):  # Slack's retries; the second is a plain repeat
        assert (await bot.slack.event(event, retry_num=retry)).status == 200
    await wait_for(lambda: survey_of(standin, newcomer) is not None, what="the onboarding survey")
    await bot.bot.background.settle(5)
    await asyncio.wait_for(bot.bot.surveys_sender.drain(), 10)
    assert len(standin.workspace.dms_to(newcomer)) == 1
