"""The master key lives outside the database: a key file made on first start (mode 0600) or
PULSE_SECRET_KEY; the database keeps only a check value, and a wrong or missing key stops
start-up with one line, exit 2, and the database untouched."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
from pathlib import Path

from bot.key_file import write_key_file
from tests.bot.test_settings import _env
from tests.privacy.attacker import database_files, found_in_files, stored_values


def pulse(args: list[str], db: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=_env(PULSE_DB=str(db), **extra),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=db.parent,
    )


def fingerprint(db: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in database_files(db)}


def test_first_start_makes_a_private_key_file_and_keeps_only_a_check_value(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    done = pulse(["migrate"], db)
    assert done.returncode == 0, done.stderr
    key_file = tmp_path / "pulse.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().strip()
    assert len(secret) == 64
    assert found_in_files(db, secret) == [] and found_in_files(db, bytes.fromhex(secret)) == []
    assert not any(secret in str(v) for v in stored_values(db))
    # A second start reads the same key file and is content with it.
    again = pulse(["migrate"], db)
    assert again.returncode == 0, again.stderr
    assert key_file.read_text().strip() == secret


def test_a_wrong_key_stops_start_up_in_one_line_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(["migrate"], db).returncode == 0
    before = fingerprint(db)
    for command in (["migrate"], ["export", "anything"], ["serve"]):
        refused = pulse(command, db, PULSE_SECRET_KEY="x" * 40, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
        assert refused.returncode == 2, (command, refused.stderr)
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in refused.stderr
        assert "PULSE_SECRET_KEY is not the key" in lines[0] and "nothing was changed" in lines[0]
        assert fingerprint(db) == before


def test_a_missing_key_file_stops_start_up_and_is_not_replaced_by_a_new_one(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(["migrate"], db).returncode == 0
    key_file = tmp_path / "pulse.db.key"
    kept = tmp_path / "kept.key"
    key_file.rename(kept)
    before = fingerprint(db)
    refused = pulse(["migrate"], db)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert f"the key file {key_file} is missing" in line and "restore the key file" in line
    assert not key_file.exists() and fingerprint(db) == before
    # Pointed at the kept copy, it starts again.
    assert pulse(["migrate"], db, PULSE_KEY_FILE=str(kept)).returncode == 0


def test_backup_says_the_key_is_kept_apart(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    assert pulse(["migrate"], db).returncode == 0
    done = pulse(["backup", str(tmp_path / "copy.db")], db)
    assert done.returncode == 0, done.stderr
    assert f"the master key is the key file {tmp_path / 'pulse.db.key'}, which is not in the backup" in done.stdout
    assert "keep a copy of it apart from the backups" in done.stdout


def test_a_key_file_made_by_another_process_first_stands_and_is_never_half_seen(tmp_path: Path) -> None:
    path = tmp_path / "pulse.db.key"
    assert write_key_file(path, "a" * 64) is True
    # The second process lost the race: its key is not written, the first one stands whole.
    assert write_key_file(path, "b" * 64) is False
    assert path.read_text() == "a" * 64 + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pulse.db.key"]  # no draft left behind
