"""Guarded stages, the approvals and the regression watch: an advance into a stage with approvers
waits for one of them; a gate that had passed and now fails clearly alerts the owners and
champions once, stays quiet while it stays bad, and alerts again after a recovery and a new fall.
Through signed requests, the stand-in and a controllable clock; the watch is the scheduler's
jobs, run by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import watch_hourly, watch_new_answers, watch_soaks
from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from storage import Store
from storage.disclosure import Disclosures
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.privacy.test_attacker import comment
from tests.services.test_surveys import SLUG, answer, people, started_with, thanked
from tests.support import wait_for, wait_for_surveys
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ANA = "U0ANA"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_min_days_between_surveys=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def approval_dms(standin: SlackStandIn, user: str) -> list[Message]:
    return [m for m in standin.workspace.dms_to(user) if "Approve" in m.shown_text and m.blocks]


async def advances(store: Store) -> int:
    return int(await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE kind = 'advance'"))


async def test_an_advance_into_a_stage_with_approvers_waits_for_one_of_them(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    standin.workspace.add_user(ANA, "ana", "Ana Approver")
    await started_with(bot, world, people(standin, 5))
    said = await bot.ask(world.owner, f"approvers {SLUG} beta <@{ANA}>")
    assert "into *beta*, typed or by itself, now waits until one of" in said
    assert "🔐 Moving into *beta* waits for approval from" in await bot.ask(world.owner, f"status {SLUG}")

    said = await bot.ask(world.owner, f'advance {SLUG} "alpha went well"')
    assert "*Expense tool* moves into *beta* once one of its approvers approves" in said
    await bot.bot.sender.drain()
    [request] = approval_dms(standin, ANA)
    assert "asks to move *Expense tool* from *alpha* into *beta*" in request.shown_text
    assert "alpha went well" in request.shown_text and "Response rate" in request.shown_text
    assert await advances(store) == 0
    assert "⏳ Waiting for approval from" in await bot.ask(world.owner, f"status {SLUG}")
    # Asking again asks nobody again.
    assert "already waits for approval" in await bot.ask(world.owner, f"advance {SLUG}")
    await bot.bot.sender.drain()
    assert len(approval_dms(standin, ANA)) == 1

    # Someone who is not an approver (the owner included) is refused, and nothing moves.
    dm = standin.workspace.im_with(ANA).id

    def refused(who: str) -> bool:
        return "Only the approvers" in standin.workspace.history(dm, viewer=who)[-1].shown_text

    for clicker in (world.stranger, world.owner):
        await bot.slack.click(clicker, Action.APPROVE.value, message=request)
        await wait_for(lambda who=clicker: refused(who))  # type: ignore[misc]
    assert await advances(store) == 0

    await bot.slack.click(ANA, Action.APPROVE.value, message=request)
    await wait_for(lambda: "alpha → *beta*" in standin.workspace.history(dm, viewer=ANA)[-1].shown_text)
    await bot.bot.sender.drain()
    assert await advances(store) == 1
    champion_dms = [m.shown_text for m in standin.workspace.dms_to(world.champions[0])]
    assert any("alpha → beta" in m and "approved by" in m for m in champion_dms)
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert "approved the advance: alpha → beta" in history and "asked for approval: alpha → beta" in history
    # A second click finds it done.
    await bot.slack.click(ANA, Action.APPROVE.value, message=request)
    await wait_for(lambda: "already approved" in standin.workspace.history(dm, viewer=ANA)[-1].shown_text)
    assert await advances(store) == 1


async def test_a_soak_into_a_stage_with_approvers_asks_them_once(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    standin.workspace.add_user(ANA, "ana", "Ana Approver")
    await started_with(bot, world, people(standin, 5))
    await bot.ask(world.owner, f"soak {SLUG} alpha 1")
    await bot.ask(world.owner, f"approvers {SLUG} beta <@{ANA}>")
    await watch_soaks(bot.services)
    clock.advance(timedelta(days=2))
    for _ in range(3):
        await watch_soaks(bot.services)
    await bot.bot.sender.drain()
    [request] = approval_dms(standin, ANA)
    assert "has held every gate of *alpha* for its soak" in request.shown_text
    assert await advances(store) == 0
    await bot.slack.click(ANA, Action.APPROVE.value, message=request)
    await wait_for(lambda: advances_now(store) == 1)
    standin.workspace.add_user(ADMIN, "admin")
    clock.advance(timedelta(minutes=1))
    assert "by *the soak*" in await bot.ask(ADMIN, "digest", command="/pulse")


def advances_now(store: Store) -> int:
    """The advances, read on the bot's own connection (for `wait_for`)."""
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        return int(conn.execute("SELECT count(*) FROM stage_transitions WHERE kind = 'advance'").fetchone()[0])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (f"approvers {SLUG} alpha <@U0ANA>", "first stage"),
        (f"approvers {SLUG} gamma <@U0ANA>", "gamma"),
        (f"approvers {SLUG} beta <@U0NOBODY>", "There is no person"),
        (f"approvers {SLUG} beta", "Missing"),
        (f"on-regression {SLUG} explode", "notify (the default) or pause"),
    ],
)
async def test_bad_guard_input_is_named_and_changes_nothing(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, typed: str, expected: str
) -> None:
    standin.workspace.add_user(ANA, "ana", "Ana Approver")
    await started_with(bot, world, people(standin, 5))
    assert expected in await bot.ask(world.owner, typed)
    assert "Only the owners" in await bot.ask(world.stranger, f"approvers {SLUG} beta <@{ANA}>")
    assert "Only the owners" in await bot.ask(world.stranger, f"on-regression {SLUG} pause")
    assert await store.fetch_value("SELECT count(*) FROM stage_approvers") == 0
    assert await store.fetch_value("SELECT on_regression FROM rollouts") == "notify"


# -- the regression watch -------------------------------------------------------------------------------


def alerts(standin: SlackStandIn, user: str) -> list[str]:
    return [m.shown_text for m in standin.workspace.dms_to(user) if m.shown_text.startswith("🚨")]


async def wave(bot: RunningBot, standin: SlackStandIn, world: World, cohort: list[str], *, first: bool = False) -> None:
    """A new NPS wave to `cohort` (the one before closed)."""
    if not first:
        assert "closed" in await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
        clock = bot.bot.services.clock
        assert isinstance(clock, ManualClock)
        clock.advance(timedelta(hours=1))
    before = {u: len(standin.workspace.dms_to(u)) for u in cohort}
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: all(len(standin.workspace.dms_to(u)) > before[u] for u in cohort))


async def answered(bot: RunningBot, standin: SlackStandIn, who: list[str], score: int) -> None:
    """`who` answer `score`; the watch's minute job runs after each group of five."""
    for i, user in enumerate(who, start=1):
        await answer(bot, standin, user, score)
        if i % 5 == 0:
            await watch_new_answers(bot.services)


async def test_a_clear_regression_alerts_once_stays_quiet_and_alerts_again_after_a_recovery(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = people(standin, 20)
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"target {SLUG} nps >= 0")
    await wave(bot, standin, world, cohort, first=True)
    await wait_for_surveys(standin, cohort)
    owner, champion = world.owner, world.champions[0]

    await answered(bot, standin, cohort[:5], 10)  # +100: the gate passes
    await answered(bot, standin, cohort[5:20], 0)  # -50 (n=20, ±38): clearly below 0
    await bot.bot.sender.drain()
    [alert] = alerts(standin, owner)
    assert alerts(standin, champion) == [alert]
    assert "the gate `nps ≥ 0` fails clearly. It is -50 now (95% interval -88 to -12)" in alert
    assert "0 comments were released in this stage in the last seven days" in alert
    assert "🚨 Regression alert raised: `nps`" in await bot.ask(owner, f"status {SLUG}")

    # It stays bad: every look, the minute's and the hour's, says nothing more.
    for _ in range(3):
        await watch_new_answers(bot.services)
        await watch_hourly(bot.services)
    await bot.bot.sender.drain()
    assert len(alerts(standin, owner)) == 1

    # It recovers (+0, n=30), then falls clearly again (-40, n=50, ±25): a second alert.
    await wave(bot, standin, world, cohort)
    await answered(bot, standin, cohort[:10], 10)
    assert "Regression alert raised" not in await bot.ask(owner, f"status {SLUG}")
    await wave(bot, standin, world, cohort)
    await answered(bot, standin, cohort, 0)
    await bot.bot.sender.drain()
    assert len(alerts(standin, owner)) == 2
    assert len(alerts(standin, champion)) == 2
    history = await bot.ask(owner, f"history {SLUG}")
    assert history.count("raised a regression alert") == 2 and "saw a regression recover" in history
    # It was a notification: the rollout goes on.
    assert await store.fetch_value("SELECT status FROM rollouts") == "active"


async def test_a_wobble_alerts_nobody(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    cohort = people(standin, 10)
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"target {SLUG} nps >= 0")
    await wave(bot, standin, world, cohort, first=True)
    await answered(bot, standin, cohort[:5], 10)
    await answered(bot, standin, cohort[5:], 0)  # 0 (n=10, ±62): passes
    await answered(bot, standin, [], 0)
    await watch_hourly(bot.services)
    await bot.bot.sender.drain()
    assert alerts(standin, world.owner) == []


async def test_with_pause_a_clear_regression_pauses_the_rollout_once(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    cohort = people(standin, 20)
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"target {SLUG} nps >= 0")
    said = await bot.ask(world.owner, f"on-regression {SLUG} pause")
    assert "are told and it pauses" in said
    await wave(bot, standin, world, cohort, first=True)
    await answered(bot, standin, cohort[:5], 10)
    await answered(bot, standin, cohort[5:], 0)
    await watch_hourly(bot.services)
    await bot.bot.sender.drain()
    assert await store.fetch_value("SELECT status FROM rollouts") == "paused"
    [paused] = [m.shown_text for m in standin.workspace.dms_to(world.champions[0]) if m.shown_text.startswith("⏸")]
    assert "regression: nps -50 &lt; +0" in paused
    assert "*the regression watch* paused it" in paused
    [alert] = alerts(standin, world.owner)
    assert "is paused, as its rule says for a clear regression" in alert
    assert await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE kind = 'pause'") == 1
    # The digest of the period lists the alert and the automatic pause.
    standin.workspace.add_user(ADMIN, "admin")
    clock.advance(timedelta(minutes=1))
    digest = await bot.ask(ADMIN, "digest", command="/pulse")
    assert "Regression alerts: 🚨 " in digest and "alpha: regression: nps -50 &lt; +0" in digest
    assert "by *the regression watch*" in digest


async def test_a_week_whose_nps_falls_clearly_below_the_week_before_alerts(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    cohort = people(standin, 10)
    await started_with(bot, world, cohort)
    await wave(bot, standin, world, cohort, first=True)
    await answered(bot, standin, cohort, 10)  # +100 in the week of Nov 23
    await watch_hourly(bot.services)
    clock.advance(timedelta(days=8))  # Dec 1: a new week
    await wave(bot, standin, world, cohort)
    await answered(bot, standin, cohort, 0)  # -100 this week
    await watch_hourly(bot.services)
    await bot.bot.sender.drain()
    [alert] = alerts(standin, world.owner)
    assert "NPS fell clearly week over week: +100" in alert and "-100" in alert


async def test_an_alerts_comment_count_is_the_groups_and_forget_me_does_not_move_it(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    """A count of comments that dropped by one when a writer forgot themselves would show that
    they had commented: the alert counts the comments each group brought when it was released."""
    cohort = people(standin, 20)
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"target {SLUG} nps >= 0")
    await wave(bot, standin, world, cohort, first=True)
    await answered(bot, standin, cohort[:5], 10)
    for user in cohort[5:9]:
        await answer(bot, standin, user, 0)
        await wait_for(lambda user=user: thanked(standin, user))  # type: ignore[misc]
        await comment(bot, standin, user, "The receipts page is slow")
    await wait_for(lambda: comments_stored(store) == 4)
    await answered(bot, standin, cohort[9:20], 0)
    await watch_new_answers(bot.services)
    await bot.bot.sender.drain()
    [alert] = alerts(standin, world.owner)
    assert "4 comments were released in this stage" in alert
    dm = standin.workspace.im_with(cohort[5]).id
    await bot.ask(cohort[5], "forget-me", command="/pulse")
    prompt = standin.workspace.history(dm, viewer=cohort[5])[-1]
    await bot.slack.click(cohort[5], Action.FORGET_ME.value, message=prompt)
    await wait_for(lambda: comments_stored(store) == 3)
    stage = int(await store.fetch_value("SELECT id FROM stages WHERE name = 'alpha'"))
    assert await Disclosures(store).released_comment_count(stage, "2026-11-01", "2026-12-31") == 4


def comments_stored(store: Store) -> int:
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        return int(conn.execute("SELECT count(*) FROM comments").fetchone()[0])


# An alert's trend tells the true figures of the two weeks it names: the response rate of "the
# seven days before" counts the surveys sent in those days, as a digest of that week does.
async def test_a_response_rate_alert_tells_the_true_rate_of_the_seven_days_before(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    cohort = people(standin, 40)
    first, later = cohort[:10], cohort[10:]
    await started_with(bot, world, first)
    await bot.ask(world.owner, f"target {SLUG} response_rate >= 50%")
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for_surveys(standin, first)
    for user in first:
        await answer(bot, standin, user, 9)  # week 1: 10 of 10 surveys answered, 100%
    await watch_new_answers(bot.services)  # the gate passes: armed

    clock.advance(timedelta(days=8))  # Tue Dec 1
    assert "closed" in await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
    await bot.ask(world.owner, f"cohort {SLUG} alpha " + " ".join(f"<@{u}>" for u in later))
    before = {u: len(standin.workspace.dms_to(u)) for u in cohort}
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: all(len(standin.workspace.dms_to(u)) > before[u] for u in cohort))
    for user in later[:5]:
        await answer(bot, standin, user, 9)  # week 2: 5 of 40
    await watch_new_answers(bot.services)
    await watch_hourly(bot.services)
    await bot.bot.sender.drain()
    [alert] = alerts(standin, world.owner)
    trend = next(line for line in alert.splitlines() if "Trend" in line)
    # The week before: 10 answers to the 10 surveys sent in it. The last seven days: 5 of 40.
    assert "100%" in trend and ("12%" in trend or "13%" in trend), trend
