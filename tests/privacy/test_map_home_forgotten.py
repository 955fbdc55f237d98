"""The attacker opens another owner's Home after a person who recorded an action with a check-in
used forget-me.

Forget-me replaces the check-in's label (their words) in the database; a heatmap drawn before
names that row by its old label. No Home shows such a heatmap again: forget-me drops the Home
maps of that rollout, and the next `/pulse map` draws the new label."""

from __future__ import annotations

from pathlib import Path

import pytest

import handlers.commands.pulse as pulse_commands
from bot.settings import Settings
from handlers.blocks.heatmap import Heatmap, render_heatmap
from handlers.blocks.home import build_home
from runtime.i18n import Texts, texts
from sandbox.stand_in import SlackStandIn
from services.feedback_map import FeedbackMap
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.attacker import found_in_files
from tests.privacy.test_attacker import forgets
from tests.services.test_surveys import SLUG, people, started_with
from tests.support import wait_for
from tests.world import World

WORDS = "Receipts photographed by Ada"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


async def test_no_home_shows_a_heatmap_drawn_with_a_forgotten_persons_words(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    cohort = people(standin, 6)
    author = cohort[0]
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"owners {SLUG} add <@{author}>")
    done = await bot.ask(author, f'action {SLUG} "{WORDS}" --check-in', command="/pulse")
    assert "Recorded" in done, done

    drawn: dict[str, tuple[str, ...]] = {}
    real = render_heatmap

    def recording(t: Texts, fmap: FeedbackMap) -> Heatmap:
        heatmap = real(t, fmap)
        drawn["texts"] = heatmap.texts
        return heatmap

    monkeypatch.setattr(pulse_commands, "render_heatmap", recording)
    await bot.slack.command(world.owner, f"map {SLUG}", command="/pulse")

    async def shared() -> bool:
        return bool(await store.fetch_value("SELECT count(*) FROM map_files WHERE user_id = ?", (world.owner,)))

    await wait_for(shared, what="the owner's map file")
    assert any(WORDS[:20] in text for text in drawn["texts"])  # the check-in's label is a row of the map

    await forgets(bot, standin, author)
    assert found_in_files(settings.pulse_db, WORDS) == []  # gone from the database, as promised

    # The other owner's Home, built now, still shows the image with the forgotten words.
    view = await bot.services.home.view(world.owner)
    home = build_home(texts("en"), view)
    images = [b for b in home["blocks"] if b.get("type") == "image"]
    file_ids = {b["slack_file"]["id"] for b in images}
    shown = [text for text in drawn["texts"] if WORDS[:20] in text] if file_ids else []
    assert shown == [], f"the Home still shows the forgotten words in its map image {file_ids}: {shown}"
