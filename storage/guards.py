"""Guarded stages: the approvers of each stage, the advance waiting for one of them, and the
state of every rule the regression watch keeps (docs/rollouts.md: "Guarded stages")."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from storage.db import Store
from storage.models import ApprovalRequest

AlarmState = Literal["armed", "raised"]


@dataclass(frozen=True)
class Alarm:
    state: AlarmState
    raised: int  # how many alerts it has raised


class Guards:
    """Reads."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def approvers(self, rollout_id: int) -> dict[int, list[str]]:
        """Each stage's approvers, in the order they were named."""
        rows = await self.store.fetch_all(
            """SELECT a.stage_id, a.user_id FROM stage_approvers a JOIN stages s ON s.id = a.stage_id
               WHERE s.rollout_id = ? ORDER BY a.added_at, a.rowid""",
            (rollout_id,),
        )
        found: dict[int, list[str]] = {}
        for stage_id, user in rows:
            found.setdefault(int(stage_id), []).append(str(user))
        return found

    async def waiting(self, rollout_id: int) -> ApprovalRequest | None:
        row = await self.store.fetch_one(
            "SELECT * FROM approval_requests WHERE rollout_id = ? AND status = 'waiting'", (rollout_id,)
        )
        return ApprovalRequest.from_row(row) if row else None

    async def request(self, request_id: int) -> ApprovalRequest | None:
        row = await self.store.fetch_one("SELECT * FROM approval_requests WHERE id = ?", (request_id,))
        return ApprovalRequest.from_row(row) if row else None

    async def alarms(self, stage_id: int) -> dict[str, Alarm]:
        rows = await self.store.fetch_all(
            "SELECT rule, state, raised FROM watch_alarms WHERE stage_id = ?", (stage_id,)
        )
        return {str(rule): Alarm(state, int(raised)) for rule, state, raised in rows}

    async def released_groups(self) -> int:
        """How many groups of answers have been released so far: the watch looks again when it grows."""
        return int(await self.store.fetch_value("SELECT ifnull(max(rowid), 0) FROM disclosed"))


class GuardWrites:
    """Writes, inside a write job (`storage.writes`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def set_approvers(self, stage_id: int, users: Sequence[str], actor: str, now: int) -> None:
        """The stage's approvers become `users` (none: an advance into it waits for nobody)."""
        self.conn.execute("DELETE FROM stage_approvers WHERE stage_id = ?", (stage_id,))
        self.conn.executemany(
            "INSERT OR IGNORE INTO stage_approvers (stage_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
            [(stage_id, user, actor, now) for user in users],
        )

    def approvers_of(self, stage_id: int) -> list[str]:
        rows = self.conn.execute(
            "SELECT user_id FROM stage_approvers WHERE stage_id = ? ORDER BY added_at, rowid", (stage_id,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def waiting(self, rollout_id: int) -> ApprovalRequest | None:
        row = self.conn.execute(
            "SELECT * FROM approval_requests WHERE rollout_id = ? AND status = 'waiting'", (rollout_id,)
        ).fetchone()
        return ApprovalRequest.from_row(row) if row else None

    def request(
        self,
        *,
        rollout_id: int,
        from_stage_id: int,
        to_stage_id: int,
        requested_by: str,
        reason: str | None,
        overridden: bool,
        now: int,
    ) -> int:
        cur = self.conn.execute(
            """INSERT INTO approval_requests
                   (rollout_id, from_stage_id, to_stage_id, requested_by, reason, overridden, requested_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (rollout_id, from_stage_id, to_stage_id, requested_by, reason, int(overridden), now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def decide(self, request_id: int, status: Literal["approved", "withdrawn"], by: str | None, now: int) -> bool:
        """Decide a waiting request; False when it no longer waits."""
        cur = self.conn.execute(
            """UPDATE approval_requests SET status = ?, decided_by = ?, decided_at = ?
               WHERE id = ? AND status = 'waiting'""",
            (status, by, now, request_id),
        )
        return cur.rowcount == 1

    def withdraw_waiting(self, rollout_id: int, now: int) -> None:
        """The rollout moved otherwise: the advance that waited no longer means anything."""
        self.conn.execute(
            """UPDATE approval_requests SET status = 'withdrawn', decided_at = ?
               WHERE rollout_id = ? AND status = 'waiting'""",
            (now, rollout_id),
        )

    def alarm(self, stage_id: int, rule: str) -> Alarm | None:
        row = self.conn.execute(
            "SELECT state, raised FROM watch_alarms WHERE stage_id = ? AND rule = ?", (stage_id, rule)
        ).fetchone()
        return Alarm(row[0], int(row[1])) if row else None

    def arm(self, stage_id: int, rule: str) -> bool:
        """The rule holds (again): it may raise its next alert. True when it had raised one."""
        before = self.alarm(stage_id, rule)
        self.conn.execute(
            """INSERT INTO watch_alarms (stage_id, rule, state) VALUES (?, ?, 'armed')
               ON CONFLICT (stage_id, rule) DO UPDATE SET state = 'armed'""",
            (stage_id, rule),
        )
        return before is not None and before.state == "raised"

    def raise_alarm(self, stage_id: int, rule: str) -> int | None:
        """Raise the rule's alarm if it is armed (a rule never seen holding is armed only when
        `rule` needs no pass first: see `arm`). Returns the alert's number, or None when it
        stays quiet."""
        cur = self.conn.execute(
            """UPDATE watch_alarms SET state = 'raised', raised = raised + 1
               WHERE stage_id = ? AND rule = ? AND state = 'armed' RETURNING raised""",
            (stage_id, rule),
        )
        row = cur.fetchone()
        return int(row[0]) if row else None
