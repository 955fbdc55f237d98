"""The survey DM and what replaces it, about the longest title and touchpoint label: the question
shows in full, every answer button is there and brings back what the click handler reads, and the
comment modal takes a comment as long as the bot stores."""

from __future__ import annotations

import json
from typing import cast, get_args

import pytest

from handlers.actions.survey import parse_ref
from handlers.blocks.survey import build_closed, build_comment_modal, build_survey, build_thanks
from handlers.blocks.text import Block, escape
from handlers.ids import Action
from runtime.i18n import LANGUAGES, Texts, texts
from sandbox.blockkit import check_view
from services.scales import CHOICES, SurveyScale, parse_score, question
from services.surveys import COMMENT_MAX
from tests.handlers.blocks.extremes import (
    BIG_ID,
    COMMENT,
    LABEL,
    RESPONSE_URL,
    TITLE,
    message_problems,
    shown,
    survey_view,
)

SCALES: tuple[SurveyScale, ...] = get_args(SurveyScale)
EN = texts("en")


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    """Every surface at its longest, in each language the bot speaks."""
    return texts(request.param)


def asked_in(t: Texts, scale: SurveyScale) -> str:
    return escape(t.say(question(scale, TITLE, None if scale == "nps" else LABEL)))


def buttons(blocks: list[Block], action_prefix: str) -> list[Block]:
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"].startswith(action_prefix)
    ]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("reminder", [False, True], ids=["first", "reminder"])
def test_the_survey_shows_the_whole_question_and_every_answer(scale: SurveyScale, reminder: bool, t: Texts) -> None:
    view = survey_view(scale)
    message = build_survey(t, view, reminder=reminder)
    assert message_problems(message) == []
    asked = asked_in(t, scale)
    assert f"*{asked}*" in shown(message.blocks)
    assert message.text == (t._("Reminder: {question}", question=asked) if reminder else asked)
    answers = buttons(message.blocks, Action.SURVEY_ANSWER.value)
    assert [b["text"]["text"] for b in answers] == [t.say(c.label) for c in CHOICES[scale]]
    for button, choice in zip(answers, CHOICES[scale], strict=True):
        wave, delivery, score = parse_ref(button["value"], with_score=True)
        assert (wave, delivery, parse_score(scale, score)) == (BIG_ID, BIG_ID, choice.score)
    reminded = {"en": "A gentle reminder", "sv": "En vänlig påminnelse"}[t.language]
    assert (reminded in shown(message.blocks)) is reminder
    assert {"en": "Open until Nov 18.", "sv": "Öppen till och med 18 nov."}[t.language] in shown(message.blocks)


@pytest.mark.parametrize("scale", SCALES)
def test_the_answer_so_far_shows_with_the_buttons_to_change_it(scale: SurveyScale, t: Texts) -> None:
    for choice in CHOICES[scale]:
        message = build_survey(t, survey_view(scale), reminder=True, current=choice.score)
        assert message_problems(message) == []
        now = {"en": "Your answer now", "sv": "Ditt svar nu"}[t.language]
        assert f"{now}: *{escape(t.say(choice.said))}*" in shown(message.blocks)
        assert len(buttons(message.blocks, Action.SURVEY_ANSWER.value)) == len(CHOICES[scale])


def test_a_survey_sent_to_fewer_than_the_minimum_group_says_its_answers_can_be_told_apart() -> None:
    few = build_survey(EN, survey_view("nps", asked=4, min_group=1000))
    assert message_problems(few) == []
    assert "This survey went to fewer than 1000 people" in shown(few.blocks)
    many = build_survey(EN, survey_view("nps", asked=1000, min_group=1000))
    assert "went to fewer" not in shown(many.blocks) and "if at least 1000 people answered" in shown(many.blocks)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("commented", [False, True], ids=["no comment", "commented"])
def test_the_thanks_keep_the_buttons_to_change_and_comment(scale: SurveyScale, commented: bool, t: Texts) -> None:
    view = survey_view(scale)
    for choice in CHOICES[scale]:
        message = build_thanks(t, view, choice.score, commented=commented)
        assert message_problems(message) == []
        answered = {"en": "you answered", "sv": "du svarade"}[t.language]
        assert f"{answered} *{escape(t.say(choice.said))}*" in shown(message.blocks)
    change = buttons(message.blocks, Action.SURVEY_CHANGE.value)
    comment = buttons(message.blocks, Action.SURVEY_COMMENT.value)
    assert len(change) == len(comment) == 1
    assert comment[0]["text"]["text"] == (t._("Edit comment") if commented else t._("Add a comment"))
    for button in (*change, *comment):
        assert parse_ref(button["value"], with_score=False)[:2] == (BIG_ID, BIG_ID)


@pytest.mark.parametrize("scale", SCALES)
def test_a_closed_survey_says_so_under_the_struck_out_question(scale: SurveyScale, t: Texts) -> None:
    view = survey_view(scale)
    asked = asked_in(t, scale)
    said = {
        "en": ("It can no longer be answered.", "Thank you for answering!", "can no longer be tied to you", "if you"),
        "sv": (
            "Den går inte längre att besvara.",
            "Tack för ditt svar!",
            "Ingen kan längre koppla svaret till dig.",
            "Tack om du svarade!",
        ),
    }[t.language]
    cases: list[tuple[bool | None, bool, str]] = [
        (False, False, said[0]),
        (True, False, said[1]),
        (True, True, said[2]),
        (None, False, said[3]),
    ]
    for answered, unlinkable, says in cases:
        message = build_closed(t, view, answered=answered, unlinkable=unlinkable)
        assert message_problems(message) == []
        assert f"~{asked}~" in shown(message.blocks) and says in message.text
        assert not buttons(message.blocks, "")  # nothing left to click


@pytest.mark.parametrize("scale", SCALES)
def test_the_comment_modal_takes_the_longest_comment_the_bot_stores(scale: SurveyScale, t: Texts) -> None:
    metadata = json.dumps({"wave": BIG_ID, "delivery": BIG_ID, "response_url": RESPONSE_URL})
    modal = build_comment_modal(t, survey_view(scale), metadata, COMMENT)
    assert check_view(modal) == []
    [field] = [b for b in cast(list[Block], modal["blocks"]) if b["type"] == "input"]
    assert field["element"]["max_length"] == COMMENT_MAX
    assert field["element"]["initial_value"] == COMMENT
    assert json.loads(str(modal["private_metadata"])) == {"wave": BIG_ID, "delivery": BIG_ID,
                                                           "response_url": RESPONSE_URL}  # fmt: skip
    assert asked_in(t, scale) in shown(modal)
    assert "initial_value" not in str(build_comment_modal(t, survey_view(scale), metadata, None))
