"""Conversations on comments: the Reply menu, the forms and both sides' DMs, at their longest (a
title, a comment and a reply at the most the bot stores) in every language: within Slack's
limits, the menu's values short enough to carry, and never the writer's name."""

from __future__ import annotations

import json

import pytest

from handlers.blocks.results import build_results
from handlers.blocks.threads import (
    build_answer_modal,
    build_note_to_replier,
    build_note_to_writer,
    build_reply_modal,
    comment_block,
    parse_menu_value,
    sent_text,
)
from runtime.i18n import LANGUAGES, Texts, texts
from sandbox.blockkit import OPTION_VALUE, check_view
from services.keys import MasterKey
from services.models import ReleasedComment
from services.surveys import RESULT_COMMENTS, ResultsView
from services.threads import REPLY_MAX, ThreadNote, open_comment, seal_comment
from tests.handlers.blocks.extremes import (
    BIG_ID,
    COMMENT,
    SLUG,
    TITLE,
    message_problems,
    metrics,
    rollout_detail,
    shown,
)

REPLY = ("The fix is in release 2.4. " * 200)[:REPLY_MAX]
REPLIER = "U0123456789"
MASTER = MasterKey("k" * 40)


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    return texts(request.param)


def note(kind: str, *, to_writer: bool) -> ThreadNote:
    return ThreadNote(
        thread_id=BIG_ID,
        message_id=BIG_ID,
        kind=kind,
        body=None if kind in ("noted", "looking", "closed") else REPLY[:150] if kind == "fixed" else REPLY,
        replier=REPLIER,
        rollout_slug=SLUG,
        rollout_title=TITLE,
        comment=COMMENT[:200],
        closes_on="2026-12-31",
        min_group=5,
        to_writer=to_writer,
    )


def test_the_sealed_reference_fits_an_overflow_value_and_opens_only_with_the_key() -> None:
    token = seal_comment(MASTER, BIG_ID, "ab" * 32)
    assert len(f"looking:{token}") <= OPTION_VALUE
    assert open_comment(MASTER, token) == (BIG_ID, "ab" * 32)
    assert open_comment(MasterKey("x" * 40), token) is None
    assert open_comment(MASTER, token[:-2] + "AA") is None and open_comment(MASTER, "not base64!") is None
    # Sealed anew each time: two menus for the same comment carry different values.
    assert seal_comment(MASTER, BIG_ID, "ab" * 32) != token


def test_results_with_the_most_comments_each_with_a_menu_stay_within_limits(t: Texts) -> None:
    detail = rollout_detail()
    comments = [
        ReleasedComment(COMMENT, "2026-11-16", i, "cd" * 32, ref=seal_comment(MASTER, i, "cd" * 32))
        for i in range(RESULT_COMMENTS)
    ]
    view = ResultsView(detail, detail.stages[4], metrics(detail.touchpoints), comments)
    message = build_results(t, view)
    assert message_problems(message) == []
    menus = [b["accessory"] for b in message.blocks if b.get("accessory", {}).get("type") == "overflow"]
    assert len(menus) == RESULT_COMMENTS
    assert all(parse_menu_value(o["value"]) is not None for m in menus for o in m["options"])


def test_a_comment_without_a_reference_has_no_menu(t: Texts) -> None:
    assert "accessory" not in comment_block(t, ReleasedComment(COMMENT, "2026-11-16"))


@pytest.mark.parametrize("kind", ["reply", "noted", "looking", "fixed"])
def test_the_writers_dm_names_the_replier_and_offers_answer_and_close(t: Texts, kind: str) -> None:
    message = build_note_to_writer(t, note(kind, to_writer=True))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert f"<@{REPLIER}>" in text and "🔒" in text
    actions = [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["thread_answer", "thread_close"]


@pytest.mark.parametrize("kind", ["answer", "closed"])
def test_the_repliers_dm_names_nobody(t: Texts, kind: str) -> None:
    message = build_note_to_replier(t, note(kind, to_writer=False))
    assert message_problems(message) == []
    assert "<@" not in json.dumps(message.blocks)  # no mention of anyone: the writer is unknown
    menus = [b for b in message.blocks if b.get("accessory", {}).get("type") == "overflow"]
    assert len(menus) == (1 if kind == "answer" else 0)


@pytest.mark.parametrize("choice", ["reply", "fixed"])
def test_the_forms_take_the_longest_reply(t: Texts, choice: str) -> None:
    metadata = json.dumps({"choice": choice, "ref": seal_comment(MASTER, BIG_ID, "ef" * 32), "response_url": "x" * 200})
    assert check_view(build_reply_modal(t, choice, metadata)) == []
    assert check_view(build_answer_modal(t, json.dumps({"thread": BIG_ID, "response_url": "x" * 200}))) == []


def test_the_confirmation_says_when_it_goes(t: Texts) -> None:
    assert t.number(240) in sent_text(t, (60, 240))
    assert sent_text(t, (0, 0)) != sent_text(t, (60, 240))
