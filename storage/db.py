"""The SQLite store: connection setup, transactions, the generated secret, online backup.

One writer connection serialised by a lock (SQLite allows one writer at a time anyway; the lock
keeps two coroutines from interleaving statements in one transaction) and one reader connection
that sees only committed data, thanks to WAL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS, Migration, migrate

log = logging.getLogger(__name__)

# WAL lets readers and the writer work at once; the mode is kept in the file.
#
# synchronous=FULL: with WAL, every commit waits for the WAL to reach the disk. An answer Slack
# has been told about must survive a power cut, not only a killed process (NORMAL would keep
# the last commits only in the OS cache). The cost is one fsync per commit, which grouping
# commits keeps off the hot path.
BUSY_TIMEOUT_MS = 5000
# While opening, processes starting together can wait on each other in ways SQLite's busy
# handler does not resolve (seen: four `pulse migrate` at once, one stuck for the full
# timeout); a short timeout plus a random back-off and a fresh attempt gets everyone through.
OPENING_BUSY_TIMEOUT_MS = 250
OPENING_DEADLINE_SECONDS = 30.0

Params = Sequence[Any] | dict[str, Any]


async def _connect(path: Path, *, busy_timeout_ms: int, read_only: bool = False) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


async def _open_connections(
    path: Path, run_migrations: bool
) -> tuple[aiosqlite.Connection, aiosqlite.Connection, list[Migration]]:
    """The writer (in WAL mode, migrated) and the reader, retried while other processes open."""
    deadline = time.monotonic() + OPENING_DEADLINE_SECONDS
    while True:
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await _connect(path, busy_timeout_ms=OPENING_BUSY_TIMEOUT_MS)
            opened.append(writer)
            await writer.execute("PRAGMA journal_mode = WAL")
            applied = await migrate(writer) if run_migrations else []
            await writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            reader = await _connect(path, busy_timeout_ms=BUSY_TIMEOUT_MS, read_only=True)
            return writer, reader, applied
        except sqlite3.OperationalError as exc:
            for conn in opened:
                await conn.close()
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(random.uniform(0.01, 0.1))
        except BaseException:
            for conn in opened:
                await conn.close()
            raise


class Store:
    """The database. Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        applied_at_open: list[Migration] | None = None,
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        # The migrations this open applied (empty when the schema was already current).
        self.applied_at_open = applied_at_open or []

    @classmethod
    async def open(cls, path: Path | str, *, run_migrations: bool = True) -> Store:
        path = Path(path)
        if path.parent and not path.parent.exists():
            raise FileNotFoundError(f"the folder for the database does not exist: {path.parent}")
        writer, reader, applied = await _open_connections(path, run_migrations)
        return cls(path, writer, reader, applied)

    async def close(self) -> None:
        async with self._write_lock:
            await self._reader.close()
            await self._writer.close()

    async def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
        async with self._write_lock:
            return await migrate(self._writer, migrations)

    # -- reads --------------------------------------------------------------------------------------

    # Each read runs as one call on the reader's thread (execute and fetch together). A statement
    # left open between calls would keep its read transaction, and with it an old snapshot, for
    # every other coroutine sharing the connection: a read right after a commit could miss it.

    async def fetch_one(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def ping(self) -> bool:
        """True while the database answers a read."""
        try:
            return bool(await asyncio.wait_for(self.fetch_value("SELECT 1"), timeout=2) == 1)
        except (sqlite3.Error, ValueError, TimeoutError):
            return False

    # -- writes -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; return the rows it changed."""
        async with self.transaction() as conn, conn.execute(sql, params) as cur:
            return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    # -- the generated secret (SPEC §3.6) -----------------------------------------------------------

    async def secret_key(self) -> str:
        """The secret generated on first start and kept in the database."""
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)",
                (secrets.token_hex(32),),
            )
            async with conn.execute("SELECT value FROM meta WHERE key = 'secret_key'") as cur:
                row = await cur.fetchone()
        assert row is not None
        return str(row[0])


def backup(source: Path, target: Path) -> None:
    """Copy a live database consistently with SQLite's online backup API, then check the copy.

    Writes to a temporary file beside the target and renames it at the end, so a failed backup
    never leaves a half-written file under the target's name.
    """
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError("the backup file must not be the database itself")
    if not source.exists():
        raise FileNotFoundError(f"no database at {source}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=1024)
            # The copy is a plain rollback-journal database: one file, nothing beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
            verdict = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise sqlite3.DatabaseError(f"the copy failed its integrity check: {verdict}")
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, target)
