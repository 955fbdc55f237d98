"""kill -9 at seeded points during a survey wave, stage announcements and a digest; after a
restart nothing is lost and nothing is sent twice, and the database agrees with Slack (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.ids import Action
from sandbox.slack_to_bot import SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from storage import Store
from storage.digests import Digests
from tests.conftest import ADMIN
from tests.faults.helpers import KINDS, KillPoint, Kind, db_rows, db_value, integrity, kill_point, on_loop
from tests.outbound.test_announcements import announced_later
from tests.services.test_digests import Seed
from tests.services.test_digests import seed as seed_digest_history
from tests.services.test_surveys import SLUG, people, roll_out
from tests.support import (
    StandInThread,
    bot_environment,
    serve_process,
    slack_to,
    survey_dms,
    survey_of,
    wait_for_surveys,
    wait_for_sync,
)
from tests.world import seed_world

# One seed per kind of kill point: each scenario is killed before a call, while one is held
# unanswered, and after Slack carried one out but before the bot heard back.
SEEDS = [pytest.param(kind, seed, id=f"{kind}-{seed}") for kind, seed in zip(KINDS, (11, 23, 37), strict=True)]
# For the digest these seeds pick part 0 (the chart) before and after, and part 2 held.
DIGEST_SEEDS = [pytest.param(kind, seed, id=f"{kind}-{seed}") for kind, seed in zip(KINDS, (1, 5, 2), strict=True)]


@pytest.mark.parametrize(("kind", "seed"), SEEDS)
def test_a_wave_killed_mid_way_reaches_everyone_exactly_once(tmp_path: Path, kind: Kind, seed: int) -> None:
    point = kill_point(seed, kind, "chat.postMessage", first=3, last=20)
    size = 30 + seed * 7 % 31  # 45, 36, 41 people
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, size)
        env = bot_environment(standin, db, PULSE_QUIET_HOURS="off")
        with serve_process(env, tmp_path) as first:
            slack, transport = slack_to(first, standin)

            async def send_wave() -> None:
                await roll_out(slack, world.owner, cohort)
                point.arm(standin)
                assert "go out now" in (await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")).shown_text

            thread.run(send_wave())
            point.fire(thread, first.proc)
            thread.run(transport.close())

        before = on_loop(thread, lambda: [len(survey_dms(standin, u)) for u in cohort])
        assert max(before) <= 1, "someone got two surveys before the restart"
        recorded_before = db_value(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'")
        assert recorded_before < size, "the wave was complete before the kill"
        if kind == "after":
            assert sum(before) > recorded_before, "no survey went out unbeknownst to the bot"

        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(
                lambda: db_value(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == size,
                timeout=30,
                what="every delivery to be recorded as sent",
            )
            assert second.stop() == 0

        dms = on_loop(thread, lambda: {u: [(m.channel, m.ts) for m in survey_dms(standin, u)] for u in cohort})
        assert [len(dms[u]) for u in cohort] == [1] * size
        recorded = {
            u: (channel, ts) for u, channel, ts in db_rows(db, "SELECT user_id, dm_channel, message_ts FROM deliveries")
        }
        assert recorded == {u: dms[u][0] for u in cohort}, "the database does not name the DM each person got"
        assert standin.rejected == []


@pytest.mark.parametrize(("kind", "seed"), SEEDS)
def test_stage_announcements_killed_mid_way_go_out_exactly_once(tmp_path: Path, kind: Kind, seed: int) -> None:
    extra = 4 + seed % 5  # 5, 7, 6 more champions
    point = kill_point(seed, kind, "chat.postMessage", first=1, last=extra)
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        champions = world.champions + [standin.workspace.add_user(f"U0CHAMPX{i}", f"champ{i}").id for i in range(extra)]
        env = bot_environment(standin, db)
        with serve_process(env, tmp_path) as first:
            slack, transport = slack_to(first, standin)

            async def start() -> None:
                await announced_later(slack, world, champions)
                point.arm(standin)
                assert (await slack.command(world.owner, f"start {SLUG}")).status == 200

            thread.run(start())
            point.fire(thread, first.proc)
            thread.run(transport.close())

        def announcements() -> dict[str, list[str]]:
            ws = standin.workspace
            found = {c: [m.ts for m in ws.dms_to(c)] for c in champions}
            found[world.launch] = [m.ts for m in ws.history(world.launch) if m.bot_id]
            return found

        before = on_loop(thread, announcements)
        assert all(len(ts) <= 1 for ts in before.values()), "an announcement went out twice before the restart"
        recorded_before = db_value(db, "SELECT count(*) FROM outbox WHERE status = 'sent'")
        assert recorded_before < len(before), "every announcement was out before the kill"
        if kind == "after":
            assert sum(len(ts) for ts in before.values()) > recorded_before, "nothing went out unbeknownst to the bot"

        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(
                lambda: db_value(db, "SELECT count(*) FROM outbox WHERE status != 'sent'") == 0,
                timeout=30,
                what="every announcement to be recorded as sent",
            )
            assert second.stop() == 0

        after = on_loop(thread, announcements)
        assert {target: len(ts) for target, ts in after.items()} == dict.fromkeys(after, 1)
        recorded = dict(db_rows(db, "SELECT channel, message_ts FROM outbox"))
        assert recorded == {target: ts[0] for target, ts in after.items()}


@pytest.mark.parametrize(("kind", "seed"), SEEDS)
def test_an_actions_notes_killed_mid_way_reach_each_person_once(tmp_path: Path, kind: Kind, seed: int) -> None:
    size = 20 + seed % 7  # 24, 22, 22 people
    point = kill_point(seed, kind, "chat.postMessage", first=1, last=size // 2)
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, size)
        env = bot_environment(standin, db, PULSE_QUIET_HOURS="off")

        def notes() -> dict[str, int]:
            return {u: sum("You said, we did" in m.shown_text for m in standin.workspace.dms_to(u)) for u in cohort}

        with serve_process(env, tmp_path) as first:
            slack, transport = slack_to(first, standin)

            async def surveyed_then_action() -> None:
                await roll_out(slack, world.owner, cohort)
                await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")
                await wait_for_surveys(standin, cohort)
                wait = time.monotonic() + 30
                while db_value(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") < size:
                    assert time.monotonic() < wait, "the surveys were not all recorded as sent"
                    await asyncio.sleep(0.05)
                point.arm(standin)
                typed = f'action {SLUG} "Receipts can be photographed now"'
                assert "Recorded." in (await slack.ask(world.owner, typed, command="/pulse")).shown_text

            thread.run(surveyed_then_action())
            point.fire(thread, first.proc)
            thread.run(transport.close())

        before = on_loop(thread, notes)
        assert max(before.values()) <= 1, "someone heard of the action twice before the restart"
        assert sum(before.values()) < size, "every note was out before the kill"

        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(
                lambda: (
                    db_value(db, "SELECT count(*) FROM outbox WHERE kind = 'action_note' AND status != 'sent'") == 0
                ),
                timeout=30,
                what="every note to be recorded as sent",
            )
            assert second.stop() == 0

        assert on_loop(thread, notes) == dict.fromkeys(cohort, 1)
        assert db_value(db, "SELECT count(*) FROM outbox WHERE kind = 'action_note'") == size
        assert integrity(db) == "ok"


async def _subscribed_to_sixty_rollouts(db: Path, channel: str, cron: str) -> None:
    """Enough active rollouts for a digest of several messages, and `channel` subscribed a month ago."""
    store = await Store.open(db)
    try:
        s = Seed(store, base=50_000)
        for i in range(60):
            await s.rollout(
                100 + i, f"roll-{i:02d}", f"Rollout {i:02d}", stages=(300 + 2 * i, 301 + 2 * i), current=300 + 2 * i
            )
        month_ago = int(time.time()) - 30 * 86400
        await Digests(store).subscribe(
            channel_id=channel, cron=cron, timezone="UTC", actor=ADMIN, now=month_ago, source="command"
        )
    finally:
        await store.close()


def digest_messages(standin: SlackStandIn, channel: str) -> list[tuple[str, int]]:
    """(text, files) of every message the bot posted in the channel."""
    return [(m.shown_text, len(m.files)) for m in standin.workspace.history(channel) if m.bot_id]


def assert_each_part_once(posted: list[tuple[str, int]], parts: int) -> None:
    assert len(posted) == parts >= 3
    assert [files for _, files in posted] == [1] + [0] * (parts - 1), "the chart went out other than once"
    assert sum("continued (" in text for text, _ in posted) == parts - 1
    assert len({text for text, _ in posted}) == parts, "a part of the digest was posted twice"


@pytest.mark.parametrize(("kind", "seed"), DIGEST_SEEDS)
def test_pulse_digest_now_killed_mid_way_posts_each_part_once(tmp_path: Path, kind: Kind, seed: int) -> None:
    # The seed picks the part of the digest the kill lands on (and the slowness). Part 0 carries
    # the chart: files.completeUploadExternal shares it with the text; later parts are posts.
    part = kill_point(seed, kind, "", first=0, last=2)
    if part.index == 0:
        point = KillPoint(kind, "files.completeUploadExternal", 0, part.delay)
    else:
        point = KillPoint(kind, "chat.postMessage", part.index - 1, part.delay)
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        standin.workspace.add_user(ADMIN, "ada")
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        asyncio.run(_subscribed_to_sixty_rollouts(db, leads, "0 9 * * MON"))
        env = bot_environment(standin, db)
        command = [sys.executable, "-m", "bot", "digest", "--now", "--channel", leads]
        on_loop(thread, standin.calls.clear)  # the point counts the calls of this run only
        on_loop(thread, lambda: point.arm(standin))
        first = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            point.fire(
                thread,
                first,
                ready=lambda: db_value(db, "SELECT count(*) FROM digest_runs") == 1,
                timeout=60,
            )
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()

        before = on_loop(thread, lambda: digest_messages(standin, leads))
        [(status, recorded_before)] = db_rows(db, "SELECT status, parts_posted FROM digest_runs")
        assert status == "posting"
        if kind == "after":
            assert len(before) > recorded_before, "no part went out unbeknownst to the bot"

        again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        parts = db_value(db, "SELECT parts_posted FROM digest_runs WHERE status = 'posted'")
        assert f"{leads}: posted ({parts} message(s), chart uploaded)" in again.stdout

        after = on_loop(thread, lambda: digest_messages(standin, leads))
        assert after[: len(before)] == before
        assert_each_part_once(after, parts)
        assert db_rows(db, "SELECT status, chart FROM digest_runs") == [("posted", "uploaded")]
        assert integrity(db) == "ok"


async def _subscribed_to_a_rollout_with_figures(db: Path, channel: str) -> None:
    store = await Store.open(db)
    try:
        await seed_digest_history(store)
        month_ago = int(time.time()) - 30 * 86400
        await Digests(store).subscribe(
            channel_id=channel, cron="0 9 * * MON", timezone="UTC", actor=ADMIN, now=month_ago, source="command"
        )
    finally:
        await store.close()


@pytest.mark.parametrize("method", ["files.getUploadURLExternal", "files.completeUploadExternal"])
@pytest.mark.parametrize(("kind", "seed"), DIGEST_SEEDS)
def test_a_digest_killed_while_uploading_its_feedback_map_shares_the_map_once(
    tmp_path: Path, kind: Kind, seed: int, method: str
) -> None:
    # The digest's text goes with the chart (the first upload); the map of the one rollout with
    # figures is the second upload, where the kill lands: before its file exists (the chart's
    # file is then the last one recorded, and is not the map's), or as it is shared.
    point = KillPoint(kind, method, 1, kill_point(seed, kind, "", first=0, last=0).delay)
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        standin.workspace.add_user(ADMIN, "ada")
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        asyncio.run(_subscribed_to_a_rollout_with_figures(db, leads))
        env = bot_environment(standin, db)
        command = [sys.executable, "-m", "bot", "digest", "--now", "--channel", leads]
        on_loop(thread, standin.calls.clear)
        on_loop(thread, lambda: point.arm(standin))
        first = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            point.fire(thread, first, ready=lambda: db_value(db, "SELECT count(*) FROM digest_runs") == 1, timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        assert db_value(db, "SELECT status FROM digest_runs") == "posting"

        again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr

        def shared() -> list[str]:
            return [
                standin.workspace.files[f].name for m in standin.workspace.history(leads) if m.bot_id for f in m.files
            ]

        names = on_loop(thread, shared)
        assert len(names) == 2 and names[0].startswith("rollout-pulse-digest-"), names
        assert names[1].startswith("feedback-map-expense-tool-"), "the map went out other than once"
        assert db_rows(db, "SELECT status, parts_posted FROM digest_runs") == [("posted", 2)]
        assert integrity(db) == "ok"


def test_a_chart_shared_two_seconds_late_and_killed_before_it_is_recorded_with_its_ts_not_uploaded_again(
    tmp_path: Path,
) -> None:
    # Slack answers files.completeUploadExternal at once and shares the file 2 s later: the bot
    # is killed while it waits for the share; the restarted bot must find the file, wait for
    # its share and record its ts, not upload the chart again.
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn(share_delay=2.0))
    with thread as standin:
        standin.workspace.add_user(ADMIN, "ada")
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        asyncio.run(_subscribed_to_sixty_rollouts(db, leads, "0 9 * * MON"))
        env = bot_environment(standin, db)
        command = [sys.executable, "-m", "bot", "digest", "--now", "--channel", leads]
        first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            completed = lambda: len(standin.calls_to("files.completeUploadExternal", ok=True)) == 1  # noqa: E731
            wait_for_sync(lambda: on_loop(thread, completed), timeout=60, what="the upload to be completed")
            first.kill()
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        # The kill landed in the window: completed, not shared yet. Keep it so until the restarted
        # bot has looked, so that it meets the file unshared.
        on_loop(thread, standin.hold_shares)
        assert on_loop(thread, lambda: standin.pending_shares) == 1, "the share came before the kill"
        assert db_rows(db, "SELECT status, parts_posted, message_ts FROM digest_runs") == [("posting", 0, None)]
        looked_before = on_loop(thread, lambda: len(standin.calls_to("files.info")))

        second = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            looked = lambda: len(standin.calls_to("files.info")) > looked_before  # noqa: E731
            wait_for_sync(lambda: on_loop(thread, looked), timeout=60, what="the restarted bot to ask for the file")
            on_loop(thread, standin.release_shares)
            out, _ = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
        assert second.returncode == 0, out
        parts = db_value(db, "SELECT parts_posted FROM digest_runs WHERE status = 'posted'")
        assert f"{leads}: posted ({parts} message(s), chart uploaded)" in out
        assert_each_part_once(on_loop(thread, lambda: digest_messages(standin, leads)), parts)
        [chart] = on_loop(thread, lambda: [m for m in standin.workspace.history(leads) if m.files])
        assert db_value(db, "SELECT message_ts FROM digest_runs") == chart.ts
        assert on_loop(thread, lambda: len(standin.calls_to("files.getUploadURLExternal", ok=True))) == 1
        assert on_loop(thread, lambda: len(standin.calls_to("files.completeUploadExternal", ok=True))) == 1
        assert integrity(db) == "ok"


def test_a_scheduled_digest_killed_mid_way_in_pulse_serve_is_finished_once_after_the_restart(tmp_path: Path) -> None:
    # A daily digest that fell due an hour ago: `pulse serve` posts it as it starts (catch-up).
    due = datetime.now(UTC) - timedelta(hours=1)
    point = KillPoint("after", "chat.postMessage", 0, 0.2)  # part 1 goes out, its answer never comes back
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        standin.workspace.add_user(ADMIN, "ada")
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        asyncio.run(_subscribed_to_sixty_rollouts(db, leads, f"{due.minute} {due.hour} * * *"))
        env = bot_environment(standin, db)
        on_loop(thread, standin.calls.clear)  # the point counts the calls of this run only
        on_loop(thread, lambda: point.arm(standin))
        with serve_process(env, tmp_path) as first:
            first.wait_ready()
            point.fire(thread, first.proc)
        before = on_loop(thread, lambda: digest_messages(standin, leads))
        [(status, recorded_before)] = db_rows(db, "SELECT status, parts_posted FROM digest_runs")
        assert status == "posting" and len(before) > recorded_before

        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(
                lambda: db_value(db, "SELECT status FROM digest_runs") == "posted", timeout=30, what="the digest"
            )
            assert second.stop() == 0
        assert "resuming the digest for" in second.log
        [(parts, chart, trigger)] = db_rows(db, "SELECT parts_posted, chart, trigger FROM digest_runs")
        assert (chart, trigger) == ("uploaded", "catch-up")
        after = on_loop(thread, lambda: digest_messages(standin, leads))
        assert after[: len(before)] == before
        assert_each_part_once(after, parts)
        assert integrity(db) == "ok"


def test_answers_acknowledged_before_a_kill_are_all_there_after_the_restart(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, 12)
        scores = [10, 10, 10, 9, 7, 3, 10, 10, 9, 0]  # 7 promoters, 1 passive, 2 detractors: NPS +50
        env = bot_environment(standin, db, PULSE_QUIET_HOURS="off")
        with serve_process(env, tmp_path) as first:
            slack, transport = slack_to(first, standin)

            async def answer_then_die() -> None:
                await roll_out(slack, world.owner, cohort)
                await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")
                await wait_for_surveys(standin, cohort)
                clicks = [
                    slack.click(user, f"{Action.SURVEY_ANSWER.value}_{score}", message=survey_of(standin, user))
                    for user, score in zip(cohort, scores, strict=False)
                ]
                replies = await asyncio.gather(*clicks)
                # Every click was acknowledged: the bot dies right away, before anything else.
                first.proc.send_signal(signal.SIGKILL)
                assert [r.status for r in replies] == [200] * len(scores)

            thread.run(answer_then_die())
            first.proc.wait(10)
            thread.run(transport.close())

        assert integrity(db) == "ok"
        with serve_process(env, tmp_path) as second:
            slack, transport = slack_to(second, standin)
            results = thread.run(slack.ask(world.owner, f"results {SLUG}", command="/pulse")).shown_text
            thread.run(transport.close())
            assert second.stop() == 0
        # Ten answers, two groups of five: each released in the very commit of its fifth answer.
        assert "+50 (n=10," in results and "(10 of 12)" in results
        assert db_value(db, "SELECT count(*) FROM responses") == 10
        assert db_value(db, "SELECT sum(answers) FROM disclosed") == 10
        # An answer writes nothing that names the person: who answered is known, while the wave
        # is open, only through the respondent keys.
        assert db_value(db, "SELECT count(*) FROM deliveries WHERE answered = 1") == 0


@pytest.mark.parametrize(("kind", "seed"), SEEDS)
def test_an_automatic_pause_killed_mid_way_is_announced_exactly_once(tmp_path: Path, kind: Kind, seed: int) -> None:
    """The regression watch pauses a rollout (on-regression pause) in one transaction with its
    announcements and alerts; killed while they go out, the restart sends the rest, each once,
    and pauses nothing again."""
    extra = 4 + seed % 5  # 5, 7, 6 more champions
    point = kill_point(seed, kind, "chat.postMessage", first=1, last=extra)
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, 20)
        champions = [
            world.champions[0],
            *(standin.workspace.add_user(f"U0CHAMPX{i}", f"c{i}").id for i in range(extra)),
        ]
        env = bot_environment(standin, db, PULSE_QUIET_HOURS="off")

        def answered(who: list[str], score: int, slack: SlackToBot) -> None:
            async def click() -> None:
                for user in who:
                    survey = survey_of(standin, user)
                    assert survey is not None
                    assert (
                        await slack.click(user, f"{Action.SURVEY_ANSWER.value}_{score}", message=survey)
                    ).status == 200

            thread.run(click())

        # A rollout that pauses on a clear regression, with the gate nps >= 0; five promoters.
        with serve_process(env, tmp_path) as setup:
            slack, transport = slack_to(setup, standin)

            async def rolled_out() -> None:
                await roll_out(slack, world.owner, cohort, champions=champions)
                await slack.ask(world.owner, f"target {SLUG} nps >= 0")
                await slack.ask(world.owner, f"on-regression {SLUG} pause")
                await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")
                await wait_for_surveys(standin, cohort)

            thread.run(rolled_out())
            answered(cohort[:5], 10, slack)
            thread.run(transport.close())
            assert setup.stop() == 0
        # The watch looks at start: the gate passes (+100). Then fifteen detractors: -50 (±38).
        with serve_process(env, tmp_path) as passing:
            slack, transport = slack_to(passing, standin)
            wait_for_sync(
                lambda: (
                    db_value(db, "SELECT count(*) FROM watch_alarms WHERE rule = 'target:nps' AND state = 'armed'") == 1
                ),
                timeout=30,
                what="the watch to see the gate pass",
            )
            answered(cohort[5:], 0, slack)
            wait_for_sync(lambda: db_value(db, "SELECT sum(answers) FROM disclosed") == 20, timeout=30, what="groups")
            thread.run(transport.close())
            assert passing.stop() == 0
        assert db_value(db, "SELECT status FROM rollouts") == "active"

        # At the next start the watch pauses it, and the process is killed while the news goes out.
        on_loop(thread, standin.calls.clear)  # the point counts the calls of this run only
        on_loop(thread, lambda: point.arm(standin))
        with serve_process(env, tmp_path) as pausing:
            point.fire(thread, pausing.proc)

        def news() -> dict[str, tuple[int, int]]:
            ws = standin.workspace
            return {
                user: (
                    sum(m.shown_text.startswith("⏸") for m in ws.dms_to(user)),
                    sum(m.shown_text.startswith("🚨") for m in ws.dms_to(user)),
                )
                for user in [world.owner, *champions]
            }

        before = on_loop(thread, news)
        assert all(paused <= 1 and alerts <= 1 for paused, alerts in before.values()), "something went out twice"
        assert db_value(db, "SELECT count(*) FROM outbox WHERE status != 'sent'") > 0, "all was out before the kill"

        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(
                lambda: db_value(db, "SELECT count(*) FROM outbox WHERE status != 'sent'") == 0,
                timeout=30,
                what="every announcement and alert to be recorded as sent",
            )
            assert second.stop() == 0

        after = on_loop(thread, news)
        assert after == {world.owner: (0, 1), **dict.fromkeys(champions, (1, 1))}
        assert db_value(db, "SELECT count(*) FROM stage_transitions WHERE kind = 'pause'") == 1
        assert db_value(db, "SELECT count(*) FROM audit_log WHERE action = 'regression alert'") == 1
        assert integrity(db) == "ok"
