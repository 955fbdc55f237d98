"""Store.write: writes that arrive together are committed together, each one on its own terms."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest

from runtime.write_wait import limit_write_wait
from storage import Store
from storage.db import LOCKED_TOO_LONG_SECONDS, WriteJob
from storage.errors import DatabaseBusy


async def _table(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")


def _insert(k: int) -> WriteJob[int]:
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, f"v{k}"))
        return k * 10

    return job


async def test_every_write_is_committed_and_visible_when_it_returns(store: Store) -> None:
    await _table(store)

    async def write_then_read(k: int) -> tuple[int, object]:
        value = await store.write(_insert(k))
        return value, await store.fetch_value("SELECT v FROM t WHERE k = ?", (k,))

    results = await asyncio.gather(*(write_then_read(k) for k in range(50)))
    assert results == [(k * 10, f"v{k}") for k in range(50)]
    assert await store.fetch_value("SELECT count(*) FROM t") == 50


async def test_a_job_that_fails_changes_nothing_and_the_others_still_commit(store: Store) -> None:
    await _table(store)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES (100, 'half')")
        raise ValueError("refused")

    outcomes = await asyncio.gather(
        store.write(_insert(1)),
        store.write(half_then_fail),
        store.write(_insert(2)),
        return_exceptions=True,
    )
    assert outcomes[0] == 10 and outcomes[2] == 20
    assert isinstance(outcomes[1], ValueError)
    assert [r[0] for r in await store.fetch_all("SELECT k FROM t ORDER BY k")] == [1, 2]


async def test_a_constraint_violation_reaches_its_caller_only(store: Store) -> None:
    await _table(store)
    await store.write(_insert(1))
    first, duplicate = await asyncio.gather(
        store.write(_insert(2)),
        store.write(_insert(1)),
        return_exceptions=True,
    )
    assert first == 20
    assert isinstance(duplicate, sqlite3.IntegrityError)
    assert await store.execute("UPDATE t SET v = 'x' WHERE k >= 1") == 2


async def test_closing_waits_for_writes_in_flight(store: Store) -> None:
    await _table(store)
    pending = [asyncio.ensure_future(store.write(_insert(k))) for k in range(20)]
    await asyncio.sleep(0)
    await store.close()
    assert [await p for p in pending] == [k * 10 for k in range(20)]
    reopened = await Store.open(store.path)
    try:
        assert await reopened.fetch_value("SELECT count(*) FROM t") == 20
    finally:
        await reopened.close()


async def test_a_write_cancelled_while_waiting_for_a_lock_leaves_the_store_usable(store: Store) -> None:
    await _table(store)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process's lock, as far as SQLite can tell

    async def insert() -> None:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES (1, 'x')")

    waiting = asyncio.create_task(insert())
    await asyncio.sleep(0.2)  # let its BEGIN reach the writer's thread (it then waits there either way)
    waiting.cancel()
    other.execute("ROLLBACK")  # the lock goes: the abandoned BEGIN can now start a transaction
    other.close()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    # Shutting down cancels tasks like this one: whatever its BEGIN did, the next write works.
    assert await store.write(_insert(2)) == 20
    assert await store.execute("UPDATE t SET v = 'y' WHERE k = 2") == 1
    assert [r[0] for r in await store.fetch_all("SELECT k FROM t")] == [2]


async def test_another_process_lock_is_reported_only_while_it_keeps_writes_failing(store: Store) -> None:
    """A lock held for moments (a backup, `pulse apply`) must not turn /healthz red, then or
    later; one that keeps writes failing for LOCKED_TOO_LONG_SECONDS must, until a write gets
    through. A full disk shows at once (tests/faults/test_disk_full.py)."""
    await _table(store)
    now = [1000.0]
    store.monotonic = lambda: now[0]

    async def a_write_fails() -> None:
        with pytest.raises(DatabaseBusy):
            async with store.transaction() as conn:
                await conn.execute("INSERT INTO t (k, v) VALUES (1, 'x')")

    other = sqlite3.connect(store.path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        limit_write_wait(0.1)
        await a_write_fails()
        assert store.write_problem is None  # failing, but not for long yet
        now[0] += LOCKED_TOO_LONG_SECONDS + 1
        assert store.write_problem is None  # an idle bot: nothing has failed since
        await a_write_fails()
        assert store.write_problem is not None and "locked by another process" in store.write_problem
        now[0] += LOCKED_TOO_LONG_SECONDS + 1
        assert store.write_problem is None  # nothing has tried (and failed) for as long
    finally:
        other.execute("ROLLBACK")
        other.close()
    limit_write_wait(None)
    await store.write(_insert(2))
    assert store.write_problem is None
