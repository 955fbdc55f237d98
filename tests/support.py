"""Helpers shared by the tests: deadlines instead of sleeps, a stand-in on its own thread,
the survey DMs a person got, and `pulse serve` as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from handlers.ids import Block
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 10.0, what: str = "") -> None:
    """Wait until `condition` holds, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.01)


def wait_for_sync(condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.02)


def is_survey(message: Message) -> bool:
    """A survey DM: a message with the answer buttons."""
    return any(str(b.get("block_id", "")).startswith(Block.SURVEY_ANSWERS.value) for b in message.blocks)


def survey_dms(standin: SlackStandIn, user: str) -> list[Message]:
    """The survey DMs the person got from the stand-in, oldest first."""
    return [m for m in standin.workspace.dms_to(user) if is_survey(m)]


def survey_of(standin: SlackStandIn, user: str) -> Message | None:
    """The person's newest survey DM, if they got one."""
    dms = survey_dms(standin, user)
    return dms[-1] if dms else None


async def wait_for_surveys(
    standin: SlackStandIn, users: Iterable[str], *, timeout: float = 10.0, what: str = "every survey DM"
) -> None:
    """Wait until each of `users` has a survey DM, failing the test after `timeout` seconds."""
    waiting = list(users)
    await wait_for(lambda: all(survey_of(standin, u) is not None for u in waiting), timeout=timeout, what=what)


class StandInThread:
    """The stand-in on an event loop of its own, for tests that are not async themselves."""

    def __init__(self, standin: SlackStandIn | None = None) -> None:
        self.standin = standin or SlackStandIn()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="stand-in")

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        self.run(self.standin.start())
        return self.standin

    def __exit__(self, *exc: object) -> None:
        self.run(self.standin.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()

    def run(self, coro: Awaitable[Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]


def bot_environment(standin: SlackStandIn, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PULSE_")) and k not in PROXY_VARIABLES}
    env.update(
        SLACK_BOT_TOKEN=standin.bot_token,
        SLACK_SIGNING_SECRET=standin.signing_secret,
        SLACK_API_URL=standin.api_url,
        PULSE_DB=str(db),
        PULSE_HOST="127.0.0.1",
        PULSE_PORT="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class ServeProcess:
    """`python -m bot serve` in a child process, with its address read from its log."""

    def __init__(self, env: dict[str, str], cwd: Path, argv: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "bot", "serve"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.address = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 20.0) -> str:
        pattern = re.compile(r"(?:listening on|health at) (http://[\d.]+:\d+)")

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"pulse serve exited with {self.proc.returncode}:\n{self.log}")
            return any(pattern.search(line) for line in self.lines)

        wait_for_sync(ready, timeout=timeout, what="pulse serve to listen")
        match = next(m for line in self.lines if (m := pattern.search(line)))
        self.address = match.group(1)
        return self.address

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@contextmanager
def serve_process(env: dict[str, str], cwd: Path, argv: list[str] | None = None) -> Iterator[ServeProcess]:
    """`pulse serve` (or `argv`, a command that runs it) as a child process, killed on the way out."""
    process = ServeProcess(env, cwd, argv)
    try:
        yield process
    finally:
        process.kill()


def slack_to(process: ServeProcess, standin: SlackStandIn) -> tuple[SlackToBot, HttpTransport]:
    """Slack's side of the conversation with a `pulse serve` (waits until it listens): signed
    requests over HTTP. Close the transport when done."""
    address = process.address or process.wait_ready()
    transport = HttpTransport(f"{address}/slack/events", standin.signing_secret)
    return SlackToBot(standin, transport), transport


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """A plain HTTP call with no proxy, returning (status, text) for any status."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def health(address: str) -> tuple[int, dict[str, Any]]:
    status, text = http("GET", f"{address}/healthz")
    return status, json.loads(text) if text.startswith("{") else {}
