"""The feedback map of a seeded history, through signed requests: a cell's figure, favourable
share and themes from released groups only (themes once their group has settled); a cell below the minimum shows
nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.blocks.heatmap import render_heatmap
from runtime.i18n import texts
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.test_attacker import comment
from tests.services.test_apply import EXAMPLE, pulse
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
]


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


async def test_the_map_shows_released_figures_and_themes_of_settled_groups_only(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 10)
    await bot.ask(world.owner, f'new {SLUG} "Expense tool"')
    await bot.ask(world.owner, f'touchpoint {SLUG} submit "Submitting an expense" ces', command="/pulse")
    await surveyed(bot, standin, world, cohort)
    # A comment written after its answer's group was released waits for the next group: the
    # fifth comment goes out with the second group, at the tenth answer.
    for user, words in zip(cohort, [*SAID, "The mileage form is fine", None, None, None, None], strict=True):
        await answer(bot, standin, user, 10)
        await wait_for(lambda user=user: thanked(standin, user))  # type: ignore[misc]
        if words:
            await comment(bot, standin, user, words)
    await wait_for(lambda: comments_stored(store) == 6)
    services = bot.services

    async def the_map() -> object:
        detail = await services.rollouts.get(SLUG)
        return await services.maps.build(detail)

    # While the wave is open its comments make no theme (forget-me could still take one away).
    open_map = await the_map()
    nps = open_map.cells[("nps", "alpha")]  # type: ignore[attr-defined]
    assert (nps.value, nps.n, nps.favourable, nps.themes) == (100.0, 10, 1.0, [])
    assert "closed" in await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
    closed = await the_map()
    nps = closed.cells[("nps", "alpha")]  # type: ignore[attr-defined]
    [theme] = nps.themes
    assert theme.phrase in ("receipts page", "page slow")
    assert theme.count == 5 and theme.quote in SAID
    # Below the minimum a cell says so and shows nothing else.
    for key in (("submit", "alpha"), ("nps", "beta"), ("submit", "ga")):
        cell = closed.cells[key]  # type: ignore[attr-defined]
        assert (cell.shown, cell.n, cell.value, cell.favourable, cell.change, cell.themes) == (
            False, 0, None, None, None, []
        )  # fmt: skip
    assert [r[0] for r in closed.rows] == ["nps", "submit"]  # type: ignore[attr-defined]
    # As a heatmap: the figure and n in the cell, the rest grey and saying so.
    drawn = render_heatmap(texts("en"), closed)  # type: ignore[arg-type]
    assert drawn.png.startswith(b"\x89PNG") and (drawn.cells, drawn.withheld) == (1, 5)
    assert "+100\nn=10" in drawn.texts and drawn.texts.count("too few") == 5
    assert "share of favourable answers" in drawn.texts
    # In Slack: the owner reads it; someone who is neither owner, champion nor admin is refused.
    await bot.slack.command(world.owner, f"map {SLUG}", command="/pulse")
    dm = standin.workspace.im_with(world.owner).id

    def answered() -> str:
        return next((m.shown_text for m in standin.workspace.history(dm, viewer=world.owner)
                     if m.shown_text.startswith("Feedback map")), "")  # fmt: skip

    await wait_for(lambda: bool(answered()), what="the map")
    shown = answered()
    # … with the heatmap shared in the DM (Slack shares an upload a moment after it completes).
    await wait_for(
        lambda: any(standin.workspace.files[f].name == f"feedback-map-{SLUG}.png"
                    for m in standin.workspace.dms_to(world.owner) for f in m.files),
        what="the heatmap in the DM",
    )  # fmt: skip
    assert f"*alpha* +100 (n=10)\n    Themes: _{theme.phrase}_ (5) “{theme.quote}”" in shown
    assert "*beta* not enough answers yet" in shown and "*Submitting an expense* (ces)" in shown
    assert "is for its owners, champions and admins" in await bot.ask(world.stranger, f"map {SLUG}", command="/pulse")
    # The owner's Home shows that heatmap, dated, with the command that shares a newer one.
    [shared] = [f for m in standin.workspace.dms_to(world.owner) for f in m.files]
    await bot.slack.open_home(world.owner)
    await wait_for(lambda: standin.workspace.home_of(world.owner) is not None, what="the owner's Home")
    home = standin.workspace.home_of(world.owner)
    assert home is not None
    [image] = [b for b in home.payload["blocks"] if b["type"] == "image"]
    assert image["slack_file"] == {"id": shared}
    assert image["title"]["text"].startswith("Feedback map: Expense tool, as of ")
    assert f"`/pulse map {SLUG}` shares its feedback map in your DM." in str(home.payload["blocks"])
    assert standin.rejected == []


@pytest.mark.slack_rejects  # the Home with the deleted file's image is refused, as Slack does
async def test_a_home_whose_heatmap_was_deleted_in_slack_still_shows_without_it(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 5)
    await surveyed(bot, standin, world, cohort)
    for user in cohort:
        await answer(bot, standin, user, 10)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))
    await bot.slack.command(world.owner, f"map {SLUG}", command="/pulse")
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM map_files"), what="the map's file kept")
    await wait_for(lambda: any(m.files for m in standin.workspace.dms_to(world.owner)), what="the heatmap shared")
    [shared] = [f for m in standin.workspace.dms_to(world.owner) for f in m.files]
    del standin.workspace.files[shared]  # the owner deleted it in Slack
    await bot.slack.open_home(world.owner)

    def published() -> bool:
        home = standin.workspace.home_of(world.owner)
        return home is not None and "shares its feedback map" in str(home.payload["blocks"])

    await wait_for(published, what="the owner's Home")
    home = standin.workspace.home_of(world.owner)
    assert home is not None and not [b for b in home.payload["blocks"] if b["type"] == "image"]
    assert [c.error for c in standin.rejected] == ["invalid_arguments"]


def test_pulse_map_writes_the_heatmap_for_the_operator(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(db, "apply", str(EXAMPLE)).returncode == 0
    png = tmp_path / "map.png"
    drawn = pulse(db, "map", "expense-tool", "-o", str(png))
    assert drawn.returncode == 0, drawn.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    # Nothing answered yet: 5 rows (NPS and 4 touchpoints) at 3 stages, all too few.
    assert "0 cells shown, 15 with too few answers to show" in drawn.stderr
    unknown = pulse(db, "map", "nothing", "-o", str(png))
    assert unknown.returncode == 2 and "There is no rollout called “nothing”" in unknown.stderr
