"""Answers released to figures in groups, and the released figures, comments and rows.

A pool is one survey of one stage: its NPS, or one touchpoint, across all its waves (a survey
asked of one person, on joining a channel or through the API, is a wave of one; its answer is
pooled with the others). A pool's answers wait until at least `min_group` of them, from waves
sent to at least `min_group` people between them, have arrived; then they are released together
on that day: their counts per score are added to `disclosed` as one group, and the answers and
their comments are marked with the day. Every figure is read from `disclosed` alone, so any two
figures, however they are sliced, differ by whole groups, never by one answer.

An answer changed after its group was released keeps its place (the group's counts stay as they
were); a comment written or changed after its answer's release waits for the pool's next group.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from storage.db import Store, range_sql
from storage.surveys import Wave, WaveKind


@dataclass(frozen=True)
class Pool:
    stage_id: int
    kind: WaveKind
    touchpoint_id: int | None


def pool_of(wave: Wave) -> Pool:
    return Pool(wave.stage_id, wave.kind, wave.touchpoint_id)


_POOL = "stage_id = ? AND kind = ? AND touchpoint_id IS ?"


def _pool(pool: Pool) -> tuple[int, str, int | None]:
    return (pool.stage_id, pool.kind, pool.touchpoint_id)


def release_due(conn: sqlite3.Connection, pool: Pool, *, min_group: int, day: str, through: str | None = None) -> int:
    """Inside a write job: release the pool's waiting answers (those answered on or before
    `through`, default all) as one group dated `day`, if they make a group. Returns how many
    answers were released (0: they still wait)."""
    through = through or day
    waiting_sql = f"{_POOL} AND released_on IS NULL AND answered_on <= ?"
    waiting = (*_pool(pool), through)
    count = int(conn.execute(f"SELECT count(*) FROM responses WHERE {waiting_sql}", waiting).fetchone()[0])
    if count < min_group or not _asked_enough_people(conn, waiting_sql, waiting, min_group):
        return 0
    conn.execute(
        f"""INSERT INTO disclosed (rollout_id, stage_id, kind, touchpoint_id, released_on, score, answers)
            SELECT rollout_id, stage_id, kind, touchpoint_id, ?, score, count(*) FROM responses
            WHERE {waiting_sql} GROUP BY rollout_id, score""",
        (day, *waiting),
    )
    # The comments of this group, and those written since their own answer's group: they join now.
    conn.execute(
        """UPDATE comments SET released_on = ? WHERE released_on IS NULL AND stage_id = ? AND created_on <= ?
            AND EXISTS (
                SELECT 1 FROM responses r WHERE r.wave_id = comments.wave_id
                AND r.respondent_key = comments.respondent_key
                AND r.stage_id = ? AND r.kind = ? AND r.touchpoint_id IS ?
                AND (r.released_on IS NOT NULL OR r.answered_on <= ?))""",
        (day, pool.stage_id, through, *_pool(pool), through),
    )
    conn.execute(f"UPDATE responses SET released_on = ? WHERE {waiting_sql}", (day, *waiting))
    return count


def _asked_enough_people(conn: sqlite3.Connection, waiting_sql: str, waiting: Sequence[object], min_group: int) -> bool:
    """The waiting answers come from waves sent to at least `min_group` people between them:
    five answers to five surveys asked of one person are one person's, whatever the count says."""
    waves = f"SELECT DISTINCT wave_id FROM responses WHERE {waiting_sql}"
    largest = conn.execute(f"SELECT max(asked) FROM waves WHERE id IN ({waves})", waiting).fetchone()[0]
    if int(largest or 0) >= min_group:
        return True
    people = conn.execute(
        f"SELECT count(DISTINCT user_id) FROM deliveries WHERE status = 'sent' AND wave_id IN ({waves})", waiting
    ).fetchone()[0]
    return int(people or 0) >= min_group


async def release_backlog(store: Store, *, min_group: int) -> int:
    """Release, day by day as if they had just arrived, the answers still waiting where they make
    groups: after an upgrade from before groups, after PULSE_MIN_GROUP was lowered, or for data
    written straight into the tables (seeds, benchmarks). Returns how many were released."""
    pools = await store.fetch_all(
        """SELECT stage_id, kind, touchpoint_id FROM responses WHERE released_on IS NULL
           GROUP BY stage_id, kind, touchpoint_id HAVING count(*) >= ?""",
        (min_group,),
    )
    released = 0
    for stage_id, kind, touchpoint_id in pools:
        pool = Pool(int(stage_id), kind, touchpoint_id)
        rows = await store.fetch_all(
            f"SELECT DISTINCT answered_on FROM responses WHERE {_POOL} AND released_on IS NULL ORDER BY 1",
            _pool(pool),
        )
        released += await store.write(
            partial(_release_day_by_day, pool=pool, days=[str(r[0]) for r in rows], min_group=min_group)
        )
    return released


def _release_day_by_day(conn: sqlite3.Connection, *, pool: Pool, days: Sequence[str], min_group: int) -> int:
    return sum(release_due(conn, pool, min_group=min_group, day=day) for day in days)


# -- reading what was released ----------------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """The released counts per score of one scope: its NPS, and each touchpoint's."""

    nps: Counter[float]
    touchpoints: dict[int, Counter[float]]


async def released_counts(
    store: Store,
    *,
    column: Literal["stage_id", "rollout_id"],
    value: int,
    first_day: str | None = None,
    end_day: str | None = None,
) -> Released:
    """Counts per score of the groups released in [first_day, end_day) (None: unbounded)."""
    days_sql, days = range_sql("released_on", first_day, end_day)
    rows = await store.fetch_all(
        f"""SELECT kind, touchpoint_id, score, sum(answers) FROM disclosed
            WHERE {column} = ?{days_sql} GROUP BY kind, touchpoint_id, score""",
        (value, *days),
    )
    nps: Counter[float] = Counter()
    touchpoints: dict[int, Counter[float]] = {}
    for kind, touchpoint_id, score, count in rows:
        if kind == "nps":
            nps[float(score)] += int(count)
        elif touchpoint_id is not None:
            touchpoints.setdefault(int(touchpoint_id), Counter())[float(score)] += int(count)
    return Released(nps, touchpoints)


async def released_nps_by_day(
    store: Store, rollout_id: int, first_day: str, end_day: str
) -> list[tuple[str, float, int]]:
    """(release day, score, answers) of a rollout's released NPS groups in [first_day, end_day)."""
    rows = await store.fetch_all(
        """SELECT released_on, score, sum(answers) FROM disclosed
           WHERE rollout_id = ? AND released_on >= ? AND released_on < ? AND kind = 'nps'
           GROUP BY released_on, score""",
        (rollout_id, first_day, end_day),
    )
    return [(str(day), float(score), int(count)) for day, score, count in rows]


@dataclass(frozen=True)
class ReleasedComment:
    body: str
    released_on: str  # the day its group was released: shown as its week, never finer


async def released_comments(
    store: Store,
    *,
    column: Literal["stage_id", "rollout_id"],
    value: int,
    limit: int,
    first_day: str | None = None,
    end_day: str | None = None,
) -> list[ReleasedComment]:
    """Up to `limit` released comments, picked and ordered at random: never in the order they
    were written, and never the same few because they came last."""
    days_sql, days = range_sql("released_on", first_day, end_day)
    rows = await store.fetch_all(
        f"""SELECT body, released_on FROM comments WHERE {column} = ? AND released_on IS NOT NULL{days_sql}
            ORDER BY random() LIMIT ?""",
        (value, *days, limit),
    )
    return [ReleasedComment(str(r[0]), str(r[1])) for r in rows]


@dataclass(frozen=True)
class ReleasedRow:
    stage: str
    kind: str
    touchpoint: str | None
    score: float
    comment: str | None
    released_on: str


async def released_rows(store: Store, rollout_id: int) -> list[ReleasedRow]:
    """Every released answer of a rollout with its comment if that is released too, in random
    order: no wave, no key, no day finer than its group's."""
    rows = await store.fetch_all(
        """SELECT s.name, r.kind, t.key, r.score, c.body, r.released_on
           FROM responses r JOIN stages s ON s.id = r.stage_id
           LEFT JOIN touchpoints t ON t.id = r.touchpoint_id
           LEFT JOIN comments c ON c.wave_id = r.wave_id AND c.respondent_key = r.respondent_key
                AND c.released_on IS NOT NULL
           WHERE r.rollout_id = ? AND r.released_on IS NOT NULL ORDER BY random()""",
        (rollout_id,),
    )
    return [
        ReleasedRow(str(r[0]), str(r[1]), None if r[2] is None else str(r[2]), float(r[3]), r[4], str(r[5]))
        for r in rows
    ]


async def waiting_answers(store: Store, rollout_id: int) -> int:
    """Answers of a rollout not yet released with a group: held back from every figure."""
    value = await store.fetch_value(
        "SELECT count(*) FROM responses WHERE rollout_id = ? AND released_on IS NULL", (rollout_id,)
    )
    return int(value or 0)
