"""The database locked by another process (a backup tool, `sqlite3` in a shell, a stuck job)
while Slack requests arrive and the sender has work (docs/reliability.md: “Database locked or full”).

What the product does: Slack shows the person an error when a request is not answered within
3 s, so a request waits at most 2 s for the lock. Then the person is told that nothing was saved
and to try again, and nothing is: a write given up on is never carried out later. A request that
gets the lock within 2 s is answered normally. Background work (the senders) waits the full busy
timeout (5 s), then tries again; nothing is lost or sent twice, and the log says what happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers.ids import Action
from sandbox.slack_to_bot import BotReply, SlackToBot
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from tests.faults.helpers import HeldLock, db_value, lock_held_by_another_process, on_loop
from tests.services.test_surveys import SLUG, people, roll_out
from tests.support import (
    ServeProcess,
    StandInThread,
    bot_environment,
    health,
    serve_process,
    slack_to,
    survey_of,
    wait_for_sync,
)
from tests.world import World, seed_world

COHORT = 16
ANSWER_9 = f"{Action.SURVEY_ANSWER.value}_9"
BUSY = "The database is busy right now, so nothing was saved. Please try again in a few seconds."


@dataclass
class Running:
    thread: StandInThread
    standin: SlackStandIn
    world: World
    cohort: list[str]
    served: ServeProcess
    slack: SlackToBot
    db: Path

    def together(self, *requests: Coroutine[Any, Any, BotReply]) -> list[tuple[BotReply, float]]:
        """Slack's requests sent at once, each with how long the bot took to answer it."""

        async def measure(request: Coroutine[Any, Any, BotReply]) -> tuple[BotReply, float]:
            started = time.monotonic()
            reply = await request
            return reply, time.monotonic() - started

        async def all_of() -> list[tuple[BotReply, float]]:
            return list(await asyncio.gather(*(measure(r) for r in requests)))

        result: list[tuple[BotReply, float]] = self.thread.run(all_of())
        return result

    def timed(self, request: Coroutine[Any, Any, BotReply]) -> tuple[BotReply, float]:
        return self.together(request)[0]

    def survey(self, user: str) -> Message:
        message = on_loop(self.thread, lambda: survey_of(self.standin, user))
        assert message is not None, f"{user} has no survey to answer"
        return message

    def click(self, user: str, score: int) -> tuple[BotReply, float]:
        return self.timed(self.slack.click(user, f"{Action.SURVEY_ANSWER.value}_{score}", message=self.survey(user)))

    def seen_by(self, user: str) -> list[str]:
        """What the person sees in their DM with the bot, ephemeral answers included."""

        def shown() -> list[str]:
            ws = self.standin.workspace
            return [m.shown_text for m in ws.history(ws.im_with(user).id, viewer=user)]

        return on_loop(self.thread, shown)

    def dm_counts(self) -> list[int]:
        """Messages the bot posted in each person's DM (a survey answered is still one)."""

        def counts() -> list[int]:
            ws = self.standin.workspace
            return [sum(1 for m in ws.history(ws.im_with(u).id) if m.bot_id) for u in self.cohort]

        return on_loop(self.thread, counts)

    def with_survey(self) -> list[str]:
        return [u for u, n in zip(self.cohort, self.dm_counts(), strict=True) if n]

    def responses(self) -> int:
        return int(db_value(self.db, "SELECT count(*) FROM responses"))


@contextmanager
def wave_under_way(tmp_path: Path) -> Iterator[Running]:
    """`pulse serve` with a survey wave half sent: the first few people have their survey, the
    rest were refused with 429 (Retry-After) and fall due again within a second or two."""
    db = tmp_path / "pulse.db"
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        cohort = people(standin, COHORT)
        env = bot_environment(standin, db, PULSE_QUIET_HOURS="off")
        with serve_process(env, tmp_path) as served:
            slack, transport = slack_to(served, standin)

            async def start() -> None:
                await roll_out(slack, world.owner, cohort)
                standin.faults.rate_limit("chat.postMessage", per_second=3)
                await slack.ask(world.owner, f"send {SLUG} nps", command="/pulse")

            thread.run(start())
            running = Running(thread, standin, world, cohort, served, slack, db)
            wait_for_sync(lambda: len(running.with_survey()) >= 3, what="the first surveys")
            try:
                yield running
            finally:
                thread.run(transport.close())


@contextmanager
def locked(running: Running, seconds: float) -> Iterator[HeldLock]:
    """Another process holds the lock for `seconds`; Slack is back to normal, so the sender's
    work falls due while the lock is held. Left once the lock is released."""
    with lock_held_by_another_process(running.db, seconds) as held:
        on_loop(running.thread, running.standin.faults.clear)
        yield held


def test_a_lock_of_a_few_seconds_delays_work_loses_none_and_asks_for_a_retry_only_when_it_must(
    tmp_path: Path,
) -> None:
    with wave_under_way(tmp_path) as running:
        first, second, earlier = running.with_survey()[:3]
        owner = running.world.owner
        # Someone answered before: the bot has everything it needs to store a click in one write.
        assert running.click(earlier, 10)[0].status == 200
        assert running.responses() == 1
        with locked(running, 3.5) as held:
            # what only reads still works
            assert health(running.served.address)[0] == 200
            status = running.thread.run(running.slack.ask(owner, f"status {SLUG}"))
            assert "Expense tool" in status.shown_text
            # more than 2 s of the lock are left, so a click and a command that writes are turned
            # away, in time
            assert held.locked_at + 3.5 - time.monotonic() > 2.3, "too slow to test a click early in the lock"
            (reply, took), (command, took_command) = running.together(
                running.slack.click(first, ANSWER_9, message=running.survey(first)),
                running.slack.command(owner, 'new other-tool "Other tool"'),
            )
            assert reply.status == 200 and took < 2.9, f"answered after {took:.1f}s: Slack would show an error"
            assert command.status == 200 and took_command < 2.9 and BUSY in command.shown_text
            # less than 2 s of the lock are left now, so a click waits for it and is stored
            assert time.monotonic() >= held.locked_at + 2.0 and not held.released
            sent_during = sum(running.dm_counts())
            reply, took = running.click(second, 7)
            assert reply.status == 200 and 0.5 < took < 2.9  # it waited for the lock, not too long
            held.wait_released(timeout=2)
        assert sent_during < COHORT
        assert any(BUSY in text for text in running.seen_by(first))
        assert not any(BUSY in text for text in running.seen_by(second))
        wait_for_sync(lambda: any("you answered 7" in t for t in running.seen_by(second)), what="the thanks")
        assert running.responses() == 2, "the click turned away was stored after all"
        assert db_value(running.db, "SELECT count(*) FROM rollouts WHERE slug = 'other-tool'") == 0
        # the first person tries again, as asked
        assert running.click(first, 9)[0].status == 200
        assert running.responses() == 3
        wait_for_sync(lambda: running.dm_counts() == [1] * COHORT, timeout=20, what="the rest of the wave")
        assert health(running.served.address)[0] == 200
        assert running.served.stop() == 0
        assert running.dm_counts() == [1] * COHORT
        assert "could not be stored; the person was asked to try again: the database is locked" in running.served.log


def test_a_lock_held_past_the_busy_timeout_half_does_nothing_and_everything_resumes(tmp_path: Path) -> None:
    with wave_under_way(tmp_path) as running:
        # The first answer since the bot started: storing it takes two writes (the secret, then it).
        first = running.with_survey()[0]
        with locked(running, 6.0) as held:  # the busy timeout is 5 s
            reply, took = running.click(first, 10)
            assert reply.status == 200 and took < 2.9
            assert health(running.served.address)[0] == 200
            sent_during = sum(running.dm_counts())
            wait_for_sync(
                lambda: "the survey sender cannot write to the database: the database is locked" in running.served.log,
                timeout=10,
                what="the sender to say why it is stuck",
            )
            assert not held.released
            assert sum(running.dm_counts()) == sent_during, "a survey went out with the database locked"
        assert sent_during < COHORT
        assert any(BUSY in text for text in running.seen_by(first))
        assert running.responses() == 0
        wait_for_sync(lambda: running.dm_counts() == [1] * COHORT, timeout=20, what="the rest of the wave")
        assert running.click(first, 10)[0].status == 200
        assert running.responses() == 1
        assert health(running.served.address)[0] == 200
        assert running.served.stop() == 0
        assert running.dm_counts() == [1] * COHORT
        assert db_value(running.db, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == COHORT
