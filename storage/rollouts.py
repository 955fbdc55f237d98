"""Rollouts and everything that hangs off them: stages, cohorts, people, targets, the audit log.

Reads go through the store's reader; writes take the connection of a transaction the caller
opened, so that a change and its audit entry (and its announcements) commit together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from storage.db import Store
from storage.guards import Guards
from storage.models import (
    ApprovalRequest,
    AuditEntry,
    CohortEntry,
    CohortKind,
    GateRecord,
    OutboxItem,
    Rollout,
    RolloutStatus,
    Stage,
    Target,
    Touchpoint,
    Transition,
    TransitionKind,
)

Role = str  # "owners" or "champions": the table name


@dataclass(frozen=True)
class RolloutDetail:
    """A rollout with its stages, people, cohort entries, targets and touchpoints."""

    rollout: Rollout
    stages: list[Stage]
    owners: list[str]
    champions: list[str]
    cohort: list[CohortEntry] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    touchpoints: list[Touchpoint] = field(default_factory=list)
    approvers: dict[int, list[str]] = field(default_factory=dict)  # stage id → who approves an advance into it
    waiting: ApprovalRequest | None = None  # the advance waiting for one of them

    @property
    def current(self) -> Stage | None:
        return self.stage_by_id(self.rollout.current_stage_id)

    def stage_by_id(self, stage_id: int | None) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def stage_named(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name.lower()), None)

    def next_stage(self, stage: Stage | None = None) -> Stage | None:
        base = stage or self.current
        if base is None:
            return None
        return next((s for s in self.stages if s.position == base.position + 1), None)

    def previous_stage(self, stage: Stage | None = None) -> Stage | None:
        base = stage or self.current
        if base is None:
            return None
        return next((s for s in self.stages if s.position == base.position - 1), None)

    def cohort_up_to(self, stage: Stage) -> list[CohortEntry]:
        """Cohorts are cumulative: stage N holds the entries of stages 1..N."""
        positions = {s.id: s.position for s in self.stages}
        return [e for e in self.cohort if positions.get(e.stage_id, 10**6) <= stage.position]

    def targets_for(self, stage: Stage) -> list[Target]:
        """The gates of a stage: its own targets, and the whole-rollout ones it does not override."""
        own = [t for t in self.targets if t.stage_id == stage.id]
        overridden = {t.metric for t in own}
        common = [t for t in self.targets if t.stage_id is None and t.metric not in overridden]
        return common + own

    def touchpoint(self, key: str) -> Touchpoint | None:
        return next((t for t in self.touchpoints if t.key == key), None)

    def approvers_of(self, stage: Stage | None) -> list[str]:
        return self.approvers.get(stage.id, []) if stage is not None else []


class Rollouts:
    """Reads."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, slug: str) -> Rollout | None:
        row = await self.store.fetch_one("SELECT * FROM rollouts WHERE slug = ?", (slug,))
        return Rollout.from_row(row) if row else None

    async def get_by_id(self, rollout_id: int) -> Rollout | None:
        row = await self.store.fetch_one("SELECT * FROM rollouts WHERE id = ?", (rollout_id,))
        return Rollout.from_row(row) if row else None

    async def load(self, slug: str) -> RolloutDetail | None:
        rollout = await self.get(slug)
        return await self.detail(rollout) if rollout else None

    async def load_by_id(self, rollout_id: int) -> RolloutDetail | None:
        rollout = await self.get_by_id(rollout_id)
        return await self.detail(rollout) if rollout else None

    async def detail(self, rollout: Rollout) -> RolloutDetail:
        rid = (rollout.id,)
        stages = await self.store.fetch_all("SELECT * FROM stages WHERE rollout_id = ? ORDER BY position", rid)
        owners = await self.store.fetch_all("SELECT user_id FROM owners WHERE rollout_id = ? ORDER BY added_at", rid)
        champions = await self.store.fetch_all(
            "SELECT user_id FROM champions WHERE rollout_id = ? ORDER BY added_at", rid
        )
        cohort = await self.store.fetch_all(
            """SELECT c.* FROM cohort_entries c JOIN stages s ON s.id = c.stage_id
               WHERE s.rollout_id = ? ORDER BY s.position, c.id""",
            rid,
        )
        targets = await self.store.fetch_all(
            """SELECT t.* FROM targets t LEFT JOIN stages s ON s.id = t.stage_id
               WHERE t.rollout_id = ? ORDER BY ifnull(s.position, 0), t.id""",
            rid,
        )
        touchpoints = await self.store.fetch_all("SELECT * FROM touchpoints WHERE rollout_id = ? ORDER BY key", rid)
        guards = Guards(self.store)
        return RolloutDetail(
            rollout=rollout,
            stages=[Stage.from_row(r) for r in stages],
            owners=[r[0] for r in owners],
            champions=[r[0] for r in champions],
            cohort=[CohortEntry.from_row(r) for r in cohort],
            targets=[Target.from_row(r) for r in targets],
            touchpoints=[Touchpoint.from_row(r) for r in touchpoints],
            approvers=await guards.approvers(rollout.id),
            waiting=await guards.waiting(rollout.id),
        )

    async def open_rollouts(self) -> list[RolloutDetail]:
        """Planned, active and paused rollouts, most recently changed first."""
        rows = await self.store.fetch_all(
            "SELECT * FROM rollouts WHERE status != 'completed' ORDER BY updated_at DESC, id DESC"
        )
        return [await self.detail(Rollout.from_row(r)) for r in rows]

    async def count_completed(self) -> int:
        return int(await self.store.fetch_value("SELECT count(*) FROM rollouts WHERE status = 'completed'"))

    async def by_channel(self, channel_id: str) -> list[Rollout]:
        rows = await self.store.fetch_all(
            "SELECT * FROM rollouts WHERE channel_id = ? AND status != 'completed' ORDER BY id", (channel_id,)
        )
        return [Rollout.from_row(r) for r in rows]

    async def slugs(self) -> list[str]:
        return [r[0] for r in await self.store.fetch_all("SELECT slug FROM rollouts ORDER BY slug")]

    async def transitions(self, rollout_id: int) -> list[Transition]:
        rows = await self.store.fetch_all(
            "SELECT * FROM stage_transitions WHERE rollout_id = ? ORDER BY at, id", (rollout_id,)
        )
        return [Transition.from_row(r) for r in rows]

    async def audit(self, rollout_id: int, limit: int) -> list[AuditEntry]:
        rows = await self.store.fetch_all(
            "SELECT * FROM audit_log WHERE rollout_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (rollout_id, limit),
        )
        return [AuditEntry.from_row(r) for r in rows]

    async def audit_between(self, rollout_id: int, actions: Sequence[str], start: int, end: int) -> list[AuditEntry]:
        """The entries of these actions in [start, end), oldest first."""
        marks = ", ".join("?" * len(actions))
        rows = await self.store.fetch_all(
            f"""SELECT * FROM audit_log WHERE rollout_id = ? AND action IN ({marks}) AND at >= ? AND at < ?
                ORDER BY at, id""",
            (rollout_id, *actions, start, end),
        )
        return [AuditEntry.from_row(r) for r in rows]

    async def announcement_outcomes(self, rollout_id: int) -> list[OutboxItem]:
        """The announcements of a rollout's transitions that failed or are still waiting."""
        rows = await self.store.fetch_all(
            """SELECT o.* FROM outbox o JOIN stage_transitions t ON t.id = o.transition_id
               WHERE t.rollout_id = ? AND o.status != 'sent' ORDER BY o.id""",
            (rollout_id,),
        )
        return [OutboxItem.from_row(r) for r in rows]


# -- writes ---------------------------------------------------------------------------------------


class RolloutWrites:
    """Changes to rollouts, made inside one write job (`storage.writes`): a change, its audit
    entry and its announcements commit together or not at all."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # Looked up inside the job: `pulse apply` may have created the rollout a moment before.
    def _one(self, sql: str, params: tuple[object, ...]) -> int:
        row = self.conn.execute(sql, params).fetchone()
        if row is None:
            raise LookupError(f"{sql} {params}")
        return int(row[0])

    def rollout_id_of(self, slug: str) -> int:
        return self._one("SELECT id FROM rollouts WHERE slug = ?", (slug,))

    def stage_id_of(self, slug: str, name: str) -> int:
        return self._one(
            "SELECT s.id FROM stages s JOIN rollouts r ON r.id = s.rollout_id WHERE r.slug = ? AND s.name = ?",
            (slug, name),
        )

    def touchpoint_id_of(self, slug: str, key: str) -> int:
        return self._one(
            "SELECT t.id FROM touchpoints t JOIN rollouts r ON r.id = t.rollout_id WHERE r.slug = ? AND t.key = ?",
            (slug, key),
        )

    def insert_rollout(self, *, slug: str, title: str, stage_names: Sequence[str], creator: str, now: int) -> int:
        cur = self.conn.execute(
            """INSERT INTO rollouts (slug, title, status, created_by, created_at, updated_at)
               VALUES (?, ?, 'planned', ?, ?, ?)""",
            (slug, title, creator, now, now),
        )
        rollout_id = int(cur.lastrowid or 0)
        self.conn.executemany(
            "INSERT INTO stages (rollout_id, position, name) VALUES (?, ?, ?)",
            [(rollout_id, i, name) for i, name in enumerate(stage_names, start=1)],
        )
        self.conn.execute(
            "INSERT INTO owners (rollout_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
            (rollout_id, creator, creator, now),
        )
        return rollout_id

    def replace_stages(self, rollout_id: int, names: Sequence[str]) -> None:
        """Set the stage list of a rollout that has not started; stages kept by name keep their
        cohort, planned date and targets."""
        rows = (self.conn.execute("SELECT id, name FROM stages WHERE rollout_id = ?", (rollout_id,))).fetchall()
        existing = {str(r[1]): int(r[0]) for r in rows}
        dropped = [sid for name, sid in existing.items() if name not in names]
        if dropped:
            marks = ",".join("?" * len(dropped))
            self.conn.execute(f"DELETE FROM stages WHERE id IN ({marks})", dropped)
        # Move kept stages out of the way first: (rollout_id, position) is unique.
        self.conn.execute("UPDATE stages SET position = position + 1000 WHERE rollout_id = ?", (rollout_id,))
        for position, name in enumerate(names, start=1):
            if name in existing:
                self.conn.execute("UPDATE stages SET position = ? WHERE id = ?", (position, existing[name]))
            else:
                self.conn.execute(
                    "INSERT INTO stages (rollout_id, position, name) VALUES (?, ?, ?)",
                    (rollout_id, position, name),
                )

    def update_rollout(self, rollout_id: int, now: int, **columns: Any) -> None:
        allowed = {
            "vision",
            "vision_variants",
            "channel_id",
            "status",
            "current_stage_id",
            "title",
            "title_variants",
            "auto_nps_after_days",
            "language",
            "on_regression",
        }
        unknown = set(columns) - allowed
        if unknown:
            raise ValueError(f"not a rollout column: {unknown}")
        assignments = ", ".join([*(f"{name} = ?" for name in columns), "updated_at = ?"])
        self.conn.execute(
            f"UPDATE rollouts SET {assignments} WHERE id = ?",
            (*columns.values(), now, rollout_id),
        )

    def set_soak(self, stage_id: int, days: int) -> None:
        self.conn.execute("UPDATE stages SET soak_days = ? WHERE id = ?", (days, stage_id))

    def gates_seen(self, stage_id: int, passing: bool, now: int) -> None:
        """The watch's finding: passing keeps (or starts) the run of passing; failing ends it. A
        run starts at the next midnight (UTC), not the minute: a gate starts passing when a group of
        answers is released, and the minute would date the answer that completed it, which answers
        themselves never are (so a soak ends up to a day late, never early)."""
        self.conn.execute(
            "UPDATE stages SET passing_since = CASE WHEN ? THEN ifnull(passing_since, ?) END WHERE id = ?",
            (passing, now - now % 86400 + 86400, stage_id),
        )

    def set_planned_start(self, stage_id: int, day: date | None) -> None:
        self.conn.execute(
            "UPDATE stages SET planned_start = ? WHERE id = ?", (day.isoformat() if day else None, stage_id)
        )

    def add_cohort_entries(
        self,
        stage_id: int,
        entries: Sequence[tuple[CohortKind, str, str | None]],
        actor: str,
        now: int,
    ) -> int:
        added = 0
        for kind, ref, label in entries:
            cur = self.conn.execute(
                """INSERT INTO cohort_entries (stage_id, kind, ref, label, added_by, added_at)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stage_id, kind, ref) DO UPDATE SET label = excluded.label""",
                (stage_id, kind, ref, label, actor, now),
            )
            added += cur.rowcount
        return added

    def remove_cohort_entries(self, stage_id: int, entries: Sequence[tuple[CohortKind, str]]) -> int:
        removed = 0
        for kind, ref in entries:
            cur = self.conn.execute(
                "DELETE FROM cohort_entries WHERE stage_id = ? AND kind = ? AND ref = ?", (stage_id, kind, ref)
            )
            removed += cur.rowcount
        return removed

    def add_people(self, role: Role, rollout_id: int, users: Sequence[str], actor: str, now: int) -> list[str]:
        """Add owners or champions; return those who were not already there."""
        assert role in ("owners", "champions")
        added = []
        for user in users:
            cur = self.conn.execute(
                f"INSERT OR IGNORE INTO {role} (rollout_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
                (rollout_id, user, actor, now),
            )
            if cur.rowcount:
                added.append(user)
        return added

    def remove_people(self, role: Role, rollout_id: int, users: Sequence[str]) -> list[str]:
        assert role in ("owners", "champions")
        removed = []
        for user in users:
            cur = self.conn.execute(f"DELETE FROM {role} WHERE rollout_id = ? AND user_id = ?", (rollout_id, user))
            if cur.rowcount:
                removed.append(user)
        if role == "owners" and removed:
            # No longer an owner: their Home shows that rollout's map no more, and keeps no file of it.
            marks = ",".join("?" * len(removed))
            self.conn.execute(
                f"DELETE FROM map_files WHERE rollout_id = ? AND user_id IN ({marks})", (rollout_id, *removed)
            )
        return removed

    def count_people(self, role: Role, rollout_id: int) -> int:
        assert role in ("owners", "champions")
        row = (self.conn.execute(f"SELECT count(*) FROM {role} WHERE rollout_id = ?", (rollout_id,))).fetchone()
        return int(row[0]) if row else 0

    def upsert_target(
        self,
        *,
        rollout_id: int,
        stage_id: int | None,
        metric: str,
        op: str,
        value: float,
        actor: str,
        now: int,
    ) -> bool:
        """Add a target, or replace the one for the same metric and stage; True if it replaced one."""
        cur = self.conn.execute(
            "DELETE FROM targets WHERE rollout_id = ? AND ifnull(stage_id, 0) = ifnull(?, 0) AND metric = ?",
            (rollout_id, stage_id, metric),
        )
        replaced = cur.rowcount > 0
        self.conn.execute(
            """INSERT INTO targets (rollout_id, stage_id, metric, op, value, created_by, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (rollout_id, stage_id, metric, op, value, actor, now),
        )
        return replaced

    def remove_target(self, rollout_id: int, stage_id: int | None, metric: str) -> bool:
        cur = self.conn.execute(
            "DELETE FROM targets WHERE rollout_id = ? AND ifnull(stage_id, 0) = ifnull(?, 0) AND metric = ?",
            (rollout_id, stage_id, metric),
        )
        return cur.rowcount > 0

    def record_transition(
        self,
        *,
        rollout_id: int,
        kind: TransitionKind,
        from_stage_id: int | None,
        to_stage_id: int | None,
        actor: str,
        reason: str | None,
        gates: Sequence[GateRecord] | None,
        overridden: bool,
        cohort_size: int | None,
        now: int,
    ) -> int:
        cur = self.conn.execute(
            """INSERT INTO stage_transitions
               (rollout_id, kind, from_stage_id, to_stage_id, actor, reason, gates, overridden, cohort_size, at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                rollout_id,
                kind,
                from_stage_id,
                to_stage_id,
                actor,
                reason,
                json.dumps([g.model_dump() for g in gates]) if gates is not None else None,
                int(overridden),
                cohort_size,
                now,
            ),
        )
        return int(cur.lastrowid or 0)

    def enter_stage(self, stage_id: int, now: int) -> None:
        # Entering a stage starts its gates' run of passing afresh.
        self.conn.execute(
            "UPDATE stages SET entered_at = ?, left_at = NULL, passing_since = NULL WHERE id = ?", (now, stage_id)
        )

    def leave_stage(self, stage_id: int, now: int) -> None:
        self.conn.execute("UPDATE stages SET left_at = ? WHERE id = ?", (now, stage_id))

    def write_audit(
        self,
        *,
        rollout_id: int | None,
        actor: str,
        action: str,
        now: int,
        detail: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO audit_log (rollout_id, actor, action, detail, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
            (rollout_id, actor, action, json.dumps(detail) if detail else None, reason, now),
        )

    def current_status(self, rollout_id: int) -> tuple[RolloutStatus, int | None]:
        """The status and current stage as this transaction sees them (to refuse stale changes)."""
        row = (
            self.conn.execute("SELECT status, current_stage_id FROM rollouts WHERE id = ?", (rollout_id,))
        ).fetchone()
        if row is None:
            raise LookupError(rollout_id)
        return RolloutStatus(row[0]), row[1]
