"""Touchpoint surveys: defined, triggered on join (once per event), asked, and by HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from handlers.ids import Action
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot, make_settings
from tests.services.test_surveys import SLUG, started_with, thanked
from tests.support import survey_of, wait_for
from tests.world import World, seed_world

API_TOKEN = "touchpoint-api-token-0123456789"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_api_token=API_TOKEN)


@pytest.fixture
async def world(bot: RunningBot, standin: SlackStandIn) -> World:
    world = seed_world(standin)
    await started_with(bot, world, [world.direct])
    defined = await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding session" csat', command="/pulse")
    assert "Touchpoint *Onboarding session* (`onboarding`, csat)" in defined
    return world


async def test_joining_the_trigger_channel_yields_one_dm_even_when_slack_retries(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    onboarding = standin.workspace.add_channel("onboarding", [world.owner, "U0PULSEBOT"])
    set_up = await bot.ask(
        world.owner, f"trigger {SLUG} onboarding on-join <#{onboarding.id}|onboarding>", command="/pulse"
    )
    assert "People who join" in set_up
    newcomer = world.early[0]
    standin.workspace.join(newcomer, onboarding.id)
    event = bot.slack.event_body(
        {"type": "member_joined_channel", "user": newcomer, "channel": onboarding.id, "channel_type": "C"}
    )
    for retry in (0, 1, 2):
        assert (await bot.slack.event(event, retry_num=retry)).status == 200
    await wait_for(lambda: survey_of(standin, newcomer) is not None, what="the onboarding survey")
    await bot.bot.background.settle(5)
    await bot.send_due_surveys()
    assert len(standin.workspace.dms_to(newcomer)) == 1
    survey = survey_of(standin, newcomer)
    assert survey is not None and "How satisfied were you with Onboarding session?" in survey.shown_text
    await bot.slack.click(newcomer, f"{Action.SURVEY_ANSWER.value}_4", message=survey)  # the fifth button: 5
    await wait_for(lambda: thanked(standin, newcomer))
    assert await store.fetch_value("SELECT score FROM responses") == 5.0
    # the same person joining again within 30 days is not asked again
    other = bot.slack.event_body({"type": "member_joined_channel", "user": newcomer, "channel": onboarding.id})
    await bot.slack.event(other)
    await bot.bot.background.settle(5)
    assert await store.fetch_value("SELECT count(*) FROM deliveries WHERE status = 'skipped'") == 1


async def test_a_trigger_on_a_channel_the_bot_is_not_in_is_refused(
    bot: RunningBot, standin: SlackStandIn, world: World
) -> None:
    outside = standin.workspace.add_channel("outside", [world.owner])
    answer = await bot.ask(world.owner, f"trigger {SLUG} onboarding on-join <#{outside.id}|outside>", command="/pulse")
    assert "I am not in #outside" in answer


async def test_owners_and_champions_ask_named_people(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    asked = await bot.ask(
        world.champions[0],
        f"ask {SLUG} onboarding <!subteam^{world.pilots_group}|@pilots> <@{world.gone}>",
        command="/pulse",
    )
    assert "Queued *3* the onboarding touchpoint surveys" in asked
    assert "1 a bot or a deactivated account" in asked
    await wait_for(lambda: all(survey_of(standin, p) is not None for p in world.pilots))
    assert "Only the owners and champions" in await bot.ask(
        world.stranger, f"ask {SLUG} onboarding <@{world.direct}>", command="/pulse"
    )
    # one touchpoint survey a day
    again = await bot.ask(world.owner, f"ask {SLUG} onboarding <@{world.pilots[0]}>", command="/pulse")
    assert "asked about this touchpoint in the last 30 days" in again


async def test_a_touchpoint_with_answers_keeps_its_scale(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await bot.ask(world.owner, f"ask {SLUG} onboarding <@{world.direct}>", command="/pulse")
    await wait_for(lambda: survey_of(standin, world.direct) is not None)
    survey = survey_of(standin, world.direct)
    assert survey is not None
    await bot.slack.click(world.direct, f"{Action.SURVEY_ANSWER.value}_2", message=survey)
    await wait_for(lambda: thanked(standin, world.direct))
    refused = await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding" thumbs', command="/pulse")
    assert "already has answers on the csat scale" in refused
    relabelled = await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding call" csat', command="/pulse")
    assert "*Onboarding call*" in relabelled


async def post(
    bot: RunningBot, path: str, body: object, token: str | None = API_TOKEN
) -> tuple[int, dict[str, object]]:
    url = bot.url.replace("/slack/events", path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession(trust_env=False) as session, session.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_http_trigger_by_user_and_by_email(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    path = f"/touchpoints/{SLUG}/onboarding"
    status, body = await post(bot, path, {"user": world.direct})
    assert status == 202 and body["status"] == "queued" and isinstance(body["delivery_id"], int)
    status, body = await post(bot, path, {"email": "olga@example.com"})
    assert status == 202 and body["status"] == "queued"
    await wait_for(lambda: survey_of(standin, world.direct) is not None and survey_of(standin, world.owner) is not None)
    # asking again within 30 days: accepted, recorded as skipped with the reason
    status, body = await post(bot, path, {"user": world.direct})
    assert status == 202 and body["status"] == "skipped" and "30 days" in str(body["reason"])


@pytest.mark.parametrize(
    ("path", "body", "token", "status"),
    [
        (f"/touchpoints/{SLUG}/onboarding", {"user": "U0DIRECT"}, None, 401),
        (f"/touchpoints/{SLUG}/onboarding", {"user": "U0DIRECT"}, "wrong-token-wrong-token", 401),
        ("/touchpoints/nope/onboarding", {"user": "U0DIRECT"}, API_TOKEN, 404),
        (f"/touchpoints/{SLUG}/nothing", {"user": "U0DIRECT"}, API_TOKEN, 404),
        (f"/touchpoints/{SLUG}/onboarding", b"{not json", API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", [], API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", {}, API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", {"user": "U0DIRECT", "email": "a@b.c"}, API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", {"user": "bob"}, API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", {"user": "U0NOBODY"}, API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", {"email": "nobody@example.com"}, API_TOKEN, 422),
        (f"/touchpoints/{SLUG}/onboarding", {"email": 7}, API_TOKEN, 422),
    ],
)
async def test_the_http_trigger_refuses_bad_requests_and_stores_nothing(
    bot: RunningBot, world: World, store: Store, path: str, body: object, token: str | None, status: int
) -> None:
    got, answer = await post(bot, path, body, token)
    assert got == status and answer["error"]
    assert await store.fetch_value("SELECT count(*) FROM deliveries") == 0


async def test_touchpoint_scores_show_in_results_once_the_group_is_large_enough(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    group = [standin.workspace.add_user(f"U0TP{i}", f"tp{i}").id for i in range(5)]
    await bot.ask(world.owner, f"ask {SLUG} onboarding " + " ".join(f"<@{u}>" for u in group), command="/pulse")
    await wait_for(lambda: all(survey_of(standin, u) is not None for u in group))
    for user, index in zip(group, [4, 4, 3, 1, 0], strict=True):  # answers 5, 5, 4, 2, 1
        survey = survey_of(standin, user)
        assert survey is not None
        await bot.slack.click(user, f"{Action.SURVEY_ANSWER.value}_{index}", message=survey)
        # committed before the acknowledgement: the row is there as soon as Slack hears back
        assert await store.fetch_value("SELECT count(*) FROM responses") == group.index(user) + 1
    results = await bot.ask(world.owner, f"results {SLUG}", command="/pulse")
    assert "*Onboarding session* (CSAT): 60% satisfied (n=5)" in results
