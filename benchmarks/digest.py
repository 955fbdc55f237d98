"""Digest (README, “Performance”): computing the weekly digest over 1,000,000 responses across 50 rollouts,
every figure of it (NPS with interval and change, shares, response rate, touchpoints, gates,
comments, stage changes, eight periods of trend) and its Block Kit messages.

    python -m benchmarks.digest [--responses 1000000] [--rollouts 50]

The database is a real file made by the bot's migrations and filled in bulk: each rollout has
three stages (in the second), two touchpoints, three targets, a stage change within the trend,
and ten weeks of weekly NPS waves and touchpoint surveys, so that the trend's eight periods are
full. The first computation after opening is reported (cold) and the median of five more.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import emit, ms, resident_mb, run, scratch_dir
from bot.key_file import prepare_master_key
from bot.settings import Settings
from handlers.blocks.digest import build_digest
from runtime.clock import ManualClock
from runtime.i18n import texts
from services import Services
from services.directory import NoDirectory
from storage import Store
from storage.db import day_of
from storage.disclosure import Disclosures

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, when the default digest runs
WEEKS = 10
WEEK = 7 * 86400
TOUCHPOINT_SHARE = 0.2  # of the responses; the rest answer NPS
COMMENT_SHARE = 0.01


def fill(db: Path, rollouts: int, responses: int, rng: random.Random, comment_share: float = COMMENT_SHARE) -> None:
    """Bulk rows, as if the bot had run these rollouts for ten weeks."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    now = int(NOW.timestamp())
    start = now - WEEKS * WEEK
    per_rollout = responses // rollouts
    per_wave = max(1, int(per_rollout * (1 - TOUCHPOINT_SHARE)) // WEEKS)
    per_touchpoint_wave = max(1, int(per_rollout * TOUCHPOINT_SHARE) // (2 * WEEKS))
    for r in range(rollouts):
        rid = r + 1
        conn.execute(
            """INSERT INTO rollouts (id, slug, title, status, channel_id, created_by, created_at, updated_at)
               VALUES (?, ?, ?, 'active', 'C0LAUNCH', 'U0OWNER', ?, ?)""",
            (rid, f"tool-{r:02d}", f"Tool {r:02d}", start, start),
        )
        stages = []
        for position, name in enumerate(("alpha", "beta", "ga"), 1):
            cur = conn.execute(
                "INSERT INTO stages (rollout_id, position, name, entered_at, left_at) VALUES (?, ?, ?, ?, ?)",
                (
                    rid,
                    position,
                    name,
                    {1: start, 2: now - 3 * WEEK}.get(position),
                    now - 3 * WEEK if position == 1 else None,
                ),
            )
            stages.append(int(cur.lastrowid or 0))
        alpha, beta = stages[0], stages[1]
        conn.execute("UPDATE rollouts SET current_stage_id = ? WHERE id = ?", (beta, rid))
        conn.execute("INSERT INTO owners VALUES (?, 'U0OWNER', 'U0OWNER', ?)", (rid, start))
        conn.execute("INSERT INTO champions VALUES (?, 'U0CHAMP', 'U0OWNER', ?)", (rid, start))
        touchpoints = []
        for key, scale in (("onboarding", "csat"), ("first-claim", "ces")):
            cur = conn.execute(
                """INSERT INTO touchpoints (rollout_id, key, label, scale, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (rid, key, f"{key} survey", scale, start, start),
            )
            touchpoints.append((int(cur.lastrowid or 0), scale))
        for metric, op, value, stage in (("nps", ">=", 30, None), ("response_rate", ">=", 0.4, beta)):
            conn.execute(
                """INSERT INTO targets (rollout_id, stage_id, metric, op, value, created_by, created_at)
                   VALUES (?, ?, ?, ?, ?, 'U0OWNER', ?)""",
                (rid, stage, metric, op, value, start),
            )
        conn.execute(
            """INSERT INTO targets (rollout_id, stage_id, metric, op, value, created_by, created_at)
               VALUES (?, NULL, 'csat:onboarding', '>=', 0.8, 'U0OWNER', ?)""",
            (rid, start),
        )
        conn.execute(
            """INSERT INTO stage_transitions (rollout_id, kind, from_stage_id, to_stage_id, actor, at)
               VALUES (?, 'start', NULL, ?, 'U0OWNER', ?), (?, 'advance', ?, ?, 'U0OWNER', ?)""",
            (rid, alpha, start, rid, alpha, beta, now - 3 * WEEK),
        )
        for week in range(WEEKS):
            opened = start + week * WEEK + 3600
            stage = alpha if opened < now - 3 * WEEK else beta
            _wave(conn, rng, rid, stage, None, "nps", opened, per_wave, comments=comment_share)
            for touchpoint, scale in touchpoints:
                _wave(conn, rng, rid, stage, touchpoint, scale, opened, per_touchpoint_wave, comments=0.0)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


SCORES = {"nps": range(11), "csat": range(1, 6), "ces": range(1, 8)}


def _wave(
    conn: sqlite3.Connection,
    rng: random.Random,
    rid: int,
    stage: int,
    touchpoint: int | None,
    scale: str,
    opened: int,
    answers: int,
    *,
    comments: float,
) -> None:
    kind = "nps" if touchpoint is None else "touchpoint"
    asked = int(answers / 0.8)  # an 80% response rate
    cur = conn.execute(
        """INSERT INTO waves (rollout_id, stage_id, kind, touchpoint_id, origin, opened_at, closes_at, closed_at, asked)
           VALUES (?, ?, ?, ?, 'send', ?, ?, ?, ?)""",
        (rid, stage, kind, touchpoint, opened, opened + WEEK - 7200, opened + WEEK - 7200, asked),
    )
    wave = int(cur.lastrowid or 0)
    conn.executemany(
        """INSERT INTO deliveries (wave_id, user_id, status, answered, created_at, sent_at)
           VALUES (?, ?, 'sent', ?, ?, ?)""",
        ((wave, f"U{i:08d}", int(i < answers), opened, opened) for i in range(asked)),
    )
    scores = SCORES[scale]
    span = WEEK - 7200  # answered while the wave was open
    conn.executemany(
        """INSERT INTO responses
           (wave_id, rollout_id, stage_id, kind, touchpoint_id, respondent_key, score, answered_on)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            (
                wave,
                rid,
                stage,
                kind,
                touchpoint,
                f"k{wave}:{i}",
                rng.choice(scores),
                day_of(opened + rng.randrange(span), UTC),
            )
            for i in range(answers)
        ),
    )
    if comments:
        conn.executemany(
            """INSERT INTO comments (wave_id, rollout_id, stage_id, respondent_key, body, created_on)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (
                (
                    wave,
                    rid,
                    stage,
                    f"k{wave}:{i}",
                    f"Comment {i} on wave {wave}",
                    day_of(opened + rng.randrange(span), UTC),
                )
                for i in range(int(answers * comments))
            ),
        )


def services_over(store: Store, db: Path) -> Services:
    """The bot's services over the filled database, at NOW, with no Slack directory."""
    settings = Settings(_env_file=None, pulse_db=db)
    return Services(
        settings=settings,
        store=store,
        directory=NoDirectory(),
        clock=ManualClock(NOW),
        key_setup=lambda: prepare_master_key(settings),
    )


async def compute_once(services: Services) -> tuple[float, int, int]:
    """Seconds to compute the digest and render its messages; (seconds, rollouts, messages)."""
    started = time.perf_counter()
    digests = services.digests
    content = await digests.compute(digests.current_periods(None, services.clock.now()))
    messages = build_digest(texts("en"), content)
    return time.perf_counter() - started, len(content.rollouts), len(messages)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--rollouts", type=int, default=50)
    args = parser.parse_args()

    db = scratch_dir() / "pulse.db"
    store = await Store.open(db)  # the bot's own schema
    await store.close()
    started = time.perf_counter()
    fill(db, args.rollouts, args.responses, random.Random(5))
    seeded = time.perf_counter() - started

    store = await Store.open(db)
    started = time.perf_counter()
    released = await Disclosures(store).release_backlog(min_group=Settings(_env_file=None).pulse_min_group)
    release_seconds = time.perf_counter() - started
    services = services_over(store, db)
    stored = await store.fetch_value("SELECT count(*) FROM responses")
    cold, rollouts, messages = await compute_once(services)
    warm = [(await compute_once(services))[0] for _ in range(5)]
    rss, peak = resident_mb(os.getpid())
    await store.close()
    figures: dict[str, Any] = {
        "responses": stored,
        "rollouts": rollouts,
        "messages": messages,
        "cold_ms": ms(cold),
        "median_ms": ms(statistics.median(warm)),
        "max_ms": ms(max(cold, *warm)),
        "seed_seconds": round(seeded, 1),
        "released": released,
        "release_backlog_seconds": round(release_seconds, 1),
        "database_mb": round(db.stat().st_size / 1e6, 1),
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "targets": {"max_ms": 1000},
    }
    emit("digest", figures)


if __name__ == "__main__":
    run(main)
