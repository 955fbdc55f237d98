"""History (README, “Performance”): what people wait for, over two years of answers, at two sizes
in one run: 1,000,000 and 10,000,000 responses across 50 rollouts (`benchmarks/history_seed.py`).

    python -m benchmarks.history [--sizes 1000000,10000000] [--rollouts 50] [--asks 50]

For each size, on a database the bot's migrations made and SQL filled:
- the weekly digest, computed and rendered in this process exactly as the bot does (the median of
  five after a first, cold one);
- `/rollout status`, `/pulse results` and `/pulse map`, each a signed slash command sent to
  `pulse serve` (its own process), timed until the answer the person sees has arrived at the
  stand-in: through the response_url for the status card and the map, in the acknowledgement
  for results. Each rollout is asked once to warm up, then once more, measured;
- the served bot's resident memory, its peak over the whole size included.

One JSON line per surface, holding both sizes and the ratio of the larger to the smaller, since
what matters is that cost does not grow with the history kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.digest import compute_once, services_over
from benchmarks.harness import ROOT, emit, ms, percentile, pulse_serving, resident_mb, run, scratch_dir
from benchmarks.history_seed import CHANNEL, OWNER, Seeded
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID, Workspace
from storage import Store

SURFACES = ("status", "results", "map")
COMMANDS = {"status": ("/rollout", "status"), "results": ("/pulse", "results"), "map": ("/pulse", "map")}
TARGETS = {
    "digest": {"median_ms_largest": 250, "ratio_max": 1.2},
    "status": {"median_ms_largest": 100, "ratio_max": 1.2},
    "results": {"ratio_max": 1.2},
    "map": {"ratio_max": 1.2},
}
RSS_TARGET_MB = 200


class AnswerSeen:
    """Resolves when the person's next answer appears in their DM: an ephemeral message to them
    (the map's file share, which everyone in the DM sees, comes before it and is not it)."""

    def __init__(self, ws: Workspace, user: str) -> None:
        self.ws, self.user = ws, user
        self.channel = ws.im_with(user).id
        self.seen = asyncio.Event()
        ws.listeners.append(self._on)

    def _on(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "message" or data.get("channel") != self.channel:
            return
        message = self.ws.messages[self.channel][-1]
        if message.ephemeral_to == self.user:
            self.seen.set()

    def close(self) -> None:
        self.ws.listeners.remove(self._on)


async def ask(slack: SlackToBot, seen: AnswerSeen, command: str, text: str) -> float:
    """Seconds from sending the signed command to its answer in the person's DM."""
    seen.seen.clear()
    started = time.perf_counter()
    reply = await slack.command(OWNER, text, command=command)
    if reply.status != 200:
        raise RuntimeError(f"{command} {text} got HTTP {reply.status}: {reply.text[:200]}")
    await asyncio.wait_for(seen.seen.wait(), timeout=60)
    return time.perf_counter() - started


def spread(seconds: list[float]) -> dict[str, float]:
    return {
        "median_ms": ms(statistics.median(seconds)),
        "p90_ms": ms(percentile(seconds, 0.9)),
        "max_ms": ms(max(seconds)),
    }


async def digest_figures(db: Path) -> dict[str, Any]:
    """The digest in this process, as the bot computes and renders it."""
    store = await Store.open(db)
    try:
        services = services_over(store, db)
        cold, rollouts, messages = await compute_once(services)
        warm = [(await compute_once(services))[0] for _ in range(5)]
    finally:
        await store.close()
    rss, peak = resident_mb(os.getpid())
    return {
        "rollouts": rollouts,
        "messages": messages,
        "cold_ms": ms(cold),
        **spread(warm),
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }


async def served_figures(standin: SlackStandIn, db: Path, slugs: list[str]) -> dict[str, dict[str, Any]]:
    """Status, results and map asked of `pulse serve` over the database, each rollout twice."""
    figures: dict[str, dict[str, Any]] = {}
    async with pulse_serving(standin, db) as (served, _):
        transport = HttpTransport(served.url, standin.signing_secret, timeout=60)
        slack = SlackToBot(standin, transport)
        seen = AnswerSeen(standin.workspace, OWNER)
        try:
            for surface in SURFACES:
                command, sub = COMMANDS[surface]
                for slug in slugs:  # warm: the bot's caches, SQLite's pages, the map's themes
                    await ask(slack, seen, command, f"{sub} {slug}")
                measured = [await ask(slack, seen, command, f"{sub} {slug}") for slug in slugs]
                figures[surface] = spread(measured)
            rss, peak = resident_mb(served.pid)
        finally:
            seen.close()
            await transport.close()
    for surface in SURFACES:
        figures[surface].update(bot_rss_mb=rss, bot_peak_rss_mb=peak)
    return figures


def seeded_in_child(db: Path, *, rollouts: int, responses: int) -> Seeded:
    argv = [sys.executable, "-m", "benchmarks.history_seed", "--db", str(db)]
    argv += ["--rollouts", str(rollouts), "--responses", str(responses)]
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return Seeded(**json.loads(done.stdout))


def workspace_for(standin: SlackStandIn) -> None:
    ws = standin.workspace
    ws.add_user(OWNER, "owner", "Rollout Owner")
    ws.add_user("U0CHAMP", "champion", "Rollout Champion")
    ws.add_channel("launch", [OWNER, BOT_USER_ID], channel_id=CHANNEL)


def line(surface: str, by_size: dict[int, dict[str, Any]], larger: int, smaller: int) -> dict[str, Any]:
    ratio = round(by_size[larger]["median_ms"] / by_size[smaller]["median_ms"], 2)
    targets = TARGETS[surface]
    met = ratio <= targets["ratio_max"]
    if "median_ms_largest" in targets:
        met = met and by_size[larger]["median_ms"] < targets["median_ms_largest"]
    if "bot_peak_rss_mb" in by_size[larger]:
        met = met and all(size["bot_peak_rss_mb"] < RSS_TARGET_MB for size in by_size.values())
    return {
        "by_size": {str(size): figures for size, figures in by_size.items()},
        "median_ratio": ratio,
        "targets": {**targets, **({"bot_peak_rss_mb": RSS_TARGET_MB} if surface in SURFACES else {})},
        "met": met,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000", help="responses, comma-separated")
    parser.add_argument("--rollouts", type=int, default=50)
    parser.add_argument("--asks", type=int, default=50, help="rollouts asked of each surface (at most --rollouts)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    slugs = [f"tool-{r:02d}" for r in range(min(args.asks, args.rollouts))]

    standin = SlackStandIn()
    await standin.start()
    workspace_for(standin)
    digest: dict[int, dict[str, Any]] = {}
    served: dict[str, dict[int, dict[str, Any]]] = {surface: {} for surface in SURFACES}
    try:
        for size in sizes:
            db = scratch_dir() / "pulse.db"
            await (await Store.open(db)).close()  # the bot's own schema
            seeded = seeded_in_child(db, rollouts=args.rollouts, responses=size)
            digest[size] = {
                "responses": seeded.responses,
                "deliveries": seeded.deliveries,
                "comments": seeded.comments,
                "waves": seeded.waves,
                "seed_seconds": seeded.seconds,
                "database_mb": round(db.stat().st_size / 1e6, 1),
                **await digest_figures(db),
            }
            for surface, figures in (await served_figures(standin, db, slugs)).items():
                served[surface][size] = figures
            _remove(db)
    finally:
        await standin.stop()
    larger, smaller = max(sizes), min(sizes)
    emit("history_digest", line("digest", digest, larger, smaller))
    for surface in SURFACES:
        emit(f"history_{surface}", line(surface, served[surface], larger, smaller))


def _remove(db: Path) -> None:
    """A 10M database is about 3 GB: gone before the next size is seeded."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    run(main)
