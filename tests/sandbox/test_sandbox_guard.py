"""The sandbox page refuses what another web site could send it: requests for another `Host`
(DNS rebinding), from another `Origin` (cross-site), or with a body that is not JSON; and it
keeps working for its own tab (tests/sandbox/test_sandbox_browser.py drives that tab in Chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from sandbox import seed
from sandbox.app import running
from sandbox.page_guard import PageAddress
from storage.models import RolloutStatus
from tests.sandbox.test_sandbox_app import free_port

PAUSE = {"as": seed.OWNER, "channel": seed.LAUNCH, "text": f'/rollout pause {seed.SLUG} "cross-site"'}


@pytest.mark.parametrize(
    ("bound", "host", "admitted"),
    [
        ("127.0.0.1", "127.0.0.1:3000", True),
        ("127.0.0.1", "LOCALHOST:3000", True),
        ("127.0.0.1", "127.0.0.1:3001", False),
        ("127.0.0.1", "127.0.0.1", False),
        ("127.0.0.1", "rebound.example:3000", False),
        ("127.0.0.1", "127.0.0.1.rebound.example:3000", False),
        ("127.0.0.1", "", False),
        ("localhost", "127.0.0.1:3000", True),
        ("::1", "[::1]:3000", True),
        ("::1", "localhost:3000", True),
        ("192.168.1.5", "192.168.1.5:3000", True),
        ("192.168.1.5", "localhost:3000", False),
        ("0.0.0.0", "10.1.2.3:3000", True),
        ("0.0.0.0", "localhost:3000", True),
        ("0.0.0.0", "rebound.example:3000", False),
    ],
)
def test_the_host_must_name_the_page(bound: str, host: str, admitted: bool) -> None:
    assert PageAddress(bound, 3000).admits(host) is admitted


async def test_a_cross_site_or_foreign_host_request_gets_4xx_and_the_page_keeps_working(tmp_path: Path) -> None:
    port = free_port()
    async with running(tmp_path / "sandbox.db", "127.0.0.1", port) as (box, address):
        own = f"http://127.0.0.1:{port}"

        async def status() -> RolloutStatus:
            return (await box.bot.services.rollouts.get(seed.SLUG)).rollout.status

        assert await status() == RolloutStatus.ACTIVE
        async with aiohttp.ClientSession(trust_env=False) as http:
            # DNS rebinding: the attacker's name, resolved to 127.0.0.1, reaches no route
            for path in ("/", "/static/app.js", f"/api/state?as={seed.OWNER}", "/api/events", "/files/F0NOPE"):
                async with http.get(f"{address}{path}", headers={"Host": f"rebound.example:{port}"}) as r:
                    assert r.status == 421, path
                    assert await r.text() == "This is not the address the sandbox is served on."

            # cross-site: a text/plain POST (no preflight) and a JSON one, from another origin
            for kind in ("text/plain", "application/json"):
                headers = {"Origin": "http://attacker.example", "Content-Type": kind}
                async with http.post(f"{address}/api/command", data=json.dumps(PAUSE), headers=headers) as r:
                    assert r.status == 403
            async with http.post(f"{address}/api/command", data=json.dumps(PAUSE), headers={"Origin": "null"}) as r:
                assert r.status == 403
            async with http.get(f"{address}/api/state", headers={"Origin": "http://attacker.example"}) as r:
                assert r.status == 403
            # a body that is not declared JSON is not read, even from no origin at all
            async with http.post(
                f"{address}/api/command", data=json.dumps(PAUSE), headers={"Content-Type": "text/plain"}
            ) as r:
                assert r.status == 415
            async with http.post(f"{address}/api/digest") as r:
                assert r.status == 415
            assert await status() == RolloutStatus.ACTIVE

            # the page's own requests, under either loopback name, as its script sends them
            async with http.get(f"http://localhost:{port}/") as r:
                assert r.status == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
            async with http.get(f"{address}/api/state", params={"as": seed.OWNER}) as r:
                assert r.status == 200 and "channels" in await r.json()
            hello = {"as": seed.OWNER, "channel": seed.GENERAL, "text": "hello"}
            async with http.post(f"{address}/api/command", json=hello, headers={"Origin": own}) as r:
                assert r.status == 200 and (await r.json())["ok"]
            async with http.get(f"{address}/api/events", headers={"Origin": own}) as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
                assert (await r.content.readline()).startswith(b": connected")
            async with http.post(f"{address}/api/command", json=PAUSE, headers={"Origin": own}) as r:
                assert r.status == 200
        assert await status() == RolloutStatus.PAUSED
