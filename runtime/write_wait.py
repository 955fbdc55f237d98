"""How long a write may wait for the database in the task at hand.

A request has Slack's 3 s to be answered, so the code serving it says how long a write may wait
for another process's lock; work started after the acknowledgement lifts the limit again. The
limit follows the task (and the tasks it starts) as a context variable, so no call in between
has to pass it on. The store reads it (`storage.db`); it is here so that the layers setting it
need not import the store.
"""

from __future__ import annotations

from contextvars import ContextVar

_write_wait: ContextVar[float | None] = ContextVar("pulse_write_wait", default=None)


def limit_write_wait(seconds: float | None) -> None:
    """From here on in this task (and in tasks it starts), a write waits at most `seconds` for
    the database before it fails, having written nothing; None: the store's default."""
    _write_wait.set(seconds)


def write_wait_limit() -> float | None:
    """The limit set for this task, or None when none is set."""
    return _write_wait.get()
