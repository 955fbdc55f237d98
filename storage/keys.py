"""Wrapped wave keys and the master key's check value: all the SQL about keys.

The database never holds a usable key: wave keys are stored wrapped under the master key, which
lives outside it; `meta` keeps only a value that tells whether a master key is the right one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.db import Store

CHECK = "key_check"
# Set once the answers of waves from before per-wave keys have been dealt with.
SCHEME = "key_scheme"
SCHEME_WAVE_KEYS = "wave-keys"
# Where versions before per-wave keys kept their generated secret, beside the data.
LEGACY_SECRET = "secret_key"
# Set by the upgrade, cleared once the file has been rebuilt (a reader may hold that up).
VACUUM_OWED = "vacuum_owed"


@dataclass(frozen=True)
class KeyState:
    """What a database says about its keys, read without changing it."""

    check: str | None = None
    legacy_secret: str | None = None
    scheme: str | None = None
    vacuum_owed: bool = False  # the upgrade's rebuild of the file has not happened yet


def peek(path: Path) -> KeyState:
    """The key state of the database at `path`, read-only; empty for a file that is not there yet
    (or predates the meta table). Nothing is created or written."""
    if not path.exists():
        return KeyState()
    # Not mode=ro: a read-only connection leaves empty -wal and -shm files behind, where one
    # that only reads removes them when it closes (unless the bot has the database open).
    conn = sqlite3.connect(path, timeout=5)
    try:
        conn.execute("PRAGMA query_only = ON")
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if found is None:
            return KeyState()
        values = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    finally:
        conn.close()
    return KeyState(values.get(CHECK), values.get(LEGACY_SECRET), values.get(SCHEME))


class WaveKeys:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def state(self) -> KeyState:
        rows = await self.store.fetch_all(
            "SELECT key, value FROM meta WHERE key IN (?, ?, ?, ?)", (CHECK, LEGACY_SECRET, SCHEME, VACUUM_OWED)
        )
        values = {str(r[0]): str(r[1]) for r in rows}
        return KeyState(values.get(CHECK), values.get(LEGACY_SECRET), values.get(SCHEME), VACUUM_OWED in values)

    async def vacuumed(self) -> None:
        await self.store.execute("DELETE FROM meta WHERE key = ?", (VACUUM_OWED,))

    async def wrapped(self, wave_id: int) -> bytes | None:
        value = await self.store.fetch_value("SELECT wrapped FROM wave_keys WHERE wave_id = ?", (wave_id,))
        return bytes(value) if value is not None else None

    async def wrapped_many(self, wave_ids: Sequence[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        ids = sorted(set(wave_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = await self.store.fetch_all(
                f"SELECT wave_id, wrapped FROM wave_keys WHERE wave_id IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update({int(r[0]): bytes(r[1]) for r in rows})
        return found

    async def unkeyed_waves(self) -> tuple[list[int], list[int]]:
        """(open, closed) waves that have no wrapped key: from before per-wave keys."""
        rows = await self.store.fetch_all(
            """SELECT w.id, w.closed_at IS NULL FROM waves w
               WHERE NOT EXISTS (SELECT 1 FROM wave_keys k WHERE k.wave_id = w.id) ORDER BY w.id"""
        )
        return [int(r[0]) for r in rows if r[1]], [int(r[0]) for r in rows if not r[1]]

    async def asked_in(self, wave_id: int) -> list[str]:
        rows = await self.store.fetch_all("SELECT user_id FROM deliveries WHERE wave_id = ?", (wave_id,))
        return [str(r[0]) for r in rows]

    async def respondent_keys_in(self, wave_ids: Sequence[int]) -> list[tuple[int, str]]:
        """Every (wave, respondent key) under which the waves hold an answer or a comment."""
        found: set[tuple[int, str]] = set()
        for wave_id in wave_ids:
            rows = await self.store.fetch_all(
                """SELECT respondent_key FROM responses WHERE wave_id = ?
                   UNION SELECT respondent_key FROM comments WHERE wave_id = ?""",
                (wave_id, wave_id),
            )
            found.update((wave_id, str(r[0])) for r in rows)
        return sorted(found)


_INSERT_WAVE_KEY = "INSERT INTO wave_keys (wave_id, wrapped) VALUES (?, ?)"


class KeyWrites:
    """Wave keys and the key records in `meta`, changed inside one write job (`storage.writes`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert_wave_key(self, wave_id: int, wrapped: bytes) -> None:
        """In a `Store.write` job (the upgrade)."""
        self.conn.execute(_INSERT_WAVE_KEY, (wave_id, wrapped))

    def wrapped_in(self, wave_id: int) -> bytes | None:
        """Inside a write job: the wave's wrapped key, or None once the wave has closed."""
        row = self.conn.execute("SELECT wrapped FROM wave_keys WHERE wave_id = ?", (wave_id,)).fetchone()
        return bytes(row[0]) if row is not None else None

    def destroy_wave_key(self, wave_id: int) -> None:
        """From this commit on, nobody can tell which of the wave's answers was whose."""
        self.conn.execute("DELETE FROM wave_keys WHERE wave_id = ?", (wave_id,))

    def rekey(self, wave_id: int, changes: Sequence[tuple[str, str]]) -> None:
        """Move a wave's answers and comments from old respondent keys to new ones."""
        for table in ("responses", "comments"):
            self.conn.executemany(
                f"UPDATE {table} SET respondent_key = ? WHERE wave_id = ? AND respondent_key = ?",
                [(new, wave_id, old) for old, new in changes],
            )

    def record_check(self, check: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (CHECK, check))

    def finish_scheme(self) -> bool:
        """Mark the upgrade done and delete a generated secret kept from before; True if there was one."""
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SCHEME, SCHEME_WAVE_KEYS))
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (VACUUM_OWED,))
        return self.conn.execute("DELETE FROM meta WHERE key = ?", (LEGACY_SECRET,)).rowcount > 0
