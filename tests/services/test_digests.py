"""Weekly digests: every figure against hand-computed values, periods across time zones and DST,
exactly once across restarts and downtime, the chart, and Slack's limits."""

from __future__ import annotations

import math
import sqlite3
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_bot
from bot.settings import Settings
from handlers.blocks.chart import Chart, render_trend
from handlers.blocks.digest import build_digest, sparkline
from runtime.clock import ManualClock
from runtime.i18n import LANGUAGES, Texts, texts
from sandbox.blockkit import check_message
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID, render_text
from services.cron import latest_fire, next_fire, parse_cron, period_ending
from services.digests import DigestContent
from services.errors import BadInput
from storage import Store
from storage.digests import NewRun
from storage.disclosure import Disclosures
from tests.conftest import ADMIN, RunningBot, make_settings

BERLIN = ZoneInfo("Europe/Berlin")
# The weekly digest (Mondays 09:00 Berlin) of 16–23 November 2026 and the week before.
PERIOD_START = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PREVIOUS_START = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
EN = texts("en")


COMMENT = "INSERT INTO comments (wave_id, rollout_id, stage_id, respondent_key, body, created_on)"


def at(day: int, hour: int = 12, month: int = 11) -> int:
    return int(datetime(2026, month, day, hour, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_timezone="Europe/Berlin")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(PERIOD_END + timedelta(seconds=30))


class Seed:
    """Rows written directly, so every figure of the digest is known by hand."""

    def __init__(self, store: Store, base: int = 1000) -> None:
        self.store = store
        self.next_id = base

    def id(self) -> int:
        self.next_id += 1
        return self.next_id

    async def rollout(self, rid: int, slug: str, title: str, *, stages: tuple[int, int], current: int) -> None:
        async with self.store.transaction() as conn:
            await conn.execute(
                """INSERT INTO rollouts (id, slug, title, status, created_by, created_at, updated_at)
                   VALUES (?, ?, ?, 'active', 'U0OWNER', 0, 0)""",
                (rid, slug, title),
            )
            for position, sid in enumerate(stages, start=1):
                await conn.execute(
                    "INSERT INTO stages (id, rollout_id, position, name, entered_at) VALUES (?, ?, ?, ?, ?)",
                    (sid, rid, position, ["alpha", "beta"][position - 1], at(5) if position == 1 else at(18)),
                )
            await conn.execute("UPDATE rollouts SET current_stage_id = ? WHERE id = ?", (current, rid))

    async def wave(self, rid: int, sid: int, opened: int, *, touchpoint: int | None = None) -> int:
        wid = self.id()
        await self.store.execute(
            """INSERT INTO waves (id, rollout_id, stage_id, kind, touchpoint_id, origin, opened_at, closes_at, asked)
               VALUES (?, ?, ?, ?, ?, 'send', ?, ?, 10)""",
            (wid, rid, sid, "touchpoint" if touchpoint else "nps", touchpoint, opened, opened + 7 * 86400),
        )
        return wid

    async def answers(
        self, wid: int, rid: int, sid: int, scores: list[float], when: int, *, touchpoint: int | None = None
    ) -> list[str]:
        """The answers' respondent keys, for comments left with them."""
        kind = "touchpoint" if touchpoint else "nps"
        keys = [f"k{self.id()}" for _ in scores]
        await self.store.executemany(
            """INSERT INTO responses
               (wave_id, rollout_id, stage_id, kind, touchpoint_id, respondent_key, score, answered_on)
               VALUES (?, ?, ?, ?, ?, ?, ?, pulse_day(?))""",
            [
                (wid, rid, sid, kind, touchpoint, key, s, when + i)
                for i, (key, s) in enumerate(zip(keys, scores, strict=True))
            ],
        )
        return keys

    async def deliveries(self, wid: int, sent: int, answered: int) -> None:
        await self.store.executemany(
            "INSERT INTO deliveries (wave_id, user_id, status, answered, created_at) VALUES (?, ?, 'sent', ?, 0)",
            [(wid, f"U0D{self.id()}", int(i < answered)) for i in range(sent)],
        )


async def seed(store: Store) -> None:
    s = Seed(store)
    # Expense tool: alpha since 5 Nov, beta since 18 Nov (inside the period)
    await s.rollout(1, "expense-tool", "Expense tool", stages=(11, 12), current=12)
    async with store.transaction() as conn:
        await conn.execute(
            """INSERT INTO touchpoints (id, rollout_id, key, label, scale, created_at, updated_at)
               VALUES (21, 1, 'onboarding', 'Onboarding session', 'csat', 0, 0)"""
        )
        for metric, op, value in (("nps", ">=", 30), ("response_rate", ">=", 0.5), ("csat:onboarding", ">=", 80),
                                  ("responses", ">=", 100)):  # fmt: skip
            await conn.execute(
                "INSERT INTO targets (rollout_id, metric, op, value, created_by, created_at)"
                " VALUES (1, ?, ?, ?, 'U0OWNER', 0)",
                (metric, op, value),
            )
        await conn.execute(
            """INSERT INTO stage_transitions
               (rollout_id, kind, from_stage_id, to_stage_id, actor, reason, overridden, at)
               VALUES (1, 'advance', 11, 12, 'U0OWNER', 'went well', 1, ?)""",
            (at(18),),
        )
    before = await s.wave(1, 11, at(10))
    await s.answers(before, 1, 11, [10, 9, 8, 7, 6, 5], at(11))
    now = await s.wave(1, 12, at(18))
    await s.deliveries(now, sent=10, answered=8)
    keys = await s.answers(now, 1, 12, [10, 10, 9, 9, 8, 7, 6, 3], at(19))
    tp = await s.wave(1, 12, at(18), touchpoint=21)
    await s.answers(tp, 1, 12, [5, 4, 4, 2, 1], at(19), touchpoint=21)
    for i, body in enumerate(["too many clicks", "great export", "slow on phones", "love it"]):
        await store.execute(
            f"{COMMENT} VALUES (?, 1, 12, ?, ?, pulse_day(?))",
            (now, keys[i], body, at(19)),
        )
    # Wiki: three answers only
    await s.rollout(2, "wiki", "Wiki", stages=(13, 14), current=13)
    wiki = await s.wave(2, 13, at(17))
    wiki_keys = await s.answers(wiki, 2, 13, [10, 10, 10], at(17))
    await store.execute(
        f"{COMMENT} VALUES (?, 2, 13, ?, 'secret', pulse_day(?))",
        (wiki, wiki_keys[0], at(17)),
    )
    # Into the figures as they would have gone on arrival: in groups, day by day.
    await Disclosures(store).release_backlog(min_group=5)


async def test_every_figure_of_a_digest_matches_the_hand_computed_value(bot: RunningBot, store: Store) -> None:
    await seed(store)
    digests = bot.services.digests
    content = await digests.compute(digests.periods(None, PERIOD_END))
    assert content.period.start == PERIOD_START and content.period.end == PERIOD_END
    expense, wiki = sorted(content.rollouts, key=lambda d: d.detail.rollout.id)

    # 8 NPS answers: promoters 4, passives 2, detractors 2 → NPS 25; Var = .5 + .25 - .0625
    nps = expense.metrics.nps
    assert nps is not None and nps.n == 8
    assert nps.score == pytest.approx(25.0)
    assert nps.margin == pytest.approx(1.96 * 100 * math.sqrt(0.6875 / 8))  # 57.46
    assert (nps.promoters, nps.passives, nps.detractors) == (0.5, 0.25, 0.25)
    # the week before: 10 9 8 7 6 5 → promoters 2, passives 2, detractors 2 → 0; change +25
    assert expense.previous is not None and expense.previous.score == 0
    assert expense.change == pytest.approx(25.0)
    assert expense.metrics.response_rate == 0.8
    assert expense.metrics.touchpoints["onboarding"].score == pytest.approx(60.0)
    assert [g.state for g in expense.gates] == ["fail", "pass", "fail", "fail"]
    # three of the four comments released with the group, picked and ordered at random
    bodies = [c.body for c in expense.comments]
    assert len(bodies) == 3 and set(bodies) < {"love it", "slow on phones", "great export", "too many clicks"}
    assert {c.released_on for c in expense.comments} == {"2026-11-19"}
    assert [t.kind for t in expense.transitions] == ["advance"]
    assert expense.days_in_stage == 5  # entered 18 Nov, period ends 23 Nov

    # Wiki: three answers are below the threshold of five: no NPS, no comments
    assert wiki.metrics.respondents == 0 and wiki.metrics.nps is None and wiki.comments == []

    text = "\n".join(render_text({"text": m.text, "blocks": m.blocks}) for m in build_digest(EN, content))
    assert "*Expense tool* · beta, day 6" in text
    assert "NPS *+25* (n=8, ±57) · ▲ +25 since the last period" in text
    assert "promoters 50% · passives 25% · detractors 25% · response rate 80% (8 of 10)" in text
    assert "Onboarding session (csat) 60% (n=5)" in text
    assert "❌ `nps ≥ +30` missed (+25)" in text and "✅ `response_rate ≥ 50%` met (80%)" in text
    assert "❌ `csat:onboarding ≥ 80%` missed (60%)" in text and "❌ `responses ≥ 100` missed (13)" in text
    assert (
        sum(
            f"> {body} _(week of Nov 16, 2026)_" in text
            for body in ("love it", "too many clicks", "great export", "slow on phones")
        )
        == 3
    )
    assert "⏩ alpha → beta on Nov 18 by <@U0OWNER> (gates overridden)" in text
    assert "NPS: fewer than 5 answers this period" in text
    assert "secret" not in text and "+100" not in text
    assert "Mon, Nov 16 09:00 – Mon, Nov 23, 2026 09:00 (Europe/Berlin)" in text


async def test_answers_are_counted_by_their_day_and_the_posting_day_goes_to_the_next_period(
    bot: RunningBot, store: Store
) -> None:
    """Groups of answers are dated by the day they are released (in PULSE_TIMEZONE, Berlin here):
    a weekly digest at Monday 09:00 holds Monday to Sunday; that Monday's, after 09:00 or not,
    count in the next."""
    s = Seed(store)
    await s.rollout(1, "expense-tool", "Expense tool", stages=(11, 12), current=11)
    wave = await s.wave(1, 11, at(15))
    await s.answers(wave, 1, 11, [10] * 5, at(16, hour=0))  # Monday 16th, 01:00 in Berlin: a group this period
    await s.answers(wave, 1, 11, [0] * 2, at(22, hour=22))  # Sunday 22nd, 23:00 in Berlin: two wait
    await s.answers(wave, 1, 11, [9] * 3, at(23, hour=6))  # Monday 23rd, 07:00 in Berlin: with them, a group
    await Disclosures(store).release_backlog(min_group=5)
    digests = bot.services.digests
    this_week = await digests.compute(digests.periods(None, PERIOD_END))
    assert this_week.rollouts[0].metrics.respondents == 5
    assert this_week.rollouts[0].metrics.nps is not None and this_week.rollouts[0].metrics.nps.score == 100
    next_week = await digests.compute(digests.periods(None, PERIOD_END + timedelta(days=7)))
    assert next_week.rollouts[0].metrics.respondents == 5
    assert [p.n for p in next_week.rollouts[0].trend][-2:] == [5, 5]
    # Asked for now (Monday 23rd, 09:00:30), the digest runs up to this moment: today counts.
    now = await digests.compute(digests.current_periods(None, PERIOD_END + timedelta(seconds=30)))
    assert now.rollouts[0].metrics.respondents == 5


def test_periods_in_two_time_zones_and_across_daylight_saving_changes() -> None:
    weekly_berlin = parse_cron("0 9 * * MON", BERLIN)
    # autumn: clocks go back on 25 Oct; the week ending Mon 26 Oct 09:00 CET lasts 169 hours
    autumn = period_ending(weekly_berlin, datetime(2026, 10, 26, 8, 0, tzinfo=UTC))
    assert autumn.start == datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
    assert autumn.end_at - autumn.start_at == 169 * 3600
    # spring: clocks go forward on 28 Mar 2027; that week lasts 167 hours
    spring = period_ending(weekly_berlin, datetime(2027, 3, 29, 7, 0, tzinfo=UTC))
    assert spring.start == datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert spring.end_at - spring.start_at == 167 * 3600
    # New York changes a week later than Europe
    new_york = ZoneInfo("America/New_York")
    weekly_ny = parse_cron("0 9 * * 1", new_york)  # cron's 1 is Monday
    ny = period_ending(weekly_ny, datetime(2026, 11, 2, 14, 0, tzinfo=UTC))
    assert ny.start == datetime(2026, 10, 26, 13, 0, tzinfo=UTC)
    # the scheduler's own trigger fires at 09:00 local on both sides of the change
    fire = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
    for expected_utc_hour in (8, 8, 8):
        fire = next_fire(weekly_berlin, fire)  # type: ignore[assignment]
        assert fire.astimezone(BERLIN).hour == 9 and fire.astimezone(UTC).hour == expected_utc_hour
    # at 08:59 Monday the latest period is the previous one
    assert latest_fire(weekly_berlin, datetime(2026, 11, 23, 7, 59, tzinfo=UTC)) == datetime(
        2026, 11, 16, 9, 0, tzinfo=BERLIN
    )
    # a daily digest on weekdays at 17:30 in New York, and cron's Sunday = 0
    daily = parse_cron("30 17 * * 1-5", new_york)
    assert latest_fire(daily, datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 20, 17, 30, tzinfo=new_york
    )
    assert latest_fire(parse_cron("0 9 * * 0", BERLIN), datetime(2026, 11, 23, 12, tzinfo=UTC)).day == 22  # type: ignore[union-attr]


@pytest.mark.parametrize("expr", ["\u0660 \u0669 * * \u0661", "０ ９ * * １", "0 9 * * MON\n0", "0 9 * *", "0 9 * * ☃"])
def test_a_schedule_we_cannot_read_plainly_is_refused_with_an_example(expr: str) -> None:
    with pytest.raises(BadInput, match="is not a cron schedule"):
        parse_cron(expr, BERLIN)


@pytest.fixture
async def subscribed(bot: RunningBot, standin: SlackStandIn, store: Store) -> str:
    leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
    await seed(store)
    # subscribed a month before, so every recent Monday counts
    await bot.services.digests.digests.subscribe(
        channel_id=leads,
        cron="0 9 * * MON",
        timezone="Europe/Berlin",
        actor=ADMIN,
        now=at(20, month=10),
        source="command",
    )
    return leads


def posts(standin: SlackStandIn, channel: str) -> list[str]:
    """Every message of the bot in the channel: a digest's text parts, then its feedback maps."""
    return [m.shown_text for m in standin.workspace.history(channel) if m.bot_id]


def maps_posted(standin: SlackStandIn, channel: str) -> list[str]:
    """The names of the heatmaps shared in the channel."""
    files = [standin.workspace.files[f] for m in standin.workspace.history(channel) if m.bot_id for f in m.files]
    return [f.name for f in files if f.name.startswith("feedback-map-")]


async def test_a_restart_after_posting_never_posts_the_period_twice(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, store: Store, settings: Settings, clock: ManualClock
) -> None:
    [sub] = await bot.services.digests.digests.subscriptions()
    posted = await bot.bot.digests.post_due(sub.id)
    assert posted is not None and posted.status == "posted" and posted.chart == "uploaded"
    # The digest, then the feedback map of the one rollout with figures to show.
    assert len(posts(standin, subscribed)) == 2
    message, shared = standin.workspace.history(subscribed)
    assert message.files and standin.workspace.files[message.files[0]].content.startswith(b"\x89PNG")
    assert "Rollout Pulse digest" in message.shown_text
    [heatmap] = [standin.workspace.files[f] for f in shared.files]
    assert heatmap.name.startswith("feedback-map-expense-tool-") and heatmap.content.startswith(b"\x89PNG")
    assert heatmap.title == "Feedback map: Expense tool" and "share of favourable answers" in shared.shown_text
    restarted = build_bot(settings, store, clock=clock)
    assert await restarted.digests.post_due(sub.id) is not None
    assert await restarted.digests.catch_up() == []
    assert len(posts(standin, subscribed)) == 2 and len(maps_posted(standin, subscribed)) == 1


async def test_downtime_over_the_due_time_posts_exactly_one_catch_up(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, clock: ManualClock
) -> None:
    clock.set(PERIOD_END + timedelta(hours=6))  # the bot was down at 09:00
    [first] = await bot.bot.digests.catch_up()
    assert first.status == "posted"
    assert await bot.bot.digests.catch_up() == []
    assert len(posts(standin, subscribed)) == 2 and len(maps_posted(standin, subscribed)) == 1


async def test_a_period_missed_by_more_than_a_day_is_skipped_and_logged(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, clock: ManualClock, store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    clock.set(PERIOD_END + timedelta(hours=25))
    assert await bot.bot.digests.catch_up() == []
    assert posts(standin, subscribed) == []
    assert await store.fetch_value("SELECT status FROM digest_runs") == "skipped"
    assert "missed by more than a day" in caplog.text


async def interrupted_run(bot: RunningBot, channel: str, end: datetime, cron: str) -> None:
    """A run of the period ending at `end` that a crash left before its first message."""
    subscription = next(s for s in await bot.services.digests.digests.subscriptions() if s.cron == cron)
    period = bot.services.digests.periods(subscription, end)[-1]
    await bot.services.digests.digests.start_run(
        NewRun(subscription.id, channel, period.start_at, period.end_at, "schedule", now=period.end_at)
    )


async def test_a_run_interrupted_before_the_next_period_came_due_is_finished_too(
    bot: RunningBot, standin: SlackStandIn, store: Store, clock: ManualClock
) -> None:
    hourly = standin.workspace.add_channel("hourly", [ADMIN, BOT_USER_ID]).id
    await seed(store)
    await bot.services.digests.digests.subscribe(
        channel_id=hourly, cron="0 * * * *", timezone="UTC", actor=ADMIN, now=at(20, month=10), source="command"
    )
    await interrupted_run(bot, hourly, PERIOD_END, "0 * * * *")
    clock.set(PERIOD_END + timedelta(hours=1, minutes=5))  # restarted after the next hour's digest came due
    done = await bot.bot.digests.catch_up()
    assert [d.status for d in done] == ["posted", "posted"]
    ends = [r[0] for r in await store.fetch_all("SELECT period_end FROM digest_runs WHERE status = 'posted'")]
    assert sorted(ends) == [int(PERIOD_END.timestamp()), int(PERIOD_END.timestamp()) + 3600]
    assert len(posts(standin, hourly)) == 4 and len(maps_posted(standin, hourly)) == 2  # two digests, each with its map
    assert await bot.bot.digests.catch_up() == []


async def test_a_run_interrupted_over_a_day_ago_is_recorded_as_skipped_not_left_half_done(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, store: Store, clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await interrupted_run(bot, subscribed, PERIOD_END, "0 9 * * MON")
    clock.set(PERIOD_END + timedelta(days=7, hours=1))  # down for a week
    [latest] = await bot.bot.digests.catch_up()
    assert latest.status == "posted" and len(posts(standin, subscribed)) == 2
    rows = await store.fetch_all("SELECT status, error FROM digest_runs ORDER BY period_end")
    assert [tuple(r) for r in rows] == [
        ("skipped", "interrupted after 0 message(s); over a day late"),
        ("posted", None),
    ]
    assert "was interrupted after 0 message(s) and is not finished (over a day late)" in caplog.text
    assert await bot.bot.digests.catch_up() == []


async def test_a_run_interrupted_before_its_channel_unsubscribed_is_recorded_as_skipped(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, store: Store, clock: ManualClock
) -> None:
    await interrupted_run(bot, subscribed, PERIOD_END, "0 9 * * MON")
    await bot.services.digests.unsubscribe(ADMIN, subscribed)
    clock.set(PERIOD_END + timedelta(hours=1))
    assert await bot.bot.digests.catch_up() == []
    rows = await store.fetch_all("SELECT status, error FROM digest_runs")
    assert [tuple(r) for r in rows] == [("skipped", "interrupted after 0 message(s); unsubscribed")]
    assert posts(standin, subscribed) == []


async def test_a_swedish_subscription_posts_a_swedish_digest_with_a_swedish_chart(
    bot: RunningBot, standin: SlackStandIn, store: Store
) -> None:
    svenska = standin.workspace.add_channel("svenska", [ADMIN, BOT_USER_ID]).id
    english = standin.workspace.add_channel("english", [ADMIN, BOT_USER_ID]).id
    await seed(store)
    for channel, language in ((svenska, "sv"), (english, None)):
        await bot.services.digests.digests.subscribe(
            channel_id=channel,
            cron="0 9 * * MON",
            timezone="Europe/Berlin",
            actor=ADMIN,
            now=at(20, month=10),
            source="command",
            language=language,
        )
    charts: list[Chart] = []
    draw = bot.bot.digests.draw

    def drawn(t: Texts, content: DigestContent) -> Chart:
        charts.append(draw(t, content))
        return charts[-1]

    bot.bot.digests.draw = drawn
    by_channel = {s.channel_id: s for s in await bot.services.digests.digests.subscriptions()}
    assert by_channel[svenska].language == "sv" and by_channel[english].language is None
    posted = await bot.bot.digests.post_due(by_channel[svenska].id)
    assert posted is not None and posted.status == "posted" and posted.chart == "uploaded"
    message, shared = standin.workspace.history(svenska)
    text = message.shown_text
    assert "Sammanfattning från Rollout Pulse" in text
    assert "mån 16 nov. 09:00 – mån 23 nov. 2026 09:00 (Europe/Berlin)" in text
    assert "*Expense tool* · beta, dag 6" in text
    assert "NPS *+25* (n=8, ±57) · ▲ +25 sedan förra perioden" in text
    assert "promotorer 50\xa0% · passiva 25\xa0% · kritiker 25\xa0% · svarsfrekvens 80\xa0% (8 av 10)" in text
    assert "⏩ alpha → beta den 18 nov. av <@U0OWNER> (grindarna åsidosattes)" in text
    assert "_(veckan som börjar 16 nov. 2026)_" in text
    assert "NPS: färre än 5 svar den här perioden" in text
    assert "Rollout Pulse digest" not in text and "since the last period" not in text
    [file_id] = message.files
    chart_file = standin.workspace.files[file_id]
    assert chart_file.title == "NPS-trend · mån 16 nov. 09:00 – mån 23 nov. 2026 09:00 (Europe/Berlin)"
    assert chart_file.name.startswith("rollout-pulse-sammanfattning-")
    [heatmap] = [standin.workspace.files[f] for f in shared.files]
    assert heatmap.title == "Återkopplingskarta: Expense tool" and heatmap.name.startswith("feedback-map-expense-tool-")
    [chart] = charts
    assert "NPS, senaste perioderna (luckor: för få svar att visa)" in chart.texts
    assert {"5 okt.", "16 nov.", "23 nov."} <= set(chart.texts) and "beta" in chart.texts
    # The channel without a language of its own gets PULSE_LANGUAGE (English here).
    await bot.bot.digests.post_due(by_channel[english].id)
    message, _ = standin.workspace.history(english)
    assert "Rollout Pulse digest" in message.shown_text and "Mon, Nov 16 09:00" in message.shown_text
    assert "Nov 23" in charts[-1].texts and "23 nov." not in charts[-1].texts


async def test_an_interrupted_digest_resumes_without_repeating_a_message(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, store: Store, settings: Settings, clock: ManualClock
) -> None:
    # sixty rollouts: the digest takes several messages
    s = Seed(store, base=50_000)
    for i in range(60):
        await s.rollout(
            100 + i, f"roll-{i:02d}", f"Rollout {i:02d}", stages=(300 + 2 * i, 301 + 2 * i), current=300 + 2 * i
        )
    bot.bot.digests.retry_scale = 0.0
    standin.faults.lose_responses("chat.postMessage", times=1)  # part 2 goes out, its answer is lost
    [sub] = await bot.services.digests.digests.subscriptions()
    posted = await bot.bot.digests.post_due(sub.id)
    assert posted is not None and posted.status == "posted" and posted.parts >= 3
    texts = posts(standin, subscribed)
    assert len(texts) == posted.parts  # the lost answer was found in history, not posted again
    assert standin.rejected == []
    assert any("continued (2/" in t for t in texts)


async def test_when_the_chart_fails_the_text_digest_still_goes_out(
    bot: RunningBot, standin: SlackStandIn, subscribed: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_t: object, _content: object) -> object:
        raise RuntimeError("no fonts")

    bot.bot.digests.draw = broken  # type: ignore[assignment]
    [sub] = await bot.services.digests.digests.subscriptions()
    posted = await bot.bot.digests.post_due(sub.id)
    assert posted is not None and posted.status == "posted" and posted.chart == "not drawn: no fonts"
    assert "could not be drawn" in caplog.text
    message, _ = standin.workspace.history(subscribed)
    assert not message.files and "Rollout Pulse digest" in message.shown_text


async def test_when_the_upload_is_refused_the_text_digest_still_goes_out(
    bot: RunningBot, standin: SlackStandIn, subscribed: str
) -> None:
    standin.faults.error("files.completeUploadExternal", "missing_scope")
    [sub] = await bot.services.digests.digests.subscriptions()
    posted = await bot.bot.digests.post_due(sub.id)
    assert posted is not None and posted.status == "posted" and posted.chart == "upload failed: missing_scope"
    message, shared = standin.workspace.history(subscribed)
    assert "Rollout Pulse digest" in message.shown_text and not message.files
    # The map goes out after it (the refusal was once: its upload went through).
    assert "Feedback map: Expense tool" in shared.shown_text


async def test_the_chart_is_a_png_with_a_point_per_period_that_has_enough_answers(
    bot: RunningBot, store: Store
) -> None:
    await seed(store)
    digests = bot.services.digests
    content = await digests.compute(digests.periods(None, PERIOD_END))
    chart = render_trend(EN, content)
    assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", chart.png[16:24])
    assert width > 300 and height > 200
    # Expense tool has enough answers in two periods (6 and 8); Wiki in none
    assert chart.points == 2 and chart.panels == 2
    expense = next(d for d in content.rollouts if d.detail.rollout.id == 1)
    # 0 and +25 both fall in the fifth of eight steps from -100 to +100
    assert sparkline(expense.trend) == "······▅▅"


@pytest.mark.parametrize("language", LANGUAGES)
async def test_sixty_rollouts_stay_within_slacks_limits(bot: RunningBot, store: Store, language: str) -> None:
    await seed(store)
    s = Seed(store, base=50_000)
    for i in range(60):
        rid, sid = 100 + i, 300 + 2 * i
        await s.rollout(
            rid, f"roll-{i:02d}", f"Rollout number {i:02d} " + "x" * 100, stages=(sid, sid + 1), current=sid
        )
        wave = await s.wave(rid, sid, at(17))
        await s.answers(wave, rid, sid, [10, 9, 8, 6, 3, 10], at(18))
    digests = bot.services.digests
    content = await digests.compute(digests.periods(None, PERIOD_END))
    messages = build_digest(texts(language), content)
    assert len(content.rollouts) == 62
    for message in messages:
        assert check_message(message.text, message.blocks) == []
        assert len(message.blocks) <= 50
    shown = "\n".join(render_text({"blocks": m.blocks}) for m in messages)
    assert shown.count("Rollout number") == 60
    chart = render_trend(texts(language), content)
    assert chart.panels == 12 and chart.left_out == 50


async def test_digest_commands_for_admins(bot: RunningBot, standin: SlackStandIn, store: Store) -> None:
    leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
    outside = standin.workspace.add_channel("outside", [ADMIN]).id
    await seed(store)
    standin.workspace.add_user("U0OWNER", "olga")
    assert "Only admins" in await bot.ask("U0OWNER", "digest", command="/pulse")
    preview = await bot.ask(ADMIN, "digest", command="/pulse")
    assert "Rollout Pulse digest" in preview and "Expense tool" in preview
    bad = await bot.ask(ADMIN, f'digest subscribe <#{leads}|leads> "every monday"', command="/pulse")
    assert "is not a cron schedule" in bad and '"0 9 * * MON"' in bad
    assert "I am not in #outside" in await bot.ask(ADMIN, f"digest subscribe <#{outside}|outside>", command="/pulse")
    ok = await bot.ask(ADMIN, f"digest subscribe <#{leads}|leads>", command="/pulse")
    assert "will get the digest on the schedule `0 9 * * MON` (Europe/Berlin)" in ok
    changed = await bot.ask(ADMIN, f'digest subscribe <#{leads}|leads> "0 17 * * FRI"', command="/pulse")
    assert "now gets the digest on the schedule `0 17 * * FRI`" in changed
    assert "dated by the day" not in ok + changed
    hourly = await bot.ask(ADMIN, f'digest subscribe <#{leads}|leads> "0 * * * *"', command="/pulse")
    assert "now gets the digest on the schedule `0 * * * *`" in hourly
    assert "Answers are dated by the day, not the time, so a digest counts only the days that are over" in hourly
    daily = await bot.ask(ADMIN, f'digest subscribe <#{leads}|leads> "30 8 * * 1-5"', command="/pulse")
    assert "dated by the day" not in daily
    assert "gets no more digests" in await bot.ask(ADMIN, f"digest unsubscribe <#{leads}|leads>", command="/pulse")
    assert "has no digest subscription" in await bot.ask(
        ADMIN, f"digest unsubscribe <#{leads}|leads>", command="/pulse"
    )
    assert await store.fetch_value("SELECT count(*) FROM digest_subscriptions") == 0


async def test_a_subscription_takes_a_language_and_the_preview_is_in_the_callers(
    bot: RunningBot, standin: SlackStandIn, store: Store
) -> None:
    leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
    await seed(store)

    async def language() -> str | None:
        [subscription] = await bot.services.digests.digests.subscriptions()
        return subscription.language

    ok = await bot.ask(ADMIN, f"digest subscribe <#{leads}|leads> sv", command="/pulse")
    assert "will get the digest on the schedule `0 9 * * MON` (Europe/Berlin), in Swedish." in ok
    assert await language() == "sv"
    changed = await bot.ask(ADMIN, f'digest subscribe <#{leads}|leads> "0 17 * * FRI" SV', command="/pulse")
    assert "now gets the digest on the schedule `0 17 * * FRI` (Europe/Berlin), in Swedish." in changed
    assert await language() == "sv"
    unquoted = await bot.ask(ADMIN, f"digest subscribe <#{leads}|leads> 0 9 * * MON en", command="/pulse")
    assert "on the schedule `0 9 * * MON` (Europe/Berlin), in English." in unquoted
    assert await language() == "en"
    bad = await bot.ask(ADMIN, f"digest subscribe <#{leads}|leads> de", command="/pulse")
    assert "“de” is not a language the bot speaks: use one of en, sv." in bad
    assert await language() == "en"
    # Without a language, the default again (PULSE_LANGUAGE), as a schedule left out is the default one.
    await bot.ask(ADMIN, f"digest subscribe <#{leads}|leads>", command="/pulse")
    assert await language() is None
    # The preview is for the one who asks, in their language; so is what answers them.
    await bot.services.languages.choose(ADMIN, "sv")
    preview = await bot.ask(ADMIN, "digest", command="/pulse")
    assert "Sammanfattning från Rollout Pulse" in preview and "mån 23 nov." in preview
    svar = await bot.ask(ADMIN, f"digest subscribe <#{leads}|leads> en", command="/pulse")
    assert "får nu sammanfattningen enligt schemat `0 9 * * MON` (Europe/Berlin), på engelska." in svar
    assert "får inga fler sammanfattningar" in await bot.ask(
        ADMIN, f"digest unsubscribe <#{leads}|leads>", command="/pulse"
    )


def test_pulse_digest_now_posts_while_pulse_serve_runs_on_the_same_database(tmp_path: Path) -> None:
    import subprocess
    import sys

    from sandbox.slack_to_bot import HttpTransport, SlackToBot
    from tests.support import StandInThread, bot_environment, health, serve_process

    thread = StandInThread(SlackStandIn())
    with thread as standin:
        standin.workspace.add_user(ADMIN, "ada")
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        env = bot_environment(standin, tmp_path / "pulse.db", PULSE_ADMINS=ADMIN, PULSE_QUIET_HOURS="off")
        nobody = subprocess.run(
            [sys.executable, "-m", "bot", "digest", "--now"], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert nobody.returncode == 2 and "no channel is subscribed" in nobody.stderr
        with serve_process(env, tmp_path) as served:
            address = served.wait_ready()
            slack = SlackToBot(standin, HttpTransport(f"{address}/slack/events", standin.signing_secret))
            for text in (
                'new expense-tool "Expense tool"',
                f"cohort expense-tool alpha <@{ADMIN}>",
                "start expense-tool",
            ):
                thread.run(slack.ask(ADMIN, text))
            thread.run(slack.ask(ADMIN, f"digest subscribe <#{leads}|leads>", command="/pulse"))
            result = subprocess.run(
                [sys.executable, "-m", "bot", "digest", "--now", "--channel", leads],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            assert f"{leads}: posted (1 message(s), chart uploaded)" in result.stdout
            assert health(address)[0] == 200
            assert served.stop() == 0
        [post] = [m for m in standin.workspace.history(leads) if m.bot_id]
        assert "Expense tool" in post.shown_text and post.files


def test_a_second_pulse_digest_now_at_the_same_time_posts_nothing_and_says_why(tmp_path: Path) -> None:
    import fcntl
    import subprocess
    import sys

    from tests.support import StandInThread, bot_environment

    with StandInThread(SlackStandIn()) as standin:
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        env = bot_environment(standin, tmp_path / "pulse.db", PULSE_ADMINS=ADMIN)
        command = [sys.executable, "-m", "bot", "digest", "--now", "--channel", leads]
        # The first one is still posting: it holds the lock beside the database.
        # (The path as given differs from the lock's: ./pulse.db and pulse.db are one database.)
        env["PULSE_DB"] = "./pulse.db"
        with open(tmp_path / "pulse.db.digest-now.lock", "a") as first:
            fcntl.flock(first, fcntl.LOCK_EX)
            second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
            fcntl.flock(first, fcntl.LOCK_UN)
        assert second.returncode == 1
        assert "another `pulse digest --now` is posting from this database; nothing was posted" in second.stderr
        assert "Traceback" not in second.stderr
        assert [m for m in standin.workspace.history(leads) if m.bot_id] == []
        after = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert after.returncode == 0, after.stderr
        assert len([m for m in standin.workspace.history(leads) if m.bot_id]) == 1


async def test_each_subscription_gets_a_cron_job_in_its_time_zone(bot: RunningBot, standin: SlackStandIn) -> None:
    from bot.scheduler import DIGEST_JOB_PREFIX, create_scheduler, sync_digest_jobs

    leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
    ops = standin.workspace.add_channel("ops", [ADMIN, BOT_USER_ID]).id
    digests = bot.services.digests
    await digests.subscribe(ADMIN, leads, None, bot.services.directory)
    await digests.subscribe(ADMIN, ops, "30 8 * * 1-5", bot.services.directory)
    scheduler = create_scheduler(bot.services, bot.bot.digests)
    await sync_digest_jobs(scheduler, bot.services, bot.bot.digests)
    jobs = {j.id: j for j in scheduler.get_jobs() if j.id.startswith(DIGEST_JOB_PREFIX)}
    assert len(jobs) == 2
    triggers = sorted(str(j.trigger) for j in jobs.values())
    assert triggers == [
        "cron[month='*', day='*', day_of_week='mon', hour='9', minute='0']",
        "cron[month='*', day='*', day_of_week='mon-fri', hour='8', minute='30']",
    ]
    assert {str(j.trigger.timezone) for j in jobs.values()} == {"Europe/Berlin"}
    await digests.unsubscribe(ADMIN, ops)
    await sync_digest_jobs(scheduler, bot.services, bot.bot.digests)
    assert len([j for j in scheduler.get_jobs() if j.id.startswith(DIGEST_JOB_PREFIX)]) == 1


def test_the_config_files_digest_takes_a_language(tmp_path: Path) -> None:
    from tests.services.test_apply import pulse, write

    db = tmp_path / "pulse.db"
    config = 'digests:\n  - {channel: C0LEADS001, cron: "0 9 * * MON", timezone: UTC, language: %s}\n'
    swedish = write(tmp_path, config % "sv")
    assert (
        pulse(db, "apply", str(swedish), "--dry-run").stdout.splitlines()[0]
        == '+ digest C0LEADS001 "0 9 * * MON" UTC sv'
    )
    assert pulse(db, "apply", str(swedish)).returncode == 0
    assert pulse(db, "apply", str(swedish)).stdout.strip() == "Nothing to change."
    english = write(tmp_path, config % "en", "english.yml")
    assert (
        pulse(db, "apply", str(english), "--dry-run").stdout.splitlines()[0]
        == '~ digest C0LEADS001 "0 9 * * MON" UTC en'
    )
    unknown = pulse(db, "apply", str(write(tmp_path, config % "de", "unknown.yml")))
    assert unknown.returncode == 2 and "digests[0].language" in unknown.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT language FROM digest_subscriptions").fetchall() == [("sv",)]
