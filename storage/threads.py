"""Conversations on anonymous comments: all the SQL about threads and their messages.

A thread names its comment by wave and respondent key, and its writer only as `link`, their user
ID sealed under the master key; the link is deleted when the thread closes. Messages to the
writer are queued to the address `thread:<id>`, never to a user ID, so that no row of the
outbox names them either (docs/closing-the-loop.md).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Literal

from storage.db import Store
from storage.models import _Row

ThreadKind = Literal["reply", "noted", "looking", "fixed", "answer"]
ClosedHow = Literal["commenter", "expired", "forgotten"]

# The outbox address of a thread's writer: resolved to their user ID only when a message goes.
THREAD_ADDRESS_PREFIX = "thread:"


def thread_address(thread_id: int) -> str:
    return f"{THREAD_ADDRESS_PREFIX}{thread_id}"


def thread_of_address(channel: str) -> int | None:
    """The thread an outbox address names, or None for an ordinary channel or user."""
    if not channel.startswith(THREAD_ADDRESS_PREFIX):
        return None
    tail = channel[len(THREAD_ADDRESS_PREFIX) :]
    return int(tail) if tail.isdigit() else None


def note_key(thread_id: int, message_id: int) -> str:
    """The outbox key of one message of a thread, to either side."""
    return f"thread:{thread_id}:{message_id}"


class Thread(_Row):
    id: int
    rollout_id: int
    stage_id: int
    wave_id: int
    comment_key: str
    link: bytes | None  # the writer's user ID, sealed; None once closed
    replier: str  # who replied last: the writer's answers go to them
    opened_at: int
    expires_at: int
    awaiting: Literal["commenter", "replier"]
    waiting_on: str | None  # the day the writer's answer came, while it waits for a reply
    closed_at: int | None
    closed_how: ClosedHow | None

    @property
    def open(self) -> bool:
        return self.closed_at is None


class ThreadMessage(_Row):
    id: int
    thread_id: int
    author: str | None  # None: the comment's writer
    kind: ThreadKind
    body: str | None
    created_on: str


class Waiting(_Row):
    """Open threads of a rollout whose writer has answered and waits for a reply."""

    count: int
    oldest: str | None  # the day the longest-waiting answer came


class Threads:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, thread_id: int) -> Thread | None:
        row = await self.store.fetch_one("SELECT * FROM threads WHERE id = ?", (thread_id,))
        return Thread.from_row(row) if row else None

    async def of_comment(self, wave_id: int, comment_key: str) -> Thread | None:
        row = await self.store.fetch_one(
            "SELECT * FROM threads WHERE wave_id = ? AND comment_key = ?", (wave_id, comment_key)
        )
        return Thread.from_row(row) if row else None

    async def replies_closed(self, wave_id: int, comment_key: str) -> bool:
        """A conversation on the comment was closed: no other may start."""
        value = await self.store.fetch_value(
            "SELECT replies_closed FROM comments WHERE wave_id = ? AND respondent_key = ?", (wave_id, comment_key)
        )
        return bool(value)

    async def comment_body(self, thread: Thread) -> str | None:
        """The comment a thread is about (None once forget-me took it)."""
        value = await self.store.fetch_value(
            "SELECT body FROM comments WHERE wave_id = ? AND respondent_key = ?", (thread.wave_id, thread.comment_key)
        )
        return str(value) if value is not None else None

    async def messages(self, thread_id: int) -> list[ThreadMessage]:
        rows = await self.store.fetch_all("SELECT * FROM thread_messages WHERE thread_id = ? ORDER BY id", (thread_id,))
        return [ThreadMessage.from_row(r) for r in rows]

    async def open_links(self) -> list[tuple[int, bytes]]:
        """Every open thread's sealed link: what forget-me opens to find a person's threads."""
        rows = await self.store.fetch_all("SELECT id, link FROM threads WHERE closed_at IS NULL")
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def expired(self, now: int) -> list[int]:
        rows = await self.store.fetch_all(
            "SELECT id FROM threads WHERE closed_at IS NULL AND expires_at <= ? ORDER BY id", (now,)
        )
        return [int(r[0]) for r in rows]

    async def waiting(self, rollout_ids: Sequence[int]) -> dict[int, Waiting]:
        """For each rollout, its open threads awaiting a reply: how many, and since which day."""
        found: dict[int, Waiting] = {}
        for rollout_id in sorted(set(rollout_ids)):
            row = await self.store.fetch_one(
                # Only once the answer has reached the replier: counted sooner, the count would
                # show when the writer answered, which the delay hides.
                """SELECT count(*), min(waiting_on) FROM threads t
                   WHERE rollout_id = ? AND closed_at IS NULL AND awaiting = 'replier' AND NOT EXISTS (
                       SELECT 1 FROM outbox o WHERE o.channel = t.replier AND o.status IN ('pending', 'sending')
                       AND o.dedupe_key LIKE 'thread:' || t.id || ':%')""",
                (rollout_id,),
            )
            if row is not None and row[0]:
                found[rollout_id] = Waiting(count=int(row[0]), oldest=row[1])
        return found


class ThreadWrites:
    """Threads changed inside one write job (`storage.writes`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def open(
        self,
        *,
        rollout_id: int,
        stage_id: int,
        wave_id: int,
        comment_key: str,
        replier: str,
        now: int,
        expires_at: int,
        seal: Callable[[int], bytes],
    ) -> int:
        """A new thread on a comment; `seal(thread_id)` is the writer's user ID sealed for it."""
        cur = self.conn.execute(
            """INSERT INTO threads (rollout_id, stage_id, wave_id, comment_key, link, replier, opened_at, expires_at)
               VALUES (?, ?, ?, ?, x'00', ?, ?, ?)""",
            (rollout_id, stage_id, wave_id, comment_key, replier, now, expires_at),
        )
        assert cur.lastrowid is not None
        thread_id = int(cur.lastrowid)
        self.conn.execute("UPDATE threads SET link = ? WHERE id = ?", (seal(thread_id), thread_id))
        # The comment's group waits for the map's themes while the thread can last.
        self.conn.execute(
            """INSERT INTO theme_holds (stage_id, released_on, until)
               SELECT stage_id, released_on, ? FROM comments
               WHERE wave_id = ? AND respondent_key = ? AND released_on IS NOT NULL""",
            (expires_at, wave_id, comment_key),
        )
        return thread_id

    def follow(self, wave_id: int, moved: dict[str, str]) -> None:
        """The wave's comments moved to keys of their own (`DisclosureWrites.unlink_comments`):
        its threads follow them."""
        self.conn.executemany(
            "UPDATE threads SET comment_key = ? WHERE wave_id = ? AND comment_key = ?",
            [(new, wave_id, old) for old, new in moved.items()],
        )

    def about(self, thread_id: int) -> tuple[str | None, int]:
        """The comment a thread is about (None once forget-me took it), and when it expires."""
        row = self.conn.execute(
            """SELECT c.body, t.expires_at FROM threads t
               LEFT JOIN comments c ON c.wave_id = t.wave_id AND c.respondent_key = t.comment_key
               WHERE t.id = ?""",
            (thread_id,),
        ).fetchone()
        return (row[0], int(row[1])) if row else (None, 0)

    def is_open(self, thread_id: int) -> bool:
        row = self.conn.execute("SELECT closed_at IS NULL FROM threads WHERE id = ?", (thread_id,)).fetchone()
        return bool(row and row[0])

    def add_message(self, *, thread_id: int, author: str | None, kind: ThreadKind, body: str | None, day: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO thread_messages (thread_id, author, kind, body, created_on) VALUES (?, ?, ?, ?, ?)",
            (thread_id, author, kind, body, day),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def replied(self, thread_id: int, replier: str) -> None:
        """A reply went to the writer: it is their turn, and their answers go to `replier`."""
        self.conn.execute(
            "UPDATE threads SET awaiting = 'commenter', waiting_on = NULL, replier = ? WHERE id = ?",
            (replier, thread_id),
        )

    def answered(self, thread_id: int, day: str) -> None:
        """The writer answered back: it waits for a reply (since the first unanswered answer)."""
        self.conn.execute(
            """UPDATE threads SET awaiting = 'replier', waiting_on = ifnull(waiting_on, ?)
               WHERE id = ? AND closed_at IS NULL""",
            (day, thread_id),
        )

    def close(self, thread_id: int, how: ClosedHow, now: int) -> bool:
        """Close the thread: from this commit on it names nobody and leads nowhere. Its link goes,
        its messages and queued or sent notes go (their keys are in the DMs, in Slack), and it
        no longer names its comment. Dated by the day only, like the answers."""
        self.conn.execute(
            """UPDATE comments SET replies_closed = 1 WHERE (wave_id, respondent_key) IN
               (SELECT wave_id, comment_key FROM threads WHERE id = ? AND closed_at IS NULL)""",
            (thread_id,),
        )
        cur = self.conn.execute(
            """UPDATE threads SET link = NULL, closed_at = ?, closed_how = ?, comment_key = ?, awaiting = 'commenter',
               waiting_on = NULL WHERE id = ? AND closed_at IS NULL""",
            (now - now % 86400, how, os.urandom(32).hex(), thread_id),
        )
        if cur.rowcount != 1:
            return False
        self.conn.execute("DELETE FROM thread_messages WHERE thread_id = ?", (thread_id,))
        self.conn.execute(
            "DELETE FROM outbox WHERE channel = ? OR dedupe_key LIKE ?",
            (thread_address(thread_id), f"thread:{thread_id}:%"),
        )
        return True

    def forget_replier(self, user_id: str) -> None:
        """A replier asked to be forgotten: their words go from the threads and the queue (their
        ID is replaced elsewhere, as everywhere a person did something)."""
        self.conn.execute("UPDATE thread_messages SET body = NULL WHERE author = ?", (user_id,))
        self.conn.execute("DELETE FROM outbox WHERE kind = 'thread_note' AND instr(payload, ?) > 0", (user_id,))

    def forget(self, thread_ids: Sequence[int]) -> int:
        """Delete threads whose writer asked to be forgotten, with their words: the comment, their
        answers in the thread, and any message to a replier not yet sent."""
        deleted = 0
        for thread_id in thread_ids:
            # Their comment too, found through the thread even in a closed wave: their words.
            self.conn.execute(
                """DELETE FROM comments WHERE (wave_id, respondent_key) IN
                   (SELECT wave_id, comment_key FROM threads WHERE id = ?)""",
                (thread_id,),
            )
            self.conn.execute("DELETE FROM outbox WHERE channel = ?", (thread_address(thread_id),))
            self.conn.execute("DELETE FROM outbox WHERE dedupe_key LIKE ?", (f"thread:{thread_id}:%",))
            deleted += self.conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,)).rowcount
        return deleted
