"""Digest subscriptions and runs. A run is one (subscription, period): the record that makes
each digest post happen exactly once, and lets a restart finish a half-posted one."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from storage.db import Store
from storage.models import _Row

RunStatus = Literal["pending", "posting", "posted", "failed", "skipped"]


class Subscription(_Row):
    id: int
    channel_id: str
    cron: str
    timezone: str
    source: str
    created_by: str
    created_at: int
    language: str | None = None  # the digest's language; None: PULSE_LANGUAGE


class DigestRun(_Row):
    id: int
    subscription_id: int | None
    channel_id: str
    period_start: int
    period_end: int
    trigger: str
    status: RunStatus
    message_ts: str | None
    error: str | None
    created_at: int
    posted_at: int | None
    claimed_at: int | None
    parts_posted: int
    chart: str | None
    chart_file: str | None = None  # the file the latest upload made, of part `file_part`
    file_part: int | None = None  # None: the chart's part, 0 (runs from before maps were uploaded)

    def file_of(self, part: int) -> str | None:
        """The file an earlier attempt at uploading `part` made, if the latest upload was that part's."""
        return self.chart_file if (self.file_part or 0) == part else None


@dataclass(frozen=True)
class NewRun:
    """A digest run to start: one period of a subscription, or a `digest --now` (no subscription)."""

    subscription_id: int | None
    channel_id: str
    period_start: int
    period_end: int
    trigger: str
    now: int
    status: RunStatus = "posting"


class Digests:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- subscriptions ----------------------------------------------------------------------------

    async def subscriptions(self) -> list[Subscription]:
        rows = await self.store.fetch_all("SELECT * FROM digest_subscriptions ORDER BY id")
        return [Subscription.from_row(r) for r in rows]

    async def subscription(self, subscription_id: int) -> Subscription | None:
        row = await self.store.fetch_one("SELECT * FROM digest_subscriptions WHERE id = ?", (subscription_id,))
        return Subscription.from_row(row) if row else None

    async def subscribe(
        self,
        *,
        channel_id: str,
        cron: str,
        timezone: str,
        actor: str,
        now: int,
        source: str,
        language: str | None = None,
    ) -> bool:
        """Subscribe a channel, or change its schedule and language; True if it is new."""
        return await self.store.write(
            lambda conn: DigestWrites(conn).subscribe(
                channel_id=channel_id,
                cron=cron,
                timezone=timezone,
                actor=actor,
                now=now,
                source=source,
                language=language,
            )
        )

    async def unsubscribe(self, channel_id: str) -> bool:
        return await self.store.write(lambda conn: DigestWrites(conn).unsubscribe(channel_id))

    # -- runs -------------------------------------------------------------------------------------

    async def run_for(self, subscription_id: int, period_end: int) -> DigestRun | None:
        row = await self.store.fetch_one(
            "SELECT * FROM digest_runs WHERE subscription_id = ? AND period_end = ?", (subscription_id, period_end)
        )
        return DigestRun.from_row(row) if row else None

    async def start_run(self, new: NewRun) -> tuple[DigestRun, bool]:
        """The run of this subscription and period, created if new (True) or as it stands
        (False: already posted, skipped, or interrupted half way)."""

        def start(conn: sqlite3.Connection) -> tuple[DigestRun, bool]:
            if new.subscription_id is not None:
                row = conn.execute(
                    "SELECT * FROM digest_runs WHERE subscription_id = ? AND period_end = ?",
                    (new.subscription_id, new.period_end),
                ).fetchone()
                if row is not None:
                    return DigestRun.from_row(row), False
            cur = conn.execute(
                """INSERT INTO digest_runs
                   (subscription_id, channel_id, period_start, period_end, trigger, status, created_at, claimed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    new.subscription_id,
                    new.channel_id,
                    new.period_start,
                    new.period_end,
                    new.trigger,
                    new.status,
                    new.now,
                    new.now,
                ),
            )
            row = conn.execute("SELECT * FROM digest_runs WHERE id = ?", (cur.lastrowid,)).fetchone()
            assert row is not None
            return DigestRun.from_row(row), True

        return await self.store.write(start)

    async def resume(self, run_id: int, now: int) -> None:
        await self.store.execute(
            "UPDATE digest_runs SET status = 'posting', claimed_at = ifnull(claimed_at, ?) WHERE id = ?",
            (now, run_id),
        )

    async def part_posted(self, run_id: int, parts: int, ts: str, *, chart: str | None = None) -> None:
        """`parts` messages are out; `chart` says what became of the chart, if this one took it."""
        if not ts:
            raise ValueError("a digest part is recorded with the ts Slack gave it, never without")
        await self.store.execute(
            """UPDATE digest_runs SET parts_posted = ?, message_ts = ifnull(message_ts, ?), chart = ifnull(?, chart)
               WHERE id = ?""",
            (parts, ts, chart, run_id),
        )

    async def chart_file(self, run_id: int, file_id: str, part: int = 0) -> None:
        """The file an upload of the digest's `part` made (before it is completed and shared)."""
        await self.store.execute(
            "UPDATE digest_runs SET chart_file = ?, file_part = ? WHERE id = ?", (file_id, part, run_id)
        )

    async def chart_outcome(self, run_id: int, outcome: str) -> None:
        await self.store.execute("UPDATE digest_runs SET chart = ? WHERE id = ?", (outcome, run_id))

    async def finished(self, run_id: int, status: RunStatus, now: int, error: str | None = None) -> None:
        await self.store.execute(
            "UPDATE digest_runs SET status = ?, error = ?, posted_at = ? WHERE id = ?", (status, error, now, run_id)
        )

    async def interrupted_now(self, channel_id: str, since: int) -> DigestRun | None:
        """The newest `digest --now` run for this channel, begun since `since`, that a killed
        process left half posted."""
        row = await self.store.fetch_one(
            """SELECT * FROM digest_runs WHERE channel_id = ? AND trigger = 'now'
                 AND status IN ('pending', 'posting') AND created_at >= ?
               ORDER BY id DESC LIMIT 1""",
            (channel_id, since),
        )
        return DigestRun.from_row(row) if row else None

    async def unfinished_scheduled(self) -> list[DigestRun]:
        """Scheduled runs (not `digest --now`) that a crash or an outage left half done; a run
        whose subscription is gone has no subscription_id any more."""
        rows = await self.store.fetch_all(
            "SELECT * FROM digest_runs WHERE status IN ('pending', 'posting') AND trigger != 'now' ORDER BY id"
        )
        return [DigestRun.from_row(r) for r in rows]

    async def abandon(self, run_id: int, now: int, why: str) -> bool:
        """Record an unfinished run as skipped, with why; False if it has finished meanwhile."""
        changed = await self.store.execute(
            """UPDATE digest_runs SET status = 'skipped', error = ?, posted_at = ?
               WHERE id = ? AND status IN ('pending', 'posting')""",
            (why, now, run_id),
        )
        return changed > 0


class DigestWrites:
    """Changes to digest subscriptions inside one write job (`storage.writes`): `pulse apply`
    changes them in the same commit as the rest of its file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def subscribe(
        self,
        *,
        channel_id: str,
        cron: str,
        timezone: str,
        actor: str,
        now: int,
        source: str,
        language: str | None = None,
    ) -> bool:
        """Subscribe a channel, or change its schedule and language (None: PULSE_LANGUAGE); True
        if it is new."""
        found = self.conn.execute("SELECT 1 FROM digest_subscriptions WHERE channel_id = ?", (channel_id,)).fetchone()
        self.conn.execute(
            """INSERT INTO digest_subscriptions (channel_id, cron, timezone, source, created_by, created_at, language)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (channel_id) DO UPDATE
               SET cron = excluded.cron, timezone = excluded.timezone, language = excluded.language""",
            (channel_id, cron, timezone, source, actor, now, language),
        )
        return found is None

    def unsubscribe(self, channel_id: str) -> bool:
        return self.conn.execute("DELETE FROM digest_subscriptions WHERE channel_id = ?", (channel_id,)).rowcount > 0
