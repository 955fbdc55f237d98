"""What the fault-injection tests share: kill points chosen by a seed, the stand-in's state read
on its own loop, the database read from outside the bot, and a write lock held by another process."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from sandbox.stand_in import SlackStandIn
from tests.support import StandInThread, wait_for_sync

T = TypeVar("T")

Kind = Literal["before", "held", "after"]
KINDS: tuple[Kind, ...] = ("before", "held", "after")


def on_loop(thread: StandInThread, fn: Callable[[], T]) -> T:
    """`fn()` run on the stand-in's event loop: its state is only ever touched there."""

    async def call() -> T:
        return fn()

    result: T = thread.run(call())
    return result


def wait_quiet(thread: StandInThread, timeout: float = 10.0) -> None:
    """Until every Web API call the stand-in received has been answered and every completed upload
    shared (Slack is done acting)."""

    def quiet() -> bool:
        return thread.standin.in_flight == 0 and thread.standin.pending_shares == 0

    wait_for_sync(lambda: on_loop(thread, quiet), timeout=timeout, what="quiet Slack")


@dataclass(frozen=True)
class KillPoint:
    """Where a seeded SIGKILL lands, seen from the call to `method` that does item `index` of the
    work (0-based); every call is slowed by `delay` so that the work is spread out.

    - before: right after the bot got `index` answers, while it records them and makes the next
      calls; nothing it sends from then on takes effect (the calls never reached Slack, as far as
      anyone can tell).
    - held: the call for item `index` (and every later one) reached Slack, which holds it
      unanswered and does not carry it out.
    - after: Slack carried out the call for item `index` (and every later one) but its answer
      never came back: the bot dies before it can record what it did.
    """

    kind: Kind
    method: str
    index: int
    delay: float

    def arm(self, standin: SlackStandIn) -> None:
        """Set up the stand-in before the work is started (on the stand-in's loop)."""
        standin.faults.delay(self.method, self.delay)
        if self.kind == "held":
            standin.faults.hold(self.method, after=self.index)
        elif self.kind == "after":
            standin.faults.hold_answers(self.method, after=self.index)

    def reached(self, standin: SlackStandIn) -> bool:
        if self.kind == "before":
            return len(standin.calls_to(self.method, ok=True)) >= self.index
        if self.kind == "held":
            return standin.faults.held >= 1
        return standin.faults.answers_held >= 1

    def fire(
        self,
        thread: StandInThread,
        proc: subprocess.Popen[str],
        *,
        ready: Callable[[], bool] = lambda: True,
        timeout: float = 30.0,
    ) -> None:
        """Wait for the point (and `ready()`), SIGKILL the process, then let Slack finish: held
        calls are refused without effect, held answers go to the dead process; faults are cleared."""
        standin = thread.standin
        wait_for_sync(
            lambda: proc.poll() is None and ready() and on_loop(thread, lambda: self.reached(standin)),
            timeout=timeout,
            what=f"the kill point {self}",
        )
        if self.kind == "before":
            on_loop(thread, lambda: standin.faults.hold(self.method, after=0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, f"the process ended by itself ({proc.returncode}) before the kill"
        on_loop(thread, standin.faults.release)
        wait_quiet(thread)
        on_loop(thread, standin.faults.clear)

    def __str__(self) -> str:
        return f"{self.kind} {self.method} #{self.index} (delay {self.delay}s)"


def kill_point(seed: int, kind: Kind, method: str, *, first: int, last: int) -> KillPoint:
    """A kill point of this kind at an item in [first, last] and a slowness chosen by `seed`."""
    rng = random.Random(seed)
    return KillPoint(kind, method, rng.randint(first, last), round(rng.uniform(0.1, 0.25), 3))


# -- the database, read from outside the bot ------------------------------------------------------------


def db_rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path, timeout=10)) as conn:
        return list(conn.execute(sql, params).fetchall())


def db_value(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    rows = db_rows(path, sql, params)
    return rows[0][0] if rows else None


def integrity(path: Path) -> str:
    return str(db_value(path, "PRAGMA integrity_check"))


# -- another process holding the write lock -------------------------------------------------------------

_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
print("released", flush=True)
"""


@dataclass
class HeldLock:
    proc: subprocess.Popen[str]
    seconds: float
    lines: list[str] = field(default_factory=list)
    locked_at: float = 0.0

    @property
    def released(self) -> bool:
        return "released" in self.lines

    def wait_released(self, timeout: float = 30.0) -> None:
        wait_for_sync(lambda: self.released, timeout=timeout, what="the other process to let go of the database")


@contextmanager
def lock_held_by_another_process(db: Path, seconds: float) -> Iterator[HeldLock]:
    """Another process takes the database's write lock (BEGIN EXCLUSIVE) and keeps it `seconds`;
    entered once it holds the lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    held = HeldLock(proc, seconds)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            held.lines.append(line.strip())

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for_sync(lambda: "locked" in held.lines, timeout=15, what="the other process to lock the database")
        held.locked_at = time.monotonic()
        yield held
        held.wait_released(seconds + 15)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
