"""The attacker watches the feedback map while one-person surveys close, one after the other.

If a theme counted a comment as soon as its own survey closed, each close would move the count
by that survey's comment, and a survey asked of one person (`/pulse ask`, on joining a channel,
the API) would tie the comment to that person. Themes count a group's comments only once every
survey of the stage opened by the group's day has closed: the map changes once, at the last
close, whoever answered or commented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import close_waves
from bot.settings import Settings
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.test_attacker import comment
from tests.services.test_guards import comments_stored
from tests.services.test_surveys import SLUG, answer, people, started_with, thanked
from tests.support import survey_of, wait_for
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GROUP = 3
SAID = [
    "The receipts page is slow",
    "receipts page slow again",
    "Receipts page slow!!",
    "slow receipts page",
    "the receipts page, slow",
]


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(
        standin, tmp_path, pulse_quiet_hours="off", pulse_min_days_between_surveys=0, pulse_min_group=GROUP
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


async def test_one_person_surveys_closing_one_by_one_move_no_theme_by_one_comment(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    asked = people(standin, 6)
    await started_with(bot, world, asked)
    await bot.ask(world.owner, f'touchpoint {SLUG} submit "Submitting an expense" csat', command="/pulse")
    for user in asked:  # six surveys of one person each, an hour apart: they close an hour apart
        await bot.ask(world.owner, f"ask {SLUG} submit <@{user}>", command="/pulse")
        await wait_for(lambda user=user: survey_of(standin, user) is not None)  # type: ignore[misc]
        clock.advance(timedelta(hours=1))
    # Two groups of three answers; the five comments come with them (a comment written after
    # its answer's group was released comes with the next). The sixth person says nothing.
    for user, words in zip(asked, [*SAID, None], strict=True):
        await answer(bot, standin, user, 4)
        await wait_for(lambda user=user: thanked(standin, user))  # type: ignore[misc]
        if words:
            await comment(bot, standin, user, words)
    await wait_for(lambda: comments_stored(store) == 5)
    released = await store.fetch_value("SELECT count(*) FROM comments WHERE released_on IS NOT NULL")
    assert released == 5

    async def receipts_count() -> int:
        detail = await bot.services.rollouts.get(SLUG)
        fmap = await bot.services.maps.build(detail)
        return sum(t.count for t in fmap.cells[("submit", "alpha")].themes)

    seen = [await receipts_count()]
    clock.set(MONDAY_NOON + timedelta(days=7, minutes=1))
    for _ in asked:
        await close_waves(bot.services)
        seen.append(await receipts_count())
        clock.advance(timedelta(hours=1))
    closed = await store.fetch_value("SELECT count(*) FROM waves WHERE closed_at IS NOT NULL")
    assert closed == 6
    # Counted by a survey's own close, the map would read 0, 0, 0, 3, 4, 5, 5: the fourth and
    # fifth closes would each tie one comment about the receipts page to its one person.
    assert seen == [0, 0, 0, 0, 0, 0, 5], seen
