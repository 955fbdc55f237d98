"""App Home, /pulse mydata and forget-me, and the CSV export."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.blocks.home import build_home
from handlers.ids import Action
from runtime.i18n import texts
from sandbox.blockkit import check_view
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import File
from services.home import HomeRollout, HomeView
from services.surveys import SurveyView
from storage import Store
from tests.bot.test_settings import _env
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.services.test_surveys import (
    SLUG,
    answer,
    first_one_answered,
    people,
    started_with,
    surveyed,
    thanked,
)
from tests.support import wait_for
from tests.world import World


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


async def home_text(bot: RunningBot, standin: SlackStandIn, user: str, expected: str) -> str:
    await bot.slack.open_home(user)
    await wait_for(
        lambda: (h := standin.workspace.home_of(user)) is not None and expected in str(h.payload),
        what=f"{user}'s Home to show {expected!r}",
    )
    home = standin.workspace.home_of(user)
    assert home is not None
    return str(home.payload)


async def test_an_employee_answers_on_the_home_tab_and_the_answer_counts(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 5)
    await surveyed(bot, standin, world, cohort)
    employee = cohort[0]
    assert "How likely are you to recommend Expense tool" in await home_text(bot, standin, employee, "open surveys")
    home = standin.workspace.home_of(employee)
    assert home is not None
    reply = await bot.slack.click(employee, f"{Action.SURVEY_ANSWER.value}_9", view=home)
    assert reply.status == 200
    assert await store.fetch_value("SELECT score FROM responses") == 9.0  # stored before the ack
    await wait_for(lambda: thanked(standin, employee), what="the DM to say thanks")
    await wait_for(lambda: "Nothing to answer right now" in str(standin.workspace.home_of(employee).payload))  # type: ignore[union-attr]
    for user in cohort[1:]:
        await answer(bot, standin, user, 10)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))
    results = await bot.ask(world.owner, f"results {SLUG}", command="/pulse")
    assert "+100 (n=5, ±0)" in results  # the Home answer (a 9, a promoter) is one of the five


async def test_a_champions_home_lists_their_rollout_and_follows_stage_changes(
    bot: RunningBot, standin: SlackStandIn, world: World
) -> None:
    await started_with(bot, world, [world.direct])
    champion = world.champions[0]
    text = await home_text(bot, standin, champion, "Rollouts you own or champion")
    assert "*Expense tool* · alpha" in text and "_champion_" in text
    assert "All open rollouts" not in text
    await bot.ask(world.owner, f'pause {SLUG} "freeze"')
    await wait_for(lambda: "⏸ paused" in str(standin.workspace.home_of(champion).payload), what="the refreshed Home")  # type: ignore[union-attr]
    home = standin.workspace.home_of(champion)
    assert home is not None
    await bot.slack.click(champion, Action.HOME_STATUS.value, view=home)
    await wait_for(lambda: any("Expense tool" in m.shown_text and "Roadmap" in m.shown_text
                               for m in standin.workspace.dms_to(champion)), what="the status card by DM")  # fmt: skip


async def test_an_answer_in_the_dm_refreshes_the_home_only_of_someone_who_has_opened_it(
    bot: RunningBot, standin: SlackStandIn, world: World
) -> None:
    cohort = people(standin, 2)
    looker, other = cohort
    await surveyed(bot, standin, world, cohort)
    await home_text(bot, standin, looker, "open surveys")
    for user in cohort:
        await answer(bot, standin, user, 8)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort), what="both thank-yous")
    # The looker's open Home drops the answered survey; nobody publishes a Home the other never opened.
    await wait_for(lambda: "Nothing to answer right now" in str(standin.workspace.home_of(looker).payload))  # type: ignore[union-attr]
    assert standin.workspace.home_of(other) is None
    assert all(c.params.get("user_id") != other for c in standin.calls_to("views.publish"))


async def test_an_admins_home_has_an_overview(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await started_with(bot, world, [world.direct])
    assert "*Expense tool* · alpha" in await home_text(bot, standin, ADMIN, "All open rollouts")


def test_the_home_holds_at_most_100_blocks_whatever_there_is() -> None:
    from tests.handlers.blocks.test_rollouts import detail

    surveys = [
        SurveyView(wave_id=i, delivery_id=i, rollout_title="T" * 150, kind="nps", scale="nps",
                   touchpoint_label=None, closes_at=1_800_000_000, min_group=5)
        for i in range(40)
    ]  # fmt: skip
    rollouts = [HomeRollout(detail(title=f"Rollout {i}"), ("owner", "champion"), None) for i in range(80)]
    home = build_home(texts("en"), HomeView("U1", surveys, rollouts, rollouts, 5))
    assert check_view(home) == []
    assert len(home["blocks"]) <= 100


async def test_mydata_lists_what_is_stored_and_says_answers_are_not_linked(
    bot: RunningBot, standin: SlackStandIn, world: World
) -> None:
    cohort = people(standin, 2)
    standin.workspace.users[cohort[0]].locale = "fr-FR"  # not a language the bot speaks: its default
    await first_one_answered(bot, standin, world, cohort, 7)
    mine = await bot.ask(cohort[0], "mydata", command="/pulse")
    assert "1 survey for you" in mine and "Expense tool · NPS" in mine
    assert "Your language as set in Slack: fr-FR." in mine  # asked of Slack with the time zone, and kept
    assert "Rollout Pulse writes to you in English, its default" in mine and "is not one it speaks" in mine
    # While the wave is open the person sees their own answer; nobody else is shown it.
    assert "you answered *7*" in mine and "only you see this, until the survey closes" in mine
    assert "named in the alpha cohort of Expense tool" in mine
    assert "When the survey closes its secret key is destroyed" in mine
    other = await bot.ask(cohort[1], "mydata", command="/pulse")
    assert "not answered" in other and "you answered" not in other
    assert "No surveys have been sent to you" in await bot.ask(world.stranger, "mydata", command="/pulse")


async def test_the_language_is_chosen_on_the_home_tab_shown_by_mydata_and_forgotten(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    swede = standin.workspace.add_user("U0SVEN", "svensk", tz="Europe/Stockholm", locale="sv-SE").id
    await surveyed(bot, standin, world, [swede])
    # Slack's language, as the Home says, with the survey's question in it.
    text = await home_text(bot, standin, swede, "Dina öppna enkäter")
    assert "*Ditt språk:* svenska, som det är inställt i Slack." in text
    assert "Hur troligt är det att du skulle rekommendera Expense tool" in text
    mine = await bot.ask(swede, "mydata", command="/pulse")
    assert "Rollout Pulse skriver till dig på svenska, språket som är inställt för dig i Slack" in mine

    # English on the Home's picker: kept, and the Home comes again in English.
    home = standin.workspace.home_of(swede)
    assert home is not None
    reply = await bot.slack.click(swede, f"{Action.HOME_LANGUAGE.value}_en", view=home)
    assert reply.status == 200
    assert await store.fetch_value("SELECT language FROM person_languages WHERE user_id = ?", (swede,)) == "en"
    await wait_for(lambda: "*Your language:* English, as you chose." in str(standin.workspace.home_of(swede).payload),  # type: ignore[union-attr]
                   what="the Home in English")  # fmt: skip
    assert "How likely are you to recommend Expense tool" in str(standin.workspace.home_of(swede).payload)  # type: ignore[union-attr]
    mine = await bot.ask(swede, "mydata", command="/pulse")
    assert "The language you chose: English." in mine and "Your language as set in Slack: sv-SE." in mine

    # Forgetting the person forgets the choice too.
    await bot.ask(swede, "forget-me", command="/pulse")
    dm = standin.workspace.im_with(swede)
    await bot.slack.click(swede, Action.FORGET_ME.value, message=standin.workspace.history(dm.id, viewer=swede)[-1])
    await wait_for(lambda: "Done: deleted" in standin.workspace.history(dm.id, viewer=swede)[-1].shown_text)
    assert await store.fetch_value("SELECT count(*) FROM person_languages WHERE user_id = ?", (swede,)) == 0


async def test_pulse_language_answers_in_the_language_chosen(bot: RunningBot, standin: SlackStandIn) -> None:
    swede = standin.workspace.add_user("U0SVEN", "svensk", tz="Europe/Stockholm", locale="sv-SE").id
    chosen = await bot.ask(swede, "language en", command="/pulse")
    assert "Done: Rollout Pulse writes to you in English from now on." in chosen
    assert "Surveys already sent stay in the language they were sent in." in chosen
    back = await bot.ask(swede, "language auto", command="/pulse")
    assert "Klart: Rollout Pulse skriver till dig på språket som är inställt för dig i Slack, svenska." in back
    again = await bot.ask(swede, "language sv", command="/pulse")
    assert "Klart: Rollout Pulse skriver till dig på svenska från och med nu." in again
    assert "Det saknas språket: en, sv, eller auto" in await bot.ask(swede, "language", command="/pulse")
    # Someone whose Slack language the bot does not speak (or does not know yet) is told why it
    # stays in the default.
    other = standin.workspace.add_user("U0FRA", "francais", tz="Europe/Paris", locale="fr-FR").id
    auto = await bot.ask(other, "language auto", command="/pulse")
    assert "once that is one it speaks; until then in English, its default." in auto


async def test_forget_me_after_confirmation_removes_the_answer_from_results(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 6)
    await surveyed(bot, standin, world, cohort)
    for user in cohort:
        await answer(bot, standin, user, 10 if user != cohort[0] else 0)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))
    leaving = cohort[0]
    thanks = [m for m in standin.workspace.dms_to(leaving) if "Thanks" in m.shown_text][-1]
    await bot.slack.click(leaving, Action.SURVEY_COMMENT.value, message=thanks)
    await bot.slack.submit(leaving, {"comment": "please stop"})
    # The first five, the leaving person's 0 among them, are a released group; the sixth waits.
    assert "+60 (n=5," in await bot.ask(world.owner, f"results {SLUG}", command="/pulse")

    confirm = await bot.ask(leaving, "forget-me", command="/pulse")
    assert "This deletes the 1 survey sent to you" in confirm
    assert await store.fetch_value("SELECT count(*) FROM responses") == 6  # nothing yet
    dm = standin.workspace.im_with(leaving)
    prompt = standin.workspace.history(dm.id, viewer=leaving)[-1]
    await bot.slack.click(leaving, Action.FORGET_ME.value, message=prompt)
    await wait_for(lambda: "Done: deleted 1 survey sent to you, 1 answer and 1 comment" in
                   standin.workspace.history(dm.id, viewer=leaving)[-1].shown_text)  # fmt: skip
    assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE user_id = ?", (leaving,)) == 0
    assert await store.fetch_value("SELECT count(*) FROM responses") == 5
    assert await store.fetch_value("SELECT count(*) FROM comments") == 0
    # The answer and comment are gone; the group's figures stay as they were, so that the
    # difference cannot tell what the leaving person had answered.
    results = await bot.ask(world.owner, f"results {SLUG}", command="/pulse")
    assert "+60 (n=5," in results and "please stop" not in results


async def test_the_export_has_one_row_per_response_and_no_ids(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings
) -> None:
    cohort = people(standin, 7)
    await surveyed(bot, standin, world, cohort)
    for user, score in zip(cohort[:4], [10, 6, 8, 9], strict=True):
        await answer(bot, standin, user, score)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort[:4]))
    thanks = [m for m in standin.workspace.dms_to(cohort[1]) if "Thanks" in m.shown_text][-1]
    await bot.slack.click(cohort[1], Action.SURVEY_COMMENT.value, message=thanks)
    await bot.slack.submit(cohort[1], {"comment": 'Too slow, "really", on phones'})
    for user, score in zip(cohort[4:], [7, 3, 5], strict=True):  # the fifth makes a group; two wait
        await answer(bot, standin, user, score)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))

    assert "Only the owners of expense-tool" in await bot.ask(world.stranger, f"export {SLUG}", command="/pulse")
    await bot.slack.command(world.owner, f"export {SLUG}", command="/pulse")
    dm = standin.workspace.im_with(world.owner)
    await wait_for(lambda: any("Sent you `expense-tool-responses.csv` (5 answers and 1 comment)" in m.shown_text
                               and "How many wait is not said" in m.shown_text
                               for m in standin.workspace.history(dm.id, viewer=world.owner)))  # fmt: skip

    def exports() -> list[File]:
        files = [standin.workspace.files[f] for m in standin.workspace.dms_to(world.owner) for f in m.files]
        return [f for f in files if f.name == "expense-tool-responses.csv"]

    # Slack shares an upload in the DM a moment after it completes (the reply may come first).
    await wait_for(lambda: bool(exports()), what="the export to be shared in the DM")
    [exported] = exports()
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    # Only the released group, in random order, and the comment in a row of its own, without its
    # score; no wave, and no date finer than the group's week.
    assert sorted((r["score"], r["comment"]) for r in rows) == [
        ("", 'Too slow, "really", on phones'), ("10", ""), ("6", ""), ("7", ""), ("8", ""), ("9", "")
    ]  # fmt: skip
    today = bot.services.clock.now().astimezone(settings.tz).date()
    assert {r["week"] for r in rows} == {(today - timedelta(days=today.weekday())).isoformat()}
    assert set(rows[0]) == {"stage", "survey", "touchpoint", "score", "comment", "week"}
    assert all(r["stage"] == "alpha" and r["survey"] == "nps" for r in rows)
    keys = [str(r[0]) for r in await store.fetch_all("SELECT respondent_key FROM responses")]
    raw = exported.content.decode()
    assert not any(user in raw for user in cohort) and not any(key in raw for key in keys)

    target = settings.pulse_db.parent / "out.csv"
    local = subprocess.run(
        [sys.executable, "-m", "bot", "export", SLUG, "-o", str(target)],
        env=_env(PULSE_DB=str(settings.pulse_db)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert local.returncode == 0, local.stderr
    assert sorted(target.read_text().splitlines()) == sorted(raw.splitlines())
    assert "How many wait is not said" in local.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "bot", "export", "nope"], env=_env(PULSE_DB=str(settings.pulse_db)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "There is no rollout called “nope”" in missing.stderr
