"""Fuzz the HTTP trigger API (POST /touchpoints/<slug>/<key>; docs/surveys.md: “The touchpoint API”): any path, any
Authorization header, any body. Always one of the documented answers, never a 5xx, and a survey
delivery is created only with a 202."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from handlers.touchpoint_api import MAX_BODY_BYTES
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import RunningBot
from tests.fuzz.common import any_text, changed_tables, fingerprint, fuzz, hostile_text, short_text, unexpected_errors
from tests.fuzz.conftest import API_TOKEN, PLANNED, SLUG, TOUCHPOINT, Seeded

ANSWERS = {202, 401, 403, 404, 409, 413, 422}
# aiohttp itself answers these before the handler runs: a path that is not /touchpoints/<slug>/<key>
# (404, 405), and a body over the server's own limit (413).
ROUTING = {404, 405, 413}

segments = st.one_of(
    st.sampled_from([SLUG, PLANNED, TOUCHPOINT, "nope", SLUG.upper(), "", ".", "..", "%2F", "a/b", "x" * 300]),
    st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
    any_text,
)
NEAR_TOKENS = [f"bearer {API_TOKEN}", f"Bearer  {API_TOKEN}", f"Bearer {API_TOKEN} ", API_TOKEN, "Bearer", "Bearer ",
               "Basic dXNlcjpwYXNz", f"Bearer {API_TOKEN[:-1]}", f"Bearer {API_TOKEN}x", "Bearer é"]  # fmt: skip
tokens = st.one_of(
    st.sampled_from(NEAR_TOKENS),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)
known_people = st.sampled_from(["{direct}", "{owner}", "{pilot}", "{stranger}", "{gone}", "{bot}", "U0EARLY1"])
people = st.one_of(
    known_people,
    known_people,
    st.sampled_from(["U0NOBODY", "u0direct", "U0DIRECT\n", " U0DIRECT", "U" + "A" * 5000, "W0ENTERPR1", "U0"]),
    hostile_text,
)
NEAR_EMAILS = ["OLGA@EXAMPLE.COM", "nobody@example.com", "a@b", "@", "a@b.c", "olga@example.com\n",
               "x" * 64 + "@" + "y" * 255 + "." + "z" * 63]  # fmt: skip
known_emails = st.sampled_from(["olga@example.com", "ada@example.com"])
emails = st.one_of(
    known_emails,
    known_emails,
    st.sampled_from(NEAR_EMAILS),
    st.emails(),
    hostile_text,
)
RAW_BODIES = [b"", b"{", b"null", b"[]", b'{"user": "U0DIRECT"', b"\xff\xfe", b'{"user": "U0DIRECT"}' * 2,
              b'{"user": "\\ud800"}', b"\x00"]  # fmt: skip
CONTENT_TYPES = ["application/json", "application/json", "text/plain", "", "application/x-www-form-urlencoded",
                 "application/json; charset=latin-1"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    st.fixed_dictionaries({"user": people}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"user": people}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"user": people}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"email": emails}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"email": emails}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"user": people, "email": emails}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"user": json_values}).map(lambda b: ("json", b)),
    st.fixed_dictionaries({"email": json_values}).map(lambda b: ("json", b)),
    st.dictionaries(st.sampled_from(["user", "email", "users", "User"]) | short_text, json_values, max_size=3).map(
        lambda b: ("json", b)
    ),
    json_values.map(lambda b: ("json", b)),
    st.binary(max_size=200).map(lambda b: ("raw", b)),
    st.sampled_from(RAW_BODIES).map(lambda b: ("raw", b)),
    st.integers(MAX_BODY_BYTES - 20, MAX_BODY_BYTES + 2000).map(
        lambda n: ("raw", json.dumps({"user": "U0DIRECT", "pad": "x" * n}).encode())
    ),
)


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    def mostly(good: object, other: st.SearchStrategy[Any]) -> Any:
        """`good` about five times in six: most requests should pass one check to reach the next."""
        return good if draw(st.integers(0, 5)) else draw(other)

    return {
        "slug": mostly(SLUG, segments),
        "key": mostly(TOUCHPOINT, segments),
        "extra": mostly("", st.sampled_from(["/", "/more", "?user=U0DIRECT"])),
        "authorization": mostly(f"Bearer {API_TOKEN}", st.none() | tokens),
        "content_type": draw(st.sampled_from(CONTENT_TYPES)),
        "body": draw(bodies),
        "method": mostly("POST", st.sampled_from(["GET", "PUT"])),
    }


def recipe(body: object, **changes: object) -> dict[str, Any]:
    base = {"slug": SLUG, "key": TOUCHPOINT, "extra": "", "authorization": f"Bearer {API_TOKEN}",
            "content_type": "application/json", "body": ("json", body), "method": "POST"}  # fmt: skip
    return {**base, **changes}


@fuzz(max_examples=500)
@given(call=calls())
@example(call=recipe({"user": "{direct}"}))
@example(call=recipe({"email": "olga@example.com"}))
@example(call=recipe({"user": "U" + "A" * 5000}))
@example(call=recipe({"user": "{direct}"}, slug=PLANNED))
async def test_any_request_gets_a_documented_answer_and_only_a_202_creates_a_delivery(
    bot: RunningBot,
    standin: SlackStandIn,
    store: Store,
    seeded: Seeded,
    caplog: pytest.LogCaptureFixture,
    call: dict[str, Any],
) -> None:
    kind, body = call["body"]
    data = seeded.fill(json.dumps(body)).encode() if kind == "json" else body
    path = f"/touchpoints/{quote(call['slug'], safe='')}/{quote(call['key'], safe='')}{call['extra']}"
    url = bot.url.replace("/slack/events", path)
    headers = {"Content-Type": call["content_type"]} if call["content_type"] else {}
    if call["authorization"] is not None:
        headers["Authorization"] = call["authorization"]
    caplog.clear()
    before = await fingerprint(store)
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.request(call["method"], url, data=data, headers=headers) as response,
    ):
        status, text = response.status, await response.text()
        from_handler = response.content_type == "application/json"
    await bot.bot.background.settle(10)
    event(f"HTTP {status}")
    assert status < 500, (status, text[:300])
    assert status in (ANSWERS if from_handler else ROUTING), (status, text[:300])
    assert unexpected_errors(caplog) == []
    changed = changed_tables(before, await fingerprint(store))
    if status == 202:
        answer = json.loads(text)
        assert answer["status"] in ("queued", "held", "skipped") and isinstance(answer["delivery_id"], int)
        assert set(changed) <= {"waves", "wave_keys", "deliveries"}
    else:
        assert changed == [], (status, text[:300])
        if from_handler:
            assert json.loads(text)["error"], text[:300]
