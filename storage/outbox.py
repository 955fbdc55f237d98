"""The outbox: messages to post to Slack exactly once (announcements, and later reminders).

A row goes pending → sending → sent | failed. `sending` with a claim time means a post may have
reached Slack; the sender checks Slack's history for the row's key before posting it again.
"""

from __future__ import annotations

import sqlite3

from storage.db import Store
from storage.models import OutboxItem

# Each message's key says what it is for, so that it is queued once however often the change
# that causes it is retried; the keys are built here only, where the SQL that looks for them is.
# Rows that keep no time of their own once sent or given up, only the one they were queued with:
# - a message to a thread's writer: its times fall in the writer's working hours, and would hint
#   at their time zone;
# - what the regression watch sends (its alerts, and the announcements of a pause it made): the
#   watch acts within a minute of a released group, so its times would date that group's last
#   answer; it queues them with the day only (services/watch.py).
TIMELESS = """(channel LIKE 'thread:%' OR kind = 'regression_alert'
    OR (kind = 'announcement' AND json_extract(payload, '$.actor') = 'watch'))"""


def transition_key(transition_id: int, channel: str) -> str:
    return f"transition:{transition_id}:{channel}"


def closed_key(channel: str, ts: str) -> str:
    """The update of one survey message saying its wave has closed."""
    return f"closed:{channel}:{ts}"


def reminder_key(delivery_id: int) -> str:
    return f"{REMINDER_PREFIX}{delivery_id}"


REMINDER_PREFIX = "reminder:"

# A claimed row is not picked again for this long (the sender's own retries set later times).
CLAIM_LEASE_SECONDS = 60


class OutboxWrites:
    """Queueing messages, inside the write job of the change that causes them (`storage.writes`): a stage change and its
    announcements commit together."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def enqueue(
        self,
        *,
        kind: str,
        dedupe_key: str,
        channel: str,
        payload: str,
        now: int,
        transition_id: int | None = None,
        delivery_id: int | None = None,
        not_before: int | None = None,
    ) -> bool:
        """Queue a message (to go at `not_before`, or now); False if its key was queued before."""
        cur = self.conn.execute(
            """INSERT OR IGNORE INTO outbox
               (kind, dedupe_key, transition_id, delivery_id, channel, payload, status, next_attempt_at, created_at)
               VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)""",
            (
                kind,
                dedupe_key,
                transition_id,
                delivery_id,
                channel,
                payload,
                now if not_before is None else not_before,
                now,
            ),
        )
        return cur.rowcount == 1

    def pending(self, kind: str, channel: str) -> tuple[int, str] | None:
        """(id, payload) of a row of `kind` to `channel` not yet taken for sending: one that a
        change may still add to (the sender claims rows in write jobs too, so never half)."""
        row = self.conn.execute(
            "SELECT id, payload FROM outbox WHERE kind = ? AND channel = ? AND status = 'pending' ORDER BY id LIMIT 1",
            (kind, channel),
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def last_sent_at(self, kind: str, channel: str) -> int | None:
        """When the latest row of `kind` to `channel` went, or is going (None: never)."""
        value = self.conn.execute(
            """SELECT max(coalesce(sent_at, next_attempt_at)) FROM outbox
               WHERE kind = ? AND channel = ? AND status IN ('sending', 'sent')""",
            (kind, channel),
        ).fetchone()[0]
        return int(value) if value is not None else None

    def replace_payload(self, item_id: int, payload: str) -> None:
        self.conn.execute("UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'", (payload, item_id))


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def recover(self) -> int:
        """At start-up: rows a previous process was sending are due now (after a check)."""
        return await self.store.execute("UPDATE outbox SET next_attempt_at = 0 WHERE status = 'sending'")

    async def due(self, now: float, limit: int = 50) -> list[OutboxItem]:
        rows = await self.store.fetch_all(
            """SELECT * FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?
               ORDER BY next_attempt_at, id LIMIT ?""",
            (now, limit),
        )
        return [OutboxItem.from_row(r) for r in rows]

    async def next_due_at(self) -> float | None:
        value = await self.store.fetch_value(
            "SELECT min(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')"
        )
        return float(value) if value is not None else None

    async def claim(self, item_id: int, now: float) -> OutboxItem | None:
        """Take a due row for sending. The returned item shows the row as it was before: status
        'sending' there means an earlier attempt's outcome is unknown."""

        def take(conn: sqlite3.Connection) -> OutboxItem | None:
            row = conn.execute(
                "SELECT * FROM outbox WHERE id = ? AND status IN ('pending', 'sending') AND next_attempt_at <= ?",
                (item_id, now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                """UPDATE outbox SET status = 'sending', attempts = attempts + 1,
                   claimed_at = ifnull(CASE WHEN status = 'sending' THEN claimed_at END, ?),
                   next_attempt_at = ? WHERE id = ?""",
                (int(now), now + CLAIM_LEASE_SECONDS, item_id),
            )
            item: OutboxItem = OutboxItem.from_row(row)
            return item

        return await self.store.write(take)

    async def sent(self, item_id: int, ts: str, now: int) -> None:
        """Sent. Some rows keep no time of their own (when it went, was claimed or tried; see
        TIMELESS)."""
        await self.store.execute(
            f"""UPDATE outbox SET status = 'sent', error = NULL,
               message_ts = CASE WHEN {TIMELESS} THEN NULL ELSE ? END,
               sent_at = CASE WHEN {TIMELESS} THEN created_at ELSE ? END,
               claimed_at = CASE WHEN {TIMELESS} THEN NULL ELSE claimed_at END,
               next_attempt_at = CASE WHEN {TIMELESS} THEN created_at ELSE next_attempt_at END,
               attempts = CASE WHEN {TIMELESS} THEN 0 ELSE attempts END
               WHERE id = ?""",
            (ts, now, item_id),
        )

    async def later(self, item_id: int, at: float, *, maybe_sent: bool = False) -> None:
        """Not sent, and not an attempt: look again at `at` (a thread's writer is outside their
        working hours). Nothing of the look is kept, so the row does not count how often it waited;
        `maybe_sent` (an earlier try's outcome is unknown) keeps it 'sending', so the next try
        checks Slack's history first."""
        await self.store.execute(
            """UPDATE outbox SET status = CASE WHEN ? THEN 'sending' ELSE 'pending' END, next_attempt_at = ?,
               claimed_at = CASE WHEN ? THEN claimed_at END, attempts = max(attempts - 1, 0) WHERE id = ?""",
            (maybe_sent, at, maybe_sent, item_id),
        )

    async def retry(self, item_id: int, at: float, error: str, *, maybe_sent: bool) -> None:
        """Try again at `at`; `maybe_sent` keeps the row 'sending' so the next try checks first."""
        status = "sending" if maybe_sent else "pending"
        await self.store.execute(
            """UPDATE outbox SET status = ?, next_attempt_at = ?, error = ?,
               claimed_at = CASE WHEN ? = 'pending' THEN NULL ELSE claimed_at END WHERE id = ?""",
            (status, at, error, status, item_id),
        )

    async def failed(self, item_id: int, error: str) -> None:
        """Given up. A timeless row keeps neither its times nor (a thread's) Slack's reason, which
        could match a cached account's state, as when sent."""
        await self.store.execute(
            f"""UPDATE outbox SET status = 'failed',
               error = CASE WHEN channel LIKE 'thread:%' THEN 'not sent' ELSE ? END,
               claimed_at = CASE WHEN {TIMELESS} THEN NULL ELSE claimed_at END,
               next_attempt_at = CASE WHEN {TIMELESS} THEN created_at ELSE next_attempt_at END,
               attempts = CASE WHEN {TIMELESS} THEN 0 ELSE attempts END
               WHERE id = ?""",
            (error, item_id),
        )
