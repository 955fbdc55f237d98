"""An attacker's look at a database upgraded from before per-wave keys.

The database is written here the way versions before migration 5 wrote it: schema 1-4, one
secret for everything (generated into `meta.secret_key`, or PULSE_SECRET_KEY), respondent key =
HMAC-SHA256(secret, "wave:user"), answers and comments timed to the second. It is then upgraded
as in production, by `python -m bot migrate` in a process of its own.

Whoever holds the old secret afterwards (from an old backup, a leaked environment) must not be
able to tell whose answer is whose in a wave that has closed; people asked in a wave still open
keep their answer, can change it and can be forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.key_file import open_store, prepare_master_key
from bot.settings import Settings
from services import Services
from services.directory import NoDirectory
from services.errors import Conflict
from storage import Store
from storage.migrations import MIGRATIONS
from storage.people import OwnAnswer
from tests.bot.test_settings import _env
from tests.privacy.attacker import tie

DAY = 86400
ROLLOUT, STAGE = 1, 10
CLOSED, OPEN = 1, 2  # wave IDs
OWNER = "U0OWNER01"
USERS = tuple(f"U0PEOPLE{i}" for i in range(6))
SILENT = USERS[5]  # asked in both waves, answered neither
COMMENTER = USERS[2]  # answered and commented in both waves
# The closed wave ran in March 2024. The second and third answers fall either side of midnight
# UTC (both on 2 March in Berlin): answers are dated by the UTC day, PULSE_TIMEZONE's default.
CLOSED_OPENED = int(datetime(2024, 3, 1, 9, 0, tzinfo=UTC).timestamp())
CLOSED_ANSWERED_AFTER = (30 * 60, 14 * 3600 + 59 * 60 + 30, 15 * 3600 + 30, 2 * DAY, 5 * DAY)
SCORES = {CLOSED: (10, 9, 7, 4, 0), OPEN: (8, 6, 10, 2, 5)}  # distinct within a wave: rows can be told apart
COMMENTS = {CLOSED: "The receipt upload times out", OPEN: "Better than last week"}


@dataclass(frozen=True)
class OldAnswer:
    wave_id: int
    user: str
    score: int
    answered_at: int
    comment: str | None

    @property
    def answered_on(self) -> str:
        return utc_day(self.answered_at)


@dataclass(frozen=True)
class OldDatabase:
    path: Path
    secret: str  # what answers were keyed with
    answers: tuple[OldAnswer, ...]
    deliveries: dict[tuple[int, str], int]  # (wave, user) → delivery ID

    @property
    def key_file(self) -> Path:
        return self.path.with_name(self.path.name + ".key")

    def of(self, wave_id: int) -> list[OldAnswer]:
        return [a for a in self.answers if a.wave_id == wave_id]

    def answer_of(self, wave_id: int, user: str) -> OldAnswer:
        [found] = [a for a in self.of(wave_id) if a.user == user]
        return found


def utc_day(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def old_key(secret: str, wave_id: int, user: str) -> str:
    """The respondent key before per-wave keys (written out here, not imported: it is the old code's)."""
    return _hmac(secret, f"{wave_id}:{user}")


def attacker_guesses(secret: str) -> set[str]:
    """Every respondent key someone holding the old secret would try, for everyone asked."""
    guesses: set[str] = set()
    for user in USERS:
        guesses |= {_hmac(secret, user), hashlib.sha256(user.encode()).hexdigest()}
        for wave_id in (CLOSED, OPEN):
            guesses |= {old_key(secret, wave_id, user), _hmac(secret, f"{user}:{wave_id}")}
    return guesses


# -- the database as versions before migration 5 left it -----------------------------------------------


async def write_old_database(path: Path, *, secret: str, generated: bool) -> OldDatabase:
    """Schema 1-4 with a rollout, a closed and an open NPS wave, six people asked in each, five
    answers and one comment per wave, keyed with `secret`; kept in `meta.secret_key` when
    `generated` (else it was PULSE_SECRET_KEY, never stored)."""
    old_migrations = MIGRATIONS[:4]
    assert [m.version for m in old_migrations] == [1, 2, 3, 4]
    now = int(datetime.now(UTC).timestamp())
    opened_at = {CLOSED: CLOSED_OPENED, OPEN: now - 3600}
    answered_after = {CLOSED: CLOSED_ANSWERED_AFTER, OPEN: tuple(600 + 60 * i for i in range(5))}
    answers = tuple(
        OldAnswer(wave_id, user, score, opened_at[wave_id] + after, COMMENTS[wave_id] if user == COMMENTER else None)
        for wave_id in (CLOSED, OPEN)
        for user, score, after in zip(USERS, SCORES[wave_id], answered_after[wave_id], strict=False)
    )
    assert SILENT not in {a.user for a in answers}
    deliveries: dict[tuple[int, str], int] = {}

    store = await Store.open(path, run_migrations=False)
    try:
        assert [m.version for m in await store.migrate(old_migrations)] == [1, 2, 3, 4]
        async with store.transaction() as conn:
            if generated:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('secret_key', ?)", (secret,))
            await conn.execute(
                """INSERT INTO rollouts (id, slug, title, status, created_by, created_at, updated_at)
                   VALUES (?, 'expense-tool', 'Expense tool', 'active', ?, ?, ?)""",
                (ROLLOUT, OWNER, CLOSED_OPENED - DAY, CLOSED_OPENED - DAY),
            )
            await conn.execute(
                "INSERT INTO stages (id, rollout_id, position, name, entered_at) VALUES (?, ?, 1, 'alpha', ?)",
                (STAGE, ROLLOUT, CLOSED_OPENED - DAY),
            )
            await conn.execute("UPDATE rollouts SET current_stage_id = ? WHERE id = ?", (STAGE, ROLLOUT))
            closes_at = {CLOSED: CLOSED_OPENED + 7 * DAY, OPEN: now + DAY}
            closed_at = {CLOSED: closes_at[CLOSED], OPEN: None}
            for wave_id in (CLOSED, OPEN):
                await conn.execute(
                    """INSERT INTO waves (id, rollout_id, stage_id, kind, origin, opened_by, opened_at, closes_at,
                                          closed_at)
                       VALUES (?, ?, ?, 'nps', 'send', ?, ?, ?, ?)""",
                    (wave_id, ROLLOUT, STAGE, OWNER, opened_at[wave_id], closes_at[wave_id], closed_at[wave_id]),
                )
                answered = {a.user for a in answers if a.wave_id == wave_id}
                for i, user in enumerate(USERS):
                    sent = opened_at[wave_id] + 60
                    cur = await conn.execute(
                        """INSERT INTO deliveries (wave_id, user_id, status, dm_channel, message_ts, answered,
                                                   created_at, sent_at, tz)
                           VALUES (?, ?, 'sent', ?, ?, ?, ?, ?, 'Europe/Berlin')""",
                        (wave_id, user, f"D0PEOPLE{i}", f"{sent}.{i:06d}", int(user in answered), sent - 60, sent),
                    )
                    assert cur.lastrowid is not None
                    deliveries[(wave_id, user)] = cur.lastrowid
            for a in answers:
                key = old_key(secret, a.wave_id, a.user)
                await conn.execute(
                    """INSERT INTO responses (wave_id, rollout_id, stage_id, kind, respondent_key, score, answered_at)
                       VALUES (?, ?, ?, 'nps', ?, ?, ?)""",
                    (a.wave_id, ROLLOUT, STAGE, key, a.score, a.answered_at),
                )
                if a.comment is not None:
                    await conn.execute(
                        """INSERT INTO comments (wave_id, rollout_id, stage_id, respondent_key, body, created_at)
                           VALUES (?, ?, ?, ?, ?, ?)""",
                        (a.wave_id, ROLLOUT, STAGE, key, a.comment, a.answered_at + 30),
                    )
    finally:
        await store.close()
    return OldDatabase(path, secret, answers, deliveries)


# -- looking at the result -------------------------------------------------------------------------------


def pulse_migrate(db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot migrate`, as an operator runs it after upgrading."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=_env(PULSE_DB=str(db), **env),
        cwd=db.parent,  # no stray .env
        capture_output=True,
        text=True,
        timeout=60,
    )


def raw_bytes(db: Path) -> bytes:
    """Every byte of the database files as they lie on disk (the -wal and -shm may be absent)."""
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def query(db: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]


def responses_of(db: Path, wave_id: int) -> list[tuple[str, float, str]]:
    """(respondent key, score, answered_on) of the wave's answers."""
    return [
        (str(k), float(s), str(d))
        for k, s, d in query(
            db, "SELECT respondent_key, score, answered_on FROM responses WHERE wave_id = ? ORDER BY 1", [wave_id]
        )
    ]


def comments_of(db: Path, wave_id: int) -> list[tuple[str, str, str]]:
    """(respondent key, body, created_on) of the wave's comments."""
    return [
        (str(k), str(b), str(d))
        for k, b, d in query(
            db, "SELECT respondent_key, body, created_on FROM comments WHERE wave_id = ? ORDER BY 1", [wave_id]
        )
    ]


def meta(db: Path) -> dict[str, str]:
    return {str(k): str(v) for k, v in query(db, "SELECT key, value FROM meta")}


@asynccontextmanager
async def services_on(db: Path, **settings: Any) -> AsyncIterator[Services]:
    """The real services on the upgraded database, with the master key found as at start-up."""
    values = Settings(_env_file=None, pulse_db=db, **settings)
    key_setup = prepare_master_key(values)
    store = await Store.open(db, day_zone=values.tz)
    try:
        yield Services(settings=values, store=store, directory=NoDirectory(), key_setup=key_setup)
    finally:
        await store.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings read the environment: the developer's own PULSE_* must not leak into these tests.
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PULSE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def old(tmp_path: Path) -> OldDatabase:
    """A database from before per-wave keys, with its generated secret in `meta`."""
    return await write_old_database(tmp_path / "pulse.db", secret=secrets.token_hex(32), generated=True)


def upgrade(old: OldDatabase) -> subprocess.CompletedProcess[str]:
    # What the checks look for is on disk before the upgrade: they can fail.
    before = raw_bytes(old.path)
    assert old.secret.encode() in before
    assert all(old_key(old.secret, a.wave_id, a.user).encode() in before for a in old.answers)
    result = pulse_migrate(old.path)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
async def upgraded(old: OldDatabase) -> OldDatabase:
    """The same, after `pulse migrate`."""
    upgrade(old)
    return old


# -- 1. the secret leaves the database -------------------------------------------------------------------


async def test_the_generated_secret_moves_to_the_key_file_and_out_of_every_byte_of_the_database(
    old: OldDatabase,
) -> None:
    result = upgrade(old)
    assert "applied 5 (wave keys; answers dated by the day)" in result.stdout
    [line] = [line for line in result.stderr.splitlines() if "re-keyed" in line]
    assert f"the generated key kept in the database is deleted (the master key is now {old.key_file})" in line
    assert "answers of 1 open wave(s) re-keyed per wave, of 1 closed wave(s) made unlinkable" in line

    # Read before anything opens the database again.
    on_disk = raw_bytes(old.path)
    assert old.secret.encode() not in on_disk
    assert bytes.fromhex(old.secret) not in on_disk

    assert old.key_file.is_file()
    assert stat.S_IMODE(old.key_file.stat().st_mode) == 0o600
    # A new master key: every backup made before the upgrade holds the old secret.
    new_key = old.key_file.read_text().strip()
    assert len(new_key) == 64 and new_key != old.secret
    # The old secret (from such a backup) ties no answer of the upgraded database, open waves included.
    with_old = tie(old.path, known_secrets=[old.secret])
    assert with_old.answers == {} and with_old.comments == {}
    # The new key does, for the open wave only (as the bot must, to let people change and delete).
    with_new = tie(old.path, known_secrets=[new_key])
    assert {wave for wave, _ in with_new.answers} == {OPEN}

    values = meta(old.path)
    assert "secret_key" not in values
    assert values.get("key_check")
    assert old.secret not in values["key_check"]


async def test_while_the_bot_runs_on_after_the_upgrade_no_file_of_the_database_holds_the_old_secret(
    old: OldDatabase,
) -> None:
    # `pulse serve` upgrades and keeps the database open: the -wal must not keep old pages meanwhile.
    settings = Settings(_env_file=None, pulse_db=old.path)
    store, key_setup = await open_store(settings)
    try:
        await Services(settings=settings, store=store, directory=NoDirectory(), key_setup=key_setup).keys.master()
        on_disk = raw_bytes(old.path)
    finally:
        await store.close()
    assert old.secret.encode() not in on_disk
    assert not [g for g in attacker_guesses(old.secret) if g.encode() in on_disk]
    assert old.key_file.read_text().strip() != old.secret


# -- 2. closed waves: nobody can tell whose answer is whose ----------------------------------------------


async def test_the_old_secret_links_no_answer_of_a_closed_wave(upgraded: OldDatabase) -> None:
    db = upgraded.path
    guesses = attacker_guesses(upgraded.secret)
    on_disk = raw_bytes(db)
    # Not in the tables, nor left behind in a free page, an old index or the journal.
    assert not [g for g in guesses if g.encode() in on_disk or bytes.fromhex(g) in on_disk]

    closed = responses_of(db, CLOSED)
    keys = {key for key, _, _ in closed}
    assert not keys & guesses
    assert len(keys) == len(closed) == len(upgraded.of(CLOSED))
    assert not query(db, "SELECT 1 FROM wave_keys WHERE wave_id = ?", [CLOSED])
    # What was answered is all still there, dated by the (UTC) day only.
    assert sorted((score, day) for _, score, day in closed) == sorted(
        (float(a.score), a.answered_on) for a in upgraded.of(CLOSED)
    )
    assert {day for _, _, day in closed} >= {"2024-03-01", "2024-03-02"}
    # The comment is still there, and, its wave closed and its group released, it no longer
    # shares a key with the answer it went with: its words lead to no score.
    [(comment_key, body, created_on)] = comments_of(db, CLOSED)
    commenter = upgraded.answer_of(CLOSED, COMMENTER)
    assert comment_key not in guesses
    assert (body, created_on) == (COMMENTS[CLOSED], utc_day(commenter.answered_at + 30))
    assert comment_key not in keys
    # The open wave is no longer under the old secret either.
    assert not {key for key, _, _ in responses_of(db, OPEN)} & guesses
    # Answers carry no order of the clicks any more: no rowid, no time of day.
    columns = {str(row[1]) for row in query(db, "PRAGMA table_info(responses)")}
    assert "answered_at" not in columns and "id" not in columns
    with pytest.raises(sqlite3.OperationalError, match="rowid"):
        query(db, "SELECT rowid FROM responses")


# -- 3. open waves: answers can still be seen, changed and forgotten by their owner ----------------------


async def test_an_open_wave_can_still_be_answered_and_forgotten(upgraded: OldDatabase) -> None:
    db = upgraded.path
    closed_before = responses_of(db, CLOSED), comments_of(db, CLOSED)
    async with services_on(db) as services:
        for a in upgraded.of(OPEN):
            mine = await services.privacy.mydata(a.user)
            assert mine.own == {OPEN: OwnAnswer(OPEN, float(a.score), a.comment)}, a.user
        assert (await services.privacy.mydata(SILENT)).own == {}

        # The open wave's five answers were released as a group at the upgrade: found through the
        # person's new key, an answer can no longer change (it would move the figures by one).
        before = responses_of(db, OPEN)
        with pytest.raises(Conflict, match="can no longer change"):
            await services.surveys.answer(COMMENTER, OPEN, upgraded.deliveries[(OPEN, COMMENTER)], "3")
        assert responses_of(db, OPEN) == before
        commenter = next(a for a in upgraded.of(OPEN) if a.user == COMMENTER)
        mine = await services.privacy.mydata(COMMENTER)
        assert mine.own == {OPEN: OwnAnswer(OPEN, float(commenter.score), COMMENTS[OPEN])}

        done = await services.privacy.forget(COMMENTER)
        assert (done.responses, done.comments, done.deliveries) == (1, 1, 2)
        left = responses_of(db, OPEN)
        assert len(left) == len(upgraded.of(OPEN)) - 1
        assert comments_of(db, OPEN) == []
        # The closed wave's answers are no longer anyone's: nothing of them goes.
        assert (responses_of(db, CLOSED), comments_of(db, CLOSED)) == closed_before
        forgotten = await services.privacy.mydata(COMMENTER)
        assert forgotten.own == {} and forgotten.record.asked == []
        # Everyone else still finds their own answer.
        for a in upgraded.of(OPEN):
            if a.user != COMMENTER:
                assert (await services.privacy.mydata(a.user)).own[OPEN].score == a.score
        # While the bot runs on: their ID and words are in no byte of the files, journal included.
        on_disk = raw_bytes(db)
        assert COMMENTER.encode() not in on_disk
        assert COMMENTS[OPEN].encode() not in on_disk


# -- 4. upgrading twice ----------------------------------------------------------------------------------


async def test_a_second_migrate_changes_nothing(upgraded: OldDatabase) -> None:
    db = upgraded.path

    def snapshot() -> tuple[object, ...]:
        return (
            responses_of(db, CLOSED),
            responses_of(db, OPEN),
            comments_of(db, CLOSED),
            comments_of(db, OPEN),
            query(db, "SELECT wave_id, wrapped FROM wave_keys ORDER BY 1"),
            meta(db),
            upgraded.key_file.read_text(),
        )

    before = snapshot()
    again = pulse_migrate(db)
    assert again.returncode == 0, again.stderr
    assert "is up to date" in again.stdout
    assert "re-keyed" not in again.stderr
    assert snapshot() == before


async def test_the_answers_of_before_go_into_the_figures_in_groups(upgraded: OldDatabase) -> None:
    """Answers from before groups are released at the upgrade as they would have been on arrival:
    day by day, a group each time PULSE_MIN_GROUP of them are waiting; the rest wait on."""
    db = upgraded.path
    released = query(db, "SELECT count(*) FROM responses WHERE released_on IS NOT NULL")[0][0]
    waiting = query(db, "SELECT count(*) FROM responses WHERE released_on IS NULL")[0][0]
    assert released >= 5 and waiting < 5 and released + waiting == len(upgraded.answers)
    assert query(db, "SELECT sum(answers) FROM disclosed")[0][0] == released


# -- PULSE_SECRET_KEY instead of the generated secret ----------------------------------------------------


async def test_answers_keyed_with_the_configured_secret_are_found_after_the_upgrade(tmp_path: Path) -> None:
    configured = secrets.token_urlsafe(32)
    old = await write_old_database(tmp_path / "pulse.db", secret=configured, generated=False)
    result = pulse_migrate(old.path, PULSE_SECRET_KEY=configured)
    assert result.returncode == 0, result.stderr
    assert not old.key_file.exists()
    values = meta(old.path)
    assert "secret_key" not in values and values.get("key_check")
    guesses = attacker_guesses(configured)
    assert configured.encode() not in raw_bytes(old.path)
    assert not {key for wave in (CLOSED, OPEN) for key, _, _ in responses_of(old.path, wave)} & guesses

    async with services_on(old.path, pulse_secret_key=configured) as services:
        for a in old.of(OPEN):
            mine = await services.privacy.mydata(a.user)
            assert mine.own == {OPEN: OwnAnswer(OPEN, float(a.score), a.comment)}, a.user
    assert not old.key_file.exists()

    # Without the key the database is not opened, and no new key is made up for it.
    forgot = pulse_migrate(old.path)
    assert forgot.returncode == 2 and "key file" in forgot.stderr and "is missing" in forgot.stderr
    assert not old.key_file.exists()


async def test_upgrading_without_the_key_the_answers_were_made_with_stops_and_leaves_them(tmp_path: Path) -> None:
    configured = secrets.token_urlsafe(32)
    old = await write_old_database(tmp_path / "pulse.db", secret=configured, generated=False)
    keys = "SELECT wave_id, respondent_key, score FROM responses ORDER BY 1, 2"
    before = query(old.path, keys)
    refused = pulse_migrate(old.path)  # the operator unset PULSE_SECRET_KEY before upgrading
    assert refused.returncode == 2
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("pulse:")]
    assert "answer(s) of surveys still open were stored under a PULSE_SECRET_KEY that is not set now" in line
    assert query(old.path, keys) == before
    assert "key_scheme" not in meta(old.path) and "key_check" not in meta(old.path)
    # With the key given, the upgrade completes.
    done = pulse_migrate(old.path, PULSE_SECRET_KEY=configured)
    assert done.returncode == 0, done.stderr
    async with services_on(old.path, pulse_secret_key=configured) as services:
        for a in old.of(OPEN):
            assert OPEN in (await services.privacy.mydata(a.user)).own, a.user
