"""`/pulse results` and the answer to opening a wave, with the longest title, stage name and
touchpoint labels, many touchpoints and the longest comments: within Slack's limits, every
touchpoint and comment shown, and below the minimum group only the "not enough answers" note."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.settings import Settings
from handlers.blocks import format as fmt
from handlers.blocks.results import build_results, build_wave_report
from handlers.blocks.text import escape
from runtime.clock import SystemClock
from runtime.i18n import LANGUAGES, texts
from services.keys import KeyRing, KeySetup
from services.languages import LanguageService
from services.rollouts import RolloutService
from services.surveys import RESULT_COMMENTS, SKIP_REASONS, ResultsView, SurveyService, WaveReport
from storage import Store
from storage.disclosure import ReleasedComment
from tests.handlers.blocks.extremes import (
    BIG_ID,
    COMMENT,
    LABEL,
    LONGEST_TZ,
    STAGE_NAMES,
    TITLE,
    TOUCHPOINTS,
    message_problems,
    metrics,
    name,
    rollout_detail,
    shown,
)

COMMENTS = [ReleasedComment(body=COMMENT, released_on="2026-11-18")] * RESULT_COMMENTS
EN = texts("en")
SV = texts("sv")


def results(*, enough: bool, min_group: int = 5, comments: list[ReleasedComment] = COMMENTS) -> ResultsView:
    detail = rollout_detail(current=len(STAGE_NAMES))
    assert detail.current is not None
    return ResultsView(
        detail, detail.current, metrics(detail.touchpoints, enough=enough, min_group=min_group), comments
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_touchpoint_and_comment_of_a_crowded_stage_is_shown(language: str) -> None:
    t = texts(language)
    message = build_results(t, results(enough=True))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert text.count(f"*{escape(LABEL)}* (") == TOUCHPOINTS
    assert text.count(" (n=30)") == TOUCHPOINTS
    assert text.count(fmt.comment(t, COMMENTS[0])) == RESULT_COMMENTS
    assert fmt.group_rule(t, 5) in text


def test_the_card_in_english() -> None:
    text = shown(build_results(EN, results(enough=True)).blocks)
    assert "*NPS*\n+44 (n=45, ±" in text and "*Response rate*\n50% (500000 of 1000000)" in text
    assert "promoters 67% · passives 11% · detractors 22%" in text


def test_the_card_in_swedish() -> None:
    message = build_results(SV, results(enough=True))
    text = shown(message.blocks)
    assert message.blocks[0]["text"]["text"].startswith("Resultat · ")
    assert "*Svarsfrekvens*\n50\xa0% (500000 av 1000000)" in text
    assert "promotorer 67\xa0% · passiva 11\xa0% · kritiker 22\xa0%" in text
    assert "*Kommentarer* (anonyma, i slumpvis ordning)" in text
    assert "Answers" not in text and "Comments" not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_below_the_minimum_group_only_the_note_shows(language: str) -> None:
    t = texts(language)
    message = build_results(t, results(enough=False, min_group=1000, comments=[]))
    assert message_problems(message) == []
    text = shown(message.blocks)
    note = fmt.not_enough(t, 1000)
    assert text.count(f"): {note}") == TOUCHPOINTS  # "*<label>* (CSAT): not enough answers yet …"
    assert "n=" not in text and t._("*Response rate*") not in text  # no count that moves with each answer
    intro = {"en": "answers are counted in groups of 1000", "sv": "svar räknas i grupper om 1000"}
    assert f"*NPS:* {note}: {intro[language]}" in text


def test_a_stage_without_comments_says_so() -> None:
    assert "No comments yet." in shown(build_results(EN, results(enough=True, comments=[])).blocks)
    assert "Inga kommentarer än." in shown(build_results(SV, results(enough=True, comments=[])).blocks)


def test_the_results_name_their_stage() -> None:
    message = build_results(EN, results(enough=True))
    assert STAGE_NAMES[-1] in shown(message.blocks)


@pytest.fixture
def surveys(store: Store) -> SurveyService:
    def no_key() -> KeySetup:
        raise AssertionError("a wave report needs no key")

    settings = Settings(_env_file=None, pulse_min_days_between_surveys=90)
    clock = SystemClock()
    rollouts = RolloutService(store, settings, clock)
    return SurveyService(store, settings, clock, rollouts, KeyRing(store, no_key), LanguageService(store, settings))


def crowded_report() -> WaveReport:
    held_until = int(datetime(2026, 11, 23, 9, tzinfo=LONGEST_TZ).timestamp())
    skipped = dict.fromkeys(SKIP_REASONS, 10**6)
    return WaveReport(BIG_ID, TITLE, queued_now=10**6, held=10**6, first_held_until=held_until, skipped=skipped)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wave_report_at_its_longest_stays_within_slacks_limits(surveys: SurveyService, language: str) -> None:
    t = texts(language)
    message = build_wave_report(t, crowded_report(), surveys, LONGEST_TZ, touchpoint=name("touchpoint", 1))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert all(f" {t.say(surveys.skip_reason(code))}" in text for code in SKIP_REASONS)
    assert "*" not in message.text


def test_a_wave_report_counts_everyone_and_every_reason_to_skip(surveys: SurveyService) -> None:
    key = name("touchpoint", 1)
    message = build_wave_report(EN, crowded_report(), surveys, LONGEST_TZ, touchpoint=key)
    text = shown(message.blocks)
    assert f"Queued *2,000,000* the {key} touchpoint surveys for *{escape(TITLE)}*." in text
    assert "• 1,000,000 go out now" in text
    first = "(the first at Mon 09:00 America/Argentina/ComodRivadavia)"
    assert f"• 1,000,000 wait for the person's working hours {first}" in text
    assert "Skipped 5,000,000:" in text and "• 1,000,000 asked for NPS in the last 90 days" in text


def test_a_wave_report_in_swedish(surveys: SurveyService) -> None:
    message = build_wave_report(SV, crowded_report(), surveys, LONGEST_TZ, touchpoint="onboarding")
    text = shown(message.blocks)
    assert f"*2\xa0000\xa0000* enkäter om kontaktpunkten onboarding för *{escape(TITLE)}* har köats." in text
    assert "• 1\xa0000\xa0000 skickas nu" in text
    assert "(den första mån 09:00 America/Argentina/ComodRivadavia)" in text
    assert "Hoppade över 5\xa0000\xa0000:" in text


def test_a_wave_that_asked_nobody_says_so(surveys: SurveyService) -> None:
    report = WaveReport(None, TITLE, queued_now=0, held=0, first_held_until=None, skipped={"unreachable": 3})
    message = build_wave_report(EN, report, surveys, LONGEST_TZ)
    assert message_problems(message) == []
    assert shown(message.blocks) == (
        f"Nobody was asked about NPS of *{escape(TITLE)}*.\nSkipped 3:\n• 3 a bot or a deactivated account"
    )
