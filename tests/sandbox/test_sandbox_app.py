"""`pulse sandbox` without a browser: the seeded demo, its controls, and a restart that keeps state."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from sandbox import seed
from sandbox.app import running
from tests.support import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_demo_is_seeded_answers_are_simulated_and_a_restart_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    async with running(db, "127.0.0.1", free_port()) as (box, address):
        ws = box.ws
        people = [u for u in ws.users.values() if not u.is_bot]
        assert 35 <= len(people) <= 45
        assert len({u.tz for u in people}) >= 5
        assert {g.handle for g in ws.usergroups.values()} >= {"finance-pilots", "champions"}
        assert {seed.LAUNCH, seed.LEADS} <= set(ws.channels)
        detail = await box.bot.services.rollouts.get(seed.SLUG)
        assert [s.name for s in detail.stages] == ["alpha", "beta", "ga"]
        assert detail.champions and len(detail.targets) == 3 and len(detail.touchpoints) == 2
        weeks = await box.store.fetch_value("SELECT count(DISTINCT wave_id) FROM responses WHERE kind = 'nps'")
        assert weeks >= 5
        # today's survey goes out through the bot

        async def all_sent() -> bool:
            waiting = await box.store.fetch_value(
                "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')"
            )
            return bool(waiting == 0)

        await wait_for(all_sent, what="today's survey DMs")
        open_surveys = await box.store.fetch_value(
            "SELECT count(*) FROM deliveries WHERE status = 'sent' AND answered = 0"
            " AND created_at > strftime('%s') - 3600"
        )
        assert open_surveys >= 20
        async with aiohttp.ClientSession(trust_env=False) as http:
            async with http.post(f"{address}/api/simulate", json={"as": seed.ADMIN}) as response:
                answered = (await response.json())["answered"]
            assert answered == open_surveys
            async with http.post(f"{address}/api/digest", json={"as": seed.ADMIN}) as response:
                assert (await response.json())["posted"] == ["posted"]
            async with http.get(f"{address}/api/state", params={"as": "nobody"}) as response:
                assert response.status == 200 and "channels" not in await response.json()
            async with http.post(
                f"{address}/api/command", json={"as": "nobody", "channel": seed.LEADS, "text": "x"}
            ) as r:
                assert r.status == 400
        messages_before = sum(len(m) for m in ws.messages.values())
        responses_before = await box.store.fetch_value("SELECT count(*) FROM responses")
    async with running(db, "127.0.0.1", free_port()) as (again, _address):
        assert sum(len(m) for m in again.ws.messages.values()) == messages_before
        assert await again.store.fetch_value("SELECT count(*) FROM responses") == responses_before
        assert await again.store.fetch_value("SELECT count(*) FROM rollouts") == 1  # not seeded twice
