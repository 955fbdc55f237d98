from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.app import Bot, build_bot
from bot.server import build_web_app
from bot.settings import Settings
from runtime.clock import Clock, SystemClock
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import SlackStandIn
from services import Services
from storage import Store
from tests.support import PROXY_VARIABLES, wait_for
from tests.world import World, seed_world

ADMIN = "U0ADMIN01"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack-sdk and aiohttp would send loopback traffic through a proxy otherwise.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "pulse.db")
    yield opened
    await opened.close()


@pytest.fixture
async def standin(clock: Clock, request: pytest.FixtureRequest) -> AsyncIterator[SlackStandIn]:
    # Slack's clock and the bot's are the same clock, as in production (message ts, history).
    server = SlackStandIn(clock=lambda: clock.now().timestamp())
    ws = server.workspace
    ws.add_user(ADMIN, "ada", "Ada Admin", email="ada@example.com", tz="Europe/Berlin")
    await server.start()
    yield server
    await server.stop()
    # Slack refusing what the bot sent (blocks over a limit, a bad argument) is a bug the test
    # did not look for, unless it says it does.
    if request.node.get_closest_marker("slack_rejects") is None:
        refused = [f"{c.method}: {c.error}" for c in server.rejected]
        assert not refused, f"Slack refused what the bot sent: {refused}"


def make_settings(standin: SlackStandIn, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": standin.bot_token,
        "slack_signing_secret": standin.signing_secret,
        "slack_api_url": standin.api_url,
        "pulse_db": tmp_path / "pulse.db",
        "pulse_admins": ADMIN,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path)


@pytest.fixture
def world(standin: SlackStandIn) -> World:
    """The small workspace of tests/world.py, in the stand-in."""
    return seed_world(standin)


@dataclass
class RunningBot:
    """The bot served over real HTTP in this process, and Slack's side of the conversation."""

    bot: Bot
    url: str
    slack: SlackToBot
    transport: HttpTransport

    @property
    def app(self) -> AsyncApp:
        return self.bot.app

    @property
    def services(self) -> Services:
        return self.bot.services

    async def ask(self, user: str, text: str, *, command: str = "/rollout", channel: str | None = None) -> str:
        """The text the person reads in answer to a command."""
        message = await self.slack.ask(user, text, command=command, channel=channel)
        return message.shown_text

    async def send_due_surveys(self) -> None:
        """Send every survey due now on the bot's clock, and wait for those its own sender loop took.

        The loop runs beside the test (kicked when a wave is queued, or at its idle poll) and claims
        a delivery before posting it: 'sending', not due again for the claim's lease. `drain()` alone
        then finds nothing to claim and returns while the loop's post is still on its way to Slack.
        Every delivery due now is, after `drain()`, sent, held for its window, or claimed by the loop;
        once none is 'sending' they are all done, and nothing else falls due until the clock moves."""
        await self.bot.surveys_sender.drain()
        store = self.services.store

        async def none_in_flight() -> bool:
            return bool(await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sending'") == 0)

        await wait_for(none_in_flight, what="the sender loop to finish the surveys it claimed")


@pytest.fixture
def clock() -> Clock:
    return SystemClock()


@pytest.fixture
async def bot(settings: Settings, store: Store, standin: SlackStandIn, clock: Clock) -> AsyncIterator[RunningBot]:
    built = build_bot(settings, store, clock=clock)
    await built.start()
    runner = web.AppRunner(build_web_app(settings, built), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses)
    url = f"http://127.0.0.1:{port}/slack/events"
    transport = HttpTransport(url, standin.signing_secret)
    yield RunningBot(built, url, SlackToBot(standin, transport), transport)
    await transport.close()
    await built.stop(5)
    await runner.cleanup()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
