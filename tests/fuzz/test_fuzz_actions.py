"""Fuzz clicks (block_actions): every button the bot shows, clicked by its person or by someone else,
with its value kept, altered, replaced by any text or by another type, or left out, from the real
message or a forged one. Never a 5xx or a crash; only a genuine answer stores anything."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from handlers.ids import Action
from runtime.i18n import LANGUAGES
from sandbox.slack_to_bot import VERIFICATION_TOKEN
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import APP_ID, TEAM_DOMAIN, TEAM_ID, Message, View
from services.scales import CHOICES
from storage import Store
from tests.conftest import RunningBot
from tests.fuzz.common import (
    any_text,
    changed_tables,
    fingerprint,
    fuzz,
    hostile_text,
    is_apology,
    json_fields,
    live_markup_sent,
    unexpected_errors,
    usually,
)
from tests.fuzz.conftest import SLUG, TOUCHPOINT, Seeded
from tests.support import survey_dms, wait_for

SCALES = {"setup": "ces", "receipts": "thumbs", "submit-time": "minutes"}


@dataclass
class Surface:
    """Something with buttons: a message in someone's DM, or a view (a Home tab)."""

    owner: str  # whose it is
    message: Message | None = None
    view: View | None = None

    def blocks(self) -> list[dict[str, Any]]:
        if self.message is not None:
            return self.message.blocks
        assert self.view is not None
        return list(self.view.payload.get("blocks", []))


def elements(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in blocks:
        candidates = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        found += [(str(block.get("block_id", "")), e) for e in candidates if "action_id" in e]
    return found


async def last_answer(bot: RunningBot, standin: SlackStandIn, user: str, text: str, command: str) -> Message:
    await bot.slack.ask(user, text, command=command)
    dm = standin.workspace.im_with(user)
    return standin.workspace.history(dm.id, viewer=user)[-1]


@pytest.fixture
async def surfaces(bot: RunningBot, standin: SlackStandIn, seeded: Seeded) -> dict[str, Surface]:
    """Every kind of button the bot shows, each on a real message or Home tab."""
    w = seeded.world
    owner = w.owner
    for key, scale in SCALES.items():
        assert "Touchpoint" in await bot.ask(
            owner, f'touchpoint {SLUG} {key} "{key.title()}" {scale}', command="/pulse"
        )
    assert "Queued *4* NPS surveys" in await bot.ask(owner, f"send {SLUG} nps", command="/pulse")
    asked = {TOUCHPOINT: w.direct, "setup": w.pilots[0], "receipts": w.pilots[1], "submit-time": w.pilots[2]}
    for key, user in asked.items():
        assert "Queued *1*" in await bot.ask(owner, f"ask {SLUG} {key} <@{user}>", command="/pulse")
    recipients = {"direct": w.direct, "pilot": w.pilots[0], "pilot1": w.pilots[1], "pilot2": w.pilots[2]}
    await wait_for(lambda: all(len(survey_dms(standin, u)) == 2 for u in recipients.values()), what="surveys")
    found = {
        f"survey {i} of {name}": Surface(user, message)
        for name, user in recipients.items()
        for i, message in enumerate(survey_dms(standin, user))
    }
    # The direct person answers their NPS survey: it turns into the thanks, with Change and Comment.
    nps = survey_dms(standin, w.direct)[0]
    await bot.slack.click(w.direct, f"{Action.SURVEY_ANSWER.value}_8", message=nps)
    await wait_for(lambda: "Thanks — you answered" in nps.shown_text, what="the thanks")
    found["thanks"] = Surface(w.direct, nps)
    found["status card"] = Surface(owner, await last_answer(bot, standin, owner, f"status {SLUG}", "/rollout"))
    blocked = await last_answer(bot, standin, owner, f"advance {SLUG}", "/rollout")
    assert "cannot move into beta yet" in blocked.shown_text
    found["blocked advance"] = Surface(owner, blocked)
    found["forget me"] = Surface(w.stranger, await last_answer(bot, standin, w.stranger, "forget-me", "/pulse"))
    for name, user in (("pilot", w.pilots[0]), ("owner", owner)):
        await bot.slack.open_home(user)
        await wait_for(lambda user=user: standin.workspace.home_of(user) is not None, what="the Home tab")  # type: ignore[misc]
        found[f"home of {name}"] = Surface(user, view=standin.workspace.home_of(user))
    await bot.bot.background.settle(10)
    for name, surface in found.items():
        assert elements(surface.blocks()), name
    return found


# -- what a click may carry -------------------------------------------------------------------------

SURFACES = [
    *(f"survey {i} of {who}" for who in ("direct", "pilot", "pilot1", "pilot2") for i in (0, 1)),
    "thanks", "status card", "blocked advance", "forget me", "home of pilot", "home of owner",
]  # fmt: skip
CLICKERS = ("same", "{admin}", "{owner}", "{stranger}", "{direct}", "{pilot}", "{champion}")
ACTION_IDS = [*(a.value for a in Action), "survey_answer_0", "survey_answer_10", "survey_answer_99", "survey_answer_",
              "survey_answer_x", "survey_answer_١", "unknown_action", ""]  # fmt: skip
WRONG_TYPES: list[object] = [None, 7, 7.5, True, [], ["1:1:1"], {"value": "1:1:1"}]


# What replaces one part of a value such as "wave:delivery:score".
value_parts = st.one_of(
    st.integers(-5, 12).map(str),
    st.sampled_from(["", "9" * 30, "²", "٣", "1e309", "nan", "-0", "5.5", "0x1", " 3", "3 ", "1:2", "🚀"]),
    any_text,
)


@st.composite
def clicks(draw: st.DrawFn) -> dict[str, Any]:
    """A recipe for one click; `payload_for` turns it into a payload against the seeded surfaces."""
    values = st.one_of(
        st.just("other"),  # the value of another button (someone else's survey, another scale)
        st.just("altered"),
        st.just("json"),
        st.just("missing"),
        st.tuples(st.just("text"), hostile_text),
        st.tuples(st.just("type"), st.sampled_from(WRONG_TYPES)),
    )
    return {
        "surface": draw(st.sampled_from(SURFACES)),
        "element": draw(st.integers(0, 20)),
        "clicker": usually(draw, "same", st.sampled_from(CLICKERS), one_in=2),
        "action_id": usually(draw, None, st.sampled_from(ACTION_IDS) | any_text, one_in=6),
        "value": usually(draw, "keep", values, one_in=2),
        "other": draw(st.integers(0, 200)),
        "alter": draw(st.tuples(st.integers(0, 4), value_parts)),
        "json": draw(st.tuples(st.integers(0, 4), json_fields)),
        "selected_option": usually(
            draw, None, st.fixed_dictionaries({"value": hostile_text}) | st.sampled_from(WRONG_TYPES), one_in=6
        ),
        "forged": usually(draw, "no", st.sampled_from(["message", "container", "channel", "no response_url", "extra"])),
        "drop": usually(
            draw,
            "",
            st.sampled_from(["trigger_id", "message", "container", "channel", "user.name", "user.id"]),
            one_in=6,
        ),
        "actions": usually(draw, "one", st.sampled_from(["two", "none"]), one_in=8),
    }


async def genuine_answer(store: Store, clicker: str, action_id: str, value: object) -> tuple[int, float] | None:
    """(wave, score) if this click is a real answer by the person the survey was sent to, else None."""
    if not action_id.startswith(f"{Action.SURVEY_ANSWER.value}_") or not action_id.rsplit("_", 1)[1].isdecimal():
        return None
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) < 12 for p in parts[:2]):
        return None
    row = await store.fetch_one(
        """SELECT d.user_id, w.closed_at, coalesce(t.scale, 'nps') AS scale FROM deliveries d
           JOIN waves w ON w.id = d.wave_id LEFT JOIN touchpoints t ON t.id = w.touchpoint_id
           WHERE d.id = ? AND d.wave_id = ?""",
        (int(parts[1]), int(parts[0])),
    )
    if row is None or row["user_id"] != clicker or row["closed_at"] is not None:
        return None
    try:
        score = float(parts[2])
    except ValueError:
        return None
    return (int(parts[0]), score) if score in {c.score for c in CHOICES[row["scale"]]} else None


def payload_for(
    standin: SlackStandIn, seeded: Seeded, surfaces: dict[str, Surface], recipe: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(clicker, the block_actions payload) for a recipe."""
    surface = surfaces[recipe["surface"]]
    clicker = surface.owner if recipe["clicker"] == "same" else seeded.fill(recipe["clicker"])
    found = elements(surface.blocks()) or [("b", {"type": "button", "action_id": "none", "value": "x"})]
    block_id, element = found[recipe["element"] % len(found)]
    everything = [e for s in surfaces.values() for _, e in elements(s.blocks()) if isinstance(e.get("value"), str)]
    action: dict[str, Any] = {
        "type": element.get("type", "button"),
        "action_id": element["action_id"] if recipe["action_id"] is None else recipe["action_id"],
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
        "text": element.get("text", {"type": "plain_text", "text": "?"}),
    }
    how = recipe["value"]
    real = element.get("value")
    if how == "keep" and real is not None:
        action["value"] = real
    elif how == "other" and everything:
        action["value"] = everything[recipe["other"] % len(everything)]["value"]
    elif how == "altered" and isinstance(real, str):
        parts = real.split(":")
        at, replacement = recipe["alter"]
        if at < len(parts):
            parts[at] = replacement
        else:
            parts.append(replacement)
        action["value"] = ":".join(parts)
    elif how == "json" and isinstance(real, str) and real.startswith("{"):
        fields = json.loads(real)
        at, replacement = recipe["json"]
        keys = sorted(fields)
        fields[keys[at] if at < len(keys) else "extra"] = replacement
        action["value"] = json.dumps(fields)
    elif isinstance(how, tuple):
        action["value"] = how[1]
    if recipe["selected_option"] is not None:
        action["selected_option"] = recipe["selected_option"]
    user = standin.workspace.users[clicker]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": clicker, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": standin.new_trigger(clicker),
        "actions": {"one": [action], "two": [action, copy.deepcopy(action)], "none": []}[recipe["actions"]],
        "state": {"values": {}},
    }
    message, view = surface.message, surface.view
    if message is not None:
        channel = standin.workspace.channels[message.channel]
        payload["container"] = {"type": "message", "message_ts": message.ts, "channel_id": channel.id}
        payload["channel"] = {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name}
        payload["message"] = message.to_api()
        payload["response_url"] = standin.new_response_url(channel.id, clicker, original=message)
    else:
        assert view is not None
        payload["container"] = {"type": "view", "view_id": view.id}
        payload["view"] = view.to_api()
    forged = recipe["forged"]
    if forged == "message" and "message" in payload:
        payload["message"] = {"type": "message", "ts": "1.000001", "text": "forged", "blocks": surface.blocks()}
        payload["container"]["message_ts"] = "1.000001"
    elif forged == "container":
        payload["container"] = {"type": "message", "message_ts": "9.9", "channel_id": "D0FORGED"}
    elif forged == "channel":
        payload["channel"] = {"id": "C0FORGED", "name": "forged"}
    elif forged == "no response_url":
        payload.pop("response_url", None)
    elif forged == "extra":
        payload["unexpected"] = {"nested": [1, "two", None]}
    drop = recipe["drop"]
    if drop.startswith("user."):
        del payload["user"][drop.removeprefix("user.")]
    elif drop:
        payload.pop(drop, None)
    return clicker, payload


def apologies(standin: SlackStandIn) -> list[str]:
    return [m.shown_text for ms in standin.workspace.messages.values() for m in ms if is_apology(m.shown_text)]


def recipe(surface: str, value: object, **changes: object) -> dict[str, Any]:
    """A click on the first button of `surface` by its own person, with `value` (see clicks())."""
    base = {"surface": surface, "element": 0, "clicker": "same", "action_id": None, "value": value, "other": 0,
            "alter": (0, ""), "json": (0, None), "selected_option": None, "forged": "no", "drop": "",
            "actions": "one"}  # fmt: skip
    return {**base, **changes}


@fuzz(max_examples=500)
@given(recipe=clicks())
# Was a bug (fixed): a superscript digit passed str.isdigit() and then failed int().
@example(recipe=recipe("survey 0 of pilot", ("text", "²:1:5")))
# Was a bug (fixed): ids beyond SQLite's 64-bit integers failed the query; in the JSON of the
# Advance anyway button, so did infinity (int() refuses it).
@example(recipe=recipe("survey 0 of pilot", ("text", "9" * 30 + ":1:5")))
@example(recipe=recipe("blocked advance", "json", json=(0, 2**70)))
@example(recipe=recipe("blocked advance", "json", json=(1, float("inf"))))
# Was a bug (fixed): a click without user.id or trigger_id got the apology for a crash.
@example(recipe=recipe("thanks", "keep", element=1, drop="trigger_id"))
@example(recipe=recipe("blocked advance", "keep", drop="trigger_id"))
@example(recipe=recipe("survey 0 of pilot", "keep", drop="user.id"))
async def test_any_click_gets_a_4xx_or_is_handled_and_only_a_genuine_answer_stores_anything(
    bot: RunningBot,
    standin: SlackStandIn,
    store: Store,
    seeded: Seeded,
    surfaces: dict[str, Surface],
    caplog: pytest.LogCaptureFixture,
    recipe: dict[str, Any],
) -> None:
    clicker, payload = payload_for(standin, seeded, surfaces, recipe)
    action = (payload["actions"] or [{}])[0]
    genuine = await genuine_answer(store, clicker, str(action.get("action_id")), action.get("value"))
    forget = action.get("action_id") == Action.FORGET_ME.value
    language = str(action.get("action_id")).startswith(Action.HOME_LANGUAGE.value)
    apologised = len(apologies(standin))
    caplog.clear()
    before = await fingerprint(store)
    mark = standin.sent_mark()
    reply = await bot.transport.deliver("interactive", payload)
    assert reply.status < 500, (reply.status, reply.text[:300])
    event(f"HTTP {reply.status}" + (" (a genuine answer)" if genuine else ""))
    await bot.bot.background.settle(10)
    assert unexpected_errors(caplog) == []
    assert live_markup_sent(standin, mark) == []
    assert apologies(standin)[apologised:] == []
    assert standin.rejected == [], "Slack refused blocks the bot sent"
    after = await fingerprint(store)
    changed = changed_tables(before, after)
    if reply.status != 200:
        assert changed == [], (reply.status, reply.text[:200])
    elif forget:
        # The button forgets whoever clicks it, wherever it is: every row that names them, their
        # answers and comments; nothing else changes.
        assert set(changed) <= {
            "deliveries", "responses", "comments", "cohort_entries", "owners", "champions", "outbox", "slack_users",
            "audit_log", "stage_transitions", "rollouts", "waves", "targets", "triggers", "digest_subscriptions",
            "person_languages",
        }  # fmt: skip
        for table, column in (("deliveries", "user_id"), ("owners", "user_id"), ("champions", "user_id")):
            assert await store.fetch_value(f"SELECT count(*) FROM {table} WHERE {column} = ?", (clicker,)) == 0
        assert await store.fetch_value("SELECT count(*) FROM audit_log WHERE actor = ?", (clicker,)) == 0
    elif language:
        # The language picker sets the language of whoever clicks it, wherever it is: one the bot
        # speaks, or none (Slack's again); nothing else changes.
        assert set(changed) <= {"person_languages"}
        chosen = await store.fetch_value("SELECT language FROM person_languages WHERE user_id = ?", (clicker,))
        assert chosen in (None, *LANGUAGES)
    elif genuine is not None:
        wave, score = genuine
        assert set(changed) <= {"deliveries", "responses"}
        assert score in [r[0] for r in await store.fetch_all("SELECT score FROM responses WHERE wave_id = ?", (wave,))]
    else:
        assert changed == [], json.dumps(action)[:300]
