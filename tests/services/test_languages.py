"""Each person reads in their own language, end to end through signed requests and the stand-in:
a survey in the language it was sent in (its reminder and its closing too), what answers a
click in the language the person reads in now, and a choice made with `/pulse language`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.support import survey_of, wait_for, wait_for_surveys
from tests.world import World

SLUG = "expense-tool"
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SWEDISH_NPS = "Hur troligt är det att du skulle rekommendera Expense tool till en kollega?"
ENGLISH_NPS = "How likely are you to recommend Expense tool to a colleague?"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def swedes_and_others(standin: SlackStandIn) -> tuple[list[str], list[str]]:
    ws = standin.workspace
    swedes = [ws.add_user(f"U0SV{i}", f"svensk{i}", tz="Europe/Stockholm", locale="sv-SE").id for i in range(3)]
    others = [ws.add_user(f"U0EN{i}", f"english{i}", tz="Europe/London", locale="en-GB").id for i in range(2)]
    return swedes, others


async def start_and_send(bot: RunningBot, world: World, cohort: list[str]) -> None:
    mentions = " ".join(f"<@{u}>" for u in cohort)
    for text in [f'new {SLUG} "Expense tool"', f"cohort {SLUG} alpha {mentions}", f"start {SLUG}"]:
        await bot.slack.ask(world.owner, text)
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")


async def test_a_swedish_person_is_asked_thanked_reminded_and_told_of_the_closing_in_swedish(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock, store: Store
) -> None:
    swedes, others = swedes_and_others(standin)
    cohort = [*swedes, *others]
    await start_and_send(bot, world, cohort)
    await wait_for_surveys(standin, cohort)
    swedish = survey_of(standin, swedes[0])
    english = survey_of(standin, others[0])
    assert swedish is not None and english is not None
    assert SWEDISH_NPS in swedish.shown_text and "0 = inte alls troligt" in swedish.shown_text
    assert "Öppen till och med 30 nov." in swedish.shown_text  # the wave's seven days, as Swedes write the date
    assert ENGLISH_NPS in english.shown_text and "Open until Nov 30." in english.shown_text
    stored = sorted(tuple(r) for r in await store.fetch_all("SELECT user_id, language FROM deliveries"))
    assert stored == sorted([*((u, "sv") for u in swedes), *((u, "en") for u in others)])

    # The answer is thanked in Swedish, and the comment form opens in Swedish.
    await bot.slack.click(swedes[0], f"{Action.SURVEY_ANSWER.value}_9", message=swedish)
    await wait_for(lambda: "Tack – du svarade *9*" in standin.workspace.dms_to(swedes[0])[-1].shown_text)
    thanks = standin.workspace.dms_to(swedes[0])[-1]
    await bot.slack.click(swedes[0], Action.SURVEY_COMMENT.value, message=thanks)
    modal = standin.workspace.top_modal(swedes[0])
    assert modal is not None
    assert modal.payload["title"]["text"] == "Lägg till en kommentar" and modal.payload["submit"]["text"] == "Spara"
    await bot.slack.submit(swedes[0], {"comment": "Bra, men exporten saknas"})
    await wait_for(lambda: "Kommentaren är sparad" in standin.workspace.dms_to(swedes[0])[-1].shown_text)

    # Two days on, those who have not answered get the one reminder, in their survey's language.
    clock.advance(timedelta(hours=49))
    assert await bot.services.surveys.queue_reminders() == len(cohort) - 1
    await bot.bot.sender.drain()
    reminder = standin.workspace.dms_to(swedes[1])[-1]
    assert "En vänlig påminnelse" in reminder.shown_text and SWEDISH_NPS in reminder.shown_text
    assert "A gentle reminder" in standin.workspace.dms_to(others[0])[-1].shown_text

    # The wave closes: every survey message says so in its own language.
    clock.advance(timedelta(days=6))
    assert await bot.services.surveys.close_due_waves() == 1
    await bot.bot.sender.drain()
    # (One answer of five asked: who answered is kept nowhere, so everyone reads the same.)
    assert "Enkäten har stängt. Tack om du svarade!" in standin.workspace.dms_to(swedes[0])[0].shown_text
    assert "Enkäten har stängt. Tack om du svarade!" in standin.workspace.dms_to(swedes[1])[0].shown_text
    assert "This survey has closed. Thank you if you answered!" in standin.workspace.dms_to(others[0])[0].shown_text


async def test_after_choosing_english_the_next_survey_is_english_and_the_old_one_stays_swedish(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    swedes, _ = swedes_and_others(standin)
    await start_and_send(bot, world, swedes)
    await wait_for_surveys(standin, swedes)
    chosen = await bot.ask(swedes[0], "language en", command="/pulse")
    assert "English" in chosen
    # A survey already out stays in the language it went out in; the thank-you follows the choice.
    first = survey_of(standin, swedes[0])
    assert first is not None and SWEDISH_NPS in first.shown_text
    await bot.slack.click(swedes[0], f"{Action.SURVEY_ANSWER.value}_8", message=first)

    # (The answer to /pulse language is in the DM too, for the person only: not a survey.)
    def surveys(user: str) -> list[Message]:
        return [m for m in standin.workspace.dms_to(user) if m.ephemeral_to is None]

    await wait_for(lambda: "Thanks — you answered *8*" in surveys(swedes[0])[-1].shown_text)

    clock.advance(timedelta(days=15))  # past the fortnight between two NPS surveys
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: len(surveys(swedes[0])) == 2, what="the second survey")
    assert ENGLISH_NPS in surveys(swedes[0])[-1].shown_text
    assert SWEDISH_NPS in standin.workspace.dms_to(swedes[1])[-1].shown_text  # no choice made: Slack's

    # `auto` goes back to the language set in Slack.
    back = await bot.ask(swedes[0], "language auto", command="/pulse")
    assert "Slack" in back


async def test_a_language_the_bot_does_not_speak_is_refused_and_changes_nothing(
    bot: RunningBot, standin: SlackStandIn, store: Store
) -> None:
    swedes, _ = swedes_and_others(standin)
    refused = await bot.ask(swedes[0], "language fr", command="/pulse")
    assert "not a language the bot speaks" in refused or "inget språk som boten kan" in refused
    assert await store.fetch_value("SELECT count(*) FROM person_languages") == 0


OWN_TEXTS = f"""
rollouts:
  - slug: {SLUG}
    title: {{en: Expense tool, sv: Utläggsverktyget}}
    vision: {{en: "Expenses in two minutes.", sv: "Utlägg på två minuter."}}
    owners: [U0OWNER]
    champions: [U0SV0, U0EN0]
    touchpoints:
      - key: submit
        label: {{en: "submitting an expense", sv: "att lämna in ett utlägg"}}
        scale: csat
"""


async def test_owners_texts_are_read_in_each_persons_language_where_the_config_file_gives_one(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings, clock: ManualClock
) -> None:
    from services.config_apply import ConfigService
    from services.config_file import load_config

    swedes, others = swedes_and_others(standin)
    config = ConfigService(store, settings, clock)
    await config.apply(await config.plan(*load_config(OWN_TEXTS)))
    mentions = " ".join(f"<@{u}>" for u in [*swedes, *others])
    await bot.slack.ask(world.owner, f"cohort {SLUG} alpha {mentions}")
    await bot.slack.ask(world.owner, f"start {SLUG}")

    # The champions' announcements, each in its reader's language with the title in it.
    await wait_for(lambda: bool(standin.workspace.dms_to(swedes[0]) and standin.workspace.dms_to(others[0])))
    assert "🚀 Utläggsverktyget har startat: alpha" in standin.workspace.dms_to(swedes[0])[0].shown_text
    assert "🚀 Expense tool has started: alpha" in standin.workspace.dms_to(others[0])[0].shown_text

    # The surveys: the title and the touchpoint's label as the file gives them in each language.
    asked = " ".join(f"<@{u}>" for u in [*swedes[1:], *others[1:]])
    report = await bot.ask(world.owner, f"ask {SLUG} submit {asked}", command="/pulse")
    assert "*Expense tool*" in report  # the owner reads English
    await wait_for_surveys(standin, [*swedes[1:], *others[1:]])
    swedish, english = survey_of(standin, swedes[1]), survey_of(standin, others[1])
    assert swedish is not None and english is not None
    assert "Hur nöjd var du med att lämna in ett utlägg?" in swedish.shown_text
    assert "Utläggsverktyget" in swedish.shown_text and "Expense tool" not in swedish.shown_text
    assert "How satisfied were you with submitting an expense?" in english.shown_text

    # The status card: the title and the vision in the reader's language.
    card = await bot.ask(swedes[0], f"status {SLUG}")
    assert "Utläggsverktyget" in card and "Utlägg på två minuter." in card and "Expense tool" not in card
    card = await bot.ask(others[0], f"status {SLUG}")
    assert "Expense tool" in card and "Expenses in two minutes." in card and "Utlägg" not in card

    # A vision typed in Slack is in one language: it replaces every variant.
    await bot.ask(world.owner, f'vision {SLUG} "Claims paid within a week."')
    assert "Claims paid within a week." in await bot.ask(swedes[0], f"status {SLUG}")
    assert await store.fetch_value("SELECT vision_variants FROM rollouts") is None
