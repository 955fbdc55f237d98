"""The attacker confirms forget-me while `/pulse map` is still drawing and sharing their heatmap.

The map's file is recorded for the owner's Home only after the upload; were ownership checked
against what was read when the command came in, the row would land after forget-me, with the
forgotten person's ID in it. The row is written only while they are an owner, in one statement."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import handlers.commands.pulse as pulse_commands
from bot.settings import Settings
from handlers.blocks.heatmap import Heatmap, render_heatmap
from runtime.i18n import Texts
from sandbox.stand_in import SlackStandIn
from services.feedback_map import FeedbackMap
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.attacker import found_in_files
from tests.privacy.test_attacker import forgets
from tests.services.test_surveys import SLUG, people, started_with
from tests.support import wait_for
from tests.world import World


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


async def test_forget_me_while_a_map_is_drawn_leaves_no_row_naming_them(
    bot: RunningBot,
    standin: SlackStandIn,
    world: World,
    store: Store,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cohort = people(standin, 6)
    leaving = cohort[0]
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"owners {SLUG} add <@{leaving}>")

    drawing, go_on = threading.Event(), threading.Event()
    real = render_heatmap

    def slow_render(t: Texts, fmap: FeedbackMap) -> Heatmap:
        drawing.set()
        assert go_on.wait(20)
        return real(t, fmap)

    monkeypatch.setattr(pulse_commands, "render_heatmap", slow_render)
    await bot.slack.command(leaving, f"map {SLUG}", command="/pulse")
    await wait_for(drawing.is_set, what="the heatmap being drawn")

    # Meanwhile they confirm forget-me (a matplotlib draw plus an upload is enough time).
    await forgets(bot, standin, leaving)
    dm = standin.workspace.im_with(leaving)
    assert await store.fetch_value("SELECT count(*) FROM owners WHERE user_id = ?", (leaving,)) == 0
    assert await store.fetch_value("SELECT count(*) FROM map_files WHERE user_id = ?", (leaving,)) == 0

    go_on.set()

    async def map_uploaded() -> bool:
        return any(f.name.startswith("feedback-map-") for f in standin.workspace.files.values())

    await wait_for(map_uploaded, what="the map uploaded")

    def answered() -> bool:  # the map's answer comes after the file is recorded (or not)
        shown = [m.shown_text for m in standin.workspace.history(dm.id, viewer=leaving)]
        return sum(text.startswith("Feedback map") for text in shown) >= 2

    await wait_for(answered, what="the map's answer")
    rows = [tuple(r) for r in await store.fetch_all("SELECT rollout_id, user_id FROM map_files")]
    assert rows == [], f"forget-me was followed by a map_files row naming the forgotten person: {rows}"
    assert found_in_files(settings.pulse_db, leaving) == []
