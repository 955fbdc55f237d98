"""Fan-out (README, “Performance”): an NPS wave to 10,000 people while the stand-in allows `chat.postMessage`
R times a second (429 with Retry-After beyond that), first alone, then with 10% of calls
answered 429 or 503 on top. Achieved rate / R, lost and duplicated DMs, the bot's memory.

    python -m benchmarks.fanout [--people 10000] [--rate 250]

The bot is `pulse serve` in its own process; the wave is opened with `/pulse send` as a person
would. The rate counts DMs that arrived, from the first post to the last.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks.harness import emit, pulse_serve, resident_mb, run, scratch_dir, until
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from storage import Store

OWNER = "U0FANOWNER"


async def one_wave(people: int, rate: float, faults: bool) -> dict[str, Any]:
    standin = SlackStandIn(seed=11, page_cap=None)  # the cohort's pages are not what is measured
    await standin.start()
    ws = standin.workspace
    ws.add_user(OWNER, "owner", "Fan-out Owner")
    users = [ws.add_user(f"U0F{i:07d}", f"person{i}").id for i in range(people)]
    group = ws.add_usergroup("everyone", users).id
    ws.add_channel("launch", [OWNER, BOT_USER_ID])
    db = scratch_dir() / "pulse.db"
    figures: dict[str, Any] = {"faults": "10% 429/503" if faults else "none"}
    with pulse_serve(standin, db, PULSE_ADMINS=OWNER) as (served, _):
        transport = HttpTransport(served.url, standin.signing_secret, timeout=120)
        slack = SlackToBot(standin, transport)
        for text in ('new fan-out "Fan-out"', f"cohort fan-out alpha <!subteam^{group}>", "start fan-out"):
            await slack.ask(OWNER, text)
        standin.faults.rate_limit("chat.postMessage", per_second=rate)
        if faults:
            standin.faults.fail("chat.postMessage", share=0.1, statuses=(429, 503))
        asked = time.time()
        await slack.ask(OWNER, "send fan-out nps", command="/pulse")

        def delivered() -> int:
            return len(standin.calls_to("chat.postMessage", ok=True))

        await until(lambda: delivered() >= people, timeout=people / rate * 3 + 60, what="every survey DM")
        # Anything still to come would be a duplicate: give the sender a second to misbehave.
        await asyncio.sleep(1)
        rss, peak = resident_mb(served.pid)
        await transport.close()
    posts = standin.calls_to("chat.postMessage", ok=True)
    counts = [len(ws.dms_to(u)) for u in users]
    times = sorted(c.at for c in posts)
    first, last = times[0], times[-1]
    store = await Store.open(db)
    unsent = await store.fetch_value("SELECT count(*) FROM deliveries WHERE status != 'sent'")
    await store.close()
    await standin.stop()
    achieved = len(posts) / max(last - first, 1e-9)
    figures.update(
        people=people,
        rate_limit_per_s=rate,
        seconds=round(last - first, 1),
        seconds_from_command=round(last - asked, 1),
        # where the time goes: the last 1% of DMs are those retried most often
        seconds_to_99_percent=round(times[int(len(times) * 0.99) - 1] - first, 1),
        achieved_per_s=round(achieved, 1),
        achieved_over_r=round(achieved / rate, 3),
        lost=sum(1 for n in counts if n == 0),
        duplicated=sum(n - 1 for n in counts if n > 1),
        deliveries_not_sent=unsent,
        calls_refused_429=standin.faults.rate_limited,
        calls_failed_injected=standin.faults.failed,
        rss_mb=rss,
        peak_rss_mb=peak,
    )
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=250.0, help="chat.postMessage calls a second (R)")
    args = parser.parse_args()
    alone = await one_wave(args.people, args.rate, faults=False)
    with_faults = await one_wave(args.people, args.rate, faults=True)
    emit(
        "fanout",
        {
            "alone": alone,
            "with_faults": with_faults,
            "targets": {"achieved_over_r_min": 0.9, "lost": 0, "duplicated": 0},
        },
    )


if __name__ == "__main__":
    run(main)
