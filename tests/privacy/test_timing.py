"""The timing attacker: with every stored time and status and no key, narrow each answer to the
people who could have given it. Nine people in Tokyo, Berlin and New York, DMs held for their
working hours, six answers over two days, reminders to the other three."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.settings import Settings
from runtime.clock import ManualClock
from runtime.i18n import N_
from sandbox.stand_in import SlackStandIn
from services.surveys import Closed
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.privacy.attacker import copy_of
from tests.services.test_surveys import SLUG, answer, started_with, thanked
from tests.support import survey_of, wait_for
from tests.world import World

START = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday: 09:30 in Berlin, 03:30 in New York, 17:30 in Tokyo
ZONES = {"Asia/Tokyo": "TYO", "Europe/Berlin": "BER", "America/New_York": "NYC"}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path)  # working hours 09:00-17:00 in each person's zone


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

    # While the wave is open, nothing stored even says who answered; once it closes (and its key
    # is gone) the deliveries say it, all written at once. The attacker tries both copies.
    while_open = latest_known_times(copy_of(store.path, tmp_path / "open"), answered_only=False)
    assert len(while_open.latest) == 9 and len(while_open.answer_days) == 6
    assert while_open.narrowest() >= 0
    assert await bot.services.surveys.close_now(world.owner, SLUG, "nps") == Closed(
        N_("the NPS survey"), 1, 6, 0, wiped=True
    )
    after_close = latest_known_times(copy_of(store.path, tmp_path / "closed"), answered_only=True)
    assert sorted(after_close.latest) == sorted(clicks)
    assert after_close.narrowest() >= 0
    # Had answers kept their time (as they used to), the first Berlin answer would come down to the
    # two people sent before 08:35 on a day of four answers: the attack is real.
    first = clicks["U0BER0"].timestamp()
    before_first = [u for u, latest in after_close.latest.items() if latest <= first]
    assert len(before_first) == 2 < after_close.answer_days.count("2026-11-23") == 4


@dataclass
class Known:
    latest: dict[str, float]  # per person who may have answered: the latest time stored about them
    answer_days: list[str]

    def narrowest(self) -> int:
        """The smallest margin, over the answers, of the people who could have given it over the
        answers given that day: an answer dated d can come from anyone whose latest known time
        is on or before d. Negative: some answer narrowed to fewer people than that day's."""
        return min(
            len([u for u, latest in self.latest.items() if utc_day(latest) <= day]) - self.answer_days.count(day)
            for day in self.answer_days
        )


def latest_known_times(db: Path, *, answered_only: bool) -> Known:
    conn = sqlite3.connect(db)
    try:
        # Answers carry a day and nothing finer, and no row order: the tables have no rowid.
        columns = [c[1] for c in conn.execute("PRAGMA table_info(responses)")]
        assert "answered_on" in columns and not any(c.endswith("_at") for c in columns)
        comment_columns = [c[1] for c in conn.execute("PRAGMA table_info(comments)")]
        assert "created_on" in comment_columns and not any(c.endswith("_at") for c in comment_columns)
        answer_days = [str(r[0]) for r in conn.execute("SELECT answered_on FROM responses")]
        assert all(DAY.match(day) for day in answer_days)
        for table in ("responses", "comments"):
            with pytest.raises(sqlite3.OperationalError, match="no such column: rowid"):
                conn.execute(f"SELECT rowid FROM {table}")
        # Every time stored about a person: their delivery, and their reminder (sent to someone
        # who had not answered by then).
        answered = " AND d.answered = 1" if answered_only else ""
        latest: dict[str, float] = {}
        for user, *times in conn.execute(
            f"SELECT user_id, sent_at, claimed_at, created_at FROM deliveries d WHERE status = 'sent'{answered}"
        ):
            latest[str(user)] = max(float(t) for t in times if t is not None)
        for user, at in conn.execute(
            f"""SELECT d.user_id, max(o.created_at, ifnull(o.sent_at, 0), o.next_attempt_at) FROM outbox o
                JOIN deliveries d ON d.id = o.delivery_id WHERE o.kind = 'reminder'{answered}"""
        ):
            latest[str(user)] = max(latest[str(user)], float(at))
    finally:
        conn.close()
    return Known(latest, answer_days)
