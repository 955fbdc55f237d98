from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.app import create_app
from bot.background import Background
from bot.clock import SystemClock
from bot.server import build_web_app
from bot.services import Services
from bot.settings import Settings
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.support import PROXY_VARIABLES

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
async def standin() -> AsyncIterator[SlackStandIn]:
    server = SlackStandIn()
    ws = server.workspace
    ws.add_user(ADMIN, "ada", "Ada Admin", email="ada@example.com", tz="Europe/Berlin")
    await server.start()
    yield server
    await server.stop()


def make_settings(standin: SlackStandIn, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": standin.bot_token,
        "slack_signing_secret": standin.signing_secret,
        "slack_api_url": standin.api_url,
        "pulse_db": tmp_path / "pulse.db",
        "pulse_admins": ADMIN,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path)


@dataclass
class RunningBot:
    """The bot served over real HTTP in this process, and Slack's side of the conversation."""

    app: AsyncApp
    services: Services
    background: Background
    url: str
    slack: SlackToBot
    transport: HttpTransport


@pytest.fixture
async def bot(settings: Settings, store: Store, standin: SlackStandIn) -> AsyncIterator[RunningBot]:
    background = Background()
    services = Services(settings=settings, store=store, clock=SystemClock())
    app = create_app(settings, store, services=services, background=background)
    runner = web.AppRunner(build_web_app(settings, store, app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses)
    url = f"http://127.0.0.1:{port}/slack/events"
    transport = HttpTransport(url, standin.signing_secret)
    yield RunningBot(app, services, background, url, SlackToBot(standin, transport), transport)
    await transport.close()
    await background.drain(5)
    await runner.cleanup()


@pytest.fixture
def repo_root() -> Iterator[Path]:
    return Path(__file__).resolve().parent.parent
