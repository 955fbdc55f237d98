"""The attacker compares the weekly digest's heatmap with its text.

The scheduled digest takes whole days only (a Monday 09:00 digest holds Monday to Sunday, and
that Monday's groups come in the next one). Its heatmap is drawn of the same days: counted
through today, it would tell the channel that a group was completed in the first hours of the
posting day, and, beside the text's figure, what that group held."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.blocks.heatmap import Heatmap, render_heatmap
from outbound.digest_poster import MapParts
from runtime.clock import ManualClock
from runtime.i18n import Texts
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from services.feedback_map import FeedbackMap
from storage import Store
from storage.disclosure import Disclosures
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.services.test_digests import PERIOD_END, Seed, at, posts


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_timezone="Europe/Berlin")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(PERIOD_END + timedelta(seconds=30))  # Monday 23 Nov, 09:00:30 Berlin


async def test_the_digests_heatmap_counts_only_the_days_its_text_counts(
    bot: RunningBot, standin: SlackStandIn, store: Store
) -> None:
    s = Seed(store)
    await s.rollout(1, "expense-tool", "Expense tool", stages=(11, 12), current=11)
    wave = await s.wave(1, 11, at(15))
    await s.answers(wave, 1, 11, [10] * 5, at(16, hour=0))  # Monday 16th 01:00 Berlin: this period
    await s.answers(wave, 1, 11, [0] * 5, at(23, hour=6))  # Monday 23rd 07:00 Berlin: the next period
    await Disclosures(store).release_backlog(min_group=5)
    leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
    await bot.services.digests.digests.subscribe(
        channel_id=leads, cron="0 9 * * MON", timezone="Europe/Berlin", actor=ADMIN, now=at(20, month=10),
        source="command",
    )  # fmt: skip

    drawn: list[tuple[str, ...]] = []

    def draw(t: Texts, fmap: FeedbackMap) -> Heatmap:
        heatmap = render_heatmap(t, fmap)
        drawn.append(heatmap.texts)
        return heatmap

    real = bot.bot.digests.maps
    assert real is not None
    bot.bot.digests.maps = MapParts(real.maps, draw, real.message)
    [sub] = await bot.services.digests.digests.subscriptions()
    posted = await bot.bot.digests.post_due(sub.id)
    assert posted is not None and posted.status == "posted"
    text = "\n".join(posts(standin, leads))
    assert "n=5" in text and "+100" in text  # the text: this period's one group (Monday 16th)
    [labels] = drawn
    cell = [label for label in labels if "n=" in label]
    # The heatmap posted with it must hold no more than the text's whole days.
    assert cell == ["+100\nn=5"], f"the 09:00 digest's heatmap counts that morning's group: {cell}"
