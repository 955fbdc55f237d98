"""Feedback map (README, “Performance”): the maps of 50 rollouts holding 200,000 released
comments of settled groups (and 1,000,000 responses): every cell's figures, change and themes
(the phrases' counting and TF-IDF), as `/pulse map` computes them.

    python -m benchmarks.feedback_map [--responses 1000000] [--comments 200000] [--rollouts 50]

The database is the digest benchmark's (benchmarks/digest.py: `fill`), with comments written in
sentences drawn from a small vocabulary of feedback, so that themes are found. Reported: the
first map after opening (cold); all 50 maps one after the other with
nothing found ahead (each rollout's themes found as it is asked); the job that finds themes ahead
(`maps:find-themes`, run at start and every ten minutes); all 50 maps asked after it (the
target); and the median of five maps of different rollouts, and of one rollout asked again.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.digest import fill, services_over
from benchmarks.harness import emit, ms, resident_mb, run, scratch_dir
from bot.settings import Settings
from services.feedback_map import ThemeCache
from storage import Store
from storage.disclosure import Disclosures

SUBJECTS = ["the receipts page", "the mileage form", "the approval flow", "the mobile app", "uploading a receipt",
            "the export", "the search", "the login", "kvittosidan", "reseräkningen"]  # fmt: skip
VERDICTS = ["is slow", "keeps crashing", "works well", "is confusing", "saves me time", "needs a dark mode",
            "är långsam", "fungerar bra", "is hard to find", "broke on Monday"]  # fmt: skip


def reword(db: Path, rng: random.Random) -> int:
    """Every comment becomes a sentence of feedback; returns how many there are."""
    with sqlite3.connect(db) as conn:
        keys = conn.execute("SELECT wave_id, respondent_key FROM comments").fetchall()
        conn.executemany(
            "UPDATE comments SET body = ? WHERE wave_id = ? AND respondent_key = ?",
            ((f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERDICTS)}", *key) for key in keys),
        )
    return len(keys)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--rollouts", type=int, default=50)
    args = parser.parse_args()

    db = scratch_dir() / "pulse.db"
    store = await Store.open(db)
    await store.close()
    rng = random.Random(5)
    fill(db, args.rollouts, args.responses, rng, comment_share=args.comments / (0.8 * args.responses))
    comments = reword(db, rng)
    store = await Store.open(db)
    await Disclosures(store).release_backlog(min_group=Settings(_env_file=None).pulse_min_group)
    services = services_over(store, db)
    details = list(await services.rollouts.open_rollouts())
    maps = services.maps

    async def one(index: int) -> float:
        started = time.perf_counter()
        await maps.build(details[index])
        return time.perf_counter() - started

    async def every() -> tuple[float, int]:
        started = time.perf_counter()
        themes = 0
        for detail in details:
            fmap = await maps.build(detail)
            themes += sum(len(cell.themes) for cell in fmap.cells.values())
        return time.perf_counter() - started, themes

    cold = await one(0)
    maps.themes = ThemeCache()
    first, themes = await every()  # nothing found ahead: each rollout's themes found as it is asked
    maps.themes = ThemeCache()
    started = time.perf_counter()
    await maps.warm()  # the job `maps:find-themes`, after a start or a settled group
    warm_up = time.perf_counter() - started
    again, _ = await every()  # as asked after it, until a group settles: themes kept
    maps.themes = ThemeCache()
    fresh = [await one(i % len(details)) for i in range(1, 6)]
    asked_again = [await one(1) for _ in range(5)]
    settled = sum([len(await Disclosures(store).settled_comments(d.rollout.id, int(time.time()))) for d in details])
    rss, peak = resident_mb(os.getpid())
    await store.close()
    figures: dict[str, Any] = {
        "comments": comments,
        "settled_comments": settled,
        "rollouts": len(details),
        "themes": themes,
        "cold_ms": ms(cold),
        "median_ms": ms(statistics.median(fresh)),
        "median_again_ms": ms(statistics.median(asked_again)),
        "all_maps_unwarmed_ms": ms(first),
        "find_themes_job_ms": ms(warm_up),
        "all_maps_ms": ms(again),
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "targets": {"all_maps_ms": 2000},
    }
    emit("feedback_map", figures)


if __name__ == "__main__":
    run(main)
