"""Fuzz Events API bodies (event_callback): people joining channels, Home tabs opened, unknown
events, fields missing or of another type, the same event_id again, Slack's retries. Never a 5xx
or a crash, and each event_id is handled at most once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot
from tests.fuzz.common import (
    any_text,
    changed_tables,
    fingerprint,
    fuzz,
    hostile_text,
    live_markup_sent,
    short_text,
    unexpected_errors,
    usually,
)
from tests.fuzz.conftest import Seeded

WRONG_TYPES: list[object] = [None, 7, 1.5, True, [], ["U0DIRECT"], {"id": "U0DIRECT"}]
KNOWN_PEOPLE = ["{admin}", "{owner}", "{stranger}", "{champion}", "{direct}", "{pilot}", "{gone}", "{bot}"]
NEWCOMERS = [f"U0EARLY{i}" for i in range(4)]  # real people, not in the trigger channel at first
# The channel with the on-join trigger most often: that is where a repeat would show.
CHANNELS = ["{trigger}"] * 5 + ["{launch}", "{early}", "{lonely}", "C0NOPE", "D0DMCHAN"]
TABS = ["home", "messages", "missing"]
# What may be wrong around the event itself.
OUTER = ["no event", "event is text", "no team_id", "no authorizations", "authorizations text", "type text"]
OTHER_EVENTS = ["member_left_channel", "reaction_added", "message", "app_mention", "team_join", ""]
EVENT_TYPES = ["member_joined_channel"] * 5 + ["app_home_opened"] * 2 + OTHER_EVENTS


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A recipe for one event delivery: mostly a well-formed event, with one or two things wrong."""
    wrong_type = st.tuples(st.just("type"), st.sampled_from(WRONG_TYPES))
    people = st.sampled_from(KNOWN_PEOPLE + NEWCOMERS + ["U0NOBODY", "W0ENTERPR1", "USLACKBOT"])
    odd_people = st.tuples(st.just("text"), short_text | st.sampled_from(["", " ", "U0DIRECT\n", "u0direct"]))
    # A few ids, so that the same event comes again, from Slack's retries or otherwise; and any id.
    known_ids = st.sampled_from([f"Ev0FUZZ{i:02d}" for i in range(12)])
    return {
        "type": usually(
            draw, draw(st.sampled_from(EVENT_TYPES)), st.tuples(st.just("text"), short_text) | st.just("missing")
        ),
        "user": usually(draw, draw(people), odd_people | wrong_type | st.just("missing")),
        "channel": usually(
            draw,
            draw(st.sampled_from(CHANNELS)),
            st.tuples(st.just("text"), short_text) | wrong_type | st.just("missing"),
        ),
        "tab": usually(draw, draw(st.sampled_from(TABS)), wrong_type),
        "event_id": usually(
            draw, draw(known_ids), st.tuples(st.just("text"), any_text) | wrong_type | st.just("missing")
        ),
        "retry": draw(st.sampled_from([0, 0, 0, 1, 2, 3])),
        "extra": usually(
            draw, {}, st.dictionaries(short_text, hostile_text | st.sampled_from(WRONG_TYPES), max_size=2)
        ),
        "outer": usually(draw, "", st.sampled_from(OUTER)),
    }


def value(seeded: Seeded, choice: object) -> tuple[bool, object]:
    """(present, the value) of a recipe field: a seeded name, ("text", …), ("type", …) or "missing"."""
    if choice == "missing":
        return False, None
    if isinstance(choice, tuple):
        return True, choice[1]
    return True, seeded.fill(str(choice))


def body_for(bot: RunningBot, seeded: Seeded, recipe: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    for key in ("type", "user", "channel", "tab"):
        present, got = value(seeded, recipe[key])
        if present:
            inner[key] = got
    inner.update(recipe["extra"])
    body = bot.slack.event_body(inner)
    present, event_id = value(seeded, recipe["event_id"])
    if present:
        body["event_id"] = event_id
    else:
        del body["event_id"]
    outer = recipe["outer"]
    if outer == "no event":
        del body["event"]
    elif outer == "event is text":
        body["event"] = "member_joined_channel"
    elif outer == "no team_id":
        del body["team_id"]
    elif outer == "no authorizations":
        del body["authorizations"]
    elif outer == "authorizations text":
        body["authorizations"] = "T0SANDBOX"
    elif outer == "type text":
        body["type"] = "event_callbacks"
    return body


def join_of(seeded: Seeded, body: dict[str, Any]) -> str | None:
    """The person, if this body is someone joining the channel with the on-join trigger."""
    inner = body.get("event")
    if body.get("type") != "event_callback" or not isinstance(inner, dict):
        return None
    if inner.get("type") != "member_joined_channel" or inner.get("channel") != seeded.trigger_channel:
        return None
    user = inner.get("user")
    return user if isinstance(user, str) else None


def recipe(**changes: object) -> dict[str, Any]:
    base = {"type": "member_joined_channel", "user": "U0EARLY0", "channel": "{trigger}", "tab": "missing",
            "event_id": "Ev0FUZZ00", "retry": 0, "extra": {}, "outer": ""}  # fmt: skip
    return {**base, **changes}


@fuzz(max_examples=500)
@given(recipe=events())
@example(recipe=recipe())
@example(recipe=recipe(retry=1))  # Slack's retry of the same event: not handled again
@example(recipe=recipe(user=("text", "U" + "A" * 3000)))
@example(recipe=recipe(type="app_home_opened", user=("text", "U0NOBODY"), event_id="Ev0FUZZ01"))
async def test_any_event_is_acknowledged_and_handled_at_most_once(
    bot: RunningBot,
    standin: SlackStandIn,
    store: Store,
    seeded: Seeded,
    caplog: pytest.LogCaptureFixture,
    recipe: dict[str, Any],
) -> None:
    body = body_for(bot, seeded, recipe)
    event_id = body.get("event_id")
    seen = isinstance(event_id, str) and bool(
        await store.fetch_value("SELECT count(*) FROM seen_events WHERE event_id = ?", (event_id,))
    )
    joining = join_of(seeded, body)
    waves = "SELECT count(*) FROM waves WHERE origin = 'on-join'"
    caplog.clear()
    before = await fingerprint(store)
    joins_before = await store.fetch_value(waves)
    mark = standin.sent_mark()
    reply = await bot.slack.event(body, retry_num=recipe["retry"])
    assert reply.status < 500, (reply.status, reply.text[:300])
    event(f"HTTP {reply.status}" + (" (someone joined the trigger channel)" if joining else ""))
    await bot.bot.background.settle(10)
    assert unexpected_errors(caplog) == []
    assert live_markup_sent(standin, mark) == []
    assert standin.rejected == [], "Slack refused blocks the bot sent"
    new_waves = await store.fetch_value(waves) - joins_before
    if reply.status == 200 and joining is not None and not seen:
        # The first delivery of a join to the trigger channel: one survey wave, whatever the person.
        assert new_waves == 1
        assert set(changed_tables(before, await fingerprint(store))) <= {"waves", "wave_keys", "deliveries"}
    else:
        assert new_waves == 0
        assert changed_tables(before, await fingerprint(store)) == []
