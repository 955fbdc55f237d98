from __future__ import annotations

import math

import pytest

from bot.app import create_web_client
from bot.settings import Settings
from outbound.directory import SlackDirectory
from runtime.clock import SystemClock
from sandbox.stand_in import SlackStandIn
from services.errors import NotFound
from storage import Store
from storage.slack_users import SlackUsers


@pytest.fixture
def directory(settings: Settings, store: Store) -> SlackDirectory:
    return SlackDirectory(create_web_client(settings), SlackUsers(store), SystemClock())


async def test_people_are_looked_up_once_then_cached(directory: SlackDirectory, standin: SlackStandIn) -> None:
    ws = standin.workspace
    ids = [ws.add_user(None, f"p{i}", tz="Asia/Kolkata").id for i in range(5)]
    people = await directory.people([*ids, "U0NOBODY"])
    assert set(people) == set(ids) and people[ids[0]].tz == "Asia/Kolkata"
    assert len(standin.calls_to("users.info")) == 6
    await directory.people(ids)
    assert len(standin.calls_to("users.info")) == 6  # answered from the store


async def test_each_persons_slack_language_is_asked_for_and_kept_with_them(
    directory: SlackDirectory, standin: SlackStandIn
) -> None:
    ws = standin.workspace
    swede = ws.add_user(None, "sv", tz="Europe/Stockholm", locale="sv-SE").id
    many = [ws.add_user(None, f"q{i}", locale="sv-SE" if i % 2 else "en-GB").id for i in range(60)]
    one = await directory.people([swede])
    assert one[swede].locale == "sv-SE"
    assert all(c.params.get("include_locale") == "true" for c in standin.calls_to("users.info"))
    listed = await directory.people(many)  # more than 50 unknown: one users.list, with the locale too
    assert [listed[u].locale for u in many[:2]] == ["en-GB", "sv-SE"]
    ws.users[swede].locale = "en-US"  # changed in Slack: the cached answer stands for a day
    assert (await directory.people([swede]))[swede].locale == "sv-SE"


async def test_many_unknown_people_are_fetched_with_one_paginated_list(
    directory: SlackDirectory, standin: SlackStandIn
) -> None:
    ws = standin.workspace
    ids = [ws.add_user(None, f"p{i}").id for i in range(450)]
    ws.users[ids[0]].deleted = True
    ws.users[ids[1]].is_bot = True
    people = await directory.people(ids)
    assert len(people) == 450
    assert [p.reachable for p in (people[ids[0]], people[ids[1]], people[ids[2]])] == [False, False, True]
    assert standin.calls_to("users.info") == []
    # 452 members, 200 a page asked for, fewer given (the stand-in's short pages, as Slack may):
    # every page followed to the end.
    assert len(standin.calls_to("users.list")) == math.ceil(452 / min(200, standin.page_cap or 200))


async def test_groups_and_channels(directory: SlackDirectory, standin: SlackStandIn) -> None:
    ws = standin.workspace
    members = [ws.add_user(None, f"m{i}").id for i in range(1500)]
    channel = ws.add_channel("huge", members)
    assert await directory.channel_members(channel.id) == members
    assert len(standin.calls_to("conversations.members")) == math.ceil(1500 / min(1000, standin.page_cap or 1000))
    with pytest.raises(NotFound, match="no user group S0NOPE"):
        await directory.usergroup_members("S0NOPE")
    private = ws.add_channel("secret", members[:2], is_private=True)
    with pytest.raises(NotFound, match="I cannot see the channel"):
        await directory.channel(private.id)
