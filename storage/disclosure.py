"""Answers released to figures in groups, and the released figures, comments and rows.

A pool is one survey of one stage: its NPS, or one touchpoint, across all its waves (a survey
asked of one person, on joining a channel or through the API, is a wave of one; its answer is
pooled with the others). A pool's answers wait until at least `min_group` of them, from waves
sent to at least `min_group` people between them, have arrived; then they are released together
on that day: their counts per score are added to `disclosed` as one group, and the answers and
their comments are marked with the day. Every figure is read from `disclosed` alone, so any two
figures, however they are sliced, differ by whole groups, never by one answer.

Once released, an answer or comment can no longer change (a change would move a figure, or an
export, by that one answer); a comment written after its answer's release waits for the pool's
next group.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
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


class DisclosureWrites:
    """Releasing answers into the published counts, inside the write job of the answer that completes a group
    (`storage.writes`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def release_due(self, pool: Pool, *, min_group: int, day: str, through: str | None = None) -> int:
        """Inside a write job: release the pool's waiting answers (those answered on or before
        `through`, default all) as one group dated `day`, if they make a group. Returns how many
        answers were released (0: they still wait)."""
        through = through or day
        waiting_sql = f"{_POOL} AND released_on IS NULL AND answered_on <= ?"
        waiting = (*_pool(pool), through)
        count = int(self.conn.execute(f"SELECT count(*) FROM responses WHERE {waiting_sql}", waiting).fetchone()[0])
        if count < min_group or not self._from_enough_people(waiting_sql, waiting, min_group):
            return 0
        self.conn.execute(
            f"""INSERT INTO disclosed (rollout_id, stage_id, kind, touchpoint_id, released_on, score, answers)
                SELECT rollout_id, stage_id, kind, touchpoint_id, ?, score, count(*) FROM responses
                WHERE {waiting_sql} GROUP BY rollout_id, score""",
            (day, *waiting),
        )
        # The comments of this group, and those written since their own answer's group: they join now.
        joined = self.conn.execute(
            """UPDATE comments SET released_on = ? WHERE released_on IS NULL AND stage_id = ? AND created_on <= ?
                AND EXISTS (
                    SELECT 1 FROM responses r WHERE r.wave_id = comments.wave_id
                    AND r.respondent_key = comments.respondent_key
                    AND r.stage_id = ? AND r.kind = ? AND r.touchpoint_id IS ?
                    AND (r.released_on IS NOT NULL OR r.answered_on <= ?))""",
            (day, pool.stage_id, through, *_pool(pool), through),
        ).rowcount
        if joined:
            # How many joined, counted once as the group's: a count of comments shown later reads
            # this, which forget-me does not change (deleting a comment would move it by one).
            self.conn.execute(
                """INSERT INTO disclosed_comments (rollout_id, stage_id, released_on, comments)
                   SELECT rollout_id, id, ?, ? FROM stages WHERE id = ?""",
                (day, joined, pool.stage_id),
            )
        self.conn.execute(f"UPDATE responses SET released_on = ? WHERE {waiting_sql}", (day, *waiting))
        # Comments of waves that closed while they waited leave their answers now, as at a close.
        for (wave_id,) in self.conn.execute(
            "SELECT DISTINCT wave_id FROM comments WHERE released_on = ? AND stage_id = ?", (day, pool.stage_id)
        ).fetchall():
            if self.conn.execute("SELECT closed_at IS NOT NULL FROM waves WHERE id = ?", (wave_id,)).fetchone()[0]:
                self.unlink_comments(int(wave_id))
        return count

    def unlink_comments(self, wave_id: int) -> dict[str, str]:
        """The wave has closed: each released comment moves to a random key of its own, so that
        it no longer shares a key with its writer's answer. A comment's words (its language, say)
        can point to its writer among the few asked; after this they point to no score. Comments
        still waiting for their group keep their key until it is released (their answer says
        when). Returns each moved comment's old key → new key."""
        rows = self.conn.execute(
            """SELECT respondent_key FROM comments c WHERE wave_id = ? AND released_on IS NOT NULL AND EXISTS
               (SELECT 1 FROM responses r WHERE r.wave_id = c.wave_id AND r.respondent_key = c.respondent_key)""",
            (wave_id,),
        ).fetchall()
        moved = {str(old): os.urandom(32).hex() for (old,) in rows}
        self.conn.executemany(
            "UPDATE comments SET respondent_key = ? WHERE wave_id = ? AND respondent_key = ?",
            [(new, wave_id, old) for old, new in moved.items()],
        )
        return moved

    def _from_enough_people(self, waiting_sql: str, waiting: Sequence[object], min_group: int) -> bool:
        """The waiting answers are certainly from at least `min_group` different people.

        Answers of different waves cannot be told apart as one person's or not: five waves to the
        same five people, answered by one of them each time, are five answers and one person. What
        is certain: within a wave every answer is a different person's, and waves sent to no common
        person hold answers of different people. So the answers of waves with pairwise disjoint
        recipients add up (picked greedily, largest first: a lower bound, which is all it needs)."""
        waves = self.conn.execute(
            f"SELECT wave_id, count(*) FROM responses WHERE {waiting_sql} GROUP BY wave_id ORDER BY 2 DESC, 1",
            waiting,
        ).fetchall()
        picked: list[int] = []
        certain = 0
        for wave_id, answers in waves:
            if picked and self._shares_anyone(int(wave_id), picked):
                continue
            picked.append(int(wave_id))
            certain += int(answers)
            if certain >= min_group:
                return True
        return False

    def _shares_anyone(self, wave_id: int, others: Sequence[int]) -> bool:
        """Whether the wave was sent to anyone one of the `others` was sent to."""
        marks = ",".join("?" * len(others))
        row = self.conn.execute(
            f"""SELECT 1 FROM deliveries a JOIN deliveries b ON b.user_id = a.user_id AND b.wave_id IN ({marks})
                WHERE a.wave_id = ? AND a.status = 'sent' AND b.status = 'sent' LIMIT 1""",
            (*others, wave_id),
        ).fetchone()
        return row is not None

    def refuse_if_released(self, table: Literal["responses", "comments"], wave_id: int, key: str) -> None:
        """Inside a write job: AlreadyReleased if the person's row in `table` has been released.
        Changed afterwards, it would move a figure, or the export, by one answer: theirs."""
        row = self.conn.execute(
            f"SELECT released_on FROM {table} WHERE wave_id = ? AND respondent_key = ?", (wave_id, key)
        ).fetchone()
        if row is not None and row[0] is not None:
            raise AlreadyReleased(table)

    def release_days(self, pool: Pool, days: Sequence[str], *, min_group: int) -> int:
        """`release_due` for each of `days` in order, as answers arriving on them would have."""
        return sum(self.release_due(pool, min_group=min_group, day=day) for day in days)


class AlreadyReleased(Exception):
    """The answer or comment is in a released group: it can no longer change."""


def _release_days(conn: sqlite3.Connection, *, pool: Pool, days: Sequence[str], min_group: int) -> int:
    return DisclosureWrites(conn).release_days(pool, days, min_group=min_group)


# -- reading what was released ----------------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """The released counts per score of one scope: its NPS, and each touchpoint's."""

    nps: Counter[float]
    touchpoints: dict[int, Counter[float]]


@dataclass(frozen=True)
class ReleasedComment:
    body: str
    released_on: str  # the day its group was released: shown as its week, never finer
    # Where it is stored, for a reply: sealed before it leaves the domain (`ref`), never shown.
    wave_id: int = field(default=0, repr=False)
    respondent_key: str = field(default="", repr=False)
    ref: str | None = None  # the sealed reference a Reply button carries; None: no reply offered


@dataclass(frozen=True)
class ReleasedRow:
    """One row of an export: a released answer's score, or a released comment, never both."""

    stage: str
    kind: str
    touchpoint: str | None
    score: float | None
    comment: str | None
    released_on: str


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


class Disclosures:
    """What the disclosure rule has released, read over the store: the published counts, the released
    comments and export rows, and the release of answers still waiting (after an upgrade)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def is_released(self, table: Literal["responses", "comments"], wave_id: int, key: str) -> bool:
        value = await self.store.fetch_value(
            f"SELECT released_on FROM {table} WHERE wave_id = ? AND respondent_key = ?", (wave_id, key)
        )
        return value is not None

    async def release_backlog(self, *, min_group: int) -> int:
        """Release, day by day as if they had just arrived, the answers still waiting where they make
        groups: after an upgrade from before groups, after PULSE_MIN_GROUP was lowered, or for data
        written straight into the tables (seeds, benchmarks). Returns how many were released."""
        pools = await self.store.fetch_all(
            """SELECT stage_id, kind, touchpoint_id FROM responses WHERE released_on IS NULL
               GROUP BY stage_id, kind, touchpoint_id HAVING count(*) >= ?""",
            (min_group,),
        )
        released = 0
        for stage_id, kind, touchpoint_id in pools:
            pool = Pool(int(stage_id), kind, touchpoint_id)
            rows = await self.store.fetch_all(
                f"SELECT DISTINCT answered_on FROM responses WHERE {_POOL} AND released_on IS NULL ORDER BY 1",
                _pool(pool),
            )
            days = [str(r[0]) for r in rows]
            released += await self.store.write(partial(_release_days, pool=pool, days=days, min_group=min_group))
        return released

    async def released_counts(
        self,
        *,
        column: Literal["stage_id", "rollout_id"],
        value: int,
        first_day: str | None = None,
        end_day: str | None = None,
    ) -> Released:
        """Counts per score of the groups released in [first_day, end_day) (None: unbounded),
        from the counts kept by day: a read of days and scores, however many answers they hold."""
        days_sql, days = range_sql("released_on", first_day, end_day)
        # Read from the index that holds every column (a stage's would otherwise be read through
        # the unique index, one row lookup per day and score).
        index = {"stage_id": "released_by_day_stage", "rollout_id": "released_by_day_rollout"}[column]
        rows = await self.store.fetch_all(
            f"""SELECT kind, touchpoint_id, score, sum(answers) FROM released_by_day INDEXED BY {index}
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

    async def nps_surveys_sent(
        self,
        *,
        column: Literal["stage_id", "rollout_id"],
        value: int,
        opened_from: int | None = None,
        opened_to: int | None = None,
    ) -> int:
        """NPS surveys delivered in waves opened in [opened_from, opened_to): the response rate's
        denominator."""
        opened_sql, opened = range_sql("w.opened_at", opened_from, opened_to)
        # Each wave's surveys sent, kept as deliveries go (a trigger): a read of waves, not of people.
        asked = await self.store.fetch_value(
            f"SELECT sum(w.sent) FROM waves w WHERE w.{column} = ? AND w.kind = 'nps'{opened_sql}",
            (value, *opened),
        )
        return int(asked or 0)

    async def released_nps_by_period(self, rollout_id: int, days: Sequence[str]) -> list[tuple[int, float, int]]:
        """(period, score, answers) of a rollout's released NPS groups in the periods [d0, d1),
        [d1, d2) … of `days` (ascending; period i starts at days[i]), added up by SQLite: a read
        of the index's days and scores that returns periods × scores rows."""
        if len(days) < 2:
            return []
        # Period i holds the days before days[i + 1]; the last, the rest (up to days[-1], below).
        whens = " ".join(f"WHEN released_on < ? THEN {i}" for i in range(len(days) - 2))
        period = f"CASE {whens} ELSE {len(days) - 2} END" if whens else "0"
        rows = await self.store.fetch_all(
            f"""SELECT {period} AS period, score, sum(answers)
                FROM released_by_day WHERE rollout_id = ? AND released_on >= ? AND released_on < ? AND kind = 'nps'
                GROUP BY period, score""",
            (*days[1:-1], rollout_id, days[0], days[-1]),
        )
        return [(int(period), float(score), int(count)) for period, score, count in rows]

    async def released_comments(
        self,
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
        # Keys are picked once (materialised) from the rollout's index of released comments, and
        # only the picked comments' bodies are read. A stage's are found through its rollout's:
        # comments get no index of their own by stage (see migration 17).
        scope, scoped = ("rollout_id = ?", [value])
        if column == "stage_id":
            scope, scoped = (
                "rollout_id = (SELECT rollout_id FROM stages WHERE id = ?) AND stage_id = ?",
                [value, value],
            )
        rows = await self.store.fetch_all(
            f"""WITH picked AS MATERIALIZED (
                    SELECT wave_id, respondent_key FROM comments
                    WHERE {scope} AND released_on IS NOT NULL{days_sql} ORDER BY random() LIMIT ?)
                SELECT c.body, c.released_on, c.wave_id, c.respondent_key FROM picked p
                JOIN comments c ON c.wave_id = p.wave_id AND c.respondent_key = p.respondent_key
                ORDER BY random()""",
            (*scoped, *days, limit),
        )
        return [ReleasedComment(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]

    async def released_comment_count(self, stage_id: int, first_day: str, end_day: str) -> int:
        """How many comments of a stage were released in [first_day, end_day), as counted when
        their groups were released: it moves only with whole groups, and forget-me leaves it."""
        return int(
            await self.store.fetch_value(
                """SELECT ifnull(sum(comments), 0) FROM disclosed_comments
                   WHERE stage_id = ? AND released_on >= ? AND released_on < ?""",
                (stage_id, first_day, end_day),
            )
        )

    async def settled_comments(
        self, rollout_id: int, now: int, *, before_day: str | None = None
    ) -> list[tuple[int, int | None, str]]:
        """(stage, touchpoint or None for NPS, words) of every released comment whose group has
        settled: every wave of its stage opened on or before the group's day has closed, and no
        conversation on a comment of the group can still be going on at `now`. With `before_day`,
        only the groups released before that day.

        What is counted from these moves by whole groups and never back. A group joins when the
        last wave that could have had a part in it closes (or the last of its conversations runs
        out of time), whoever answered, commented or clicked, so neither a one-person survey
        closing nor the moment a group joins tells anything of one person. And a settled comment
        is tied to nobody: its wave has closed and no conversation leads to it, so forget-me
        cannot take one out (which would tell that its writer had commented)."""
        # The first day of each stage's open waves: a group of that day or later waits.
        waiting_from = {
            int(stage): str(day)
            for stage, day in await self.store.fetch_all(
                """SELECT stage_id, min(pulse_day(opened_at)) FROM waves
                   WHERE rollout_id = ? AND closed_at IS NULL GROUP BY stage_id""",
                (rollout_id,),
            )
        }
        held = {
            (int(stage), str(day))
            for stage, day in await self.store.fetch_all(
                """SELECT h.stage_id, h.released_on FROM theme_holds h JOIN stages s ON s.id = h.stage_id
                   WHERE s.rollout_id = ? AND h.until > ?""",
                (rollout_id, now),
            )
        }
        rows = await self.store.fetch_all(
            """SELECT c.stage_id, w.touchpoint_id, c.body, c.released_on FROM comments c
               JOIN waves w ON w.id = c.wave_id WHERE c.rollout_id = ? AND c.released_on IS NOT NULL""",
            (rollout_id,),
        )
        return [
            (int(stage), None if touchpoint is None else int(touchpoint), str(body))
            for stage, touchpoint, body, day in rows
            if (int(stage) not in waiting_from or str(day) < waiting_from[int(stage)])
            and (int(stage), str(day)) not in held
            and (before_day is None or str(day) < before_day)
        ]

    async def released_rows(self, rollout_id: int) -> list[ReleasedRow]:
        """A rollout's released answers, one row each, and its released comments, one row each, in
        random order, with no wave, key or day finer than the group's.

        The scores come from the groups' frozen counts, not from the answers: forget-me or a later
        change would otherwise take one row out of a second export, and the two files would differ
        by one person's answer. A comment is a row of its own, without its score, so that the one
        thing forget-me must take out of an export, a person's words, takes no score with it."""
        groups = await self.store.fetch_all(
            """SELECT s.name, d.kind, t.key, d.score, d.answers, d.released_on FROM disclosed d
               JOIN stages s ON s.id = d.stage_id LEFT JOIN touchpoints t ON t.id = d.touchpoint_id
               WHERE d.rollout_id = ?""",
            (rollout_id,),
        )
        comments = await self.store.fetch_all(
            """SELECT s.name, w.kind, t.key, c.body, c.released_on FROM comments c
               JOIN waves w ON w.id = c.wave_id JOIN stages s ON s.id = c.stage_id
               LEFT JOIN touchpoints t ON t.id = w.touchpoint_id
               WHERE c.rollout_id = ? AND c.released_on IS NOT NULL""",
            (rollout_id,),
        )
        rows = [
            ReleasedRow(str(stage), str(kind), _text_or_none(key), float(score), None, str(day))
            for stage, kind, key, score, answers, day in groups
            for _ in range(int(answers))
        ]
        rows += [
            ReleasedRow(str(stage), str(kind), _text_or_none(key), None, str(body), str(day))
            for stage, kind, key, body, day in comments
        ]
        random.SystemRandom().shuffle(rows)
        return rows
