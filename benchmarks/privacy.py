"""Privacy at scale: how long `/pulse close` and forget-me take on a wave of 10,000 people.

    python -m benchmarks.privacy [--people 10000]

A real database made by the bot's migrations; the wave is opened by the survey service (each
delivery planned, the wave's key wrapped), marked as sent, answered by 80% of the people through
the real click path (group-committed as in production) and commented on by 10%. Then:
forget-me for five of the people who answered and commented (each: find their keys in the open
waves, delete every row naming them, empty the journal), and `/pulse close` of the wave (the key
destroyed, a closing notice queued for each of 10,000 messages, the journal emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from benchmarks.harness import emit, ms, resident_mb, run, scratch_dir
from bot.key_file import prepare_master_key
from bot.settings import Settings
from runtime.clock import ManualClock
from services import Services
from services.directory import ChannelInfo, NoDirectory, Person
from storage import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OWNER = "U0OWNER"
SLUG = "big-tool"


class Everyone(NoDirectory):
    """Every ID is a reachable person in Berlin (the benchmark has no Slack)."""

    async def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        return {u: Person(id=u, tz="Europe/Berlin") for u in user_ids}

    async def channel(self, channel_id: str) -> ChannelInfo:
        return ChannelInfo(id=channel_id, name="launch", is_member=True)


def person(i: int) -> str:
    return f"U{i:08d}"


async def prepare(services: Services, people: int) -> tuple[int, dict[str, int]]:
    """The rollout started with everyone in alpha; the wave opened and sent. (wave, delivery ids)"""
    store = services.store
    now = int(NOW.timestamp())
    async with store.transaction() as conn:
        await conn.execute(
            """INSERT INTO rollouts (id, slug, title, status, created_by, created_at, updated_at)
               VALUES (1, ?, 'Big tool', 'active', ?, ?, ?)""",
            (SLUG, OWNER, now, now),
        )
        await conn.execute(
            "INSERT INTO stages (id, rollout_id, position, name, entered_at) VALUES (1, 1, 1, 'alpha', ?)", (now,)
        )
        await conn.execute("UPDATE rollouts SET current_stage_id = 1 WHERE id = 1")
        await conn.execute("INSERT INTO owners VALUES (1, ?, ?, ?)", (OWNER, OWNER, now))
    detail = await services.rollouts.get(SLUG)
    assert detail.current is not None
    users = [person(i) for i in range(people)]
    report = await services.surveys.open_wave(detail, detail.current, None, "send", OWNER, users, services.directory)
    assert report.wave_id is not None
    assert report.queued == people
    await store.execute(
        """UPDATE deliveries SET status = 'sent', dm_channel = 'D' || substr(user_id, 2), message_ts = '1.' || id,
           sent_at = ? WHERE wave_id = ?""",
        (now, report.wave_id),
    )
    return report.wave_id, report.delivery_ids


async def answer_all(services: Services, wave_id: int, ids: dict[str, int], people: int) -> None:
    """80% answer and 10% comment, 200 clicks at a time (so that commits group as in production)."""
    answering = [person(i) for i in range(0, people) if i % 5]
    for start in range(0, len(answering), 200):
        batch = answering[start : start + 200]
        await asyncio.gather(*(services.surveys.answer(u, wave_id, ids[u], str(i % 11)) for i, u in enumerate(batch)))
    commenting = answering[: people // 10]
    for start in range(0, len(commenting), 200):
        batch = commenting[start : start + 200]
        await asyncio.gather(*(services.surveys.comment(u, wave_id, ids[u], f"Words of {u}") for u in batch))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    db = scratch_dir() / "pulse.db"
    settings = Settings(_env_file=None, pulse_db=db, pulse_quiet_hours="off")
    store = await Store.open(db)
    services = Services(
        settings=settings,
        store=store,
        directory=Everyone(),
        clock=ManualClock(NOW),
        key_setup=lambda: prepare_master_key(settings),
    )
    try:
        started = time.perf_counter()
        wave_id, ids = await prepare(services, args.people)
        await answer_all(services, wave_id, ids, args.people)
        seeded = time.perf_counter() - started
        answers = int(await store.fetch_value("SELECT count(*) FROM responses"))
        forget = []
        for user in [person(i) for i in (1, 2, 3, 4, 6)]:
            began = time.perf_counter()
            done = await services.privacy.forget(user)
            forget.append(time.perf_counter() - began)
            assert (done.responses, done.comments) == (1, 1)
        began = time.perf_counter()
        closed_now = await services.surveys.close_now(OWNER, SLUG, "nps")
        closed = time.perf_counter() - began
        notices = int(await store.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'survey_closed'"))
        keys_left = int(await store.fetch_value("SELECT count(*) FROM wave_keys"))
        rss, peak = resident_mb(os.getpid())
    finally:
        await store.close()
    figures: dict[str, Any] = {
        "people": args.people,
        "answers": answers,
        "forget_me_median_ms": ms(statistics.median(forget)),
        "forget_me_max_ms": ms(max(forget)),
        "close_ms": ms(closed),
        "closed": {
            "waves": closed_now.waves,
            "answers_kept": closed_now.answers,
            "notices_queued": notices,
            "wave_keys_left": keys_left,
        },
        "seed_seconds": round(seeded, 1),
        "database_mb": round(db.stat().st_size / 1e6, 1),
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }
    emit("privacy", figures)


if __name__ == "__main__":
    run(main)
