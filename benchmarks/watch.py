"""Regression watch (README, “Performance”): one look of the watch over every active stage of
50 rollouts with 1,000,000 responses — each stage's gates with their 95% intervals, the last
seven days and the seven before, the week-over-week NPS — as the minute job makes it after a
group is released and the hourly job every hour.

    python -m benchmarks.watch [--responses 1000000] [--rollouts 50]

The database is the digest benchmark's (benchmarks/digest.py: `fill`). The first look after
opening is reported (cold; it also writes each rule's first state) and the median of five more.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from typing import Any

from benchmarks.digest import fill, services_over
from benchmarks.harness import emit, ms, resident_mb, run, scratch_dir
from bot.settings import Settings
from services.directory import NoDirectory
from storage import Store
from storage.disclosure import Disclosures


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--rollouts", type=int, default=50)
    args = parser.parse_args()

    db = scratch_dir() / "pulse.db"
    store = await Store.open(db)
    await store.close()
    fill(db, args.rollouts, args.responses, random.Random(5))
    store = await Store.open(db)
    await Disclosures(store).release_backlog(min_group=Settings(_env_file=None).pulse_min_group)
    services = services_over(store, db)
    directory = NoDirectory()

    async def look() -> float:
        started = time.perf_counter()
        await services.watch.look(directory)
        return time.perf_counter() - started

    cold = await look()
    warm = [await look() for _ in range(5)]
    rss, peak = resident_mb(os.getpid())
    figures: dict[str, Any] = {
        "responses": await store.fetch_value("SELECT count(*) FROM responses"),
        "rollouts": args.rollouts,
        "cold_ms": ms(cold),
        "median_ms": ms(statistics.median(warm)),
        "max_ms": ms(max(cold, *warm)),
        "per_rollout_ms": ms(statistics.median(warm) / args.rollouts),
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }
    await store.close()
    emit("watch", figures)


if __name__ == "__main__":
    run(main)
