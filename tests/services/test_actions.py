""" "You said, we did" end to end through signed requests and the stand-in, on a controllable clock:
everyone a survey of the stage reached hears of an action once, several actions of a week are
grouped into one note, a week passes between two notes, and the digest lists the period's actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.privacy.attacker import found_in_files
from tests.services.test_surveys import SLUG, people, surveyed
from tests.support import wait_for
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOTE = "You said, we did"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path)  # working hours 09–17 on weekdays: noon in Berlin is in them


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def notes(standin: SlackStandIn, user: str) -> list[str]:
    return [m.shown_text for m in standin.workspace.dms_to(user) if NOTE in m.shown_text]


async def test_two_actions_of_an_evening_reach_each_person_asked_once_in_one_note(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    cohort = people(standin, 6)
    await surveyed(bot, standin, world, cohort)
    clock.set(datetime(2026, 11, 23, 19, 0, tzinfo=UTC))  # 20:00 in Berlin: notes wait for the morning
    first = await bot.ask(world.owner, f'action {SLUG} "Receipts can be photographed now"', command="/pulse")
    assert "Recorded. 6 people asked in this stage will hear of it" in first
    second = await bot.ask(world.owner, f'action {SLUG} "The VAT line is back in the export"', command="/pulse")
    assert "for 6 it joins a note still waiting" in second
    await bot.bot.sender.drain()
    assert all(notes(standin, u) == [] for u in cohort)
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))  # 09:00 in Berlin
    await bot.bot.sender.drain()
    for user in cohort:
        [note] = notes(standin, user)
        assert "Receipts can be photographed now" in note and "The VAT line is back in the export" in note
        assert "these changed" in note and "About *Expense tool*" in note
    # Nobody outside those asked hears of it, the owner included.
    assert notes(standin, world.owner) == [] and notes(standin, world.stranger) == []
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert "recorded what changed: “Receipts can be photographed now”" in history


async def test_a_second_note_waits_for_the_week_and_the_digest_lists_the_actions(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    cohort = people(standin, 5)
    await surveyed(bot, standin, world, cohort)
    await bot.ask(world.owner, f'action {SLUG} "Receipts can be photographed now"', command="/pulse")
    await bot.bot.sender.drain()
    assert all(len(notes(standin, u)) == 1 for u in cohort)

    clock.advance(timedelta(days=2))
    later = await bot.ask(world.owner, f'action {SLUG} "Mileage is filled in from the calendar"', command="/pulse")
    assert "5 were told of another change this week" in later
    await bot.bot.sender.drain()
    assert all(len(notes(standin, u)) == 1 for u in cohort)  # not yet: a week between two notes

    # The digest of the period lists what changed.
    clock.advance(timedelta(minutes=1))
    standin.workspace.add_user(ADMIN, "admin")
    digest = await bot.ask(ADMIN, "digest", command="/pulse")
    assert "You said, we did" in digest and "Mileage is filled in from the calendar" in digest

    clock.advance(timedelta(days=5, hours=1))
    await bot.bot.sender.drain()
    for user in cohort:
        assert len(notes(standin, user)) == 2 and "Mileage is filled in" in notes(standin, user)[1]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (f"action {SLUG}", "Missing the rollout and what changed"),
        (f'action {SLUG} ""', "Say what changed in 1 to 500 characters"),
        (f'action {SLUG} "{"x" * 501}"', "Say what changed in 1 to 500 characters"),
        (f'action {SLUG} "Faster" nothing', "has no touchpoint “nothing”"),
        (f"action {SLUG} Faster receipts now", "Put what changed in quotes"),
    ],
)
async def test_bad_input_is_named_and_nothing_is_recorded(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, typed: str, expected: str
) -> None:
    await surveyed(bot, standin, world, people(standin, 5))
    assert expected in await bot.ask(world.owner, typed, command="/pulse")
    assert "Only the owners" in await bot.ask(world.stranger, f'action {SLUG} "Faster"', command="/pulse")
    assert await store.fetch_value("SELECT count(*) FROM actions") == 0
    assert await store.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'action_note'") == 0


async def test_a_check_in_asks_the_same_people_after_14_days_and_its_result_shows_beside_the_action(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    cohort = people(standin, 6)
    await surveyed(bot, standin, world, cohort)
    recorded = await bot.ask(
        world.owner, f'action {SLUG} "Receipts can be photographed now" --check-in', command="/pulse"
    )
    assert "In 14 days they are asked whether the change helped" in recorded
    await bot.bot.sender.drain()

    assert await open_check_ins_now(bot) == 0  # not before the 14 days
    clock.advance(timedelta(days=14, hours=1))
    assert await open_check_ins_now(bot) == 1
    assert await open_check_ins_now(bot) == 0  # once only
    await bot.send_due_surveys()
    question = "Did the change “Receipts can be photographed now” work for you?"
    for user in cohort:
        survey = [m for m in standin.workspace.dms_to(user) if question in m.shown_text]
        assert len(survey) == 1, [m.shown_text for m in standin.workspace.dms_to(user)]
        await bot.slack.click(user, f"{Action.SURVEY_ANSWER.value}_0", message=survey[0])  # 👍

    standin.workspace.add_user(ADMIN, "admin")
    await wait_for(
        lambda: store.fetch_value(
            "SELECT count(*) FROM responses WHERE released_on IS NOT NULL AND kind = 'touchpoint'"
        )
    )
    clock.advance(timedelta(minutes=1))
    digest = await bot.ask(ADMIN, "digest", command="/pulse")
    # A group of five is released (the sixth answer waits for the next group).
    assert "Receipts can be photographed now — did it help? 100%" in digest and "(n=5)" in digest


async def open_check_ins_now(bot: RunningBot) -> int:
    return await bot.services.actions.open_check_ins(bot.services.directory)


async def test_a_forgotten_owner_leaves_the_words_of_their_actions_nowhere(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings
) -> None:
    cohort = people(standin, 5)
    await surveyed(bot, standin, world, cohort)
    words = "Only this owner would write this about the receipts page"
    await bot.ask(world.owner, f"owners {SLUG} add <@{world.champions[0]}>")  # they may leave: not the only owner
    await bot.ask(world.owner, f'action {SLUG} "{words}" --check-in', command="/pulse")
    await bot.bot.sender.drain()
    assert found_in_files(settings.pulse_db, words)
    await bot.ask(world.owner, "forget-me", command="/pulse")
    dm = standin.workspace.im_with(world.owner).id
    prompt = standin.workspace.history(dm, viewer=world.owner)[-1]
    await bot.slack.click(world.owner, Action.FORGET_ME.value, message=prompt)
    await wait_for(lambda: "Nothing stored names you" in standin.workspace.history(dm, viewer=world.owner)[-1].text)
    assert found_in_files(settings.pulse_db, words) == [] and found_in_files(settings.pulse_db, world.owner) == []
    # The check-in still goes on, about "the change".
    assert await store.fetch_value("SELECT label FROM touchpoints WHERE key LIKE 'check-in-%'") == "the change"
