"""Guarded stages, the soak: a stage advances by itself once every gate has held for its soak
and it is at least that old; a failing gate starts the soak over. Through signed requests, the
stand-in and a controllable clock; the watch is the scheduler's job, run by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import remind_late_stages, watch_soaks
from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.services.test_surveys import SLUG, people, started_with
from tests.support import wait_for
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


async def test_a_stage_advances_by_itself_once_its_gates_have_held_for_the_soak(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    await started_with(bot, world, people(standin, 5))
    said = await bot.ask(world.owner, f"soak {SLUG} alpha 3")
    assert "*alpha* of `expense-tool` advances by itself once every gate has passed for 3 days in a row" in said
    await watch_soaks(bot.services)  # no targets: every gate passes, counted from the next midnight
    clock.advance(timedelta(days=2, hours=1))  # Wednesday 13:00: the run began Tuesday 00:00
    await watch_soaks(bot.services)
    assert "⏳ Soaking: day 2 of 3" in await bot.ask(world.owner, f"status {SLUG}")
    clock.advance(timedelta(days=1))  # Thursday 13:00: not three whole days yet
    await watch_soaks(bot.services)
    assert await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE kind = 'advance'") == 0

    clock.advance(timedelta(hours=12))  # Friday 01:00
    await watch_soaks(bot.services)
    await watch_soaks(bot.services)  # once only
    await bot.bot.sender.drain()
    assert await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE kind = 'advance'") == 1
    assert len(standin.workspace.dms_to(world.champions[0])) == 2  # the start, and the advance into beta
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert "*the soak* advanced it: alpha → beta" in history and "set a soak: alpha, 3 days" in history
    assert "Soak" not in await bot.ask(world.owner, f"status {SLUG}")  # beta has none


async def test_a_failing_gate_starts_the_soak_over(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    await started_with(bot, world, people(standin, 5))
    await bot.ask(world.owner, f"soak {SLUG} alpha 3")
    await watch_soaks(bot.services)
    clock.advance(timedelta(days=1))
    await bot.ask(world.owner, f"target {SLUG} nps >= 90 alpha")  # no answers yet: not met
    await watch_soaks(bot.services)
    assert "⏳ Soak of 3 days: it starts once every gate passes." in await bot.ask(world.owner, f"status {SLUG}")

    clock.advance(timedelta(days=1))
    assert "Removed" in await bot.ask(world.owner, f"target {SLUG} remove nps alpha")
    await watch_soaks(bot.services)  # passing again from day 2
    clock.advance(timedelta(days=2, hours=12))  # Saturday 00:00: the new run began Thursday 00:00
    await watch_soaks(bot.services)
    assert await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE kind = 'advance'") == 0
    clock.advance(timedelta(days=1, hours=1))  # Sunday 01:00
    await watch_soaks(bot.services)
    assert await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE kind = 'advance'") == 1


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (f"soak {SLUG} alpha x", "from 0 (off) to 365"),
        (f"soak {SLUG} alpha 400", "from 0 (off) to 365"),
        (f"soak {SLUG} alpha -1", "from 0 (off) to 365"),
        (f"soak {SLUG} gamma 3", "gamma"),
        (f"soak {SLUG} alpha", "Missing the rollout, the stage and a number of days"),
    ],
)
async def test_bad_soak_input_is_named_and_changes_nothing(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, typed: str, expected: str
) -> None:
    await started_with(bot, world, people(standin, 5))
    assert expected in await bot.ask(world.owner, typed)
    assert "Only the owners" in await bot.ask(world.stranger, f"soak {SLUG} alpha 3")
    assert await store.fetch_value("SELECT max(soak_days) FROM stages") == 0


async def test_a_stage_past_the_next_ones_planned_start_reminds_its_owners_once(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    await started_with(bot, world, people(standin, 5))
    assert "planned to start on 2026-11-25" in await bot.ask(world.owner, f"plan {SLUG} beta 2026-11-25")
    await remind_late_stages(bot.services)
    await bot.bot.sender.drain()

    def reminders() -> list[Message]:
        return [m for m in standin.workspace.dms_to(world.owner) if "⏰" in m.shown_text]

    assert reminders() == []  # on time so far
    clock.advance(timedelta(days=3))  # Nov 26: beta was planned to start yesterday
    for _ in range(3):
        await remind_late_stages(bot.services)
        await bot.bot.sender.drain()
    [reminder] = reminders()
    assert "*Expense tool* is still in *alpha*, and *beta* was planned to start on Nov 25, 2026" in reminder.shown_text
    # The roadmap is a click away.
    await bot.slack.click(world.owner, Action.ROADMAP.value, message=reminder)
    dm = standin.workspace.im_with(world.owner).id
    await wait_for(lambda: "Roadmap" in standin.workspace.history(dm, viewer=world.owner)[-1].shown_text)
