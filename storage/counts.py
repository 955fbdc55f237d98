"""The counts kept as answers are released: each pool's released answers per day and score
(`released_by_day`), and each wave's surveys sent (`waves.sent`). Triggers keep them in the same
transaction as the rows they count (migration 16); here they are checked against those rows and
rebuilt from them (`pulse rebuild-counts`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.db import Store

# The day counts as the released groups make them; `disclosed` holds one row per group and score.
_DAYS_FROM_GROUPS = """SELECT rollout_id, stage_id, kind, touchpoint_id, released_on, score, sum(answers) AS answers
    FROM disclosed GROUP BY stage_id, kind, touchpoint_id, released_on, score"""
_KEY = "stage_id, kind, ifnull(touchpoint_id, 0) AS touchpoint, released_on, score, answers"
_SENT_FROM_DELIVERIES = "(SELECT count(*) FROM deliveries d WHERE d.wave_id = waves.id AND d.status = 'sent')"


@dataclass(frozen=True)
class CountsCheck:
    days: int  # day counts that differed from the released groups
    waves: int  # waves whose surveys-sent count differed from their deliveries

    @property
    def true(self) -> bool:
        return self.days == 0 and self.waves == 0


def _check(conn: sqlite3.Connection) -> CountsCheck:
    kept = f"SELECT {_KEY} FROM released_by_day WHERE answers > 0"
    rows = f"SELECT {_KEY} FROM ({_DAYS_FROM_GROUPS})"
    # A day and score whose count differs is on both sides of the difference: counted once.
    pool_day = "stage_id, kind, touchpoint, released_on, score"
    days = conn.execute(
        f"""SELECT count(*) FROM (SELECT {pool_day} FROM ({kept} EXCEPT {rows})
                                  UNION SELECT {pool_day} FROM ({rows} EXCEPT {kept}))"""
    ).fetchone()[0]
    waves = conn.execute(f"SELECT count(*) FROM waves WHERE sent != {_SENT_FROM_DELIVERIES}").fetchone()[0]
    return CountsCheck(int(days), int(waves))


def _rebuild(conn: sqlite3.Connection) -> CountsCheck:
    found = _check(conn)
    conn.execute("DELETE FROM released_by_day")
    conn.execute(
        f"""INSERT INTO released_by_day (rollout_id, stage_id, kind, touchpoint_id, released_on, score, answers)
            {_DAYS_FROM_GROUPS}"""
    )
    conn.execute(f"UPDATE waves SET sent = {_SENT_FROM_DELIVERIES}")
    return found


class Counts:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def check(self) -> CountsCheck:
        """How far the kept counts are from the rows (both 0 when they are true)."""
        return await self.store.write(_check)

    async def rebuild(self) -> CountsCheck:
        """Every kept count recomputed from the rows, in one transaction; returns how many differed."""
        return await self.store.write(_rebuild)
