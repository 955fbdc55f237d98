"""The attacker watches a theme while a commenter with an open conversation uses forget-me.

Forget-me deletes a comment it reaches through its conversation, even in a closed survey: those
are the person's words. A group whose comment has a conversation therefore waits for the map's
themes until the conversation's time is up (it can last THREAD_DAYS), so the theme never shows
the comment and never drops by it; the group joins after that, whoever clicked what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from services.threads import THREAD_DAYS
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.test_attacker import comment, forgets
from tests.privacy.test_map_timing import SAID as TIMING_SAID
from tests.services.test_surveys import SLUG, answer, people, surveyed, thanked
from tests.support import wait_for
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GROUP = 3
SAID = TIMING_SAID[:4]  # a group of three, and one more


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_min_group=GROUP)


async def themes(bot: RunningBot) -> list[tuple[str, int]]:
    detail = await bot.services.rollouts.get(SLUG)
    fmap = await bot.services.maps.build(detail)
    return [(t.phrase, t.count) for t in fmap.cells[("nps", "alpha")].themes]


async def test_forget_me_of_a_commenter_in_a_conversation_moves_no_theme(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    cohort = people(standin, 6)
    await surveyed(bot, standin, world, cohort)
    writers = dict(zip(SAID, cohort, strict=False))
    for i, user in enumerate(cohort):
        await answer(bot, standin, user, 9)
        await wait_for(lambda user=user: thanked(standin, user))  # type: ignore[misc]
        if i < len(SAID):
            await comment(bot, standin, user, SAID[i])

    async def released() -> bool:
        return bool(await store.fetch_value("SELECT count(*) FROM comments WHERE released_on IS NOT NULL") == 4)

    await wait_for(released, what="four released comments")

    # The owner acknowledges one comment from /pulse results ("looking"): a conversation opens.
    results = await bot.slack.ask(world.owner, f"results {SLUG}", command="/pulse")
    await bot.slack.click(world.owner, Action.COMMENT_REPLY.value, message=results, option="looking")
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM threads"))
    body = await store.fetch_value(
        "SELECT c.body FROM threads t JOIN comments c ON c.wave_id = t.wave_id AND c.respondent_key = t.comment_key"
    )
    writer = writers[str(body)]

    # The wave closes, but a conversation on one of the group's comments can still go on: the
    # group waits, and the theme does not show yet.
    assert "closed" in await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
    before = await themes(bot)
    assert before == [], before

    # The writer asks to be forgotten.
    await forgets(bot, standin, writer)

    after = await themes(bot)
    assert after == before, f"theme moved on forget-me: {before} -> {after}"
    # Once the conversation's time is up, the group joins, without the forgotten comment.
    clock.advance(timedelta(days=THREAD_DAYS, minutes=1))
    [(phrase, count)] = await themes(bot)
    assert "receipts" in phrase or "page" in phrase
    assert count == 3
