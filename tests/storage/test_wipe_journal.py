"""Emptying the -wal after a deletion that must leave no trace: a reader in another process
holds it up for at most about two seconds (not the writes), and the wipe is owed until done."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from storage import Store
from tests.privacy.attacker import found_in_files


def wal_size(db: Path) -> int:
    return Path(f"{db}-wal").stat().st_size


async def test_a_long_reader_delays_the_wipe_briefly_and_it_is_finished_later(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    store = await Store.open(db)
    try:
        await store.execute("INSERT INTO meta (key, value) VALUES ('note', 'words to forget')")
        await store.execute("DELETE FROM meta WHERE key = 'note'")
        reader = sqlite3.connect(db, isolation_level=None)  # a backup or a sqlite3 shell, say
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM meta").fetchone()
        started = time.monotonic()
        assert await store.wipe_journal() is False
        assert time.monotonic() - started < 4
        assert store.journal_wipe_owed
        assert found_in_files(db, "words to forget") == ["pulse.db-wal"]
        # Writes go on meanwhile.
        await store.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        reader.execute("COMMIT")
        reader.close()
        assert await store.wipe_journal() is True
        assert not store.journal_wipe_owed
        assert wal_size(db) == 0
        assert found_in_files(db, "words to forget") == []
    finally:
        await store.close()
