from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage import MIGRATIONS, Migration, MigrationError, Store
from tests.bot.test_settings import _env

INSERT_ROLLOUT = "INSERT INTO rollouts (slug, title, created_by, created_at, updated_at) VALUES (?, 't', 'U1', 0, 0)"

EXPECTED_TABLES = {
    "meta", "rollouts", "stages", "owners", "champions", "cohort_entries", "targets", "touchpoints",
    "triggers",
    "wave_keys", "stage_transitions", "waves", "deliveries", "responses", "comments",
    "digest_subscriptions", "digest_runs", "outbox", "audit_log", "seen_events", "slack_users",
    "schema_migrations", "disclosed", "person_languages", "threads", "thread_messages", "actions",
    "stage_approvers", "approval_requests", "watch_alarms", "disclosed_comments", "map_files", "theme_holds",
    "released_by_day",
}  # fmt: skip


def schema_of(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


async def test_an_empty_database_gets_the_whole_schema(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    store = await Store.open(db)
    await store.close()
    tables = {name for name, sql in schema_of(db) if sql and sql.startswith("CREATE TABLE")}
    assert tables == EXPECTED_TABLES
    with sqlite3.connect(db) as conn:
        recorded = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]


async def test_migrating_an_up_to_date_database_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    store = await Store.open(db)
    before = schema_of(db)
    assert await store.migrate() == []
    await store.close()
    store = await Store.open(db)
    await store.close()
    assert schema_of(db) == before


async def test_a_failing_migration_is_rolled_back_whole_and_not_recorded(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    store = await Store.open(db)
    broken = Migration(
        len(MIGRATIONS) + 1,
        "broken",
        ("CREATE TABLE half_done (id INTEGER)", "ALTER TABLE no_such_table ADD COLUMN x"),
    )
    with pytest.raises(MigrationError, match="broken"):
        await store.migrate((*MIGRATIONS, broken))
    names = [name for name, _ in schema_of(db)]
    assert "half_done" not in names
    versions = await store.fetch_all("SELECT version FROM schema_migrations")
    assert [r[0] for r in versions] == [m.version for m in MIGRATIONS]
    await store.close()


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    store = await Store.open(db)
    await store.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
    await store.close()
    with pytest.raises(MigrationError, match="newer than this Rollout Pulse"):
        await Store.open(db)


def test_processes_starting_at_once_migrate_once(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    env = _env(PULSE_DB=str(db))
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outcomes = [(run.wait(60), run.stdout.read().decode() if run.stdout else "") for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0]
    # each migration was applied by exactly one of them (they may share the work)
    reported = [int(v) for _, out in outcomes for v in re.findall(r"(\d+) \(", out)]
    assert sorted(reported) == [m.version for m in MIGRATIONS]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)


async def test_two_stores_opening_at_once_migrate_once(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    stores = await asyncio.gather(Store.open(db), Store.open(db))
    for store in stores:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)


async def test_connection_settings(store: Store) -> None:
    assert await store.fetch_value("PRAGMA journal_mode") == "wal"
    assert await store.fetch_value("PRAGMA foreign_keys") == 1
    assert await store.fetch_value("PRAGMA synchronous") == 2  # FULL
    assert await store.fetch_value("PRAGMA busy_timeout") == 5000


async def test_foreign_keys_and_checks_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await store.execute("INSERT INTO stages (rollout_id, position, name) VALUES (12345, 1, 'alpha')")
    with pytest.raises(sqlite3.IntegrityError):
        await store.execute(INSERT_ROLLOUT, ("Bad Slug",))


async def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with store.transaction() as conn:
            await conn.execute(INSERT_ROLLOUT, ("ok-slug",))
            await conn.execute(INSERT_ROLLOUT, ("ok-slug",))
    assert await store.fetch_value("SELECT count(*) FROM rollouts") == 0


async def test_the_reader_sees_only_committed_data(store: Store) -> None:
    insert = "INSERT INTO meta (key, value) VALUES ('k', 'v')"
    async with store.transaction() as conn:
        await conn.execute(insert)
        assert await store.fetch_value("SELECT count(*) FROM meta WHERE key = 'k'") == 0
    assert await store.fetch_value("SELECT count(*) FROM meta WHERE key = 'k'") == 1
