"""Slack failing under the bot: 5xx, 429 with Retry-After, answers slower than the bot waits,
and `ok: false` errors, for survey DMs, announcements and digests. Nothing is lost, nothing is
sent twice, and permanent errors are recorded with Slack's reason (docs/reliability.md: “Retries and rate limits”,
docs/surveys.md: “Waves”, docs/digests.md: “Posted exactly once”).

What other tests already cover is not repeated: survey DMs through a tenth of calls answered
429/503 and lost answers, and a deactivated person (test_survey_delivery); announcements through
503/500/429, lost answers and a missing channel (test_announcements); a digest part whose answer
was lost and a refused chart upload (test_digests)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from handlers.blocks.text import Message
from outbound.sender import Retry, Sent, create_sender_client, post_once
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from storage import Store
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.outbound.test_survey_delivery import dm_counts
from tests.services.test_digests import PERIOD_END, Seed, at
from tests.services.test_rollout_flow import SLUG, dms, posts, set_up
from tests.services.test_surveys import people, started_with
from tests.support import wait_for
from tests.world import World

# The bot's Slack calls normally wait 10 s; here a call counts as timed out after this long.
CLIENT_TIMEOUT = 0.3
# Slack carries out a slowed call this late: after the bot gave up on it, before it looks again.
SLOW_ANSWER = 0.8


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_timezone="Europe/Berlin")


async def impatient(bot: RunningBot, retry_scale: float) -> None:
    """The senders give up on a call after CLIENT_TIMEOUT and wait `retry_scale` of the usual
    time before trying again (a timed-out post is retried after 5 s × retry_scale, by then
    Slack has carried out the slow call: the retry must find it, not post it twice)."""
    client = bot.bot.sender.client
    assert bot.bot.surveys_sender.client is client is bot.bot.digests.client
    # The keep-alive sessions carry the clients' timeouts: open them again with the shorter one.
    await bot.bot.http.close()
    client.timeout = CLIENT_TIMEOUT  # type: ignore[assignment]
    await bot.bot.http.open()
    bot.bot.sender.retry_scale = retry_scale
    bot.bot.surveys_sender.retry_scale = retry_scale
    bot.bot.digests.retry_scale = retry_scale


async def settled(store: Store, table: str) -> bool:
    return bool(await store.fetch_value(f"SELECT count(*) FROM {table} WHERE status IN ('pending', 'sending')") == 0)


# -- survey DMs -------------------------------------------------------------------------------------------


async def queue_wave(bot: RunningBot, standin: SlackStandIn, world: World, store: Store, size: int) -> list[str]:
    """A started rollout (its announcement already out) and a cohort of `size`; the wave is not sent yet."""
    cohort = people(standin, size)
    await started_with(bot, world, cohort)
    await wait_for(lambda: settled(store, "outbox"), what="the start to be announced")
    return cohort


async def test_surveys_slower_than_the_bot_waits_are_found_in_history_not_sent_twice(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = await queue_wave(bot, standin, world, store, 10)
    await impatient(bot, retry_scale=0.4)
    standin.faults.delay("chat.postMessage", SLOW_ANSWER, times=4)
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: settled(store, "deliveries"), timeout=20, what="every delivery to be settled")
    assert dm_counts(standin, cohort) == [1] * 10
    assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 10
    # the four slow posts timed out and were looked up before anything was posted again
    assert len(standin.calls_to("conversations.history")) >= 4
    assert len([c for c in standin.calls_to("chat.postMessage", ok=True) if c.params["channel"] in cohort]) == 10


async def test_surveys_through_ok_false_errors_retry_the_passing_ones_and_record_the_permanent_one(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = await queue_wave(bot, standin, world, store, 12)
    await impatient(bot, retry_scale=0.0)
    for error in ("internal_error", "fatal_error", "service_unavailable", "user_not_found", "request_timeout"):
        standin.faults.error("chat.postMessage", error)
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: settled(store, "deliveries"), timeout=20, what="every delivery to be settled")
    failed = await store.fetch_all("SELECT user_id, reason FROM deliveries WHERE status = 'failed'")
    assert [reason for _, reason in failed] == ["user_not_found"]
    counts = dict(zip(cohort, dm_counts(standin, cohort), strict=True))
    assert counts == {u: 0 if u == failed[0][0] else 1 for u in cohort}
    assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 11


async def test_surveys_rate_limited_wait_for_retry_after_before_trying_again(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = await queue_wave(bot, standin, world, store, 8)
    standin.faults.rate_limit("chat.postMessage", per_second=4)  # Retry-After: 1 beyond that
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: settled(store, "deliveries"), timeout=30, what="every delivery to be settled")
    assert dm_counts(standin, cohort) == [1] * 8
    assert standin.faults.rate_limited > 0
    tries: dict[str, list[tuple[float, str | None]]] = defaultdict(list)
    for call in standin.calls_to("chat.postMessage"):
        tries[str(call.params.get("channel"))].append((call.at, call.error))
    # Refused as 429 `ratelimited` (Retry-After: 1) or 200 `rate_limited` (a second, Slack's pace).
    assert {error for calls in tries.values() for _, error in calls} <= {None, "ratelimited", "rate_limited"}
    for user in cohort:
        for (refused_at, error), (next_at, _) in zip(tries[user], tries[user][1:], strict=False):
            if error is not None:
                assert next_at >= refused_at + 1 - 0.05, (
                    f"{user} was tried again {next_at - refused_at:.2f}s after {error}"
                )


async def test_a_survey_refused_with_200_rate_limited_is_retried_after_a_second_and_delivered(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    cohort = await queue_wave(bot, standin, world, store, 3)
    standin.faults.error("chat.postMessage", "rate_limited")  # HTTP 200, ok: false
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: settled(store, "deliveries"), timeout=20, what="every delivery to be settled")
    assert dm_counts(standin, cohort) == [1, 1, 1]
    assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 3
    [refused] = [c for c in standin.calls_to("chat.postMessage") if c.error == "rate_limited"]
    [again] = [
        c for c in standin.calls_to("chat.postMessage", ok=True) if c.params["channel"] == refused.params["channel"]
    ]
    assert again.at >= refused.at + 1 - 0.05, "tried again before Slack's second was up"


async def test_a_post_on_the_third_short_page_of_history_is_found_not_sent_again(standin: SlackStandIn) -> None:
    client = create_sender_client(standin.bot_token, standin.api_url)
    standin.page_cap = 2
    key = "delivery:42"
    message = Message(text="How likely are you to recommend it?", blocks=[])
    attempt_at = int(standin.clock())
    standin.faults.lose_responses("chat.postMessage")  # posted, but the bot never heard
    lost = await post_once(client, channel=ADMIN, key=key, message=message, earlier_attempt_at=None)
    assert isinstance(lost, Retry) and lost.maybe_sent
    for i in range(4):  # newer messages push it to the third page of two
        await client.chat_postMessage(channel=ADMIN, text=f"later {i}")
    found = await post_once(client, channel=ADMIN, key=key, message=message, earlier_attempt_at=attempt_at)
    assert isinstance(found, Sent) and found.found_in_history
    [survey] = [m for m in standin.workspace.dms_to(ADMIN) if m.text == message.text]
    assert found.ts == survey.ts
    assert len(standin.calls_to("conversations.history")) == 3


# -- announcements ------------------------------------------------------------------------------------------


async def test_announcements_through_timeouts_and_ok_false_errors_go_out_once_and_a_gone_champion_is_recorded(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await set_up(bot, world)
    gone = standin.workspace.add_user("U0CHAMPGONE", "gina").id
    await bot.ask(world.owner, f"champions {SLUG} add <@{gone}>")
    standin.workspace.users[gone].deleted = True  # deactivated since
    await impatient(bot, retry_scale=0.4)
    standin.faults.delay("chat.postMessage", SLOW_ANSWER, times=2)
    standin.faults.error("chat.postMessage", "internal_error", times=2)
    await bot.ask(world.owner, f"start {SLUG}")
    await wait_for(lambda: settled(store, "outbox"), timeout=20, what="every announcement to be settled")
    assert [len(dms(standin, c)) for c in world.champions] == [1, 1]
    assert len(posts(standin, world.launch)) == 1
    assert dms(standin, gone) == []
    rows = await store.fetch_all("SELECT channel, status, error FROM outbox ORDER BY id")
    expected = {world.champions[0]: "sent", world.champions[1]: "sent", world.launch: "sent", gone: "failed"}
    assert {channel: status for channel, status, _ in rows} == expected
    assert next(e for c, _, e in rows if c == gone) == "user_disabled"
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert f"The announcement of alpha to <@{gone}> failed: `user_disabled`" in history


# -- digests -------------------------------------------------------------------------------------------------


class TestDigests:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(PERIOD_END + timedelta(seconds=30))

    @pytest.fixture
    async def leads(self, bot: RunningBot, standin: SlackStandIn, store: Store) -> str:
        """A channel subscribed a month ago to the weekly digest of sixty rollouts (several messages)."""
        leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID]).id
        s = Seed(store, base=50_000)
        for i in range(60):
            sid = 300 + 2 * i
            await s.rollout(100 + i, f"roll-{i:02d}", f"Rollout {i:02d}", stages=(sid, sid + 1), current=sid)
        month_ago = at(20, month=10)
        await bot.services.digests.digests.subscribe(
            channel_id=leads, cron="0 9 * * MON", timezone="Europe/Berlin", actor=ADMIN, now=month_ago, source="command"
        )
        return leads

    @staticmethod
    def posted(standin: SlackStandIn, channel: str) -> list[tuple[str, int]]:
        return [(m.shown_text, len(m.files)) for m in standin.workspace.history(channel) if m.bot_id]

    def assert_posted_once(self, standin: SlackStandIn, channel: str, parts: int) -> None:
        posted = self.posted(standin, channel)
        assert len(posted) == parts >= 3
        assert len({text for text, _ in posted}) == parts, "a part was posted twice"
        assert [files for _, files in posted] == [1] + [0] * (parts - 1), "the chart went out other than once"
        assert standin.rejected == []

    async def test_through_5xx_429_slow_answers_and_ok_false_errors_each_part_goes_out_once(
        self, bot: RunningBot, standin: SlackStandIn, leads: str, store: Store
    ) -> None:
        await impatient(bot, retry_scale=0.3)
        standin.faults.fail("chat.postMessage", share=0.5, statuses=(500, 503, 429))
        standin.faults.error("chat.postMessage", "internal_error")
        standin.faults.delay("files.completeUploadExternal", SLOW_ANSWER, times=1)  # shared late
        [sub] = await bot.services.digests.digests.subscriptions()
        posted = await bot.bot.digests.post_due(sub.id)
        assert posted is not None and posted.status == "posted" and posted.chart == "uploaded"
        assert standin.faults.failed > 0
        self.assert_posted_once(standin, leads, posted.parts)
        assert await store.fetch_value("SELECT parts_posted FROM digest_runs WHERE status = 'posted'") == posted.parts
        # the timed-out upload was looked up, not shared again
        assert len(standin.calls_to("files.completeUploadExternal", ok=True)) == 1

    async def test_while_slack_keeps_failing_the_digest_waits_and_posts_once_when_it_is_back(
        self, bot: RunningBot, standin: SlackStandIn, leads: str, store: Store
    ) -> None:
        await impatient(bot, retry_scale=0.0)
        standin.faults.fail("chat.postMessage", share=1.0, statuses=(503,))
        [sub] = await bot.services.digests.digests.subscriptions()
        waiting = await bot.bot.digests.post_due(sub.id)
        assert waiting is not None and waiting.status == "posting" and waiting.parts == 1  # the chart's part went
        assert await store.fetch_value("SELECT status FROM digest_runs") == "posting"
        standin.faults.clear()
        [resumed] = await bot.bot.digests.catch_up()  # the next check
        assert resumed.status == "posted"
        self.assert_posted_once(standin, leads, resumed.parts)
        assert await bot.bot.digests.catch_up() == []

    async def test_a_chart_shared_two_seconds_after_its_upload_is_recorded_with_its_ts_and_uploaded_once(
        self, bot: RunningBot, standin: SlackStandIn, leads: str, store: Store
    ) -> None:
        standin.share_delay = 2.0  # Slack's security scan before the share, as it can take
        [sub] = await bot.services.digests.digests.subscriptions()
        posted = await bot.bot.digests.post_due(sub.id)
        assert posted is not None and posted.status == "posted" and posted.chart == "uploaded"
        self.assert_posted_once(standin, leads, posted.parts)
        [chart] = [m for m in standin.workspace.history(leads) if m.files]
        assert await store.fetch_value("SELECT message_ts FROM digest_runs") == chart.ts != ""
        assert len(standin.calls_to("files.completeUploadExternal", ok=True)) == 1
        assert len(standin.calls_to("files.getUploadURLExternal", ok=True)) == 1

    async def test_refused_for_good_the_digest_is_recorded_failed_with_the_reason_and_not_retried(
        self, bot: RunningBot, standin: SlackStandIn, leads: str, store: Store
    ) -> None:
        standin.workspace.channels[leads].members.remove(BOT_USER_ID)  # the bot was removed
        [sub] = await bot.services.digests.digests.subscriptions()
        failed = await bot.bot.digests.post_due(sub.id)
        assert failed is not None and failed.status == "failed"
        assert [tuple(r) for r in await store.fetch_all("SELECT status, error FROM digest_runs")] == [
            ("failed", "not_in_channel")
        ]
        assert self.posted(standin, leads) == []
        assert await bot.bot.digests.catch_up() == []
        assert len(standin.calls_to("chat.postMessage")) == 1
