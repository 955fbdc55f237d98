"""The counts kept as answers are released are the rows' counts, whatever happens to the rows.

For random sequences of surveys sent, answers, changed answers, failed and retried deliveries,
forget-me, closed waves and a touchpoint removed, written through the bot's own write jobs on a
real SQLite file, every figure read from the kept counts (released answers per score, per stage
and per day; surveys sent) equals the same figure counted from the rows, and `pulse
rebuild-counts` finds nothing to fix."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storage import Store
from storage.counts import Counts
from storage.disclosure import Disclosures, Pool
from storage.people import People
from storage.surveys import Delivery, DeliveryQueue, NewDelivery, Wave
from storage.writes import Writes, write
from tests.services.test_apply import pulse
from tests.services.test_digests import Seed

PEOPLE = [f"U0C{i}" for i in range(4)]  # few people, days and scores: steps meet often
DAYS = ["2026-11-02", "2026-11-03", "2026-11-09"]
SCORES = st.sampled_from([0, 9, 10])
GROUP = 2
ROLLOUT, STAGES, TOUCHPOINT = 1, (11, 12), 31


@dataclass(frozen=True)
class Open:
    stage: int
    touchpoint: bool
    people: tuple[str, ...]


@dataclass(frozen=True)
class Deliver:
    wave: int  # an index into the waves opened so far
    person: str
    how: str  # sent | failed | retried


@dataclass(frozen=True)
class Answer:
    wave: int
    person: str
    score: int
    day: str


@dataclass(frozen=True)
class Forget:
    person: str


@dataclass(frozen=True)
class Close:
    wave: int


@dataclass(frozen=True)
class DropTouchpoint:
    pass


Step = Open | Deliver | Answer | Forget | Close | DropTouchpoint

people = st.sampled_from(PEOPLE)
steps = st.one_of(
    st.builds(Open, st.sampled_from(STAGES), st.booleans(), st.lists(people, min_size=1, unique=True).map(tuple)),
    st.builds(Open, st.sampled_from(STAGES), st.booleans(), st.just(tuple(PEOPLE))),
    st.builds(Deliver, st.integers(0, 3), people, st.sampled_from(["sent", "sent", "failed", "retried"])),
    st.builds(Answer, st.integers(0, 3), people, SCORES, st.sampled_from(DAYS[:2])),
    st.builds(Answer, st.integers(0, 3), people, SCORES, st.sampled_from(DAYS)),
    st.builds(Forget, people),
    st.builds(Close, st.integers(0, 3)),
    st.just(DropTouchpoint()),
)


def key_of(wave_id: int, person: str) -> str:
    return f"{wave_id}:{person}"  # stands in for the wave's HMAC of the person


class Story:
    """Plays steps through the bot's own write jobs, each at its own second."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.waves: list[int] = []
        self.queue = DeliveryQueue(store)

    async def begin(self) -> None:
        await Seed(self.store).rollout(ROLLOUT, "counted", "Counted", stages=STAGES, current=STAGES[0])
        await self.store.execute(
            """INSERT INTO touchpoints (id, rollout_id, key, label, scale, created_at, updated_at)
               VALUES (?, ?, 'submit', 'Submit', 'csat', 0, 0)""",
            (TOUCHPOINT, ROLLOUT),
        )

    async def play(self, story: list[Step]) -> None:
        for at, step in enumerate(story):
            now = 1_790_000_000 + at
            if isinstance(step, Open):
                await self.open(step, now)
            elif isinstance(step, Forget):
                await People(self.store).forget(step.person, [(w, key_of(w, step.person)) for w in self.waves])
            elif isinstance(step, DropTouchpoint):
                await self.store.execute("DELETE FROM touchpoints WHERE id = ?", (TOUCHPOINT,))
            elif (wave := await self.wave(step.wave)) is not None:
                if isinstance(step, Close):
                    await write(self.store, partial(close, wave_id=wave.id, now=now))
                elif isinstance(step, Deliver):
                    await self.deliver(wave, step, now)
                elif wave.closed_at is None:
                    await self.answer(wave, step)
            await figures_agree(self.store)

    async def open(self, step: Open, now: int) -> None:
        touchpoint = TOUCHPOINT if step.touchpoint else None
        if touchpoint and not await self.store.fetch_value("SELECT count(*) FROM touchpoints"):
            return
        self.waves.append(await write(self.store, partial(open_wave, step=step, touchpoint=touchpoint, now=now)))

    async def wave(self, index: int) -> Wave | None:
        if not self.waves:
            return None
        row = await self.store.fetch_one("SELECT * FROM waves WHERE id = ?", (self.waves[index % len(self.waves)],))
        return None if row is None else Wave.from_row(row)  # None: gone with its touchpoint

    async def deliver(self, wave: Wave, step: Deliver, now: int) -> None:
        found = await self.store.fetch_one(
            "SELECT * FROM deliveries WHERE wave_id = ? AND user_id = ?", (wave.id, step.person)
        )
        if found is None:
            return
        delivery = Delivery.from_row(found)
        if step.how == "sent":
            await self.queue.sent(delivery.id, "D0", "1.0", now)
        elif step.how == "failed":
            await self.queue.failed(delivery.id, "channel_not_found")
        else:
            await self.queue.retry(delivery.id, now + 60, "ratelimited", maybe_sent=True)

    async def answer(self, wave: Wave, step: Answer) -> None:
        key = key_of(wave.id, step.person)
        if await Disclosures(self.store).is_released("responses", wave.id, key):
            return  # a released answer cannot change (the bot refuses it)
        await write(self.store, partial(answered, wave=wave, key=key, score=step.score, day=step.day))


def open_wave(w: Writes, *, step: Open, touchpoint: int | None, now: int) -> int:
    wave_id = w.surveys.insert_wave(
        rollout_id=ROLLOUT, stage_id=step.stage, kind="touchpoint" if touchpoint else "nps",
        touchpoint_id=touchpoint, origin="send", opened_by=None, opened_at=now, closes_at=now + 10**6,
        asked=len(step.people),
    )  # fmt: skip
    asked = [NewDelivery(p, "pending", reason=None, not_before=now, tz="UTC", language="en") for p in step.people]
    w.surveys.insert_deliveries(wave_id, asked, now)
    return wave_id


def close(w: Writes, *, wave_id: int, now: int) -> None:
    w.surveys.close_wave(wave_id, now, [])


def answered(w: Writes, *, wave: Wave, key: str, score: int, day: str) -> None:
    """As the bot records an answer: the answer, then the pool's group if it makes one."""
    w.surveys.record_answer(wave=wave, respondent_key=key, score=score, day=day)
    w.disclosure.release_due(Pool(wave.stage_id, wave.kind, wave.touchpoint_id), min_group=GROUP, day=day)


async def play(store: Store, story: list[Step]) -> None:
    teller = Story(store)
    await teller.begin()
    await teller.play(story)


async def figures_agree(store: Store) -> None:
    disclosures = Disclosures(store)
    assert (await Counts(store).check()).true
    for stage in STAGES:
        for first_day, end_day in ((None, None), (DAYS[0], DAYS[2]), (DAYS[1], None)):
            kept = await disclosures.released_counts(
                column="stage_id", value=stage, first_day=first_day, end_day=end_day
            )
            rows = await store.fetch_all(
                """SELECT kind, touchpoint_id, score, answers FROM disclosed WHERE stage_id = ?
                   AND released_on >= ifnull(?, '0') AND released_on < ifnull(?, '9')""",
                (stage, first_day, end_day),
            )
            nps: Counter[float] = Counter()
            touchpoints: dict[int, Counter[float]] = {}
            for kind, touchpoint, score, answers in rows:
                target = nps if kind == "nps" else touchpoints.setdefault(int(touchpoint), Counter())
                target[float(score)] += int(answers)
            assert +kept.nps == nps
            assert {k: +v for k, v in kept.touchpoints.items() if +v} == touchpoints
        sent = await store.fetch_value(
            """SELECT count(*) FROM deliveries d JOIN waves w ON w.id = d.wave_id
               WHERE w.stage_id = ? AND w.kind = 'nps' AND d.status = 'sent'""",
            (stage,),
        )
        assert await disclosures.nps_surveys_sent(column="stage_id", value=stage) == sent
    rows = await store.fetch_all(
        "SELECT released_on, score, answers FROM disclosed WHERE rollout_id = ? AND kind = 'nps'", (ROLLOUT,)
    )
    # Several periods, and one period alone (a single span of days).
    for bounds in ([DAYS[0], DAYS[1], DAYS[-1], "9999-12-31"], [DAYS[0], "9999-12-31"]):
        by_period = await disclosures.released_nps_by_period(ROLLOUT, bounds)
        counted: Counter[tuple[int, float]] = Counter()
        for day, score, answers in rows:
            if bounds[0] <= str(day) < bounds[-1]:
                counted[(bisect_right(bounds, str(day)) - 1, float(score))] += int(answers)
        assert {(p, s): n for p, s, n in by_period if n} == +counted


# Two groups of one pool on one day with the same score add up; a sent survey forgotten counts no more.
TWO_GROUPS_ONE_DAY = [Open(STAGES[0], False, tuple(PEOPLE)), *(Answer(0, p, 9, DAYS[0]) for p in PEOPLE)]
SENT_THEN_FORGOTTEN = [Open(STAGES[0], False, tuple(PEOPLE)), Deliver(0, PEOPLE[0], "sent"), Forget(PEOPLE[0])]


@example(TWO_GROUPS_ONE_DAY)
@example(SENT_THEN_FORGOTTEN)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=40))
def test_every_figure_from_the_kept_counts_equals_the_figure_from_the_rows(story: list[Step]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            store = await Store.open(Path(folder) / "pulse.db")
            try:
                await play(store, story)
                await figures_agree(store)
                assert (await Counts(store).rebuild()).true  # nothing to fix
            finally:
                await store.close()

    asyncio.run(run())


async def test_rebuild_counts_puts_right_what_was_written_around_the_triggers(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "pulse.db")
    try:
        await play(store, [Open(STAGES[0], False, tuple(PEOPLE[:3]))])
        await play_answers(store)
        await store.execute("UPDATE released_by_day SET answers = answers + 7")
        await store.execute("UPDATE waves SET sent = 99")
        found = await Counts(store).rebuild()
        assert (found.days, found.waves) == (1, 1)
        assert (await Counts(store).check()).true
        await figures_agree(store)
    finally:
        await store.close()


async def play_answers(store: Store) -> None:
    """Three answers of the first wave: a group of 9 and 9, and the 10 waiting."""
    row = await store.fetch_one("SELECT * FROM waves ORDER BY id LIMIT 1")
    assert row is not None
    wave = Wave.from_row(row)
    for person, score in zip(PEOPLE[:3], (9, 9, 10), strict=True):
        await write(store, partial(answered, wave=wave, key=key_of(wave.id, person), score=score, day=DAYS[0]))
    assert await store.fetch_value("SELECT sum(answers) FROM released_by_day") == 2


def test_pulse_rebuild_counts_says_what_it_put_right(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(db, "migrate").returncode == 0
    asyncio.run(_seeded_with_a_group(db))
    again = pulse(db, "rebuild-counts")
    assert again.returncode == 0, again.stderr
    assert "they matched the rows" in again.stdout
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE released_by_day SET answers = 1")
    fixed = pulse(db, "rebuild-counts")
    assert fixed.returncode == 0 and "1 day count(s) and 0 wave count(s) differed from the rows" in fixed.stdout
    assert "they matched the rows" in pulse(db, "rebuild-counts").stdout


async def _seeded_with_a_group(db: Path) -> None:
    store = await Store.open(db)
    try:
        await play(store, [Open(STAGES[0], False, tuple(PEOPLE))])
        await play_answers(store)
    finally:
        await store.close()
