"""The stand-in behaves like Slack for the calls the bot makes, through the real slack-sdk."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox import tiers
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from tests.conftest import ADMIN
from tests.support import wait_for


@pytest.fixture
async def client(standin: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)


def button(action_id: str, text: str = "Go", value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }


def confirm(
    title: str = "Sure?", text: str = "It cannot be undone.", yes: str = "Yes", no: str = "No"
) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "plain_text", "text": text},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": no},
    }


def sections(n: int) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(n)]


async def test_auth_is_checked(standin: SlackStandIn) -> None:
    ok = await AsyncWebClient(token=standin.bot_token, base_url=standin.api_url).auth_test()
    assert ok["user_id"] == BOT_USER_ID
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token="xoxb-wrong", base_url=standin.api_url).auth_test()
    assert caught.value.response["error"] == "invalid_auth"


async def test_a_persons_locale_comes_only_when_asked_for(client: AsyncWebClient, standin: SlackStandIn) -> None:
    swede = standin.workspace.add_user(None, "sv", locale="sv-SE").id
    assert "locale" not in (await client.users_info(user=swede))["user"]
    assert (await client.users_info(user=swede, include_locale=True))["user"]["locale"] == "sv-SE"

    async def everyone(**params: Any) -> list[dict[str, Any]]:
        members, cursor = [], ""
        while True:
            page = await client.users_list(cursor=cursor, **params)
            members += page["members"]
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                return members

    assert {m["id"]: m["locale"] for m in await everyone(include_locale=True)}[swede] == "sv-SE"
    assert all("locale" not in m for m in await everyone())


async def test_post_message_to_a_user_lands_in_their_dm(client: AsyncWebClient, standin: SlackStandIn) -> None:
    result = await client.chat_postMessage(channel=ADMIN, text="hello", blocks=sections(2))
    dm = standin.workspace.im_with(ADMIN)
    assert result["channel"] == dm.id
    [message] = standin.workspace.dms_to(ADMIN)
    assert message.ts == result["ts"] and message.text == "hello" and len(message.blocks) == 2


async def test_dm_errors_for_bots_deactivated_and_unknown_people(client: AsyncWebClient, standin: SlackStandIn) -> None:
    standin.workspace.add_user("U0GONE", "gone", deleted=True)
    standin.workspace.add_user("U0ROBOT", "robot", is_bot=True)
    for channel, error in (
        ("U0GONE", "user_disabled"),
        ("U0ROBOT", "cannot_dm_bot"),
        ("U0NOBODY", "channel_not_found"),
    ):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel=channel, text="hi")
        assert caught.value.response["error"] == error


async def test_posting_needs_membership_of_a_channel(client: AsyncWebClient, standin: SlackStandIn) -> None:
    outside = standin.workspace.add_channel("outside", [ADMIN])
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=outside.id, text="hi")
    assert caught.value.response["error"] == "not_in_channel"
    standin.workspace.join(BOT_USER_ID, outside.id)
    await client.chat_postMessage(channel=outside.id, text="hi")


@pytest.mark.slack_rejects
@pytest.mark.parametrize(
    "blocks",
    [
        sections(51),
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "actions", "elements": [button("a", text="x" * 76)]}],
        [{"type": "actions", "elements": [button("a", value="x" * 2001)]}],
        [{"type": "actions", "elements": [button(f"a{i}") for i in range(26)]}],
        [{"type": "actions", "elements": [button("same"), button("same")]}],
        [{"type": "header", "text": {"type": "mrkdwn", "text": "not plain"}}],
        [{"type": "section", "block_id": "b" * 256, "text": {"type": "mrkdwn", "text": "x"}}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
        [{"type": "bogus"}],
        # what slack_sdk's models reject: confirm objects and accessibility labels over their limits
        [{"type": "actions", "elements": [{**button("a"), "confirm": confirm(title="x" * 101)}]}],
        [{"type": "actions", "elements": [{**button("a"), "confirm": confirm(text="x" * 301)}]}],
        [{"type": "actions", "elements": [{**button("a"), "confirm": confirm(yes="x" * 31)}]}],
        [{"type": "actions", "elements": [{**button("a"), "confirm": confirm(no="x" * 31)}]}],
        [{"type": "actions", "elements": [{**button("a"), "confirm": {**confirm(), "style": "loud"}}]}],
        [{"type": "actions", "elements": [{**button("a"), "accessibility_label": "x" * 76}]}],
    ],
)
async def test_block_kit_limits_are_enforced(client: AsyncWebClient, standin: SlackStandIn, blocks: list[Any]) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=ADMIN, text="t", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    assert caught.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")
    assert standin.workspace.dms_to(ADMIN) == []
    assert len(standin.rejected) == 1


async def test_fifty_blocks_and_limit_sized_texts_are_fine(client: AsyncWebClient) -> None:
    at_limit = {**confirm("x" * 100, "x" * 300, "x" * 30, "x" * 30), "style": "danger"}
    blocks = [
        *sections(49),
        {"type": "actions", "elements": [button(f"a{i}", "x" * 75, "v" * 2000) for i in range(24)]
         + [{**button("a24"), "confirm": at_limit, "accessibility_label": "x" * 75}]},
    ]  # fmt: skip
    await client.chat_postMessage(channel=ADMIN, text="t", blocks=blocks)


@pytest.mark.slack_rejects
async def test_views_are_checked_and_stacked(client: AsyncWebClient, standin: SlackStandIn) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Why advance anyway?"},
        "submit": {"type": "plain_text", "text": "Advance"},
        "blocks": [{"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Reason"},
                    "element": {"type": "plain_text_input", "action_id": "value", "max_length": 500}}],
    }  # fmt: skip
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id="made-up", view=modal)
    assert caught.value.response["error"] == "invalid_trigger_id"
    trigger = standin.new_trigger(ADMIN)
    opened = await client.views_open(trigger_id=trigger, view=modal)
    assert standin.workspace.top_modal(ADMIN).id == opened["view"]["id"]  # type: ignore[union-attr]
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=trigger, view=modal)  # a trigger is good for one use
    assert caught.value.response["error"] == "expired_trigger_id"
    long_title = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=standin.new_trigger(ADMIN), view=long_title)
    assert caught.value.response["error"] == "invalid_arguments"
    home = {"type": "home", "blocks": sections(101)}
    with pytest.raises(SlackApiError) as caught:
        await client.views_publish(user_id=ADMIN, view=home)
    assert "no more than 100 items allowed [json-pointer:/view/blocks]" in str(
        caught.value.response["response_metadata"]
    )
    published = await client.views_publish(user_id=ADMIN, view={"type": "home", "blocks": sections(100)})
    assert standin.workspace.home_of(ADMIN).id == published["view"]["id"]  # type: ignore[union-attr]


async def test_rate_limits_answer_429_with_an_integer_retry_after_or_200_rate_limited(
    client: AsyncWebClient, standin: SlackStandIn
) -> None:
    standin.faults.rate_limit("chat.postMessage", per_second=5)
    refusals: list[tuple[int, str, str | None]] = []
    for _ in range(25):
        try:
            await client.chat_postMessage(channel=ADMIN, text="x")
        except SlackApiError as err:
            refusals.append((err.response.status_code, err.response["error"], err.response.headers.get("Retry-After")))
    assert len(standin.workspace.dms_to(ADMIN)) == 5
    # As Slack: 429 `ratelimited` with Retry-After, or (chat.postMessage, chat.update) 200 `rate_limited`.
    assert set(refusals) == {(429, "ratelimited", "1"), (200, "rate_limited", None)}
    standin.faults.rate_limit("users.info", per_second=1)
    errors = set()
    for _ in range(3):
        try:
            await client.users_info(user=ADMIN)
        except SlackApiError as err:
            errors.add((err.response.status_code, err.response["error"]))
    assert errors == {(429, "ratelimited")}  # other methods know only the 429


async def test_methods_are_held_to_their_published_tier_when_asked(
    client: AsyncWebClient, standin: SlackStandIn
) -> None:
    standin.faults.hold_to_tiers(["users.list", "chat.postMessage"])
    assert tiers.METHOD_LIMITS["users.list"] is tiers.TIER_2
    statuses: list[tuple[int, str | None]] = []
    for _ in range(21):
        try:
            await client.users_list(limit=200)
            statuses.append((200, None))
        except SlackApiError as err:
            statuses.append((err.response.status_code, err.response.headers.get("Retry-After")))
    assert statuses[:20] == [(200, None)] * 20  # Tier 2: 20 a minute
    assert statuses[20][0] == 429 and int(statuses[20][1] or 0) >= 1
    other = standin.workspace.add_user("U0OTHER01", "otto").id
    posted = {ADMIN: 0, other: 0}
    refusals = set()
    for channel in [ADMIN] * 5 + [other] * 5:
        try:
            await client.chat_postMessage(channel=channel, text="x")
            posted[channel] += 1
        except SlackApiError as err:
            refusals.add(err.response["error"])
    assert refusals <= {"ratelimited", "rate_limited"}
    assert posted == {ADMIN: 3, other: 3}  # one a second in each channel, a short burst allowed


async def test_a_share_of_calls_can_fail_with_5xx(client: AsyncWebClient, standin: SlackStandIn) -> None:
    standin.faults.fail("users.info", share=0.5, statuses=(503,))
    statuses = []
    for _ in range(200):
        try:
            await client.users_info(user=ADMIN)
            statuses.append(200)
        except SlackApiError as err:
            statuses.append(err.response.status_code)
    assert set(statuses) == {200, 503}
    assert 70 <= statuses.count(503) <= 130


async def test_an_error_can_be_queued_for_the_next_call(client: AsyncWebClient, standin: SlackStandIn) -> None:
    standin.faults.error("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=ADMIN, text="x")
    await client.chat_postMessage(channel=ADMIN, text="x")


async def test_slack_sdk_parameter_quirks(client: AsyncWebClient, standin: SlackStandIn) -> None:
    # conversations.open is a POST with its parameters in the query string and an empty body;
    # users.info is a GET.
    opened = await client.conversations_open(users=ADMIN)
    assert opened["channel"]["id"] == standin.workspace.im_with(ADMIN).id
    info = await client.users_info(user=ADMIN)
    assert info["user"]["tz"] == "Europe/Berlin" and info["user"]["tz_offset"] in (3600, 7200)
    verbs = {c.method: c.http_verb for c in standin.calls}
    assert verbs == {"conversations.open": "POST", "users.info": "GET"}


async def test_pages_are_short_with_more_to_come(client: AsyncWebClient, standin: SlackStandIn) -> None:
    people = [standin.workspace.add_user(None, f"p{i}").id for i in range(7)]
    channel = standin.workspace.add_channel("small", people)
    first = await client.conversations_members(channel=channel.id, limit=100)
    assert first["members"] == people[:3]  # fewer than asked for, with more to come
    cursor = first["response_metadata"]["next_cursor"]
    assert cursor
    second = await client.conversations_members(channel=channel.id, limit=100, cursor=cursor)
    assert second["members"] == people[3:6]
    listed = await client.users_list(limit=200)
    assert len(listed["members"]) == 3 and listed["response_metadata"]["next_cursor"] and listed["cache_ts"]
    for i in range(5):
        await client.chat_postMessage(channel=ADMIN, text=f"m{i}")
    dm = standin.workspace.im_with(ADMIN).id
    page = await client.conversations_history(channel=dm, limit=200)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3", "m2"]
    assert page["has_more"] is True and page["response_metadata"]["next_cursor"]
    assert isinstance(page.data, dict)
    assert {"pin_count", "channel_actions_ts", "channel_actions_count"} <= page.data.keys()  # required by Slack's spec
    rest = await client.conversations_history(channel=dm, limit=200, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["m1", "m0"] and rest["has_more"] is False


async def test_members_and_users_are_paginated(client: AsyncWebClient, standin: SlackStandIn) -> None:
    standin.page_cap = None  # pages as full as `limit` asks
    people = [standin.workspace.add_user(None, f"p{i}").id for i in range(250)]
    channel = standin.workspace.add_channel("big", people)
    members: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.conversations_members(channel=channel.id, cursor=cursor, limit=100)
        members += page["members"]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert members == people and pages == 3
    listed = [m async for page in await client.users_list(limit=100) for m in page["members"]]
    assert len(listed) == 252


async def test_a_private_channel_is_seen_only_from_inside(client: AsyncWebClient, standin: SlackStandIn) -> None:
    hidden = standin.workspace.add_channel("hidden", [ADMIN], is_private=True)
    for call in (client.conversations_info, client.conversations_members):
        with pytest.raises(SlackApiError) as caught:
            await call(channel=hidden.id)
        assert caught.value.response["error"] == "channel_not_found"  # as for no channel at all
    standin.workspace.join(BOT_USER_ID, hidden.id)
    info = (await client.conversations_info(channel=hidden.id))["channel"]
    assert info["is_private"] and info["is_member"] and "num_members" not in info
    counted = (await client.conversations_info(channel=hidden.id, include_num_members=True))["channel"]
    assert counted["num_members"] == 2
    assert (await client.conversations_members(channel=hidden.id))["members"] == [ADMIN, BOT_USER_ID]


async def test_usergroups_and_lookup_by_email(client: AsyncWebClient, standin: SlackStandIn) -> None:
    group = standin.workspace.add_usergroup("pilots", [ADMIN])
    assert (await client.usergroups_users_list(usergroup=group.id))["users"] == [ADMIN]
    with pytest.raises(SlackApiError) as caught:
        await client.usergroups_users_list(usergroup="S0NOPE")
    assert caught.value.response["error"] == "no_such_subteam"
    assert (await client.users_lookupByEmail(email="ADA@example.com"))["user"]["id"] == ADMIN
    with pytest.raises(SlackApiError) as caught:
        await client.users_lookupByEmail(email="nobody@example.com")
    assert caught.value.response["error"] == "users_not_found"


async def test_files_upload_v2_shares_the_file_in_the_channel_a_moment_later(
    client: AsyncWebClient, standin: SlackStandIn
) -> None:
    leads = standin.workspace.add_channel("leads", [ADMIN, BOT_USER_ID])
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    standin.hold_shares()
    uploaded = await client.files_upload_v2(
        channel=leads.id, content=png, filename="trend.png", title="Trend", initial_comment="Weekly"
    )
    # As Slack: the answer comes before the share, without shares or channels.
    assert uploaded["file"]["shares"] == {} and uploaded["file"]["channels"] == []
    file_id = uploaded["file"]["id"]
    assert (await client.files_info(file=file_id))["file"]["shares"] == {}
    assert standin.workspace.history(leads.id) == [] and standin.pending_shares == 1
    standin.release_shares()
    await wait_for(lambda: standin.pending_shares == 0, what="the share")
    [message] = standin.workspace.history(leads.id)
    info = await client.files_info(file=file_id)
    assert info["file"]["shares"]["public"][leads.id][0]["ts"] == message.ts
    assert (await client.conversations_history(channel=leads.id))["messages"][0]["files"][0]["id"] == file_id
    [file] = [standin.workspace.files[f] for f in message.files]
    assert message.text == "Weekly" and file.content == png and file.title == "Trend"
    assert file.mimetype == "image/png"


async def test_update_and_delete_only_the_apps_own_messages(client: AsyncWebClient, standin: SlackStandIn) -> None:
    posted = await client.chat_postMessage(channel=ADMIN, text="v1")
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2", blocks=sections(1))
    [message] = standin.workspace.dms_to(ADMIN)
    assert message.text == "v2" and message.edited
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
    assert caught.value.response["error"] == "message_not_found"
    await client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    assert standin.workspace.dms_to(ADMIN) == []


@pytest.mark.slack_rejects
async def test_response_urls_post_ephemeral_replace_and_delete(standin: SlackStandIn, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=ADMIN, text="survey")
    dm = standin.workspace.im_with(ADMIN)
    original = standin.workspace.find_message(dm.id, posted["ts"])
    url = standin.new_response_url(dm.id, ADMIN, original=original)
    hook = AsyncWebhookClient(url)
    assert (await hook.send(text="just for you")).status_code == 200
    assert standin.workspace.history(dm.id, viewer=ADMIN)[-1].ephemeral_to == ADMIN
    assert (await hook.send(text="Thanks", replace_original=True)).status_code == 200
    assert original is not None and original.text == "Thanks"
    bad = await hook.send(text="t", blocks=sections(51))
    assert bad.status_code == 400 and json.loads(bad.body)["error"] == "invalid_blocks"
    await hook.send(text="", delete_original=True)
    assert standin.workspace.find_message(dm.id, posted["ts"]) is None
    assert (await hook.send(text="fifth use")).status_code == 200
    assert (await hook.send(text="sixth use")).status_code == 404  # Slack allows five


async def test_history_returns_metadata_newest_first(client: AsyncWebClient, standin: SlackStandIn) -> None:
    for i in range(3):
        await client.chat_postMessage(
            channel=ADMIN, text=f"m{i}", metadata={"event_type": "delivery", "event_payload": {"id": i}}
        )
    dm = standin.workspace.im_with(ADMIN)
    history = await client.conversations_history(channel=dm.id, include_all_metadata=True, oldest=str(time.time() - 60))
    assert [m["text"] for m in history["messages"]] == ["m2", "m1", "m0"]
    assert history["messages"][0]["metadata"]["event_payload"] == {"id": 2}


async def test_views_push_and_update_keep_the_stack_and_hash(client: AsyncWebClient, standin: SlackStandIn) -> None:
    def modal(title: str) -> dict[str, Any]:
        return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": sections(1)}

    root = await client.views_open(trigger_id=standin.new_trigger(ADMIN), view=modal("One"))
    pushed = await client.views_push(trigger_id=standin.new_trigger(ADMIN), view=modal("Two"))
    assert pushed["view"]["previous_view_id"] == root["view"]["id"]
    assert standin.workspace.modal_stacks[ADMIN] == [root["view"]["id"], pushed["view"]["id"]]
    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id=root["view"]["id"], hash="stale", view=modal("Three"))
    assert caught.value.response["error"] == "hash_conflict"
    updated = await client.views_update(view_id=root["view"]["id"], hash=root["view"]["hash"], view=modal("Three"))
    assert updated["view"]["title"]["text"] == "Three"
    await client.views_push(trigger_id=standin.new_trigger(ADMIN), view=modal("Four"))
    with pytest.raises(SlackApiError) as caught:
        await client.views_push(trigger_id=standin.new_trigger(ADMIN), view=modal("Five"))
    assert caught.value.response["error"] == "push_limit_reached"


@pytest.mark.slack_rejects
async def test_a_home_image_of_a_file_its_reader_cannot_see_is_refused(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """As Slack: an image block may show only a file shared where its reader is."""
    owner, stranger = (standin.workspace.add_user(None, name).id for name in ("olga", "sam"))
    dm = (await client.conversations_open(users=owner))["channel"]["id"]
    await client.files_upload_v2(channel=dm, content=b"\x89PNG one", filename="map.png", title="map")
    await wait_for(lambda: any(m.files for m in standin.workspace.dms_to(owner)), what="the share")
    [file_id] = [f for m in standin.workspace.dms_to(owner) for f in m.files]

    def home(file: dict[str, str]) -> dict[str, Any]:
        return {"type": "home", "blocks": [{"type": "image", "slack_file": file, "alt_text": "map"}]}

    await client.views_publish(user_id=owner, view=home({"id": file_id}))  # theirs: shown
    for user, file in ((stranger, {"id": file_id}), (owner, {"id": "F0NOPE"}),
                       (owner, {"id": file_id, "url": "https://files.slack.com/x.png"})):  # fmt: skip
        with pytest.raises(SlackApiError) as refused:
            await client.views_publish(user_id=user, view=home(file))
        assert "invalid slack file" in str(refused.value.response["response_metadata"]["messages"])
