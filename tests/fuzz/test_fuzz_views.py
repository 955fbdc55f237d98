"""Fuzz modal submissions (view_submission): the comment modal and the "Advance anyway" modal,
submitted by their person or someone else, with any text, a value of another type, a missing
block, altered or foreign private_metadata, another callback_id. Never a 5xx or a crash; either the
form shows an error on its field and nothing is stored, or the submission is taken."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from handlers.errors import SORRY
from handlers.ids import Action, Callback
from sandbox.slack_to_bot import VERIFICATION_TOKEN
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import APP_ID, TEAM_DOMAIN, TEAM_ID, View
from storage import Store
from tests.conftest import RunningBot
from tests.fuzz.common import (
    any_text,
    changed_tables,
    control_text,
    fingerprint,
    fuzz,
    hostile_text,
    json_fields,
    live_markup_sent,
    markup_text,
    short_text,
    unexpected_errors,
    usually,
)
from tests.fuzz.conftest import SLUG, Seeded
from tests.support import survey_dms, wait_for

INPUT_BLOCK = {"comment": "comment", "advance": "reason"}
LIMIT = {"comment": 3000, "advance": 500}


@pytest.fixture
async def modals(bot: RunningBot, standin: SlackStandIn, seeded: Seeded) -> dict[str, View]:
    """The two modals, opened as their people open them."""
    w = seeded.world
    assert "Queued *4* NPS surveys" in await bot.ask(w.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: len(survey_dms(standin, w.direct)) == 1, what="the survey")
    survey = survey_dms(standin, w.direct)[0]
    await bot.slack.click(w.direct, f"{Action.SURVEY_ANSWER.value}_9", message=survey)
    await wait_for(lambda: "Thanks — you answered" in survey.shown_text, what="the thanks")
    await bot.slack.click(w.direct, Action.SURVEY_COMMENT.value, message=survey)
    comment = standin.workspace.top_modal(w.direct)
    assert comment is not None and comment.payload["callback_id"] == Callback.SURVEY_COMMENT.value
    await bot.ask(w.owner, f"advance {SLUG}")
    dm = standin.workspace.im_with(w.owner)
    blocked = standin.workspace.history(dm.id, viewer=w.owner)[-1]
    await bot.slack.click(w.owner, Action.ADVANCE_ANYWAY.value, message=blocked)
    advance = standin.workspace.top_modal(w.owner)
    assert advance is not None and advance.payload["callback_id"] == Callback.ADVANCE_ANYWAY.value
    await bot.bot.background.settle(10)
    return {"comment": comment, "advance": advance}


# -- what a submission may carry ---------------------------------------------------------------------

WRONG_TYPES: list[object] = [None, 7, 7.5, True, [], ["text"], {"value": "text"}]
entered = st.one_of(
    st.sampled_from(["Pilot team is blocked", "  ", "", "\n\t", "x" * 500, "x" * 501, "y" * 3000, "y" * 3001]),
    hostile_text,
    markup_text,  # comments and override reasons with mention syntax and formula prefixes
    control_text,
    st.text(min_size=2990, max_size=3010),
)


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, Any]:
    metadata = st.one_of(
        st.sampled_from(["other", "missing", "empty", "null", "list", "{}"]),
        st.tuples(st.just("json"), st.integers(0, 3), json_fields),
        st.tuples(st.just("text"), hostile_text),
    )
    values = st.one_of(
        st.tuples(st.just("type"), st.sampled_from(WRONG_TYPES)),
        st.sampled_from(["no value", "no block", "no state", "other block", "other action", "bad values"]),
    )
    extra_blocks = st.dictionaries(short_text, st.dictionaries(short_text, json_fields, max_size=2), max_size=2)
    drops = st.sampled_from(["hash", "blocks", "private_metadata", "callback_id", "view.id"])
    callbacks = st.sampled_from(["other", "", "unknown_modal"]) | st.tuples(st.just("text"), any_text)
    return {
        "modal": draw(st.sampled_from(sorted(INPUT_BLOCK))),
        "submitter": usually(draw, "same", st.sampled_from(["{admin}", "{owner}", "{stranger}", "{direct}"])),
        "callback_id": usually(draw, "keep", callbacks, one_in=6),
        "metadata": usually(draw, "keep", metadata),
        "value": usually(draw, ("text", draw(entered)), values),
        "extra_blocks": usually(draw, {}, extra_blocks),
        "drop": usually(draw, "", drops, one_in=6),
    }


def build(
    standin: SlackStandIn, seeded: Seeded, modals: dict[str, View], recipe: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(the submitter, the view_submission payload) for a recipe."""
    name = recipe["modal"]
    view = modals[name]
    other = modals["advance" if name == "comment" else "comment"]
    submitter = view.user if recipe["submitter"] == "same" else seeded.fill(recipe["submitter"])
    block = INPUT_BLOCK[name]
    how = recipe["value"]
    state: dict[str, Any] = {block: {"value": {"type": "plain_text_input", "value": None}}}
    if isinstance(how, tuple):
        state[block]["value"]["value"] = how[1]
    elif how == "no value":
        del state[block]["value"]["value"]
    elif how == "no block":
        state = {}
    elif how == "other block":
        state = {INPUT_BLOCK["advance" if name == "comment" else "comment"]: state[block]}
    elif how == "other action":
        state[block] = {"input": {"type": "plain_text_input", "value": "text"}}
    state.update(recipe["extra_blocks"])
    data = view.to_api(state)
    if how == "no state":
        del data["state"]
    elif how == "bad values":
        data["state"] = {"values": {block: "text"}}
    callback = recipe["callback_id"]
    if callback == "other":
        data["callback_id"] = other.payload["callback_id"]
    elif isinstance(callback, tuple):
        data["callback_id"] = callback[1]
    elif callback != "keep":
        data["callback_id"] = callback
    meta = recipe["metadata"]
    if meta == "other":
        data["private_metadata"] = other.payload["private_metadata"]
    elif meta in ("empty", "null", "list", "{}"):
        data["private_metadata"] = {"empty": "", "null": "null", "list": "[1, 2]", "{}": "{}"}[meta]
    elif meta == "missing":
        del data["private_metadata"]
    elif isinstance(meta, tuple) and meta[0] == "json":
        fields = json.loads(data["private_metadata"])
        keys = sorted(fields)
        fields[keys[meta[1]] if meta[1] < len(keys) else "extra"] = meta[2]
        data["private_metadata"] = json.dumps(fields)
    elif isinstance(meta, tuple):
        data["private_metadata"] = meta[1]
    drop = recipe["drop"]
    if drop == "view.id":
        del data["id"]
    elif drop:
        data.pop(drop, None)
    user = standin.workspace.users[submitter]
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": submitter, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": standin.new_trigger(submitter),
        "view": data,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return submitter, payload


def as_sent(recipe: dict[str, Any]) -> bool:
    """The modal as the bot built it, with only the entered text chosen."""
    return (
        recipe["callback_id"] == "keep"
        and recipe["metadata"] == "keep"
        and isinstance(recipe["value"], tuple)
        and recipe["value"][0] == "text"
        and not recipe["extra_blocks"]
        and recipe["drop"] in ("", "hash", "blocks")
    )


# What shows nothing though it takes room (beyond the C, Z and M categories), and what is
# dropped from typed text: the rule "a reason / comment must say something".
BLANK = set("\u115f\u1160\u3164\uffa0\u2800")
BIDI = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def kept(text: str) -> str:
    return "".join(
        c for c in text
        if not ((unicodedata.category(c) == "Cc" and not c.isspace()) or unicodedata.category(c) == "Cs" or c in BIDI)
    )  # fmt: skip


def valid_text(modal: str, text: object) -> bool:
    """Taken when something would show within the limit: a comment as typed less the ends, a
    reason with white space runs as one space; dropped characters do not count."""
    if not isinstance(text, str):
        return False
    cleaned = kept(text).strip() if modal == "comment" else " ".join(kept(text).split())
    category = unicodedata.category
    shows = any(category(c) == "Cn" or (category(c)[0] not in "CZM" and c not in BLANK) for c in cleaned)
    return shows and len(cleaned) <= LIMIT[modal]


def json_object(text: object) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def as_id(value: object) -> int | None:
    """A row id as the bot writes it into a form (a number, or its digits)."""
    if type(value) is int:
        return value
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19 else None


def recipe(modal: str, value: object, **changes: object) -> dict[str, Any]:
    base = {"modal": modal, "submitter": "same", "callback_id": "keep", "metadata": "keep", "value": ("text", value),
            "extra_blocks": {}, "drop": ""}  # fmt: skip
    return {**base, **changes}


@fuzz(max_examples=500)
@given(recipe=submissions())
# Was a bug (fixed): metadata ids that int() refuses (infinity) or SQLite does (past 64 bits).
@example(recipe=recipe("comment", "Nice", metadata=("json", 2, float("inf"))))  # the wave id
@example(recipe=recipe("advance", "Blocked", metadata=("json", 1, 2**70)))  # the rollout id
@example(recipe=recipe("comment", "Nice", metadata=("json", 0, "9" * 30)))  # the delivery id
# Refused on the reason field: only owners and admins may advance.
@example(recipe=recipe("advance", "Blocked", submitter="{stranger}"))
async def test_any_submission_shows_an_error_on_the_form_and_stores_nothing_or_is_taken(
    bot: RunningBot,
    standin: SlackStandIn,
    store: Store,
    seeded: Seeded,
    modals: dict[str, View],
    caplog: pytest.LogCaptureFixture,
    recipe: dict[str, Any],
) -> None:
    submitter, payload = build(standin, seeded, modals, recipe)
    modal = recipe["modal"]
    # Which modal's handler the submission reaches, and what that handler reads from it.
    handler = {Callback.SURVEY_COMMENT.value: "comment", Callback.ADVANCE_ANYWAY.value: "advance"}.get(
        payload["view"].get("callback_id")
    )
    values = (payload["view"].get("state") or {}).get("values") or {}
    field = values.get(INPUT_BLOCK.get(handler or "", ""))
    text = ((field if isinstance(field, dict) else {}).get("value") or {}).get("value")
    rollout = await store.fetch_one("SELECT id, current_stage_id, status FROM rollouts WHERE slug = ?", (SLUG,))
    assert rollout is not None
    if handler == "advance":
        may = submitter in (seeded.world.owner, seeded.admin)
        # Whatever the form says, it is about the stage the rollout is in now (or it is out of date).
        meta = json_object(payload["view"].get("private_metadata"))
        current = (rollout["id"], rollout["current_stage_id"])
        still = rollout["status"] == "active" and (as_id(meta.get("rollout")), as_id(meta.get("stage"))) == current
    else:
        may, still = submitter == modals["comment"].user, True
    overrides = await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE overridden = 1")
    caplog.clear()
    before = await fingerprint(store)
    mark = standin.sent_mark()
    reply = await bot.transport.deliver("interactive", payload)
    assert reply.status < 500, (reply.status, reply.text[:300])
    await bot.bot.background.settle(10)
    assert unexpected_errors(caplog) == []
    assert live_markup_sent(standin, mark) == []
    assert str(SORRY) not in reply.text
    after = await fingerprint(store)
    changed = changed_tables(before, after)
    answer = reply.json if reply.text.startswith("{") else {}
    taken = reply.status == 200 and answer.get("response_action") is None
    event(
        f"{handler or 'unknown'} modal: "
        + ("taken" if taken else f"HTTP {reply.status} {answer.get('response_action')}")
    )
    if reply.status == 200 and not taken:
        assert answer.get("response_action") == "errors" and answer["errors"], reply.text[:300]
        assert all(isinstance(v, str) and v for v in answer["errors"].values())
    inputs = [b for b in payload["view"].get("blocks") or [] if b.get("type") == "input"]
    if taken and not inputs and changed == []:
        # A view without its input blocks (Slack always sends them): a refusal has no field to be
        # shown on, so the form closes, as it does when the same comment is saved again. Nothing
        # was stored, which is what matters here.
        return
    if not taken:
        assert changed == [], (reply.status, reply.text[:300])
        # What the bot built, filled in correctly by its person, is never refused.
        assert not (as_sent(recipe) and may and still and valid_text(modal, text)), reply.text[:300]
    elif handler == "comment":
        assert may and valid_text("comment", text), reply.text[:300]
        assert set(changed) <= {"comments"}
        assert isinstance(text, str) and kept(text).strip() in [
            r[0] for r in await store.fetch_all("SELECT body FROM comments")
        ]
    elif handler == "advance":
        assert may and still and valid_text("advance", text), reply.text[:300]
        assert await store.fetch_value("SELECT count(*) FROM stage_transitions WHERE overridden = 1") == overrides + 1
    else:  # a callback_id the bot does not know: nothing happens
        assert changed == []
