"""The SQLite store: connection setup, transactions, online backup.

One writer connection serialised by a lock (SQLite allows one writer at a time anyway; the lock
keeps two coroutines from interleaving statements in one transaction) and one reader connection
that sees only committed data, thanks to WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite

from runtime.write_wait import write_wait_limit
from storage.errors import DatabaseBusy, storage_problem
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
T = TypeVar("T")
# A unit of work for `Store.write`: plain sqlite3 calls, run on the writer's thread.
WriteJob = Callable[[sqlite3.Connection], T]


# Emptying the -wal: tries, and how long each may wait for another process's readers.
WIPE_TRIES = 5
WIPE_BUSY_TIMEOUT_MS = 200

# How long writes may keep failing on another process's lock before /healthz reports it.
LOCKED_TOO_LONG_SECONDS = 30.0


class _WriteFailure(NamedTuple):
    line: str
    since: float
    last: float
    busy: bool


def write_wait() -> float:
    """How long a write may wait for the database when another process holds its write lock:
    BUSY_TIMEOUT_MS unless the code serving a request said less (`runtime.write_wait`); then
    it fails with DatabaseBusy, having written nothing."""
    wait = write_wait_limit()
    return BUSY_TIMEOUT_MS / 1000 if wait is None else wait


class _Claim:
    """A job waiting in a write group: the writer's thread takes it, or its caller gives up on it
    first (then it is never run). Both sides decide under the same lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False
        self._abandoned = False

    def guard(self, job: WriteJob[T]) -> WriteJob[T]:
        def guarded(conn: sqlite3.Connection) -> T:
            with self._lock:
                if self._abandoned:
                    raise DatabaseBusy("given up before it could be written")
                self._taken = True
            return job(conn)

        return guarded

    def abandon(self) -> bool:
        """True if the job will now never run; False if it is being written already."""
        with self._lock:
            if not self._taken:
                self._abandoned = True
            return self._abandoned


# Values bound in one `IN (…)`: well under SQLite's limit on parameters.
SQL_CHUNK = 500


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    """`items` in pieces of at most SQL_CHUNK, for queries with one parameter per item."""
    for i in range(0, len(items), SQL_CHUNK):
        yield items[i : i + SQL_CHUNK]


def day_of(at: int | float, zone: tzinfo) -> str:
    """The calendar day (YYYY-MM-DD) of a moment in `zone`: how answers are dated."""
    return datetime.fromtimestamp(at, zone).date().isoformat()


R = TypeVar("R", int, str)


def range_sql(column: str, low: R | None, high: R | None) -> tuple[str, list[R]]:
    """` AND column >= low AND column < high` for the bounds given (None: unbounded), and its
    parameters."""
    clauses: list[str] = []
    params: list[R] = []
    if low is not None:
        clauses.append(f"{column} >= ?")
        params.append(low)
    if high is not None:
        clauses.append(f"{column} < ?")
        params.append(high)
    return "".join(f" AND {clause}" for clause in clauses), params


def day_function(zone: tzinfo) -> Callable[[int | float | None], str | None]:
    """`pulse_day(unix seconds)`: `day_of` for SQL."""

    def pulse_day(at: int | float | None) -> str | None:
        return None if at is None else day_of(at, zone)

    return pulse_day


async def _connect(
    path: Path, *, busy_timeout_ms: int, read_only: bool = False, day_zone: tzinfo = UTC
) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        # What is deleted is overwritten with zeros, not left in free pages: forget-me and a
        # closed wave's key must be gone from the file, not only from the tables.
        await conn.execute("PRAGMA secure_delete = ON")
        await conn.create_function("pulse_day", 1, day_function(day_zone), deterministic=True)
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
    path: Path, run_migrations: bool, day_zone: tzinfo
) -> tuple[aiosqlite.Connection, aiosqlite.Connection, list[Migration]]:
    """The writer (in WAL mode, migrated) and the reader, retried while other processes open."""
    deadline = time.monotonic() + OPENING_DEADLINE_SECONDS
    while True:
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await _connect(path, busy_timeout_ms=OPENING_BUSY_TIMEOUT_MS, day_zone=day_zone)
            opened.append(writer)
            await writer.execute("PRAGMA journal_mode = WAL")
            applied = await migrate(writer) if run_migrations else []
            await writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            reader = await _connect(path, busy_timeout_ms=BUSY_TIMEOUT_MS, read_only=True, day_zone=day_zone)
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
        self._group: list[tuple[WriteJob[Any], asyncio.Future[Any]]] = []
        self._group_task: asyncio.Task[None] | None = None
        # Why the last write failed, while no write has succeeded since (for /healthz).
        # Why writes fail: the line for operators, when it began and when it was last seen
        # (monotonic), and whether it is only another process's lock.
        self._write_failure: _WriteFailure | None = None
        self.monotonic: Callable[[], float] = time.monotonic  # tests move time on
        # Set while the -wal could not be emptied after a deletion that must leave no trace.
        self.journal_wipe_owed = False
        # The migrations this open applied (empty when the schema was already current).
        self.applied_at_open = applied_at_open or []

    @classmethod
    async def open(cls, path: Path | str, *, run_migrations: bool = True, day_zone: tzinfo = UTC) -> Store:
        """`day_zone`: the time zone whose calendar days date answers (PULSE_TIMEZONE)."""
        path = Path(path)
        if path.parent and not path.parent.exists():
            raise FileNotFoundError(f"the folder for the database does not exist: {path.parent}")
        writer, reader, applied = await _open_connections(path, run_migrations, day_zone)
        return cls(path, writer, reader, applied)

    async def close(self) -> None:
        if self._group_task is not None:
            await asyncio.gather(self._group_task, return_exceptions=True)
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
        """One write transaction: committed when the block ends, rolled back if it raises.
        DatabaseBusy if the database stays locked longer than this write may wait.

        For loading rows in bulk (the sandbox's seed, benchmarks, tests); the product's changes
        are write jobs (`storage.writes`), which share a commit with whatever else is waiting."""
        wait = write_wait()
        deadline = time.monotonic() + wait
        if self._write_lock.locked():
            try:
                async with asyncio.timeout(wait):
                    await self._write_lock.acquire()
            except TimeoutError:
                raise DatabaseBusy(
                    f"the database is locked by another process: no turn to write within {wait:g} s"
                ) from None
        else:
            await self._write_lock.acquire()
        try:
            try:
                await self._begin(deadline, wait)
            except asyncio.CancelledError:
                # The BEGIN is queued on the writer's thread and may still run there after we
                # stop waiting (a shutdown cancels tasks): a ROLLBACK queued behind it undoes it,
                # or the next writer would find itself inside a transaction nobody owns.
                await asyncio.shield(self._undo_begin())
                raise
            try:
                yield self._writer
            except BaseException:
                await self._rollback()
                raise
            try:
                await self._writer.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
        except BaseException as exc:
            self._note_write(exc)
            raise
        else:
            self._note_write(None)
        finally:
            self._write_lock.release()

    async def _begin(self, deadline: float, wait: float) -> None:
        # A shorter wait than the connection's busy timeout (a request) is set for this BEGIN only.
        shorter = wait < BUSY_TIMEOUT_MS / 1000
        if shorter:
            await self._writer.execute(f"PRAGMA busy_timeout = {max(1, int((deadline - time.monotonic()) * 1000))}")
        try:
            await self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise DatabaseBusy(f"the database is locked by another process: waited {wait:g} s") from exc
            raise
        finally:
            if shorter:
                await self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _note_write(self, failure: BaseException | None) -> None:
        """Remember why writes fail (a full disk, another process's lock) until one succeeds."""
        if failure is None:
            self._write_failure = None
        elif (problem := storage_problem(failure)) is not None:
            now = self.monotonic()
            since = self._write_failure.since if self._write_failure is not None else now
            self._write_failure = _WriteFailure(problem[1], since, now, problem[0] == "busy")

    @property
    def write_problem(self) -> str | None:
        """Why nothing can be written now, once it is worth an operator's look: at once for a
        full disk or failing I/O; for another process's lock only when writes have kept failing
        on it for LOCKED_TOO_LONG_SECONDS and still do (a backup or a `pulse apply` holds it for
        moments, and a health check that failed then could get a healthy bot restarted)."""
        failure = self._write_failure
        if failure is None:
            return None
        if failure.busy:
            lasted = failure.last - failure.since >= LOCKED_TOO_LONG_SECONDS
            recent = self.monotonic() - failure.last < LOCKED_TOO_LONG_SECONDS
            if not (lasted and recent):
                return None
        return failure.line

    async def _undo_begin(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # the BEGIN never started a transaction
            await self._writer.execute("ROLLBACK")

    async def _rollback(self) -> None:
        # SQLite has already rolled back after some failures (disk full, I/O errors): a second
        # ROLLBACK would fail and hide the error that matters.
        if not self._writer.in_transaction:
            return
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("could not roll back a failed write: %s", exc)

    async def write(self, job: WriteJob[T]) -> T:
        """Run `job` in a write transaction, committed when this returns (group commit).

        Jobs that arrive while a group is being written wait and go together in the next one:
        one thread hop, one transaction and one fsync for the whole group, so the write lock is
        never held across turns of the event loop. Each job runs inside its own savepoint, so a
        job that raises changes nothing and the others still commit; its exception is raised here.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        claim = _Claim()
        self._group.append((claim.guard(job), future))
        if self._group_task is None or self._group_task.done():
            self._group_task = asyncio.create_task(self._write_groups(), name="group commit")
        # A caller that may not wait long (a request) gives up with nothing written, unless
        # its job is being written already: then the commit is a moment away.
        wait = write_wait()
        timer = loop.call_later(wait, _give_up, claim, future, wait)
        try:
            return await future
        finally:
            timer.cancel()

    async def _write_groups(self) -> None:
        while self._group:
            group, self._group = self._group, []
            try:
                async with self._write_lock:
                    outcomes = await self._on_writer_thread(_run_group, [job for job, _ in group])
            except BaseException as exc:  # the transaction failed as a whole: every job with it
                self._note_write(exc)
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            self._note_write(None)
            for (_, future), (value, error) in zip(group, outcomes, strict=True):
                if future.done():  # the caller gave up waiting; its work is committed regardless
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

    async def _on_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        # The one adapter to aiosqlite's internals: it runs every call as a function queued to
        # the connection's own thread, and has no public way to queue one of ours. Using that
        # queue makes a whole group of jobs one hop instead of one per statement, on the thread
        # that owns the connection (sqlite3 objects must stay on their thread). Checked against
        # aiosqlite 0.20 to 0.22 (`Connection._execute(fn, *args)`); the tests of the group commit
        # fail if it changes.
        writer: Any = self._writer
        return await writer._execute(fn, writer._conn, *args)  # type: ignore[no-any-return]

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement, committed (with others, see `write`) when this returns;
        return the rows it changed."""
        return await self.write(lambda conn: conn.execute(sql, params).rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        await self.write(lambda conn: conn.executemany(sql, rows))

    # -- leaving no trace ---------------------------------------------------------------------------

    async def wipe_journal(self, *, vacuum: bool = False) -> bool:
        """Move every committed page into the database file and empty the `-wal` file, so that
        deleted bytes (zeroed in the database by secure_delete) survive in no older copy of a
        page, and the order of recent writes is kept nowhere; with `vacuum`, also rebuild the
        file (after an upgrade that dropped whole tables). False if another process kept it
        from finishing (a long read, such as a backup): `journal_wipe_owed` then stays set and
        the scheduler's next try finishes it. Writes wait at most one short try, never all."""
        for attempt in range(WIPE_TRIES):
            async with self._write_lock:
                done = await self._checkpoint()
                if done and vacuum:
                    await self._writer.execute("VACUUM")
                    done = await self._checkpoint()
            if done:
                self.journal_wipe_owed = False
                return True
            await asyncio.sleep(0.05 * (attempt + 1))
        self.journal_wipe_owed = True
        log.warning("the -wal file could not be emptied now (another process is reading the database); trying again")
        return False

    async def _checkpoint(self) -> bool:
        # A checkpoint waits for readers of other processes as long as the busy timeout allows:
        # briefly here, since the write lock is held meanwhile.
        # (Each statement is fetched to its end: one left open would stop a VACUUM.)
        await self._writer.execute_fetchall(f"PRAGMA busy_timeout = {WIPE_BUSY_TIMEOUT_MS}")
        try:
            rows = list(await self._writer.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            await self._writer.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return bool(rows) and rows[0][0] == 0


def _give_up(claim: _Claim, future: asyncio.Future[Any], wait: float) -> None:
    if not future.done() and claim.abandon():
        # Its turn had not come: another process holds the lock, or earlier writes of this one
        # (a large wave being closed) were still being written.
        future.set_exception(
            DatabaseBusy(f"the database is locked by another process or busy with earlier writes: waited {wait:g} s")
        )


def _run_group(conn: sqlite3.Connection, jobs: list[WriteJob[Any]]) -> list[tuple[Any, Exception | None]]:
    """On the writer's thread: every job in one transaction, each in a savepoint of its own."""
    outcomes: list[tuple[Any, Exception | None]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for job in jobs:
            conn.execute("SAVEPOINT job")
            try:
                value = job(conn)
            except Exception as exc:
                if not conn.in_transaction:  # SQLite gave up the whole transaction (e.g. disk full)
                    raise
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((None, exc))
            else:
                conn.execute("RELEASE job")
                outcomes.append((value, None))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


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
