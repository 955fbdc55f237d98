"""Outbox rows as they are sent, from payloads with the longest texts: the announcement, the
reminder (a survey again, with its buttons) and the closing (an update of the survey message)."""

from __future__ import annotations

import json
from datetime import date
from typing import get_args

import pytest

from handlers.blocks.announcement import build_announcement
from handlers.blocks.outbox import render_outbox_item
from handlers.blocks.survey import build_closed
from handlers.ids import Action
from runtime.i18n import texts
from services.announcements import Announcement
from services.scales import SurveyScale
from services.surveys import SurveyNotice
from storage.models import OutboxItem
from tests.handlers.blocks.extremes import (
    BIG_ID,
    CHANNEL,
    REASON,
    SLUG,
    STAGE_NAMES,
    TITLE,
    gates,
    message_problems,
    shown,
    survey_view,
    touchpoints,
    user,
)

TS = "1795000000.123456"


def row(kind: str, payload: str) -> OutboxItem:
    return OutboxItem(
        id=BIG_ID, kind=kind, dedupe_key=f"{kind}:{BIG_ID}:{user(1)}", transition_id=BIG_ID, delivery_id=BIG_ID,
        channel=CHANNEL, payload=payload, status="sending", attempts=9, error=None, next_attempt_at=1_795_000_000.5,
        message_ts=None, created_at=1_795_000_000, sent_at=None, claimed_at=1_795_000_000,
    )  # fmt: skip


def test_an_announcement_row_is_sent_as_the_announcement() -> None:
    announcement = Announcement(
        transition_id=BIG_ID, rollout_slug=SLUG, title=TITLE, kind="advance", from_stage=STAGE_NAMES[0],
        to_stage=STAGE_NAMES[1], actor=user(1), reason=REASON, gates=gates(touchpoints()), overridden=True,
        cohort_size=10**6, next_stage=STAGE_NAMES[2], next_planned=date(2026, 12, 31), audience="champion",
    )  # fmt: skip
    sent = render_outbox_item(row("announcement", announcement.model_dump_json()))
    assert sent.update_ts is None  # a new post
    assert message_problems(sent.message) == []
    assert sent.message == build_announcement(texts("en"), announcement)


def test_an_announcement_row_is_sent_in_the_language_it_was_queued_in() -> None:
    announcement = Announcement(
        transition_id=BIG_ID, rollout_slug=SLUG, title=TITLE, kind="start", from_stage=None,
        to_stage=STAGE_NAMES[0], actor=user(1), reason=None, gates=None, overridden=False,
        cohort_size=10**6, next_stage=STAGE_NAMES[1], next_planned=None, audience="channel", language="sv",
    )  # fmt: skip
    sent = render_outbox_item(row("announcement", announcement.model_dump_json()))
    assert message_problems(sent.message) == []
    assert sent.message == build_announcement(texts("sv"), announcement)
    assert "Berätta för ditt team att införandet har startat" in sent.message.text
    # A row queued before announcements had a language is sent as it was written then: in English.
    old = announcement.model_dump(mode="json")
    del old["language"]
    sent = render_outbox_item(row("announcement", json.dumps(old)))
    assert "Tell your team the rollout has started" in sent.message.text


@pytest.mark.parametrize("scale", get_args(SurveyScale))
def test_a_reminder_row_is_the_survey_again_with_its_buttons(scale: SurveyScale) -> None:
    view = survey_view(scale)
    sent = render_outbox_item(row("reminder", SurveyNotice(view=view).model_dump_json()))
    assert sent.update_ts is None
    assert message_problems(sent.message) == []
    assert sent.message.text.startswith("Reminder: ") and "A gentle reminder" in shown(sent.message.blocks)
    [answers] = [b for b in sent.message.blocks if b["type"] == "actions"]
    assert all(e["action_id"].startswith(Action.SURVEY_ANSWER.value) for e in answers["elements"])


@pytest.mark.parametrize(("answered", "unlinkable"), [(False, False), (True, False), (True, True)])
def test_a_closing_row_updates_the_survey_message(answered: bool, unlinkable: bool) -> None:
    view = survey_view("csat")
    notice = SurveyNotice(view=view, channel="D0123456789", ts=TS, answered=answered, unlinkable=unlinkable)
    sent = render_outbox_item(row("survey_closed", notice.model_dump_json()))
    assert sent.update_ts == TS
    assert message_problems(sent.message) == []
    assert sent.message == build_closed(texts("en"), view, answered=answered, unlinkable=unlinkable)


def test_a_row_of_an_unknown_kind_is_not_sent_as_anything() -> None:
    with pytest.raises(ValueError, match="no renderer for outbox rows of kind 'digest'"):
        render_outbox_item(row("digest", "{}"))
