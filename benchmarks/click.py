"""Survey click (README, “Performance”): a person clicks an NPS button in their DM; the bot stores the answer
durably, then acks. Median and p99 latency and throughput at 1 and 10 concurrent clients, for
the bot and for a bare Bolt app that only acks, measured in the same run.

    python -m benchmarks.click [--people 2000] [--clicks 2000]

Every request is a real signed block_actions payload built from the DM the bot actually sent.
The bare app is measured twice: as Bolt ships it (the reference the targets are set against; its runner polls
for ack() every 10 ms) and with process_before_response=True (no polling), the harder
comparison, reported beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from functools import partial
from typing import Any

from benchmarks.harness import (
    Served,
    SignedPoster,
    bare_bolt,
    cpu_seconds,
    emit,
    median,
    ms,
    percentile,
    pulse_serve,
    recorded,
    resident_mb,
    run,
    scratch_dir,
    settle_memory,
    until,
)
from handlers.ids import Action
from sandbox.slack_to_bot import BotReply, HttpTransport, Kind, SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID, Message
from storage import Store

SLUG = "bench-tool"
OWNER = "U0BENCHOWN"
WARM_UP = 200


def seed(standin: SlackStandIn, people: int) -> list[str]:
    ws = standin.workspace
    ws.add_user(OWNER, "owner", "Bench Owner")
    users = [ws.add_user(f"U0B{i:07d}", f"person{i}").id for i in range(people)]
    ws.add_usergroup("everyone", users)
    ws.add_channel("launch", [OWNER, BOT_USER_ID])
    return users


async def open_wave(standin: SlackStandIn, served: Served, users: list[str]) -> None:
    """Create, start and survey the rollout through the bot's own commands, then wait for the DMs."""
    transport = HttpTransport(served.url, standin.signing_secret, timeout=60)
    slack = SlackToBot(standin, transport)
    group = next(iter(standin.workspace.usergroups.values())).id
    for command, text in (
        ("/rollout", f'new {SLUG} "Benchmark tool"'),
        ("/rollout", f"cohort {SLUG} alpha <!subteam^{group}>"),
        ("/rollout", f"start {SLUG}"),
        ("/pulse", f"send {SLUG} nps"),
    ):
        await slack.ask(OWNER, text, command=command)
    ws = standin.workspace
    await until(lambda: all(ws.dms_to(u) for u in users), timeout=300, what="every survey DM")
    await transport.close()


async def click_payloads(standin: SlackStandIn, users: list[str], count: int) -> list[tuple[Kind, dict[str, Any]]]:
    """`count` clicks on survey buttons, cycling through the people (a repeat changes an answer)."""
    rng = random.Random(7)
    payloads = []
    for i in range(count):
        user = users[i % len(users)]
        survey = standin.workspace.dms_to(user)[0]
        action = f"{Action.SURVEY_ANSWER.value}_{rng.randint(0, 10)}"
        payloads.append(await recorded(standin, partial(_click, user=user, action=action, message=survey)))
    return payloads


async def _click(slack: SlackToBot, *, user: str, action: str, message: Message) -> BotReply:
    return await slack.click(user, action, message=message)


async def measure(url: str, secret: str, payloads: list[tuple[Kind, dict[str, Any]]], clients: int) -> dict[str, Any]:
    """Send the payloads from `clients` concurrent clients; latency per request and throughput."""
    queue = list(reversed(payloads))
    latencies: list[float] = []
    failures = 0

    async def client() -> None:
        nonlocal failures
        poster = SignedPoster(url, secret)
        try:
            while queue:
                kind, payload = queue.pop()
                started = time.perf_counter()
                status = await poster.post(kind, payload)
                latencies.append(time.perf_counter() - started)
                failures += status != 200
        finally:
            await poster.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    took = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "non_200": failures,
        "median_ms": ms(median(latencies)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "throughput_per_s": round(len(latencies) / took, 1),
    }


async def phases(url: str, secret: str, payloads: list[tuple[Kind, dict[str, Any]]]) -> dict[str, Any]:
    warm, rest = payloads[:WARM_UP], payloads[WARM_UP:]
    await measure(url, secret, warm, 10)
    single = rest[: len(rest) // 4]
    return {"1": await measure(url, secret, single, 1), "10": await measure(url, secret, rest[len(single) :], 10)}


def ratio(bot: dict[str, Any], bare: dict[str, Any], figure: str) -> float:
    return round(float(bot[figure]) / float(bare[figure]), 2)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--clicks", type=int, default=2600, help="per app, including a warm-up of 200")
    args = parser.parse_args()

    standin = SlackStandIn()
    await standin.start()
    users = seed(standin, args.people)
    secret = standin.signing_secret
    db = scratch_dir() / "pulse.db"
    results: dict[str, Any] = {}
    with pulse_serve(standin, db, PULSE_ADMINS=OWNER) as (served, _):
        await open_wave(standin, served, users)
        payloads = await click_payloads(standin, users, args.clicks)
        settle_memory()
        cpu_before = cpu_seconds(served.pid)
        results["bot"] = await phases(served.url, secret, payloads)
        # The bot's own CPU per click (its process, not the clients'), over every measured click.
        results["bot"]["cpu_ms_per_click"] = round(1000 * (cpu_seconds(served.pid) - cpu_before) / len(payloads), 3)
        rss, peak = resident_mb(served.pid)
        results["bot"]["rss_mb"], results["bot"]["peak_rss_mb"] = rss, peak
    # Every acknowledged click is a stored answer: one per person who clicked (the last one).
    store = await Store.open(db)
    stored = await store.fetch_value("SELECT count(*) FROM responses")
    await store.close()
    clicked = min(len(users), args.clicks)

    for name, fast in (("bare_default", False), ("bare_process_before_response", True)):
        with bare_bolt(secret, standin, process_before_response=fast) as bare:
            results[name] = await phases(bare.url, secret, payloads)
    await standin.stop()

    bot10 = results["bot"]["10"]
    emit(
        "survey_click",
        {
            **results,
            # The targets' reference is a bare AsyncApp as Bolt ships it; the tuned one is reported
            # beside it because it is the harder comparison.
            "reference": "bare_default",
            "median_ratio_10": ratio(bot10, results["bare_default"]["10"], "median_ms"),
            "throughput_ratio_10": ratio(bot10, results["bare_default"]["10"], "throughput_per_s"),
            "median_ratio_10_vs_tuned": ratio(bot10, results["bare_process_before_response"]["10"], "median_ms"),
            "throughput_ratio_10_vs_tuned": ratio(
                bot10, results["bare_process_before_response"]["10"], "throughput_per_s"
            ),
            "answers_stored": stored,
            "answers_expected": clicked,
            "targets": {
                "median_ratio_10_max": 2.0,
                "throughput_ratio_10_min": 0.8,
                "p99_ms_10_max": 100,
            },
        },
    )


if __name__ == "__main__":
    run(main)
