"""Actions ("you said, we did"): what an owner changed because of the feedback, and who was asked
in the stage, to be told."""

from __future__ import annotations

import sqlite3

from storage.db import Store
from storage.models import _Row

CHECK_IN_SHOWN = 28 * 86400  # how long digests list an action after its check-in opened


class Action(_Row):
    id: int
    rollout_id: int
    stage_id: int
    touchpoint_id: int | None
    body: str
    created_by: str
    created_at: int
    told: int  # how many people its note was queued for
    check_in_at: int | None = None  # when its check-in ("Did this change help?") opens; None: none
    check_in_id: int | None = None  # the check-in's touchpoint
    checked_in_at: int | None = None  # when the check-in's wave opened


class Actions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def surveyed(
        self, stage_id: int, touchpoint_id: int | None, *, until: int | None = None
    ) -> list[tuple[str, str | None]]:
        """(user, time zone) of everyone a survey of the stage reached (about the touchpoint, when
        one is named), up to `until`: those who were asked, whatever they answered (a survey still on its way
        counts: it reaches them before any note could)."""
        rows = await self.store.fetch_all(
            """SELECT d.user_id, max(d.tz) FROM deliveries d JOIN waves w ON w.id = d.wave_id
               WHERE w.stage_id = ? AND d.status IN ('sent', 'sending') AND (? IS NULL OR w.touchpoint_id = ?)
                 AND (? IS NULL OR d.sent_at <= ?)
               GROUP BY d.user_id ORDER BY d.user_id""",
            (stage_id, touchpoint_id, touchpoint_id, until, until),
        )
        return [(str(r[0]), r[1]) for r in rows]

    async def shown_in(self, rollout_id: int, start_at: int, end_at: int) -> list[Action]:
        """What a digest of [start_at, end_at) lists, oldest first: the actions recorded in it, and
        those whose check-in opened in the four weeks before its end (their result comes then)."""
        rows = await self.store.fetch_all(
            """SELECT * FROM actions WHERE rollout_id = ? AND (
                   (created_at >= ? AND created_at < ?) OR (checked_in_at >= ? AND checked_in_at < ?))
               ORDER BY id""",
            (rollout_id, start_at, end_at, end_at - CHECK_IN_SHOWN, end_at),
        )
        return [Action.from_row(r) for r in rows]

    async def check_ins_due(self, now: int) -> list[Action]:
        rows = await self.store.fetch_all(
            """SELECT * FROM actions WHERE check_in_at <= ? AND checked_in_at IS NULL AND check_in_id IS NOT NULL
               ORDER BY id""",
            (now,),
        )
        return [Action.from_row(r) for r in rows]

    async def checked_in(self, action_id: int, now: int) -> None:
        await self.store.execute("UPDATE actions SET checked_in_at = ? WHERE id = ?", (now, action_id))


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

    def check_in(self, action_id: int, touchpoint_id: int, at: int) -> None:
        self.conn.execute(
            "UPDATE actions SET check_in_id = ?, check_in_at = ? WHERE id = ?", (touchpoint_id, at, action_id)
        )

    def told(self, action_id: int, people: int) -> None:
        self.conn.execute("UPDATE actions SET told = ? WHERE id = ?", (people, action_id))
