"""The timing attacker: with every stored time and status and no key, narrow each answer to the
people who could have given it. Nine people in Tokyo, Berlin and New York, DMs held for their
working hours, six answers over two days, reminders to the other three."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot
from tests.privacy.attacker import copy_of
from tests.support import wait_for
from tests.test_surveys import SLUG, answer, started_with, survey_of, thanked
from tests.world import World, seed_world

START = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday: 09:30 in Berlin, 03:30 in New York, 17:30 in Tokyo
ZONES = {"Asia/Tokyo": "TYO", "Europe/Berlin": "BER", "America/New_York": "NYC"}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def world(standin: SlackStandIn) -> World:
    return seed_world(standin)


def utc_day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


async def test_no_answer_is_narrowed_to_fewer_people_than_that_days_answerers(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock, store: Store, tmp_path: Path
) -> None:
    people = {
        f"U0{code}{i}": zone
        for zone, code in ZONES.items()
        for i in range(3)
        if standin.workspace.add_user(f"U0{code}{i}", f"{code.lower()}{i}", tz=zone)
    }
    await started_with(bot, world, list(people))
    report = await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    assert "3 go out now" in report and "6 wait for the person's working hours" in report
    sender = bot.bot.surveys_sender
    # When each person clicks (UTC): Berlin first, hours before anyone else can.
    clicks = {
        "U0BER0": datetime(2026, 11, 23, 8, 35, tzinfo=UTC),
        "U0BER1": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        "U0NYC0": datetime(2026, 11, 23, 14, 30, tzinfo=UTC),
        "U0NYC1": datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
        "U0TYO0": datetime(2026, 11, 24, 0, 30, tzinfo=UTC),
        "U0TYO1": datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
    }
    for user, moment in clicks.items():
        clock.set(moment)
        await sender.drain()
        await wait_for(lambda user=user: survey_of(standin, user) is not None, what=f"{user}'s survey")  # type: ignore[misc]
        await answer(bot, standin, user, 3 + len(user) % 7)
        await wait_for(lambda user=user: thanked(standin, user))  # type: ignore[misc]
    # The three who did not answer get their reminder, each within their own working hours.
    for moment in (datetime(2026, 11, 26, 1, 0, tzinfo=UTC), datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
                   datetime(2026, 11, 26, 14, 0, tzinfo=UTC)):  # fmt: skip
        clock.set(moment)
        await bot.services.surveys.queue_reminders()
        await bot.bot.sender.drain()
    assert await store.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'reminder' AND status = 'sent'") == 3

    conn = sqlite3.connect(copy_of(store.path, tmp_path / "stolen"))
    try:
        # Answers carry a day and nothing finer, and no row order: the table has no rowid.
        rows = conn.execute("SELECT * FROM responses").fetchall()
        columns = [c[1] for c in conn.execute("PRAGMA table_info(responses)")]
        assert "answered_on" in columns and not any(c.endswith("_at") for c in columns)
        assert all(DAY.match(str(dict(zip(columns, r, strict=True))["answered_on"])) for r in rows)
        with pytest.raises(sqlite3.OperationalError, match="no such column: rowid"):
            conn.execute("SELECT rowid FROM responses")
        with pytest.raises(sqlite3.OperationalError, match="no such column: rowid"):
            conn.execute("SELECT rowid FROM comments")
        answer_days = [str(r[0]) for r in conn.execute("SELECT answered_on FROM responses")]
        # Every time stored about a person, and the order of their rows.
        known: dict[str, float] = {}
        for user, sent_at, claimed_at, created_at in conn.execute(
            "SELECT user_id, sent_at, claimed_at, created_at FROM deliveries WHERE answered = 1"
        ):
            known[str(user)] = max(float(t) for t in (sent_at, claimed_at, created_at) if t is not None)
        for user, times in conn.execute(
            """SELECT d.user_id, max(o.created_at, ifnull(o.sent_at, 0), o.next_attempt_at) FROM outbox o
               JOIN deliveries d ON d.id = o.delivery_id WHERE o.kind = 'reminder' AND d.answered = 1"""
        ):
            known[str(user)] = max(known[str(user)], float(times))  # reminded: not answered by then
    finally:
        conn.close()
    assert len(known) == 6 and len(answer_days) == 6

    # The attacker: an answer dated d can come from anyone whose latest known time is on or before d.
    for day in answer_days:
        could_have = [u for u, latest in known.items() if utc_day(latest) <= day]
        that_day = answer_days.count(day)
        assert len(could_have) >= that_day, (day, could_have)
    # Had answers kept their time (as they used to), the first Berlin answer would come down to the
    # two people sent before 08:35 on a day of four answers: the attack is real.
    first = clicks["U0BER0"].timestamp()
    assert len([u for u, latest in known.items() if latest <= first]) == 2 < answer_days.count("2026-11-23") == 4
