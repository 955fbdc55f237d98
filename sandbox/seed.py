"""The sandbox's demo: about forty people in several time zones, user groups, channels, and a
rollout six weeks along with answers, comments and stage changes, so that results, digests and
trends have something to show. The past is written straight into the store; everything from
now on goes through the bot as in production."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.blocks.announcement import build_announcement
from runtime.clock import epoch
from runtime.i18n import texts
from sandbox.workspace import BOT_ID, BOT_USER_ID, Message, Workspace
from services import Services
from services.announcements import Announcement
from services.keys import new_wave_key, respondent_key
from storage.db import day_of
from storage.disclosure import Disclosures

SLUG = "expense-tool"
ZONE = ZoneInfo("Europe/Berlin")  # the sandbox's PULSE_TIMEZONE: answers are dated by its days
ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
)
FIRST = [
    "Amara",
    "Ben",
    "Chloe",
    "Carlos",
    "Dana",
    "Eitan",
    "Fatima",
    "Gustav",
    "Hana",
    "Ivan",
    "Jonas",
    "Keiko",
    "Lena",
    "Malik",
    "Nora",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Aiko",
    "Bruno",
    "Chidi",
    "Dev",
    "Elif",
    "Farah",
    "Goran",
    "Hugo",
    "Ines",
    "Jamal",
    "Kaito",
    "Liv",
    "Mateo",
]
LAST = [
    "Okafor",
    "Berg",
    "Martin",
    "Silva",
    "Levi",
    "Cohen",
    "Haddad",
    "Lind",
    "Sato",
    "Petrov",
    "Weber",
    "Ito",
    "Fischer",
    "Khan",
    "Olsen",
    "Nyberg",
    "Rao",
    "Dubois",
    "Costa",
    "Holm",
    "Aziz",
    "Varga",
    "Novak",
    "Chen",
    "Ruiz",
    "Mansour",
    "Adler",
    "Tanaka",
    "Rossi",
    "Eze",
    "Patel",
    "Kaya",
    "Aziz",
    "Horvat",
    "Blanc",
    "Alves",
    "Reed",
    "Mori",
    "Dahl",
    "Vega",
]
COMMENTS = (
    "Scanning receipts on my phone just works now.",
    "I still could not find where to pick the cost centre.",
    "Much faster than the old spreadsheet!",
    "The approval emails arrive twice.",
    "Onboarding session was short and useful.",
    "Exporting to the accounting system failed once.",
    "Love the mileage calculator.",
    "Please add a way to split a receipt between two projects.",
    "Scanning receipts is quick, but the cost centre list is long.",
    "The approval emails still arrive twice.",
)
# What people say about each touchpoint, so that the feedback map finds themes in each cell.
TOUCHPOINT_COMMENTS = {
    "onboarding": (
        "The onboarding session was short and useful.",
        "Useful onboarding session, but the slides went fast.",
        "The onboarding session skipped the mileage calculator.",
        "Short onboarding session, clear examples.",
    ),
    "submit": (
        "Submitting took a while: the cost centre list is long.",
        "Finding the cost centre is still slow.",
        "Submitting a claim from my phone is easy now.",
        "The cost centre list needs a search.",
    ),
}


def _user_id(index: int) -> str:
    return f"U0{FIRST[index].upper()[:6]}{index:02d}"


ADMIN = _user_id(0)
OWNER = _user_id(1)
CHAMPIONS = [_user_id(2), _user_id(3)]
LAUNCH, LEADS, ONBOARDING, EARLY, GENERAL = "C0LAUNCH", "C0LEADS", "C0ONBOARD", "C0EARLY", "C0GENERAL"


@dataclass(frozen=True)
class Cast:
    admin: str
    owner: str
    champions: list[str]
    employees: list[str]
    launch: str
    leads: str
    onboarding: str


def cast_of(ws: Workspace) -> Cast:
    employees = [u for u in ws.users if u not in (ADMIN, OWNER, *CHAMPIONS, BOT_USER_ID)]
    return Cast(ADMIN, OWNER, CHAMPIONS, employees, LAUNCH, LEADS, ONBOARDING)


def people(ws: Workspace) -> Cast:
    """The people, user groups and channels of the demo workspace."""
    rng = random.Random(7)
    ids = []
    for i, (first, last) in enumerate(zip(FIRST, LAST, strict=True)):
        user = ws.add_user(
            _user_id(i),
            first.lower(),
            f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}@example.com",
            tz=ZONES[i % len(ZONES)] if i > 3 else "Europe/Berlin",
            title=["Finance", "Sales", "Engineering", "Operations", "People"][rng.randrange(5)],
            # Some of the organisation works in Swedish, as set in their Slack.
            locale="sv-SE" if i % 5 == 2 else "en-US",
        )
        ids.append(user.id)
    ws.users[ADMIN].title = "Head of Finance (admin)"
    ws.users[OWNER].title = "Product owner, Expense tool"
    ws.users[CHAMPIONS[0]].title = "Champion, Finance"
    ws.users[CHAMPIONS[1]].title = "Champion, Sales"
    ws.add_channel("general", [*ids, BOT_USER_ID], channel_id=GENERAL)
    ws.add_channel("expense-launch", [*ids[:12], BOT_USER_ID], channel_id=LAUNCH)
    ws.add_channel("leads", [ADMIN, OWNER, BOT_USER_ID], channel_id=LEADS)
    ws.add_channel("expense-onboarding", [OWNER, BOT_USER_ID], channel_id=ONBOARDING)
    ws.add_channel("early-adopters", [*ids[4:26], BOT_USER_ID], channel_id=EARLY)
    ws.add_usergroup("finance-pilots", ids[4:12], name="Finance pilots")
    ws.add_usergroup("champions", CHAMPIONS, name="Expense champions")
    return cast_of(ws)


async def rollout(services: Services, ws: Workspace, cast: Cast, now: datetime) -> None:
    """A rollout entered alpha six weeks ago and beta two weeks ago, with weekly NPS answers."""
    store = services.store
    rng = random.Random(11)
    pilots = next(g for g in ws.usergroups.values() if g.handle == "finance-pilots")
    today = now.date()
    start = now - timedelta(weeks=6)
    beta_at = now - timedelta(weeks=2)

    def ts(moment: datetime) -> int:
        return epoch(moment)

    async with store.transaction() as conn:
        cur = await conn.execute(
            """INSERT INTO rollouts (slug, title, vision, status, channel_id, created_by, created_at, updated_at)
               VALUES (?, ?, ?, 'active', ?, ?, ?, ?)""",
            (
                SLUG,
                "Expense tool",
                "Claims paid within a day, filed from a phone in under two minutes, for everyone who travels for work.",
                cast.launch,
                cast.owner,
                ts(start) - 86400,
                ts(beta_at),
            ),
        )
        rid = int(cur.lastrowid or 0)
        plan = [
            ("alpha", today - timedelta(weeks=6), ts(start), ts(beta_at)),
            ("beta", today - timedelta(weeks=2, days=2), ts(beta_at), None),
            ("ga", today + timedelta(weeks=3), None, None),
        ]
        stage_ids = []
        for position, (name, planned, entered, left) in enumerate(plan, start=1):
            cur = await conn.execute(
                """INSERT INTO stages (rollout_id, position, name, planned_start, entered_at, left_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (rid, position, name, planned.isoformat(), entered, left),
            )
            stage_ids.append(int(cur.lastrowid or 0))
        alpha, beta, ga = stage_ids
        await conn.execute("UPDATE rollouts SET current_stage_id = ? WHERE id = ?", (beta, rid))
        await conn.execute(
            "INSERT INTO owners (rollout_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
            (rid, cast.owner, cast.owner, ts(start)),
        )
        for champion in cast.champions:
            await conn.execute(
                "INSERT INTO champions (rollout_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
                (rid, champion, cast.owner, ts(start)),
            )
        entries = [
            (alpha, "usergroup", pilots.id, "finance-pilots"),
            (alpha, "user", cast.champions[0], None),
            (beta, "channel", EARLY, "early-adopters"),
            (ga, "channel", GENERAL, "general"),
        ]
        await conn.executemany(
            """INSERT INTO cohort_entries (stage_id, kind, ref, label, added_by, added_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [(*e, cast.owner, ts(start)) for e in entries],
        )
        for metric, op, value, stage in (
            ("nps", ">=", 30, None),
            ("response_rate", ">=", 0.4, beta),
            ("csat:onboarding", ">=", 80, beta),
        ):
            await conn.execute(
                """INSERT INTO targets (rollout_id, stage_id, metric, op, value, created_by, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (rid, stage, metric, op, value, cast.owner, ts(start)),
            )
        touchpoints = {}
        for key, label, scale in (
            ("onboarding", "Onboarding session", "csat"),
            ("submit", "Submitting a claim", "ces"),
        ):
            cur = await conn.execute(
                """INSERT INTO touchpoints (rollout_id, key, label, scale, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (rid, key, label, scale, ts(start), ts(start)),
            )
            touchpoints[key] = int(cur.lastrowid or 0)
        await conn.execute(
            """INSERT INTO triggers (touchpoint_id, kind, channel_id, created_by, created_at)
               VALUES (?, 'on-join', ?, ?, ?)""",
            (touchpoints["onboarding"], cast.onboarding, cast.owner, ts(start)),
        )
        transitions = [
            ("start", None, alpha, None, False, ts(start)),
            ("advance", alpha, beta, "Pilots happy; export bug fixed", True, ts(beta_at)),
        ]
        for kind, frm, to, reason, overridden, at in transitions:
            await conn.execute(
                """INSERT INTO stage_transitions
                   (rollout_id, kind, from_stage_id, to_stage_id, actor, reason, overridden, cohort_size, at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (rid, kind, frm, to, cast.owner, reason, int(overridden), 9 if kind == "start" else 31, at),
            )
            await conn.execute(
                "INSERT INTO audit_log (rollout_id, actor, action, detail, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                (rid, cast.owner, kind, None, reason, at),
            )
        # Weekly NPS waves (more than two weeks ago, so today's survey is not held back by the
        # one-per-fortnight rule), answers drifting up, a few comments, touchpoint answers.
        alpha_people = [*pilots.users, cast.champions[0]]
        beta_people = ws.channels[EARLY].members[:-1]
        for week, (stage, cohort, mean) in enumerate(
            [
                (alpha, alpha_people, 7.0),
                (alpha, alpha_people, 7.4),
                (alpha, alpha_people, 7.8),
                (beta, beta_people, 8.2),
                (beta, beta_people, 8.6),
            ]
        ):
            opened = now - timedelta(weeks=6) + timedelta(weeks=week, days=1, hours=2)
            opened = min(opened, now - timedelta(days=15))
            cur = await conn.execute(
                """INSERT INTO waves
                   (rollout_id, stage_id, kind, origin, opened_by, opened_at, closes_at, closed_at, asked)
                   VALUES (?, ?, 'nps', 'send', ?, ?, ?, ?, ?)""",
                (rid, stage, cast.owner, ts(opened), ts(opened) + 7 * 86400, ts(opened) + 7 * 86400, len(cohort)),
            )
            wave = int(cur.lastrowid or 0)
            # As in production: keys from the wave's own key, which is gone now that the wave closed.
            wave_key = new_wave_key()
            for person in cohort:
                answered = rng.random() < 0.75
                await conn.execute(
                    """INSERT INTO deliveries (wave_id, user_id, status, answered, created_at, sent_at)
                       VALUES (?, ?, 'sent', ?, ?, ?)""",
                    (wave, person, int(answered), ts(opened), ts(opened)),
                )
                if not answered:
                    continue
                score = max(0, min(10, round(rng.gauss(mean, 1.5))))
                key = respondent_key(wave_key, person)
                day = day_of(ts(opened) + rng.randrange(3600, 5 * 86400), ZONE)
                await conn.execute(
                    """INSERT INTO responses (wave_id, rollout_id, stage_id, kind, respondent_key, score, answered_on)
                       VALUES (?, ?, ?, 'nps', ?, ?, ?)""",
                    (wave, rid, stage, key, score, day),
                )
                if rng.random() < 0.5:
                    await conn.execute(
                        """INSERT INTO comments (wave_id, rollout_id, stage_id, respondent_key, body, created_on)
                           VALUES (?, ?, ?, ?, ?, ?)""",
                        (wave, rid, stage, key, rng.choice(COMMENTS), day),
                    )
        for key, scale_scores in (("onboarding", (5, 4, 4, 5, 3, 4, 5, 2)), ("submit", (6, 5, 7, 4, 6, 5, 6))):
            opened = now - timedelta(days=10)
            closed = ts(opened) + 7 * 86400
            cur = await conn.execute(
                """INSERT INTO waves
                   (rollout_id, stage_id, kind, touchpoint_id, origin, opened_at, closes_at, closed_at, asked)
                   VALUES (?, ?, 'touchpoint', ?, 'ask', ?, ?, ?, ?)""",
                (rid, beta, touchpoints[key], ts(opened), closed, closed, len(scale_scores)),
            )
            wave = int(cur.lastrowid or 0)
            wave_key = new_wave_key()
            for person, score in zip(beta_people, scale_scores, strict=False):
                answer_key = respondent_key(wave_key, person)
                day = day_of(ts(opened), ZONE)
                await conn.execute(
                    """INSERT INTO responses
                       (wave_id, rollout_id, stage_id, kind, touchpoint_id, respondent_key, score, answered_on)
                       VALUES (?, ?, ?, 'touchpoint', ?, ?, ?, ?)""",
                    (wave, rid, beta, touchpoints[key], answer_key, score, day),
                )
                if rng.random() < 0.7:
                    await conn.execute(
                        """INSERT INTO comments (wave_id, rollout_id, stage_id, respondent_key, body, created_on)
                           VALUES (?, ?, ?, ?, ?, ?)""",
                        (wave, rid, beta, answer_key, rng.choice(TOUCHPOINT_COMMENTS[key]), day),
                    )
        await conn.execute(
            """INSERT INTO digest_subscriptions (channel_id, cron, timezone, source, created_by, created_at)
               VALUES (?, '0 9 * * MON', 'Europe/Berlin', 'command', ?, ?)""",
            (cast.leads, cast.admin, ts(start)),
        )
    # The past answers go into the figures the way live ones do: in groups, day by day.
    await Disclosures(services.store).release_backlog(min_group=services.settings.pulse_min_group)
    _past_announcements(ws, cast, beta_at, start)


def _past_announcements(ws: Workspace, cast: Cast, beta_at: datetime, start: datetime) -> None:
    """What the announcement channel and the champions' DMs would hold from the past six weeks."""

    def announced(
        kind: str, frm: str | None, to: str, reason: str | None, size: int, following: str, planned: date
    ) -> Announcement:
        return Announcement.model_validate(
            {
                "transition_id": 0,
                "rollout_slug": SLUG,
                "title": "Expense tool",
                "kind": kind,
                "from_stage": frm,
                "to_stage": to,
                "actor": cast.owner,
                "reason": reason,
                "gates": None,
                "overridden": reason is not None,
                "cohort_size": size,
                "next_stage": following,
                "next_planned": planned,
                "audience": "channel",
            }
        )

    today = datetime.now(UTC).astimezone().date()  # the local date
    history = (
        (start, announced("start", None, "alpha", None, 9, "beta", today - timedelta(weeks=2, days=2))),
        (
            beta_at,
            announced(
                "advance", "alpha", "beta", "Pilots happy; export bug fixed", 31, "ga", today + timedelta(weeks=3)
            ),
        ),
    )
    for moment, announcement in history:
        message = build_announcement(texts(announcement.language), announcement)
        for channel in [cast.launch, *(ws.im_with(c).id for c in cast.champions)]:
            ws.post(
                Message(
                    channel=channel,
                    ts=f"{moment.timestamp():.6f}",
                    text=message.text,
                    blocks=message.blocks,
                    user=BOT_USER_ID,
                    bot_id=BOT_ID,
                )
            )
