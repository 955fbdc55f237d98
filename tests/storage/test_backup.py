from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage import Store, backup
from tests.bot.test_settings import _env

INSERT = "INSERT INTO rollouts (slug, title, created_by, created_at, updated_at) VALUES (?, ?, 'U1', 0, 0)"


async def _seeded(db: Path) -> None:
    store = await Store.open(db)
    async with store.transaction() as conn:
        for i in range(200):
            await conn.execute(INSERT, (f"rollout-{i}", f"Rollout {i}"))
    await store.close()


async def test_pulse_backup_copies_a_live_database_that_passes_integrity_check(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    await _seeded(db)
    live = await Store.open(db)  # the bot is running: the WAL may hold recent commits
    await live.execute(INSERT, ("latest", "L"))
    target = tmp_path / "copy.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "backup", str(target)],
        env=_env(PULSE_DB=str(db)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    await live.close()
    assert result.returncode == 0, result.stderr
    assert "integrity check: ok" in result.stdout
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM rollouts").fetchone() == (201,)
        assert conn.execute("SELECT title FROM rollouts WHERE slug = 'latest'").fetchone() == ("L",)
    assert not (tmp_path / "copy.db-wal").exists()


async def test_backup_does_not_overwrite_without_force(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    await _seeded(db)
    target = tmp_path / "copy.db"
    target.write_text("precious")
    args = [sys.executable, "-m", "bot", "backup", str(target)]
    refused = subprocess.run(args, env=_env(PULSE_DB=str(db)), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert target.read_text() == "precious"
    forced = subprocess.run([*args, "--force"], env=_env(PULSE_DB=str(db)), capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0, forced.stderr


async def test_backup_refuses_to_copy_onto_the_database_itself(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    await _seeded(db)
    with pytest.raises(ValueError, match="must not be the database"):
        backup(db, db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM rollouts").fetchone() == (200,)


def test_migrate_command_applies_then_reports_up_to_date(tmp_path: Path) -> None:
    env = _env(PULSE_DB=str(tmp_path / "pulse.db"))
    first = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0 and "applied 1 (initial schema), 2 (claim times" in first.stdout
    second = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0 and "up to date" in second.stdout
