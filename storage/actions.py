"""Actions ("you said, we did"): what an owner changed because of the feedback, and who was asked
in the stage, to be told."""

from __future__ import annotations

import sqlite3

from storage.db import Store
from storage.models import _Row


class Action(_Row):
    id: int
    rollout_id: int
    stage_id: int
    touchpoint_id: int | None
    body: str
    created_by: str
    created_at: int
    told: int  # how many people its note was queued for


class Actions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def surveyed(self, stage_id: int, touchpoint_id: int | None) -> list[tuple[str, str | None]]:
        """(user, time zone) of everyone a survey of the stage reached (about the touchpoint, when
        one is named): those who were asked, whatever they answered (a survey still on its way
        counts: it reaches them before any note could)."""
        rows = await self.store.fetch_all(
            """SELECT d.user_id, max(d.tz) FROM deliveries d JOIN waves w ON w.id = d.wave_id
               WHERE w.stage_id = ? AND d.status IN ('sent', 'sending') AND (? IS NULL OR w.touchpoint_id = ?)
               GROUP BY d.user_id ORDER BY d.user_id""",
            (stage_id, touchpoint_id, touchpoint_id),
        )
        return [(str(r[0]), r[1]) for r in rows]

    async def between(self, rollout_id: int, start_at: int, end_at: int) -> list[Action]:
        """The rollout's actions recorded in [start_at, end_at), oldest first."""
        rows = await self.store.fetch_all(
            "SELECT * FROM actions WHERE rollout_id = ? AND created_at >= ? AND created_at < ? ORDER BY id",
            (rollout_id, start_at, end_at),
        )
        return [Action.from_row(r) for r in rows]


class ActionWrites:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(
        self, *, rollout_id: int, stage_id: int, touchpoint_id: int | None, body: str, actor: str, now: int
    ) -> int:
        cur = self.conn.execute(
            """INSERT INTO actions (rollout_id, stage_id, touchpoint_id, body, created_by, created_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (rollout_id, stage_id, touchpoint_id, body, actor, now),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def told(self, action_id: int, people: int) -> None:
        self.conn.execute("UPDATE actions SET told = ? WHERE id = ?", (people, action_id))
