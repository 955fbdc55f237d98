"""Two years of answers, bulk-seeded in SQL: the database the history benchmark reads.

Fifty rollouts, each with three stages (alpha for 30 weeks, beta for 40, general availability
for the last 34, where it is now), two touchpoints and three targets, run for 104 weeks: one NPS
wave and one wave of each touchpoint a week, every one closed. Everything the bot keeps for them
is written as the bot leaves it once a wave has closed: deliveries (an 80% response rate),
answers released in day groups (NPS by the day answered; a touchpoint's answers of a week as one
group on its close day), the groups' counts in `disclosed` (whose triggers keep the counts by day,
as they do for the bot), and 1% of NPS answers with a comment under a random key of its own.

Rows are made by SQLite from a table of numbers, not by Python, so ten million answers take
minutes; scores and days come from a fixed integer hash, so every run seeds the same answers.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.keys import SCHEME, SCHEME_WAVE_KEYS

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, when the default digest runs
WEEK = 7 * 86400
WEEKS = 104
STAGES = (("alpha", 0), ("beta", 30), ("ga", 70))  # (name, the week it was entered)
TOUCHPOINTS = (("onboarding", "csat"), ("first-claim", "ces"))
TOUCHPOINT_SHARE = 0.2  # of the responses; the rest answer NPS
RESPONSE_RATE = 0.8
COMMENT_EVERY = 100  # one NPS answer in a hundred has a comment
OWNER = "U0OWNER"
CHANNEL = "C0LAUNCH"
SUBJECTS = ["the receipts page", "the mileage form", "the approval flow", "the mobile app", "uploading a receipt",
            "the export", "the search", "the login", "kvittosidan", "reseräkningen"]  # fmt: skip
VERDICTS = ["is slow", "keeps crashing", "works well", "is confusing", "saves me time", "needs a dark mode",
            "är långsam", "fungerar bra", "is hard to find", "broke on Monday"]  # fmt: skip
# (lowest score, how many scores) of each scale
SCALES = {"nps": (0, 11), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class Seeded:
    responses: int
    deliveries: int
    comments: int
    waves: int
    seconds: float


def _hash(salt: int, *terms: str) -> str:
    """A fixed pseudo-random non-negative integer of SQL terms, different for each salt: a linear
    mix modulo 2^31 - 1, then squared (so that two salts give unrelated values). Every product
    stays within SQLite's 64-bit integers: an overflow would turn it into a float."""
    mixed = " + ".join(f"({term}) * {multiplier}" for term, multiplier in zip(terms, (48271, 69621), strict=True))
    linear = f"(({mixed} + {salt * 16807}) % 2147483647)"
    return f"(({linear} * {linear}) % 2147483647)"


def seed(db: Path, *, rollouts: int, responses: int) -> Seeded:
    """Fill a database made by the bot's migrations; returns what it holds."""
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")  # the seeding's cache, not the bot's
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("BEGIN")
    _rollouts(conn, rollouts, responses)
    _rows(conn)
    # Written by a bot with per-wave keys from its first day: nothing for a start to upgrade.
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SCHEME, SCHEME_WAVE_KEYS))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts = [int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in ("responses", "deliveries")]
    comments = int(conn.execute("SELECT count(*) FROM comments").fetchone()[0])
    waves = int(conn.execute("SELECT count(*) FROM waves").fetchone()[0])
    conn.close()
    return Seeded(counts[0], counts[1], comments, waves, round(time.perf_counter() - started, 1))


def _rollouts(conn: sqlite3.Connection, rollouts: int, responses: int) -> None:
    """The rollouts, their stages, people, touchpoints, targets and history, and a table
    `seed_waves` of every wave with how many it asked and how many answered."""
    now = int(NOW.timestamp())
    start = now - WEEKS * WEEK
    per_rollout = responses / rollouts
    nps_answers = round(per_rollout * (1 - TOUCHPOINT_SHARE) / WEEKS)
    touchpoint_answers = round(per_rollout * TOUCHPOINT_SHARE / (len(TOUCHPOINTS) * WEEKS))
    conn.execute(
        """CREATE TEMP TABLE seed_waves (id INTEGER PRIMARY KEY, rollout_id INTEGER, stage_id INTEGER,
           kind TEXT, touchpoint_id INTEGER, low INTEGER, scores INTEGER, opened_at INTEGER,
           answers INTEGER, asked INTEGER)"""
    )
    for r in range(rollouts):
        rid = r + 1
        conn.execute(
            """INSERT INTO rollouts (id, slug, title, status, channel_id, created_by, created_at, updated_at)
               VALUES (?, ?, ?, 'active', ?, ?, ?, ?)""",
            (rid, f"tool-{r:02d}", f"Tool {r:02d}", CHANNEL, OWNER, start, start),
        )
        entered = [start + week * WEEK for _, week in STAGES]
        stages = []
        for position, (name, _) in enumerate(STAGES, 1):
            left = entered[position] if position < len(STAGES) else None
            cur = conn.execute(
                "INSERT INTO stages (rollout_id, position, name, entered_at, left_at) VALUES (?, ?, ?, ?, ?)",
                (rid, position, name, entered[position - 1], left),
            )
            stages.append(int(cur.lastrowid or 0))
        conn.execute("UPDATE rollouts SET current_stage_id = ? WHERE id = ?", (stages[-1], rid))
        conn.execute("INSERT INTO owners VALUES (?, ?, ?, ?)", (rid, OWNER, OWNER, start))
        conn.execute("INSERT INTO champions VALUES (?, 'U0CHAMP', ?, ?)", (rid, OWNER, start))
        conn.execute(
            """INSERT INTO stage_transitions (rollout_id, kind, from_stage_id, to_stage_id, actor, at)
               VALUES (?, 'start', NULL, ?, ?, ?)""",
            (rid, stages[0], OWNER, start),
        )
        for before, after, at in zip(stages, stages[1:], entered[1:], strict=False):
            conn.execute(
                """INSERT INTO stage_transitions (rollout_id, kind, from_stage_id, to_stage_id, actor, at)
                   VALUES (?, 'advance', ?, ?, ?, ?)""",
                (rid, before, after, OWNER, at),
            )
        touchpoints = []
        for key, scale in TOUCHPOINTS:
            cur = conn.execute(
                """INSERT INTO touchpoints (rollout_id, key, label, scale, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (rid, key, f"{key} survey", scale, start, start),
            )
            touchpoints.append((int(cur.lastrowid or 0), scale))
        for metric, value, stage in (
            ("nps", 30, None),
            ("response_rate", 0.4, stages[-1]),
            ("csat:onboarding", 0.8, None),
        ):
            conn.execute(
                """INSERT INTO targets (rollout_id, stage_id, metric, op, value, created_by, created_at)
                   VALUES (?, ?, ?, '>=', ?, ?, ?)""",
                (rid, stage, metric, value, OWNER, start),
            )
        for week in range(WEEKS):
            opened = start + week * WEEK + 3600
            stage = stages[sum(1 for at in entered[1:] if at <= opened)]
            surveys = [(None, "nps", nps_answers)] + [(t, s, touchpoint_answers) for t, s in touchpoints]
            for touchpoint, scale, answers in surveys:
                low, scores = SCALES[scale]
                conn.execute(
                    """INSERT INTO seed_waves (rollout_id, stage_id, kind, touchpoint_id, low, scores, opened_at,
                       answers, asked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (rid, stage, "nps" if touchpoint is None else "touchpoint", touchpoint, low, scores, opened,
                     answers, round(answers / RESPONSE_RATE)),
                )  # fmt: skip


def _rows(conn: sqlite3.Connection) -> None:
    """Waves, deliveries, released answers, their groups and the comments, set-based."""
    span = WEEK - 7200  # a wave is open for a week less two hours
    conn.execute(
        """INSERT INTO waves (id, rollout_id, stage_id, kind, touchpoint_id, origin, opened_at, closes_at,
           closed_at, asked) SELECT id, rollout_id, stage_id, kind, touchpoint_id, 'send', opened_at,
           opened_at + ?, opened_at + ?, asked FROM seed_waves""",
        (span, span),
    )
    conn.execute("CREATE TEMP TABLE seed_n (i INTEGER PRIMARY KEY)")
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < (SELECT max(asked) FROM seed_waves))
           INSERT INTO seed_n SELECT i FROM n"""
    )
    # Everyone asked got their survey (the waves' `sent` follows by trigger); those who answered are marked.
    conn.execute(
        """INSERT INTO deliveries (wave_id, user_id, status, answered, created_at, sent_at)
           SELECT w.id, printf('U%08d', n.i), 'sent', n.i < w.answers, w.opened_at, w.opened_at
           FROM seed_waves w JOIN seed_n n ON n.i < w.asked ORDER BY w.id, n.i"""
    )
    answered_on = f"date(w.opened_at + {_hash(7, 'n.i', 'w.id')} % {span}, 'unixepoch')"
    released_on = f"CASE w.kind WHEN 'nps' THEN {answered_on} ELSE date(w.opened_at + {span}, 'unixepoch') END"
    conn.execute(
        f"""INSERT INTO responses (wave_id, respondent_key, rollout_id, stage_id, kind, touchpoint_id, score,
            answered_on, released_on)
            SELECT w.id, 'k' || w.id || ':' || n.i, w.rollout_id, w.stage_id, w.kind, w.touchpoint_id,
                   w.low + {_hash(3, "n.i", "w.id")} % w.scores, {answered_on}, {released_on}
            FROM seed_waves w JOIN seed_n n ON n.i < w.answers ORDER BY w.id, 'k' || w.id || ':' || n.i"""
    )
    conn.execute(
        """INSERT INTO disclosed (rollout_id, stage_id, kind, touchpoint_id, released_on, score, answers)
           SELECT rollout_id, stage_id, kind, touchpoint_id, released_on, score, count(*) FROM responses
           GROUP BY stage_id, kind, touchpoint_id, released_on, score"""
    )
    conn.execute("CREATE TEMP TABLE seed_words (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany(
        "INSERT INTO seed_words (id, body) VALUES (?, ?)",
        enumerate(f"{s[0].upper()}{s[1:]} {v}" for s in SUBJECTS for v in VERDICTS),
    )
    words = len(SUBJECTS) * len(VERDICTS)
    conn.execute(
        f"""INSERT INTO comments (wave_id, respondent_key, rollout_id, stage_id, body, created_on, released_on)
            SELECT w.id, lower(hex(randomblob(32))), w.rollout_id, w.stage_id,
                   (SELECT body FROM seed_words WHERE id = {_hash(11, "n.i", "w.id")} % {words}),
                   {answered_on}, {answered_on}
            FROM seed_waves w JOIN seed_n n ON n.i < w.answers
            WHERE w.kind = 'nps' AND {_hash(5, "n.i", "w.id")} % {COMMENT_EVERY} = 0"""
    )
    conn.execute(
        """INSERT INTO disclosed_comments (rollout_id, stage_id, released_on, comments)
           SELECT rollout_id, stage_id, released_on, count(*) FROM comments GROUP BY stage_id, released_on"""
    )


def main() -> None:
    """Seeding runs in a process of its own (`history` starts it), so that SQLite's cache for it
    is not counted in the memory of what is measured after."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--rollouts", type=int, required=True)
    parser.add_argument("--responses", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(asdict(seed(args.db, rollouts=args.rollouts, responses=args.responses))))


if __name__ == "__main__":
    main()
