"""No theme on the feedback map counts fewer comments than a group: such a count is a figure that
one more comment could move, and comparing two maps would point at that comment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.test_attacker import comment
from tests.services.test_guards import comments_stored
from tests.services.test_surveys import SLUG, answer, people, surveyed, thanked
from tests.support import wait_for
from tests.world import World

SAID = [
    "The receipts page is slow",
    "receipts page slow on Monday",
    "Slow receipts page again",
    "Receipts page slow!!",
    "page is slow when uploading receipts",
    "The mileage form is confusing",
    "mileage form broken",
]


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


async def test_no_theme_count_smaller_than_a_group(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 10)
    await bot.ask(world.owner, f'new {SLUG} "Expense tool"')
    await surveyed(bot, standin, world, cohort)
    for user, words in zip(cohort, [*SAID, None, None, None], strict=True):
        await answer(bot, standin, user, 10)
        await wait_for(lambda user=user: thanked(standin, user))  # type: ignore[misc]
        if words:
            await comment(bot, standin, user, words)
    await wait_for(lambda: comments_stored(store) == 7)
    assert "closed" in await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
    detail = await bot.services.rollouts.get(SLUG)
    fmap = await bot.services.maps.build(detail)
    themes = fmap.cells[("nps", "alpha")].themes
    small = [(t.phrase, t.count) for t in themes if t.count < 5]
    assert small == [], f"theme counts below PULSE_MIN_GROUP shown: {small}"
    assert [t.count for t in themes] == [5]  # the receipts theme, carried by a group of comments
