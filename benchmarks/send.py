"""A wave under Slack's real rate tiers: 20,000 people resolved from user groups and a channel,
every method the bot calls held to its published tier (sandbox.tiers), chat.postMessage to the
workspace-wide limit R; then a `kill -9` in the middle of a wave, and the recovery.

    python -m benchmarks.send [--people 20000] [--speedup 50]

Slack's tiers are per minute (Tier 2 is 20 calls a minute, chat.postMessage several hundred a
minute for the whole workspace), so a real wave of 20,000 takes over an hour. `--speedup` runs
every limit that many times faster — the same shape, in a benchmark's time; each figure is given
as measured (sped up) and the seconds also as they would be on Slack (`*_on_slack_s`).

The lower bound is what the tiers allow for the calls the bot made: for each method, the calls
beyond its burst at its rate (the cohort's calls come one after another), and the DMs beyond
chat.postMessage's burst at R. The goal: the last DM within 1.1 times that bound.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import time
from collections import Counter
from typing import Any

from benchmarks.harness import emit, pulse_serving, run, scratch_dir, settle_memory, until
from sandbox import tiers
from sandbox.slack_to_bot import HttpTransport, SlackToBot
from sandbox.stand_in import ApiCall, SlackStandIn
from sandbox.workspace import BOT_USER_ID, Workspace
from storage import Store

OWNER = "U0SENDOWNER"
SLUG = "send-bench"
# How the bot resolves a cohort and its people's time zones: these are the calls to count.
RESOLUTION = ("usergroups.users.list", "conversations.members", "conversations.info", "users.list", "users.info")


def workspace_of(ws: Workspace, people: int) -> tuple[list[str], list[str], str]:
    """`people` people: two user groups and a channel that overlap, together everyone."""
    users = [ws.add_user(f"U0S{i:07d}", f"person{i}").id for i in range(people)]
    third = people // 3
    engineering = ws.add_usergroup("engineering", users[: 2 * third]).id
    sales = ws.add_usergroup("sales", users[third : 2 * third + third // 2]).id
    everyone = ws.add_channel("all-hands", [OWNER, BOT_USER_ID, *users[2 * third - third // 2 :]]).id
    return users, [engineering, sales], everyone


def lower_bound(calls: Counter[str], people: int, speedup: float) -> tuple[float, dict[str, float]]:
    """Seconds the tiers allow, at least, for these calls and `people` DMs (sped up)."""
    parts: dict[str, float] = {}
    for method in RESOLUTION:
        limit = tiers.METHOD_LIMITS[method]
        parts[method] = max(0.0, calls[method] - limit.burst) / (limit.per_second * speedup)
    post = tiers.POST_PER_WORKSPACE
    parts["chat.postMessage"] = max(0.0, people - post.burst) / (post.per_second * speedup)
    return sum(parts.values()), parts


def counted(calls: list[ApiCall], methods: tuple[str, ...]) -> Counter[str]:
    return Counter(c.method for c in calls if c.method in methods and c.ok)


def duplicates(ws: Workspace, users: list[str]) -> tuple[int, int]:
    counts = [len(ws.dms_to(u)) for u in users]
    return sum(1 for n in counts if n == 0), sum(n - 1 for n in counts if n > 1)


async def start_rollout(slack: SlackToBot, groups: list[str], channel: str) -> None:
    cohort = " ".join(f"<!subteam^{g}>" for g in groups) + f" <#{channel}|all-hands>"
    for text in (f'new {SLUG} "Send benchmark"', f"cohort {SLUG} alpha {cohort}", f"start {SLUG}"):
        await slack.ask(OWNER, text)


async def whole_wave(people: int, speedup: float) -> dict[str, Any]:
    standin = SlackStandIn(seed=13, page_cap=None)
    await standin.start()
    ws = standin.workspace
    ws.add_user(OWNER, "owner", "Send Owner")
    users, groups, channel = workspace_of(ws, people)
    settle_memory()
    db = scratch_dir() / "send.db"
    async with pulse_serving(standin, db, PULSE_ADMINS=OWNER) as (served, _):
        transport = HttpTransport(served.url, standin.signing_secret, timeout=300)
        slack = SlackToBot(standin, transport)
        standin.faults.hold_to_tiers(speedup=speedup)
        await start_rollout(slack, groups, channel)
        # A wave a day later: the time zones the start looked up have gone stale, and the send
        # looks everyone up again (users.list, Tier 2), as a real wave after the first does.
        store = await Store.open(db)
        await store.execute("DELETE FROM slack_users")
        await store.close()
        before = len(standin.calls)
        asked = time.time()
        await slack.ask(OWNER, f"send {SLUG} nps", command="/pulse")
        rate = tiers.POST_PER_WORKSPACE.per_second * speedup

        def delivered() -> int:
            return len(standin.calls_to("chat.postMessage", ok=True))

        await until(lambda: delivered() >= people, timeout=people / rate * 3 + 300, what="every survey DM")
        await asyncio.sleep(1)  # anything still to come would be a duplicate
        await transport.close()
    calls = standin.calls[before:]
    posts = sorted(c.at for c in calls if c.method == "chat.postMessage" and c.ok)
    spent = counted(calls, RESOLUTION)
    bound, parts = lower_bound(spent, people, speedup)
    lost, duplicated = duplicates(ws, users)
    await standin.stop()
    last = posts[-1] - asked
    return {
        "people": people,
        "speedup": speedup,
        "r_per_s": round(rate, 1),
        "first_dm_s": round(posts[0] - asked, 2),
        "last_dm_s": round(last, 2),
        "last_dm_on_slack_s": round(last * speedup),
        "lower_bound_s": round(bound, 2),
        "lower_bound_parts_s": {k: round(v, 2) for k, v in parts.items() if v},
        "last_over_lower_bound": round(last / bound, 3),
        "achieved_over_r": round((len(posts) - 1) / max(posts[-1] - posts[0], 1e-9) / rate, 3),
        "resolution_calls": dict(spent),
        "resolution_calls_minimum": minimum_calls(people),
        "refused_for_pace": standin.faults.rate_limited,
        "of_which_200_rate_limited": tier_refusals(calls),
        "lost": lost,
        "duplicated": duplicated,
    }


def minimum_calls(people: int) -> dict[str, int]:
    """The fewest calls that can resolve this cohort: one per group, the channel's members in
    pages of 1,000, everyone's time zone in pages of 200 (users.list's recommended page)."""
    channel_members = people - (2 * (people // 3) - (people // 3) // 2) + 2
    return {
        "usergroups.users.list": 2,
        "conversations.members": math.ceil(channel_members / 1000),
        "users.list": math.ceil((people + 1) / 200),
    }


def tier_refusals(calls: list[ApiCall]) -> int:
    return sum(1 for c in calls if c.status == 200 and not c.ok and c.error == "rate_limited")


async def kill_and_recover(people: int, speedup: float) -> dict[str, Any]:
    """A wave killed (`kill -9`) halfway, and the bot started again on the same database: every
    delivery it had claimed is checked against the DM's history (Tier 3) before it is tried."""
    standin = SlackStandIn(seed=17, page_cap=None)
    await standin.start()
    ws = standin.workspace
    ws.add_user(OWNER, "owner", "Send Owner")
    users, groups, channel = workspace_of(ws, people)
    db = scratch_dir() / "kill.db"
    standin.faults.hold_to_tiers(speedup=speedup)
    rate = tiers.POST_PER_WORKSPACE.per_second * speedup
    async with pulse_serving(standin, db, PULSE_ADMINS=OWNER) as (served, _):
        transport = HttpTransport(served.url, standin.signing_secret, timeout=300)
        slack = SlackToBot(standin, transport)
        await start_rollout(slack, groups, channel)
        await slack.ask(OWNER, f"send {SLUG} nps", command="/pulse")
        await until(
            lambda: len(standin.calls_to("chat.postMessage", ok=True)) >= people // 2,
            timeout=people / rate * 3 + 300,
            what="half the DMs",
        )
        served.process.send_signal(signal.SIGKILL)
        served.process.wait(10)
        await transport.close()
    store = await Store.open(db)
    in_flight = int(await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sending'"))
    await store.close()
    before = len(standin.calls)
    started = time.time()
    async with pulse_serving(standin, db, PULSE_ADMINS=OWNER) as (served, _):
        # Counted from the stand-in's call log: scanning every person's DMs on each look would
        # hold up the stand-in (it runs in this event loop), and with it the bot.
        await until(
            lambda: len(standin.calls_to("chat.postMessage", ok=True)) >= people,
            timeout=people / rate * 3 + 300,
            what="the rest",
        )
        await asyncio.sleep(1)
    after = standin.calls[before:]
    posts = sorted(c.at for c in after if c.method == "chat.postMessage" and c.ok)
    lost, duplicated = duplicates(ws, users)
    await standin.stop()
    return {
        "people": people,
        "claimed_when_killed": in_flight,
        "history_calls_after_restart": sum(1 for c in after if c.method == "conversations.history"),
        "dms_after_restart": len(posts),
        "restart_to_first_dm_s": round(posts[0] - started, 2),
        "restart_to_last_dm_s": round(posts[-1] - started, 2),
        "lower_bound_after_first_s": round(max(0, len(posts) - tiers.POST_PER_WORKSPACE.burst) / rate, 2),
        "lost": lost,
        "duplicated": duplicated,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--kill-people", type=int, default=4_000)
    parser.add_argument("--speedup", type=float, default=50.0, help="every rate limit this many times faster")
    args = parser.parse_args()
    wave = await whole_wave(args.people, args.speedup)
    killed = await kill_and_recover(args.kill_people, args.speedup)
    emit(
        "send",
        {
            "wave": wave,
            "kill": killed,
            "targets": {"last_over_lower_bound_max": 1.1, "lost": 0, "duplicated": 0},
        },
    )


if __name__ == "__main__":
    run(main)
