"""The regression watch acts within a minute of a released group, so its own times would date
that group's last answer to the minute. A copy of the database alone, and `/rollout history`,
must show no time finer than the day for what the watch wrote (answers are dated by the day).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import watch_new_answers
from bot.settings import Settings
from runtime.clock import ManualClock, epoch
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.attacker import copy_of
from tests.services.test_surveys import SLUG, answer, people, started_with
from tests.support import wait_for_surveys
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ANA = "U0ANA"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_min_days_between_surveys=0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


async def test_the_watch_stores_no_time_that_dates_the_answer_which_completed_a_group(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock,
    settings: Settings, tmp_path: Path,
) -> None:  # fmt: skip
    standin.workspace.add_user(ANA, "ana", "Ana Approver")
    cohort = people(standin, 20)
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"target {SLUG} nps >= 0")
    await bot.ask(world.owner, f"on-regression {SLUG} pause")
    await bot.ask(world.owner, f"approvers {SLUG} beta <@{ANA}>")
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for_surveys(standin, cohort)
    for user in cohort[:5]:
        await answer(bot, standin, user, 10)  # +100: the gate passes
    await watch_new_answers(bot.services)
    assert "approves" in await bot.ask(world.owner, f"advance {SLUG}")  # an advance now waits
    for i, user in enumerate(cohort[5:15]):
        await answer(bot, standin, user, 0)
        if i % 5 == 4:
            await watch_new_answers(bot.services)  # 0 (n=10), -33 (n=15): no clear fall yet

    # 15:17:00 -- the 20th answer completes the fourth group (-50, n=20, ±38: clearly below 0).
    clock.set(datetime(2026, 11, 23, 15, 17, tzinfo=UTC))
    for user in cohort[15:20]:
        await answer(bot, standin, user, 0)
    answered_at = epoch(clock.now())
    clock.advance(timedelta(seconds=37))  # the minute job runs
    await watch_new_answers(bot.services)
    await bot.bot.sender.drain()
    assert await store.fetch_value("SELECT status FROM rollouts") == "paused"

    # The attacker: a copy of the files, nothing else. Every time the watch wrote.
    copy = copy_of(settings.pulse_db, tmp_path / "stolen")
    conn = sqlite3.connect(copy)
    try:
        times = {
            "audit_log.at (regression alert)": conn.execute(
                "SELECT at FROM audit_log WHERE action = 'regression alert'"
            ).fetchall(),
            "audit_log.at (pause by the watch)": conn.execute(
                "SELECT at FROM audit_log WHERE actor = 'watch' AND action != 'regression alert'"
            ).fetchall(),
            "stage_transitions.at (pause)": conn.execute(
                "SELECT at FROM stage_transitions WHERE kind = 'pause'"
            ).fetchall(),
            "outbox.created_at (regression_alert)": conn.execute(
                "SELECT created_at FROM outbox WHERE kind = 'regression_alert'"
            ).fetchall(),
            "outbox.sent_at (regression_alert)": conn.execute(
                "SELECT sent_at FROM outbox WHERE kind = 'regression_alert'"
            ).fetchall(),
            "approval_requests.decided_at (withdrawn by the pause)": conn.execute(
                "SELECT decided_at FROM approval_requests WHERE status = 'withdrawn'"
            ).fetchall(),
        }
    finally:
        conn.close()
    assert times["audit_log.at (regression alert)"], "the alert was raised"
    # Each of these tells the attacker that an answer arrived within the minute before it.
    close = {
        where: [t for (t,) in rows if t is not None and 0 <= t - answered_at < 10 * 60] for where, rows in times.items()
    }
    close = {where: found for where, found in close.items() if found}
    assert close == {}, f"times within 10 minutes of the answer that completed the group: {close}"


async def test_the_history_does_not_show_the_minute_a_group_was_released(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    cohort = people(standin, 20)
    await started_with(bot, world, cohort)
    await bot.ask(world.owner, f"target {SLUG} nps >= 0")
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for_surveys(standin, cohort)
    for i, user in enumerate(cohort[:15]):
        await answer(bot, standin, user, 10 if i < 5 else 0)
        if i % 5 == 4:
            await watch_new_answers(bot.services)
    clock.set(datetime(2026, 11, 23, 15, 17, tzinfo=UTC))
    for user in cohort[15:]:
        await answer(bot, standin, user, 0)
    clock.advance(timedelta(seconds=37))
    await watch_new_answers(bot.services)
    await bot.bot.sender.drain()
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert "raised a regression alert" in history
    # Anyone who may read the history learns when the 20th person answered.
    assert "15:17" not in history, [line for line in history.splitlines() if "15:17" in line]
