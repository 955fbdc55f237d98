"""Where the master key comes from: PULSE_SECRET_KEY, else a key file beside the database
(PULSE_KEY_FILE), created on first start with mode 0600. Never from the database itself.

Checked against the database before anything opens it for writing: a key that is not the one
the database was written with stops start-up, with the database untouched.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from bot.settings import Settings
from services.keys import KeySetup, MasterKey
from storage.db import Store
from storage.disclosure import Disclosures
from storage.keys import SCHEME_WAVE_KEYS, peek

log = logging.getLogger(__name__)


class KeyProblem(Exception):
    """The master key is missing, unreadable, or not the one the database was written with."""


def key_file_path(settings: Settings) -> Path:
    return settings.pulse_key_file or settings.pulse_db.with_name(settings.pulse_db.name + ".key")


def _read_key_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyProblem(f"cannot read the key file {path}: {exc}") from None
    if len(text) < 32:
        raise KeyProblem(f"the key file {path} does not hold a key (expected 64 hex digits); restore it from your copy")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("the key file %s can be read by others (mode %o); chmod 600 it", path, mode)
    return text


def write_key_file(path: Path, secret: str) -> bool:
    """Create the key file, readable by its owner only; never overwrite one. True if this call
    made it, False if another process starting at the same moment did first (its key stands).

    The key is written whole to a file of its own and then linked into place, which fails if
    the name exists: a process starting beside this one sees no key file or a whole one, never
    a half-written one, and two never both believe they made it."""
    if not path.parent.exists():
        raise KeyProblem(f"the folder for the key file does not exist: {path.parent}")
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secret + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)
    except FileExistsError:
        return False
    finally:
        draft.unlink()
    return True


def prepare_master_key(settings: Settings) -> KeySetup:
    """The master key for this database, or KeyProblem with one line saying what is wrong.
    May create the key file (first start, or moving a generated secret out of the database);
    never writes to the database."""
    db = settings.pulse_db
    state = peek(db)
    configured = settings.pulse_secret_key.get_secret_value() if settings.pulse_secret_key else None
    path = key_file_path(settings)
    moved = False
    if configured is not None:
        text, source, key_file = configured, "PULSE_SECRET_KEY", None
    elif path.exists():
        text, source, key_file = _read_key_file(path), f"the key file {path}", path
    elif state.check is not None:
        raise KeyProblem(
            f"the key file {path} is missing, and {db} was written with a key: restore the key file from "
            "where you keep it (or set PULSE_SECRET_KEY to the key); nothing was changed"
        )
    else:
        # A new database, or one from before the key was kept apart. Never the old generated
        # secret: every backup made before holds it, so it must not become the key of waves to
        # come. It serves once more, at the upgrade, to find the answers of open waves.
        text = secrets.token_hex(32)
        moved = state.legacy_secret is not None
        if write_key_file(path, text):
            log.info("created the key file %s; back it up apart from the database", path)
        else:
            text = _read_key_file(path)  # made a moment ago by another process starting too
        source, key_file = f"the key file {path}", path
    master = MasterKey(text)
    if state.check is not None and not master.matches(state.check):
        raise KeyProblem(
            f"{source} is not the key {db} was written with; nothing was changed. "
            "Set PULSE_SECRET_KEY or PULSE_KEY_FILE to the right key"
        )
    legacy: tuple[str, ...] = ()
    if state.scheme != SCHEME_WAVE_KEYS:
        # Before per-wave keys, answers were under the generated secret or PULSE_SECRET_KEY.
        legacy = tuple(dict.fromkeys(s for s in (state.legacy_secret, configured) if s))
    return KeySetup(master, source, key_file, legacy, moved)


async def open_store(settings: Settings) -> tuple[Store, KeySetup]:
    """The database with its master key: the key is found and checked first (KeyProblem, with
    the database untouched), then the database is opened and migrated, and answers still
    waiting that make groups under today's PULSE_MIN_GROUP are released (after an upgrade)."""
    setup = prepare_master_key(settings)
    store = await Store.open(settings.pulse_db, day_zone=settings.tz)
    released = await Disclosures(store).release_backlog(min_group=settings.pulse_min_group)
    if released:
        log.info(
            "released %d waiting answers into figures, in groups of at least %d", released, settings.pulse_min_group
        )
    return store, setup
