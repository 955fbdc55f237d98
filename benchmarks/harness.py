"""What every benchmark shares: Slack's side (the stand-in and signed requests) in this process,
the app under test in a child process of its own, resident-memory readings, percentiles, and
the one JSON line each script prints.

The app under test runs in its own process so that the load generator and the stand-in never
share an interpreter (or a GIL) with it; on a 2-core machine that leaves one core each.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.slack_to_bot import HttpTransport, Kind, SlackToBot, sign
from sandbox.stand_in import SlackStandIn
from tests.support import PROXY_VARIABLES, ServeProcess, bot_environment, wait_for

ROOT = Path(__file__).resolve().parent.parent


def no_proxy() -> None:
    """slack-sdk and aiohttp would send loopback traffic through a proxy otherwise."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)


def emit(name: str, figures: dict[str, Any]) -> None:
    """The benchmark's one line of JSON on stdout."""
    line = {"benchmark": name, **figures, "machine": machine()}
    print(json.dumps(line, sort_keys=False), flush=True)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform(terse=True)}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method: an observed value, not an interpolation."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# -- resident memory ---------------------------------------------------------------------------


def resident_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process in MB, from /proc (Linux)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(rest.split()[0]) / 1024
    return round(fields.get("VmRSS", 0.0), 1), round(fields.get("VmHWM", 0.0), 1)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process has used so far, from /proc (Linux)."""
    # The command name (field 2) is in parentheses and may hold spaces: count from after it.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- processes under test ----------------------------------------------------------------------


@dataclass
class Served:
    """An app under test in its own process: where to send Slack requests, and its pid."""

    url: str
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def pulse_serve(standin: SlackStandIn, db: Path, **env: str) -> Iterator[tuple[Served, ServeProcess]]:
    """`python -m bot serve` against the stand-in, exactly as an operator runs it."""
    environment = bot_environment(standin, db, PULSE_QUIET_HOURS="off", **env)
    process = ServeProcess(environment, ROOT)
    try:
        address = process.wait_ready(timeout=60)
        yield Served(f"{address}/slack/events", process.proc), process
        process.stop()
    finally:
        process.kill()


@asynccontextmanager
async def pulse_serving(standin: SlackStandIn, db: Path, **env: str) -> AsyncIterator[tuple[Served, ServeProcess]]:
    """`pulse_serve` for a benchmark whose stand-in runs in this event loop: the wait for the bot
    to be ready runs in a thread, so that the stand-in answers the bot's start-up calls
    (auth.test) meanwhile instead of letting them time out."""
    environment = bot_environment(standin, db, PULSE_QUIET_HOURS="off", **env)
    process = ServeProcess(environment, ROOT)
    try:
        address = await asyncio.to_thread(process.wait_ready, 60)
        yield Served(f"{address}/slack/events", process.proc), process
        await asyncio.to_thread(process.stop)
    finally:
        process.kill()


@contextmanager
def bare_bolt(signing_secret: str, standin: SlackStandIn, *, process_before_response: bool) -> Iterator[Served]:
    """The reference: a slack-bolt AsyncApp that only acks, served by Bolt's aiohttp adapter."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    args = [sys.executable, "-m", "benchmarks.bare_bolt", "--secret", signing_secret, "--api-url", standin.api_url]
    args += ["--token", standin.bot_token]
    if process_before_response:
        args.append("--process-before-response")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"the bare Bolt app did not start: {line!r}")
        yield Served(f"{line}/slack/events", proc)
    finally:
        proc.terminate()
        proc.wait(10)


# -- Slack's side --------------------------------------------------------------------------------


class Recorder:
    """A transport that keeps the payloads Slack would send instead of sending them, so a
    benchmark can build its requests first and time only their delivery."""

    def __init__(self) -> None:
        self.payloads: list[tuple[Kind, dict[str, Any]]] = []

    async def deliver(self, kind: Kind, payload: dict[str, Any], *, retry_num: int = 0) -> Any:
        self.payloads.append((kind, payload))
        return None


async def recorded(standin: SlackStandIn, act: Callable[[SlackToBot], Awaitable[Any]]) -> tuple[Kind, dict[str, Any]]:
    """The payload Slack would send for one act of a person (a click, a command …)."""
    recorder = Recorder()
    await act(SlackToBot(standin, recorder))
    [payload] = recorder.payloads
    return payload


class SignedPoster:
    """Sends pre-built Slack payloads, signed at send time, over one keep-alive session."""

    def __init__(self, url: str, signing_secret: str) -> None:
        self._transport = HttpTransport(url, signing_secret, timeout=30)

    async def post(self, kind: Kind, payload: dict[str, Any]) -> int:
        body, content_type = HttpTransport.encode(kind, payload)
        session = await self._transport.session()
        headers = {"Content-Type": content_type, **sign(self._transport.signing_secret, body)}
        async with session.post(self._transport.url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        await self._transport.close()


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str) -> None:
    await wait_for(condition, timeout=timeout, what=what)


def settle_memory() -> None:
    """After setting up Slack's side (a workspace of thousands of people and messages): keep
    the garbage collector from walking it again, or a full collection here stalls every client
    at once (~160 ms) and is counted against the app under test."""
    gc.collect()
    gc.freeze()


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="pulse-bench-"))


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    no_proxy()
    asyncio.run(main())


def elapsed(since: float) -> float:
    return time.perf_counter() - since


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
