"""The disk full under `pulse serve` (docs/reliability.md): the database file and its WAL may not grow past a
size limit (RLIMIT_FSIZE in the child, with SIGXFSZ ignored so that writes fail with EFBIG, as
on a full disk). Requests still get a polite answer, never a 5xx; the process keeps serving and
says in its log what is wrong; restarted with room again, the database is intact, nothing that
was acknowledged is lost and the work left over resumes."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from handlers.ids import Action
from sandbox.slack_to_bot import SlackToBot
from sandbox.stand_in import SlackStandIn
from tests.faults.helpers import db_value, integrity, on_loop
from tests.services.test_surveys import SLUG, people, roll_out
from tests.support import (
    StandInThread,
    bot_environment,
    health,
    http,
    serve_process,
    slack_to,
    survey_of,
    wait_for_sync,
)
from tests.world import seed_world

COHORT = 30
API_TOKEN = "disk-full-test-token-0123456789"
FULL = "Nothing could be saved: the bot cannot write to its database (its disk may be full)."

# `pulse serve` whose disk fills up on SIGUSR1: from then on no file may grow (the WAL is what a
# write makes grow), and a write that would fails with EFBIG, as on a full disk, rather than
# the process being killed by SIGXFSZ.
_FILLS_UP_ON_SIGUSR1 = """
import os, resource, runpy, signal, sys
wal = sys.argv.pop(1)
def fill_up(*_):
    size = max(os.path.getsize(wal), 1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    print(f"the disk is full now: no file may grow past {size} bytes", flush=True)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
signal.signal(signal.SIGUSR1, fill_up)
sys.argv[0] = "pulse"
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


def test_a_full_disk_is_named_in_the_log_answered_politely_survived_and_recovered_from(tmp_path: Path) -> None:
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, COHORT)
        env = bot_environment(standin, db, PULSE_QUIET_HOURS="off", PULSE_API_TOKEN=API_TOKEN)

        def dm_counts() -> list[int]:
            ws = standin.workspace
            return [sum(1 for m in ws.history(ws.im_with(u).id) if m.bot_id) for u in cohort]

        def seen_by(user: str) -> str:
            ws = standin.workspace
            return "\n".join(m.shown_text for m in ws.history(ws.im_with(user).id, viewer=user))

        def answer(slack: SlackToBot, user: str) -> str:
            """Click 8 on the person's survey: "thanked", or "refused" with the polite apology."""
            message = on_loop(thread, lambda: survey_of(standin, user))
            assert message is not None
            before = on_loop(thread, lambda: seen_by(user))
            reply = thread.run(slack.click(user, f"{Action.SURVEY_ANSWER.value}_8", message=message))
            assert reply.status == 200, reply.text

            def answered() -> bool:
                now = on_loop(thread, lambda: seen_by(user))
                return "you answered 8" in now or now.count(FULL) > before.count(FULL)

            wait_for_sync(answered, what="an answer to the click")
            return "thanked" if "you answered 8" in on_loop(thread, lambda: seen_by(user)) else "refused"

        argv = [sys.executable, "-c", _FILLS_UP_ON_SIGUSR1, f"{db}-wal", "serve"]
        with serve_process(env, tmp_path, argv) as served:
            slack, transport = slack_to(served, standin)
            address = served.address

            async def start() -> None:
                await roll_out(slack, world.owner, cohort)
                await slack.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding" csat', command="/pulse")
                await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")

            # A wave under way: a third of the surveys are out, Slack refuses the rest for now.
            thread.run(start())
            wait_for_sync(lambda: sum(on_loop(thread, dm_counts)) >= COHORT // 3, what="a third of the wave")
            on_loop(thread, lambda: standin.faults.fail("chat.postMessage", share=1.0, statuses=(429,)))
            asked = [u for u, n in zip(cohort, on_loop(thread, dm_counts), strict=True) if n]
            thanked = asked[:3]
            assert [answer(slack, u) for u in thanked] == ["thanked"] * len(thanked)

            served.proc.send_signal(signal.SIGUSR1)
            wait_for_sync(lambda: "the disk is full now" in served.log, what="the disk to fill up")
            turned_away = asked[3]
            assert answer(slack, turned_away) == "refused"
            command = thread.run(slack.command(world.owner, 'new other-tool "Other tool"'))
            assert command.status == 200 and FULL in command.shown_text
            # Slack takes the rest of the wave again: the sender cannot record anything, says so, waits
            on_loop(thread, standin.faults.clear)
            wait_for_sync(
                lambda: "the survey sender cannot write to the database: the database cannot be written" in served.log,
                what="the sender to say why it is stuck",
            )
            # what only reads still works, and the process keeps serving; /healthz tells an operator
            assert "Expense tool" in thread.run(slack.ask(world.owner, f"status {SLUG}")).shown_text
            status, body = health(address)
            assert status == 503 and body["status"] == "degraded" and "disk full" in body["database"]
            # the touchpoint API asks its caller to come back, with nothing queued
            api_status, api_text = http(
                "POST",
                f"{address}/touchpoints/{SLUG}/onboarding",
                json.dumps({"user": cohort[-1]}).encode(),
                {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
            )
            assert api_status == 503 and "nothing was queued" in api_text
            assert served.proc.poll() is None
            thread.run(transport.close())
            assert served.stop() == 0
        log = served.log
        assert "the person was asked to try again: the database cannot be written: disk full" in log
        assert "Traceback" not in log

        # Room again: the database is intact, nothing acknowledged is lost, and the wave is finished.
        assert integrity(db) == "ok"
        with serve_process(env, tmp_path) as again:
            slack, transport = slack_to(again, standin)
            address = again.address
            assert health(address)[0] == 200
            wait_for_sync(lambda: on_loop(thread, dm_counts) == [1] * COHORT, timeout=30, what="the rest of the wave")
            assert db_value(db, "SELECT count(*) FROM responses") == len(thanked)
            assert answer(slack, turned_away) == "thanked"  # tried again, as asked
            assert db_value(db, "SELECT count(*) FROM responses") == len(thanked) + 1
            thread.run(transport.close())
            assert again.stop() == 0
        assert on_loop(thread, dm_counts) == [1] * COHORT
        assert db_value(db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == COHORT
        assert db_value(db, "SELECT count(*) FROM rollouts WHERE slug = 'other-tool'") == 0
        assert integrity(db) == "ok"
