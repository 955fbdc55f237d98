"""Stage announcements go out exactly once, through Slack's failures and a killed process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from sandbox.slack_to_bot import SlackToBot
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot
from tests.services.test_rollout_flow import SLUG, dms, posts, set_up
from tests.support import StandInThread, bot_environment, serve_process, slack_to, wait_for, wait_for_sync
from tests.world import World, seed_world


@pytest.fixture
def fast_retries(bot: RunningBot) -> None:
    bot.bot.sender.retry_scale = 0.0


async def outbox_states(store: Store) -> dict[str, str]:
    rows = await store.fetch_all("SELECT channel, status FROM outbox ORDER BY id")
    return {r[0]: r[1] for r in rows}


async def test_a_missing_channel_is_recorded_and_shown_in_history_not_retried(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await set_up(bot, world)
    del standin.workspace.channels[world.launch]  # archived and gone since it was set
    await bot.ask(world.owner, f"start {SLUG}")
    await wait_for(lambda: all(len(dms(standin, c)) == 1 for c in world.champions))

    async def channel_failed() -> bool:
        return (await outbox_states(store)).get(world.launch) == "failed"

    await wait_for(channel_failed, what="the channel announcement to fail")
    await bot.bot.sender.drain()  # nothing further is due
    to_channel = [c for c in standin.calls_to("chat.postMessage") if c.params.get("channel") == world.launch]
    assert len(to_channel) == 1 and to_channel[0].error == "channel_not_found"
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert f"The announcement of alpha to <#{world.launch}> failed: `channel_not_found`" in history


async def test_rate_limits_and_5xx_delay_announcements_but_never_double_them(
    bot: RunningBot, standin: SlackStandIn, world: World, fast_retries: None
) -> None:
    await set_up(bot, world)
    standin.faults.fail("chat.postMessage", share=0.5, statuses=(503, 500, 429))
    await bot.ask(world.owner, f"start {SLUG}")
    await wait_for(
        lambda: all(len(dms(standin, c)) == 1 for c in world.champions) and len(posts(standin, world.launch)) == 1
    )
    assert standin.faults.failed > 0
    await bot.bot.sender.drain()
    assert all(len(dms(standin, c)) == 1 for c in world.champions)
    assert len(posts(standin, world.launch)) == 1


async def test_a_post_whose_answer_was_lost_is_found_in_history_not_sent_again(
    bot: RunningBot, standin: SlackStandIn, world: World, fast_retries: None, store: Store
) -> None:
    await set_up(bot, world)
    standin.faults.lose_responses("chat.postMessage", times=3)  # Slack posted; the bot heard 503
    await bot.ask(world.owner, f"start {SLUG}")

    async def all_sent() -> bool:
        return set((await outbox_states(store)).values()) == {"sent"}

    await wait_for(all_sent, what="every announcement to be recorded as sent")
    assert all(len(dms(standin, c)) == 1 for c in world.champions)
    assert len(posts(standin, world.launch)) == 1
    assert len(standin.calls_to("conversations.history")) >= 3


async def announced_later(slack: SlackToBot, world: World, champions: list[str]) -> None:
    """The rollout with these champions and the launch channel, ready for `start` to announce."""
    for text in (
        f'new {SLUG} "Expense tool"',
        f"cohort {SLUG} alpha <@{world.direct}>",
        f"champions {SLUG} add " + " ".join(f"<@{c}>" for c in champions),
        f"channel {SLUG} <#{world.launch}|launch>",
    ):
        await slack.ask(world.owner, text)


def test_a_sender_killed_between_sends_resumes_with_nothing_twice(tmp_path: Path) -> None:
    thread = StandInThread(SlackStandIn())
    with thread as standin:
        world = seed_world(standin)
        extra = [standin.workspace.add_user(f"U0CHAMPX{i}", f"champ{i}").id for i in range(5)]
        champions = world.champions + extra
        env = bot_environment(standin, tmp_path / "pulse.db")
        with serve_process(env, tmp_path) as first:
            slack, transport = slack_to(first, standin)

            async def prepare() -> None:
                await announced_later(slack, world, champions)
                standin.faults.hold("chat.postMessage", after=3)
                await slack.command(world.owner, f"start {SLUG}")

            thread.run(prepare())
            wait_for_sync(lambda: standin.faults.held >= 1, what="a send to be in flight")
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)
            thread.run(transport.close())
        delivered_before_kill = sum(len(dms(standin, c)) for c in champions) + len(posts(standin, world.launch))
        assert delivered_before_kill == 3
        standin.faults.release()  # held calls are refused now: they never posted anything
        with serve_process(env, tmp_path) as second:
            second.wait_ready()
            wait_for_sync(
                lambda: all(len(dms(standin, c)) >= 1 for c in champions) and len(posts(standin, world.launch)) >= 1,
                timeout=20,
                what="every announcement after the restart",
            )
            assert second.stop() == 0
        assert [len(dms(standin, c)) for c in champions] == [1] * len(champions)
        assert len(posts(standin, world.launch)) == 1
        assert "announcements were being sent when the bot stopped" in second.log
