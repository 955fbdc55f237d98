"""The life of a wave as privacy sees it: an answer's commit holds the answer alone, reminders
find who answered through the keys, and `/pulse close` for owners only, with clear refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.services.test_surveys import SLUG, answer, people, surveyed, thanked
from tests.support import survey_of, wait_for
from tests.world import World


async def every_row(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    tables = [str(r[0]) for r in await store.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: sorted((tuple(r) for r in await store.fetch_all(f'SELECT * FROM "{t}"')), key=repr) for t in tables}


async def all_sent(store: Store, count: int) -> bool:
    return bool(await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'sent'") == count)


class TestAnsweringOpenWaves:
    async def test_an_answer_and_a_change_write_the_answer_and_nothing_that_names_anyone(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 3)
        await surveyed(bot, standin, world, cohort)
        # The DMs are in Slack a moment before the bot has written them down as sent: the
        # snapshot waits for that, or it would catch those writes and blame the answer.
        await wait_for(lambda: all_sent(store, 3), what="every delivery written down as sent")
        before = await every_row(store)
        await answer(bot, standin, cohort[0], 8)
        await wait_for(lambda: thanked(standin, cohort[0]))
        after = await every_row(store)
        assert [t for t in after if after[t] != before[t]] == ["responses"]
        assert not any(cohort[0] in repr(row) for row in after["responses"])
        thanks = [m for m in standin.workspace.dms_to(cohort[0]) if "Thanks" in m.shown_text][-1]
        await bot.slack.click(cohort[0], Action.SURVEY_CHANGE.value, message=thanks)
        await wait_for(lambda: survey_of(standin, cohort[0]) is not None, what="the survey back for a new answer")
        await answer(bot, standin, cohort[0], 2)
        await wait_for(lambda: "you answered *2*" in standin.workspace.dms_to(cohort[0])[0].shown_text)
        changed = await every_row(store)
        assert [t for t in changed if changed[t] != after[t]] == ["responses"]
        assert [row[6] for row in changed["responses"]] == [2.0]  # the same row (its score), changed

    async def test_close_is_for_owners_and_names_what_is_wrong(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        assert "There is no rollout called" in await bot.ask(world.owner, "close nope", command="/pulse")
        cohort = people(standin, 2)
        await surveyed(bot, standin, world, cohort)
        refused = await bot.ask(world.stranger, f"close {SLUG}", command="/pulse")
        assert "Only the owners of expense-tool" in refused
        champion = world.champions[0]
        assert "Only the owners of expense-tool" in await bot.ask(champion, f"close {SLUG}", command="/pulse")
        unknown = await bot.ask(world.owner, f"close {SLUG} setup", command="/pulse")
        assert "has no touchpoint “setup”" in unknown
        await bot.ask(world.owner, f'touchpoint {SLUG} setup "Setup" csat', command="/pulse")
        none_open = await bot.ask(world.owner, f"close {SLUG} setup", command="/pulse")
        assert "has no open wave of the setup touchpoint survey in alpha: nothing to close" in none_open
        usage = await bot.ask(world.owner, f"close {SLUG} nps extra", command="/pulse")
        assert "close takes the rollout and, optionally, nps or one touchpoint" in usage
        assert await store.fetch_value("SELECT count(*) FROM wave_keys") == 1  # nothing closed by any of it
        done = await bot.ask(world.owner, f"close {SLUG}", command="/pulse")
        assert "Closed the NPS survey of `expense-tool` (1 wave, fewer than 5 answers kept)" in done
        assert await store.fetch_value("SELECT count(*) FROM wave_keys") == 0
        help_text = await bot.ask(world.owner, "help", command="/pulse")
        assert "/pulse close &lt;slug&gt; [nps|&lt;touchpoint&gt;]" in help_text


class TestReminders:
    START = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday, 09:30 in Berlin

    @pytest.fixture
    def settings(self, standin: SlackStandIn, tmp_path: Path) -> Settings:
        return make_settings(standin, tmp_path)  # working hours 09:00-17:00

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(self.START)

    async def test_a_reminder_waits_for_working_hours_and_skips_who_answered_meanwhile(
        self, bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock, store: Store
    ) -> None:
        cohort = people(standin, 3)  # Berlin
        await surveyed(bot, standin, world, cohort)
        # Recorded as sent (at this moment) before the clock moves on: the DM arrives first.
        await wait_for(lambda: all_sent(store, 3), what="the three deliveries recorded as sent")
        # Wednesday 20:00 in Berlin: 48 hours have passed, but it is after hours.
        clock.set(datetime(2026, 11, 25, 19, 0, tzinfo=UTC))
        assert await bot.services.surveys.queue_reminders() == 0
        # One of them answers in the evening (their survey stays answerable).
        await answer(bot, standin, cohort[0], 9)
        await wait_for(lambda: thanked(standin, cohort[0]))
        clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))  # Thursday 09:00 in Berlin
        assert await bot.services.surveys.queue_reminders() == 2
        await bot.bot.sender.drain()
        assert [len(standin.workspace.dms_to(u)) for u in cohort] == [1, 2, 2]
        assert await bot.services.surveys.queue_reminders() == 0
        # Only the Home of one who has not answered still lists the survey.
        assert [d.id for d in await bot.services.surveys.unanswered_for(cohort[0])] == []
        assert len(await bot.services.surveys.unanswered_for(cohort[1])) == 1
        clock.advance(timedelta(days=7))
        assert await bot.services.surveys.close_due_waves() == 1
        # One answer is fewer than the minimum group: who answered is not written down at close.
        assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE answered = 1") == 0


class TestSmallWaves:
    async def test_a_survey_to_fewer_than_the_minimum_never_claims_to_be_unlinkable(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        """Who was asked tells whose the answers of a wave of one are, key or no key: every text
        about that survey says so, rather than promising what cannot hold."""
        cohort = people(standin, 6)
        await surveyed(bot, standin, world, cohort)  # an NPS wave to six: the usual promise
        assert "nobody, the bot's operator included, can tell" in survey_of(standin, cohort[0]).shown_text  # type: ignore[union-attr]
        await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding" csat', command="/pulse")
        alone = cohort[1]
        await bot.ask(world.owner, f"ask {SLUG} onboarding <@{alone}>", command="/pulse")
        await wait_for(lambda: len(standin.workspace.dms_to(alone)) == 2, what="the touchpoint survey")
        survey = standin.workspace.dms_to(alone)[1]
        assert "went to fewer than 5 people, so who was asked tells whose the stored answers are" in survey.shown_text
        assert "nobody, the bot's operator included" not in survey.shown_text
        await bot.slack.click(alone, f"{Action.SURVEY_ANSWER.value}_4", message=survey)
        await wait_for(lambda: "you answered" in standin.workspace.dms_to(alone)[1].shown_text)
        closed = await bot.ask(world.owner, f"close {SLUG} onboarding", command="/pulse")
        assert "1 wave closed with fewer than 5 answers: so few answers can still be told apart" in closed
        await bot.bot.sender.drain()
        await wait_for(lambda: "has closed" in standin.workspace.dms_to(alone)[1].shown_text, what="the closing")
        notice = standin.workspace.dms_to(alone)[1].shown_text
        assert "This survey has closed. Thank you if you answered!" in notice  # who answered: kept nowhere
        # Not even in the queued closing notice, which names whom it goes to.
        notices = await store.fetch_all("SELECT channel, payload FROM outbox WHERE kind = 'survey_closed'")
        assert notices and all(json.loads(payload)["answered"] is None for _, payload in notices)
        assert "can no longer be tied to you" not in notice
        mine = await bot.ask(alone, "mydata", command="/pulse")
        assert "closed with fewer than 5 answers: whether you answered is not kept" in mine

    async def test_a_wave_to_many_closed_with_one_answer_does_not_say_who_answered(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 6)
        await surveyed(bot, standin, world, cohort)
        await answer(bot, standin, cohort[2], 3)
        await wait_for(lambda: thanked(standin, cohort[2]))
        closed = await bot.ask(world.owner, f"close {SLUG}", command="/pulse")
        assert (
            "fewer than 5 answers kept" in closed
            and "1 answer" not in closed
            and "closed with fewer than 5 answers" in closed
        )
        assert "nobody can tell any more" not in closed
        # Nothing written down says which of the six answered.
        assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE answered = 1") == 0
        await bot.bot.sender.drain()
        await wait_for(lambda: "has closed" in standin.workspace.dms_to(cohort[2])[0].shown_text, what="the closing")
        assert "can no longer be tied to you" not in standin.workspace.dms_to(cohort[2])[0].shown_text
