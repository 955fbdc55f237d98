"""Every benchmark, each in a fresh process, then the memory line and a verdict (`privacy`, the
time `/pulse close` and forget-me take on a wave of 10,000, has no target: it is reported;
`send` is a wave of 20,000 under Slack's rate tiers, sped up; `history` prints a line for each
of the digest, status, results and map over two years of answers at 1M and 10M).

    python -m benchmarks            (or ./scripts/bench)

Prints the JSON line of each benchmark as it finishes, then one line with the highest resident
memory of the bot seen in any of them, then one line saying which targets were met.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks.harness import ROOT, emit

BENCHMARKS = (
    "benchmarks.click",
    "benchmarks.fanout",
    "benchmarks.digest",
    "benchmarks.privacy",
    "benchmarks.send",
    "benchmarks.history",
)
RSS_TARGET_MB = 200


def run_one(module: str) -> list[dict[str, Any]]:
    """Every JSON line the benchmark printed, each printed again as it is read."""
    done = subprocess.run([sys.executable, "-m", module], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    for line in lines:
        print(line, flush=True)
    return [json.loads(line) for line in lines]


def peaks(value: object) -> list[float]:
    """Every peak_rss_mb (and the served bot's bot_peak_rss_mb) in a result, however deep."""
    if isinstance(value, list):
        return [p for v in value for p in peaks(v)]
    if isinstance(value, dict):
        found = [float(v) for k, v in value.items() if k in ("peak_rss_mb", "bot_peak_rss_mb")]
        return found + [p for v in value.values() for p in peaks(v)]
    return []


def verdict(
    click: dict[str, Any],
    fanout: dict[str, Any],
    digest: dict[str, Any],
    send: dict[str, Any],
    history: list[dict[str, Any]],
    rss: float,
) -> dict[str, bool]:
    waves = (fanout["alone"], fanout["with_faults"])
    return {
        "click_median_within_2x": click["median_ratio_10"] <= 2.0,
        "click_throughput_at_least_0.8x": click["throughput_ratio_10"] >= 0.8,
        "click_p99_under_100ms": click["bot"]["10"]["p99_ms"] < 100,
        "click_every_answer_stored": click["answers_stored"] == click["answers_expected"],
        "fanout_at_least_0.9R": all(w["achieved_over_r"] >= 0.9 for w in waves),
        "fanout_none_lost_or_twice": all(w["lost"] == 0 and w["duplicated"] == 0 for w in waves),
        "digest_under_1s": digest["max_ms"] < 1000,
        "send_within_1.1x_of_the_tiers_bound": send["wave"]["last_over_lower_bound"] <= 1.1,
        "send_none_lost_or_twice": all(send[k]["lost"] == 0 and send[k]["duplicated"] == 0 for k in ("wave", "kill")),
        "rss_under_200MB": rss < RSS_TARGET_MB,
        **{f"{line['benchmark']}_targets_met": bool(line["met"]) for line in history},
    }


def main() -> int:
    (click,), (fanout,), (digest,), (privacy,), (send,), history = (run_one(m) for m in BENCHMARKS)
    rss = max(peaks(click) + peaks(fanout) + peaks(digest) + peaks(privacy) + peaks(history))
    emit("memory", {"peak_rss_mb": rss, "target_mb": RSS_TARGET_MB})
    met = verdict(click, fanout, digest, send, history, rss)
    emit("verdict", {"all_met": all(met.values()), **met})
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
