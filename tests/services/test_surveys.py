"""Pulse surveys end to end through signed requests and the stand-in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.slack_to_bot import SlackToBot
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.support import survey_of, wait_for, wait_for_surveys
from tests.world import World

SLUG = "expense-tool"
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def people(standin: SlackStandIn, n: int, prefix: str = "U0P") -> list[str]:
    return [standin.workspace.add_user(f"{prefix}{i:03d}", f"person{i}", tz="Europe/Berlin").id for i in range(n)]


async def roll_out(slack: SlackToBot, owner: str, cohort: Sequence[str], *, champions: Sequence[str] = ()) -> str:
    """What an owner types to create the Expense tool rollout for `cohort` and start it; the
    answer to `start`."""
    mentions = " ".join(f"<@{u}>" for u in cohort)
    typed = [f'new {SLUG} "Expense tool"', f"cohort {SLUG} alpha {mentions}"]
    if champions:
        typed.append(f"champions {SLUG} add " + " ".join(f"<@{c}>" for c in champions))
    for text in typed:
        await slack.ask(owner, text)
    started: str = (await slack.ask(owner, f"start {SLUG}")).shown_text
    return started


async def started_with(bot: RunningBot, world: World, cohort: list[str]) -> None:
    assert "has started" in await roll_out(bot.slack, world.owner, cohort, champions=world.champions[:1])


async def answer(bot: RunningBot, standin: SlackStandIn, user: str, index: int) -> None:
    message = survey_of(standin, user)
    assert message is not None
    reply = await bot.slack.click(user, f"{Action.SURVEY_ANSWER.value}_{index}", message=message)
    assert reply.status == 200


def thanked(standin: SlackStandIn, user: str) -> bool:
    return any("Thanks — you answered" in m.shown_text for m in standin.workspace.dms_to(user))


async def surveyed(bot: RunningBot, standin: SlackStandIn, world: World, cohort: list[str]) -> None:
    """The rollout started with `cohort`, and an NPS wave has reached them all."""
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for_surveys(standin, cohort)


async def first_one_answered(
    bot: RunningBot, standin: SlackStandIn, world: World, cohort: list[str], score: int
) -> None:
    """The rollout started with `cohort`, an NPS wave has reached them all, and the first of
    them has answered `score` and been thanked."""
    await surveyed(bot, standin, world, cohort)
    await answer(bot, standin, cohort[0], score)
    await wait_for(lambda: thanked(standin, cohort[0]))


async def test_twenty_answers_give_the_exact_nps_and_a_changed_answer_counts_once(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 20)
    await started_with(bot, world, cohort)
    report = await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    assert "Queued *20* NPS surveys" in report and "20 go out now" in report
    await wait_for_surveys(standin, cohort)
    first = survey_of(standin, cohort[0])
    assert first is not None
    assert "How likely are you to recommend Expense tool to a colleague?" in first.shown_text
    assert "stored without your name" in first.shown_text and "only in groups of 5, from at least 5" in first.shown_text

    scores = [10, 10, 10, 10, 10, 10, 10, 9, 9, 8, 8, 7, 7, 6, 5, 4, 3, 2, 1, 0]
    for user, score in zip(cohort, scores, strict=True):
        await answer(bot, standin, user, score)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort), what="every thank-you")
    # promoters 9, passives 4, detractors 7 of 20: NPS +10; Var = .45 + .35 - .01 = .79
    margin = 1.96 * 100 * math.sqrt(0.79 / 20)
    results = await bot.ask(world.owner, f"results {SLUG}", command="/pulse")
    assert f"+10 (n=20, ±{round(margin)})" in results
    assert f"{round(10 - margin)} to +{round(10 + margin)}" in results
    assert "promoters 45% · passives 20% · detractors 35%" in results
    assert "100% (20 of 20)" in results

    # Person 0's answer is counted in a released group: changing it now would move the figure by
    # that one answer (+10 to 0) and show what they had said. The change is refused.
    thanks = [m for m in standin.workspace.dms_to(cohort[0]) if "Thanks" in m.shown_text][-1]
    await bot.slack.click(cohort[0], Action.SURVEY_CHANGE.value, message=thanks)
    dm = thanks.channel
    await wait_for(
        lambda: any("can no longer change" in m.shown_text for m in standin.workspace.history(dm, viewer=cohort[0])),
        what="the refusal",
    )
    assert await bot.ask(world.owner, f"results {SLUG}", command="/pulse") == results
    assert await store.fetch_value("SELECT count(*) FROM responses WHERE score = 0") == 1
    assert await store.fetch_value("SELECT count(*) FROM responses") == 20


async def test_a_comment_shows_in_results_and_its_row_names_nobody(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 10)
    await surveyed(bot, standin, world, cohort)
    for user in cohort[:6]:
        await answer(bot, standin, user, 8)
    await wait_for(lambda: thanked(standin, cohort[2]))
    thanks = standin.workspace.dms_to(cohort[2])[-1]
    await bot.slack.click(cohort[2], Action.SURVEY_COMMENT.value, message=thanks)
    assert standin.workspace.top_modal(cohort[2]) is not None
    too_long = await bot.slack.submit(cohort[2], {"comment": "x" * 3001})
    assert too_long.json == {
        "response_action": "errors",
        "errors": {"comment": "The comment is 3001 characters long; keep it to 3000."},
    }
    saved = await bot.slack.submit(cohort[2], {"comment": "Exporting to CSV is missing <b>bold</b>"})
    assert saved.status == 200 and standin.workspace.top_modal(cohort[2]) is None
    await wait_for(lambda: "Comment saved" in standin.workspace.dms_to(cohort[2])[-1].shown_text)
    # Written after its answer's group was released, the comment waits for the next group: shown
    # now, it would single out someone who had just been at the survey.
    results = await bot.ask(world.champions[0], f"results {SLUG}", command="/pulse")
    assert "(n=5," in results and "Exporting to CSV" not in results
    for user in cohort[6:]:
        await answer(bot, standin, user, 8)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))
    results = await bot.ask(world.champions[0], f"results {SLUG}", command="/pulse")
    assert "(n=10," in results and "Exporting to CSV is missing &lt;b&gt;bold&lt;/b&gt;" in results
    rows = await store.fetch_all("SELECT * FROM comments")
    assert len(rows) == 1
    stored = " ".join(str(v) for v in tuple(rows[0]))
    assert not any(user in stored for user in cohort)
    responses = " ".join(str(v) for r in await store.fetch_all("SELECT * FROM responses") for v in tuple(r))
    assert not any(user in responses for user in cohort)


async def test_a_form_slack_will_not_open_any_more_asks_for_another_click(
    bot: RunningBot, standin: SlackStandIn, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    cohort = people(standin, 1)
    await first_one_answered(bot, standin, world, cohort, 8)
    thanks = standin.workspace.dms_to(cohort[0])[-1]
    standin.faults.error("views.open", "expired_trigger_id")  # the click reached us after Slack's 3 s
    reply = await bot.slack.click(cohort[0], Action.SURVEY_COMMENT.value, message=thanks)
    assert reply.status == 200 and standin.workspace.top_modal(cohort[0]) is None
    dm = thanks.channel
    await wait_for(
        lambda: any(m.ephemeral_to == cohort[0] for m in standin.workspace.history(dm, viewer=cohort[0])),
        what="the ephemeral answer",
    )
    [said] = [m for m in standin.workspace.history(dm, viewer=cohort[0]) if m.ephemeral_to == cohort[0]]
    assert "Slack would not open the form" in said.shown_text and "click the button again" in said.shown_text
    assert "Traceback" not in caplog.text
    await bot.slack.click(cohort[0], Action.SURVEY_COMMENT.value, message=thanks)
    assert standin.workspace.top_modal(cohort[0]) is not None  # the next click opens it


async def test_a_group_of_three_shows_not_enough_responses(
    bot: RunningBot, standin: SlackStandIn, world: World
) -> None:
    cohort = people(standin, 3)
    await surveyed(bot, standin, world, cohort)
    for user in cohort:
        await answer(bot, standin, user, 10)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))
    results = await bot.ask(world.owner, f"results {SLUG}", command="/pulse")
    assert "not enough answers yet (shown once 5 have answered)" in results and "(3 of" not in results
    assert "+100" not in results
    card = await bot.ask(world.owner, f"status {SLUG}")
    assert "not enough answers yet (shown once 5 have answered)" in card and "(3 of" not in card


async def test_a_second_send_within_fourteen_days_reaches_nobody_and_says_so(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    cohort = people(standin, 4)
    await surveyed(bot, standin, world, cohort)
    clock.advance(timedelta(days=13))
    again = await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    assert "Nobody was asked" in again and "4 asked for NPS in the last 14 days" in again
    await bot.send_due_surveys()
    assert [len(standin.workspace.dms_to(u)) for u in cohort] == [1, 1, 1, 1]
    clock.advance(timedelta(days=2))
    third = await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    assert "Queued *4*" in third


async def test_clicks_on_a_closed_wave_store_nothing_and_messages_say_it_closed(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock, store: Store
) -> None:
    cohort = people(standin, 2)
    await first_one_answered(bot, standin, world, cohort, 9)
    clock.advance(timedelta(days=7, seconds=1))
    await answer(bot, standin, cohort[1], 3)
    dm = standin.workspace.im_with(cohort[1])
    await wait_for(
        lambda: "This survey has closed" in standin.workspace.history(dm.id, viewer=cohort[1])[-1].shown_text
    )
    assert await store.fetch_value("SELECT count(*) FROM responses") == 1
    assert await bot.services.surveys.close_due_waves() == 1
    await bot.bot.sender.drain()
    # One answer of many asked: who answered is kept nowhere, so both read the same.
    for user in cohort[:2]:
        assert "This survey has closed. Thank you if you answered!" in standin.workspace.dms_to(user)[0].shown_text


async def test_one_reminder_goes_to_those_who_have_not_answered(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    cohort = people(standin, 3)
    await first_one_answered(bot, standin, world, cohort, 9)
    clock.advance(timedelta(hours=47))
    assert await bot.services.surveys.queue_reminders() == 0
    clock.advance(timedelta(hours=2))
    assert await bot.services.surveys.queue_reminders() == 2
    await bot.bot.sender.drain()
    clock.advance(timedelta(hours=30))
    assert await bot.services.surveys.queue_reminders() == 0  # never more than one
    await bot.bot.sender.drain()
    assert [len(standin.workspace.dms_to(u)) for u in cohort] == [1, 2, 2]
    reminder = standin.workspace.dms_to(cohort[1])[1]
    assert "gentle reminder" in reminder.shown_text
    # the reminder is answerable like the survey
    await bot.slack.click(cohort[1], f"{Action.SURVEY_ANSWER.value}_7", message=reminder)
    await wait_for(lambda: "you answered *7*" in standin.workspace.dms_to(cohort[1])[1].shown_text)


async def test_forged_and_stale_clicks_store_nothing(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 2)
    await surveyed(bot, standin, world, cohort)
    theirs = survey_of(standin, cohort[0])
    assert theirs is not None
    value = theirs.blocks[2]["elements"][0]["value"]  # "wave:delivery:0"
    wave, delivery, _ = value.split(":")
    forged = [
        (f"{wave}:{delivery}:11", "is not an answer to this question"),
        (f"{wave}:{delivery}:-1", "is not an answer to this question"),
        (f"999:{delivery}:5", "does not exist"),
        (f"{wave}:99999:5", "does not exist"),
        ("garbage", "not one of ours"),
    ]
    dm = standin.workspace.im_with(cohort[0])
    for forged_value, expected in forged:
        theirs.blocks[2]["elements"][0]["value"] = forged_value
        await bot.slack.click(cohort[0], f"{Action.SURVEY_ANSWER.value}_0", message=theirs)
        await wait_for(lambda: expected in standin.workspace.history(dm.id, viewer=cohort[0])[-1].shown_text)  # noqa: B023
    # someone else clicking this person's survey
    theirs.blocks[2]["elements"][0]["value"] = value
    await bot.slack.click(cohort[1], f"{Action.SURVEY_ANSWER.value}_0", message=theirs)
    other_dm = standin.workspace.im_with(cohort[0])
    await wait_for(
        lambda: "sent to someone else" in standin.workspace.history(other_dm.id, viewer=cohort[1])[-1].shown_text
    )
    assert await store.fetch_value("SELECT count(*) FROM responses") == 0
    assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE answered = 1") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("send nope nps", "There is no rollout called “nope”"),
        (f"send {SLUG} csat", "“csat” is not a survey kind"),
        (f"send {SLUG}", "Missing the rollout and the survey kind"),
        (f"trigger {SLUG} onboarding on-join <#C0NOPE|>", "You can only add channels you are a member of."),
        (f"trigger {SLUG} onboarding on-leave <#C0NOPE|>", "The only trigger is on-join"),
        (f"ask {SLUG} nothing <@U0DIRECT>", "has no touchpoint “nothing”"),
        (f'touchpoint {SLUG} onboarding "Onboarding" stars', "“stars” is not a scale"),
        (f"results {SLUG} delta", "has no stage “delta”"),
    ],
)
async def test_bad_pulse_input_is_named_and_changes_nothing(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, text: str, expected: str
) -> None:
    await started_with(bot, world, [world.direct])
    await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding session" csat', command="/pulse")
    before = [
        tuple(r) for r in await store.fetch_all("SELECT count(*) FROM waves UNION ALL SELECT count(*) FROM triggers")
    ]
    answer_text = await bot.ask(world.owner, text, command="/pulse")
    assert expected in answer_text and "Usage: `/pulse" in answer_text
    after = [
        tuple(r) for r in await store.fetch_all("SELECT count(*) FROM waves UNION ALL SELECT count(*) FROM triggers")
    ]
    assert after == before


async def test_a_paused_rollout_sends_no_surveys(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await started_with(bot, world, [world.direct])
    await bot.ask(world.owner, f'pause {SLUG} "freeze"')
    assert "paused rollouts send no surveys" in await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")


async def test_only_owners_send_and_only_owners_champions_and_admins_see_results(bot: RunningBot, world: World) -> None:
    await started_with(bot, world, [world.direct])
    assert "Only the owners of expense-tool" in await bot.ask(world.stranger, f"send {SLUG} nps", command="/pulse")
    assert "are for its owners, champions and admins" in await bot.ask(
        world.stranger, f"results {SLUG}", command="/pulse"
    )
    assert "Results · Expense tool · alpha" in await bot.ask(world.champions[0], f"results {SLUG}", command="/pulse")
