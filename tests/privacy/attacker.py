"""The attacker of the privacy tests: given files the real bot wrote (and perhaps a key), tie
answers and comments to Slack user IDs by every means we can think of.

It tries every string stored in the database — raw, hex-decoded and base64-decoded — as a key,
as HMAC key over "user" and "wave:user", as a master key opening the wrapped wave keys (with
the project's own code), and the wave keys it opens that way. A test that uses it also shows it
succeeding where it should (with the master key while waves are open), so a 0 means something.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from services.keys import MasterKey, WrongKey

SUFFIXES = ("", "-wal", "-shm")


def database_files(db: Path) -> list[Path]:
    """The database and its -wal and -shm companions, those that exist."""
    return [p for p in (Path(f"{db}{s}") for s in SUFFIXES) if p.exists()]


def raw_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in database_files(db))


def found_in_files(db: Path, needle: str | bytes) -> list[str]:
    """The names of the database files (main, -wal, -shm) that hold `needle` anywhere."""
    data = needle.encode() if isinstance(needle, str) else needle
    return [p.name for p in database_files(db) if data in p.read_bytes()]


def copy_of(db: Path, into: Path) -> Path:
    """The files as an attacker would copy them (with the -wal, which SQLite reads on open)."""
    into.mkdir(parents=True, exist_ok=True)
    for path in database_files(db):
        shutil.copyfile(path, into / path.name)
    return into / db.name


def stored_values(db: Path) -> list[str | bytes]:
    """Every text and blob value in every table, read from a copy so the original is untouched."""
    with tempfile.TemporaryDirectory() as folder:
        copy = copy_of(db, Path(folder))
        conn = sqlite3.connect(copy)
        try:
            values: list[str | bytes] = []
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    values += [v for v in row if isinstance(v, str | bytes)]
            return values
        finally:
            conn.close()


def _decodings(value: str | bytes) -> set[bytes]:
    raw = value.encode() if isinstance(value, str) else value
    found = {raw, raw.strip()}
    text = raw.strip().decode(errors="ignore")
    with contextlib.suppress(ValueError):
        found.add(bytes.fromhex(text))
    with contextlib.suppress(binascii.Error, ValueError):
        found.add(base64.b64decode(text, validate=True))
    return {f for f in found if f}


@dataclass
class Ties:
    """What the attacker tied to whom: (wave, respondent key) → user ID."""

    answers: dict[tuple[int, str], str] = field(default_factory=dict)
    comments: dict[tuple[int, str], str] = field(default_factory=dict)
    answer_count: int = 0
    comment_count: int = 0


def _keyed(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def tie(db: Path, *, known_secrets: Iterable[str] = ()) -> Ties:
    """Try to tie every answer and comment in the database at `db` to a person asked in its wave.
    `known_secrets`: what the attacker holds besides the files (the master key, say)."""
    values = [*stored_values(db), *known_secrets]
    keys: set[bytes] = set()
    for value in values:
        keys |= _decodings(value)
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(copy_of(db, Path(folder)))
        try:
            asked: dict[int, list[str]] = {}
            for wave_id, user in conn.execute("SELECT wave_id, user_id FROM deliveries"):
                asked.setdefault(int(wave_id), []).append(str(user))
            answers = [(int(w), str(k)) for w, k in conn.execute("SELECT wave_id, respondent_key FROM responses")]
            comments = [(int(w), str(k)) for w, k in conn.execute("SELECT wave_id, respondent_key FROM comments")]
            has_wave_keys = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'wave_keys'").fetchone()
            wrapped = list(conn.execute("SELECT wave_id, wrapped FROM wave_keys")) if has_wave_keys else []
            has_threads = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'threads'").fetchone()
            links = (
                list(conn.execute("SELECT id, wave_id, comment_key, link FROM threads WHERE link IS NOT NULL"))
                if has_threads
                else []
            )
        finally:
            conn.close()
    wave_keys = _open_wave_keys(wrapped, values)
    ties = Ties(answer_count=len(answers), comment_count=len(comments))
    guesses: dict[tuple[int, str], str] = {}
    for wave_id, users in asked.items():
        per_wave = keys | wave_keys.get(wave_id, set())
        for user in users:
            for message in (user, f"{wave_id}:{user}"):
                guesses[(wave_id, hashlib.sha256(message.encode()).hexdigest())] = user
                guesses[(wave_id, message)] = user
                for key in per_wave:
                    guesses[(wave_id, _keyed(key, message))] = user
    # A conversation's sealed link names the writer of its comment to whoever can open it.
    masters = _masters(values) if links else []
    for thread_id, wave_id, comment_key, link in links:
        for master in masters:
            opened = master.open(f"thread:{thread_id}", bytes(link))
            if opened is not None:
                guesses[(int(wave_id), str(comment_key))] = opened.decode()
    ties.answers = {a: guesses[a] for a in answers if a in guesses}
    ties.comments = {c: guesses[c] for c in comments if c in guesses}
    return ties


def _masters(values: list[str | bytes]) -> list[MasterKey]:
    """Every stored or known string, taken as the master key."""
    masters = []
    for value in values:
        text = value.decode(errors="ignore") if isinstance(value, bytes) else value
        if text.strip():
            masters.append(MasterKey(text))
    return masters


def _open_wave_keys(wrapped: list[tuple[int, bytes]], values: list[str | bytes]) -> dict[int, set[bytes]]:
    """The wave keys that any stored or known string opens when taken as the master key."""
    opened: dict[int, set[bytes]] = {}
    masters = _masters(values)
    for wave_id, blob in wrapped:
        for master in masters:
            try:
                opened.setdefault(int(wave_id), set()).add(master.unwrap(int(wave_id), bytes(blob)))
            except WrongKey:
                continue
    return opened
