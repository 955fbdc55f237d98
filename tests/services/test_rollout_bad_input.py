"""Bad /rollout input gets an answer naming what was wrong, with the usage line, and changes nothing."""

from __future__ import annotations

import pytest

from handlers.catalog import ROLLOUT
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot
from tests.services.test_rollout_flow import SLUG, set_up, snapshot
from tests.world import World, seed_world


@pytest.fixture
async def started(bot: RunningBot, standin: SlackStandIn) -> World:
    world = seed_world(standin)
    await set_up(bot, world)
    assert "has started" in await bot.ask(world.owner, f"start {SLUG}")
    return world


CASES = [
    ("status", "status nope", "There is no rollout called “nope”. Known rollouts: expense-tool."),
    ("advance", "advance nope", "There is no rollout called “nope”"),
    ("plan", f"plan {SLUG} delta 2026-12-01", "expense-tool has no stage “delta”; its stages are alpha, beta, ga."),
    ("champions", f"champions {SLUG} add U0NOBODY", "There is no person U0NOBODY in this workspace."),
    ("champions", f"champions {SLUG} add @nobody", "I could not recognise @nobody"),
    ("new", 'new Bad_Slug "Title"', "“Bad_Slug” is not a valid rollout name"),
    ("new", 'new x "Title"', "“x” is not a valid rollout name"),
    ("plan", f"plan {SLUG} beta 2026-13-45", "2026-13-45 is not a real date."),
    ("plan", f"plan {SLUG} beta next-week", "“next-week” is not a date: write it as YYYY-MM-DD"),
    ("target", f"target {SLUG} happiness >= 3", "“happiness” is not a metric."),
    ("target", f"target {SLUG} nps ~ 3", "“~” is not a comparison"),
    ("target", f"target {SLUG} nps >= lots", "“lots” is not a number."),
    ("target", f"target {SLUG} nps >= 300", "nps takes an NPS from -100 to 100; 300 is out of range."),
    ("target", f"target {SLUG} csat:onboarding >= 80", "expense-tool has no touchpoint “onboarding”"),
    ("target", f"target {SLUG} remove nps beta", "expense-tool has no nps target for beta."),
    ("new", f'new {SLUG} "Again"', "A rollout called expense-tool already exists"),
    ("stages", f"stages {SLUG} a,b", "expense-tool has started, so its stages can no longer change."),
    ("start", f"start {SLUG}", "expense-tool has already started; it is in alpha."),
    ("cohort", f"cohort {SLUG} alpha <!subteam^S0NOPE|@nope>", "There is no user group S0NOPE in this workspace."),
    ("cohort", f"cohort {SLUG} alpha <#C0NOPE|nope>", "You can only add channels you are a member of."),
    ("channel", f"channel {SLUG} <#C0NOPE|>", "You can only add channels you are a member of."),
    ("rollback", f'rollback {SLUG} "why not"', "expense-tool is in its first stage (alpha)"),
    ("owners", f"owners {SLUG} promote <@U0STRANGER>", "Say add or remove before the owners"),
    ("vision", f"vision {SLUG}", "Missing the rollout and the vision text."),
]


@pytest.mark.parametrize(("sub", "text", "expected"), CASES, ids=[c[1][:40] for c in CASES])
async def test_bad_input_is_named_with_the_usage_line_and_changes_nothing(
    bot: RunningBot, started: World, store: Store, sub: str, text: str, expected: str
) -> None:
    before = await snapshot(store)
    answer = await bot.ask(started.owner, text)
    assert expected in answer
    usage = ROLLOUT.usage(sub).replace("<", "&lt;").replace(">", "&gt;")
    assert f"Usage: `{usage}`" in answer
    assert await snapshot(store) == before


async def test_a_channel_the_bot_is_not_in_is_refused_with_the_fix(
    bot: RunningBot, started: World, standin: SlackStandIn, store: Store
) -> None:
    lonely = standin.workspace.add_channel("lonely", [started.owner])
    before = await snapshot(store)
    answer = await bot.ask(started.owner, f"channel {SLUG} <#{lonely.id}|lonely>")
    assert "I am not in #lonely yet" in answer and "/invite @Rollout Pulse" in answer
    assert await snapshot(store) == before
