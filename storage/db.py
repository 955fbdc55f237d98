"""The SQLite store: connection setup, transactions, the generated secret, online backup.

One writer connection serialised by a lock (SQLite allows one writer at a time anyway; the lock
keeps two coroutines from interleaving statements in one transaction) and one reader connection
that sees only committed data, thanks to WAL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import MIGRATIONS, Migration, migrate

log = logging.getLogger(__name__)

# synchronous=FULL: with WAL, every commit waits for the WAL to reach the disk. An answer Slack
# has been told about must survive a power cut, not only a killed process (NORMAL would keep
# the last commits only in the OS cache). The cost is one fsync per commit, which grouping
# commits keeps off the hot path.
# busy_timeout first: switching to WAL needs a lock another process may hold for a moment.
PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
)
BUSY_TIMEOUT_MS = 5000

Params = Sequence[Any] | dict[str, Any]


async def _connect(path: Path, *, read_only: bool = False) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.row_factory = aiosqlite.Row
        for pragma in PRAGMAS:
            if read_only and "journal_mode" in pragma:
                continue  # a reader must not try to change the journal mode
            await conn.execute(pragma)
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


class Store:
    """The database. Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, run_migrations: bool = True) -> Store:
        path = Path(path)
        if path.parent and not path.parent.exists():
            raise FileNotFoundError(f"the folder for the database does not exist: {path.parent}")
        writer = await _connect(path)
        try:
            if run_migrations:
                await migrate(writer)
            reader = await _connect(path, read_only=True)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    async def close(self) -> None:
        async with self._write_lock:
            await self._reader.close()
            await self._writer.close()

    async def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
        async with self._write_lock:
            return await migrate(self._writer, migrations)

    # -- reads --------------------------------------------------------------------------------------

    async def fetch_one(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        async with self._reader.execute(sql, params) as cur:
            row: aiosqlite.Row | None = await cur.fetchone()
            return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        async with self._reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

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
