"""The storage error policy: which database errors mean "cannot be written just now" (another
process holds the lock too long, the disk is full or failing), and how work that must be stored
waits them out. Every layer that meets a database error asks here, so the policy is stated once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Any error the database raises; the layers above catch this name, not the driver's.
StorageError = sqlite3.Error
# A second write with the same unique key (a slug taken, an event already seen).
DuplicateError = sqlite3.IntegrityError


class DatabaseBusy(sqlite3.OperationalError):
    """The write waited as long as it may for another process's lock; nothing was written."""


def storage_problem(exc: BaseException) -> tuple[str, str] | None:
    """("busy" or "full", a line for the log) if `exc` says the database cannot be written just
    now: locked by another process for too long, or out of space (or failing); None otherwise."""
    if not isinstance(exc, sqlite3.Error):
        return None
    name = str(getattr(exc, "sqlite_errorname", ""))
    if isinstance(exc, DatabaseBusy):
        return "busy", str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "busy", f"the database is locked by another process ({exc})"
    if name == "SQLITE_FULL" or "disk is full" in str(exc):
        return "full", f"the database is full: the disk is full or a file size limit was reached ({exc})"
    if name.startswith("SQLITE_IOERR"):
        return (
            "full",
            f"the database cannot be written: disk full, a file size limit, or a failing disk ({exc}, {name})",
        )
    return None


async def until_stored(
    write: Callable[[], Awaitable[T]],
    what: str,
    *,
    max_pause: float = 5.0,
    give_up: Callable[[], bool] = lambda: False,
) -> T:
    """Run `write`, waiting out a database that is locked by another process or full (one log
    line per attempt, pauses from 0.5 s doubling up to `max_pause`); any other error, or one
    while `give_up()` is true, is raised."""
    pause = 0.5
    while True:
        try:
            return await write()
        except sqlite3.Error as exc:
            problem = storage_problem(exc)
            if problem is None or give_up():
                raise
            log.error("could not store %s: %s; trying again in %g s", what, problem[1], pause)
        await asyncio.sleep(pause)
        pause = min(max_pause, pause * 2)
