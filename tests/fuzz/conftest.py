"""The workspace every fuzz test starts from: one started rollout with a cohort, champions, an
announcement channel, a target, a touchpoint and its on-join trigger; and one planned rollout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.settings import Settings
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.world import World, seed_world

SLUG = "expense-tool"
PLANNED = "planned-tool"
TOUCHPOINT = "onboarding"
API_TOKEN = "fuzz-api-token-0123456789abcdef"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    # Quiet hours off: surveys go out at once, whatever the hour the suite runs at.
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_api_token=API_TOKEN)


@dataclass
class Seeded:
    world: World
    trigger_channel: str  # joining it triggers the onboarding survey
    lonely_channel: str  # the bot is not a member

    @property
    def admin(self) -> str:
        return ADMIN

    def ids(self) -> dict[str, str]:
        """The names fuzzed text may use, and the IDs they stand for."""
        w = self.world
        return {
            "{admin}": ADMIN,
            "{owner}": w.owner,
            "{stranger}": w.stranger,
            "{champion}": w.champions[0],
            "{direct}": w.direct,
            "{pilot}": w.pilots[0],
            "{gone}": w.gone,
            "{bot}": BOT_USER_ID,
            "{pilots}": w.pilots_group,
            "{early}": w.early_channel,
            "{launch}": w.launch,
            "{trigger}": self.trigger_channel,
            "{lonely}": self.lonely_channel,
        }

    def fill(self, text: str) -> str:
        """`text` with each {name} replaced by the ID it stands for."""
        for name, value in self.ids().items():
            text = text.replace(name, value)
        return text


async def set_up(bot: RunningBot, standin: SlackStandIn) -> Seeded:
    world = seed_world(standin)
    trigger = standin.workspace.add_channel("onboarding", [world.owner, BOT_USER_ID]).id
    lonely = standin.workspace.add_channel("lonely", [world.owner]).id
    owner = world.owner
    champions = " ".join(f"<@{c}>" for c in world.champions)
    steps = [
        ("/rollout", f'new {SLUG} "Expense tool"', "Created"),
        ("/rollout", f"cohort {SLUG} alpha <@{world.direct}|dora> <!subteam^{world.pilots_group}|@pilots>", "now has"),
        ("/rollout", f"cohort {SLUG} beta <#{world.early_channel}|early-adopters>", "now has"),
        ("/rollout", f"champions {SLUG} add {champions}", "Added"),
        ("/rollout", f"channel {SLUG} <#{world.launch}|launch>", "will be announced"),
        ("/rollout", f"target {SLUG} nps >= 30", "Added the target"),
        ("/pulse", f'touchpoint {SLUG} {TOUCHPOINT} "Onboarding session" csat', "Touchpoint"),
        ("/pulse", f"trigger {SLUG} {TOUCHPOINT} on-join <#{trigger}|onboarding>", "People who join"),
        ("/rollout", f"start {SLUG}", "has started"),
        ("/rollout", f'new {PLANNED} "Planned tool" stages pilot,ga', "Created"),
    ]
    # The owner is not in #early-adopters, and only its members (or an admin) may add it.
    by_admin = {steps[2][1]}
    for command, text, expected in steps:
        answer = await bot.ask(ADMIN if text in by_admin else owner, text, command=command)
        assert expected in answer, (text, answer)
    return Seeded(world, trigger, lonely)


@pytest.fixture
async def seeded(bot: RunningBot, standin: SlackStandIn) -> Seeded:
    return await set_up(bot, standin)
