"""The App Home of a person with many open surveys, who owns or champions many rollouts and is
an admin of many more, all with the longest titles, stage names and touchpoint labels: at most
100 blocks, the first surveys answerable in place, and a note wherever something is left out."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

import pytest

from handlers.blocks import format as fmt
from handlers.blocks.home import MINE_SHOWN, SURVEYS_SHOWN, build_home
from handlers.blocks.text import escape
from handlers.ids import Action
from handlers.ids import Block as BlockId
from runtime.i18n import LANGUAGES, Texts, texts
from sandbox.blockkit import VIEW_BLOCKS, check_view
from services.home import HomeRollout, HomeView
from services.models import Waiting
from services.privacy import Reading
from services.scales import CHOICES, SurveyScale, question
from storage.models import RolloutStatus
from tests.handlers.blocks.extremes import ROLLOUTS, STAGE_NAMES, TITLE, metrics, rollout_detail, shown, survey_view

SCALES: tuple[SurveyScale, ...] = get_args(SurveyScale)
STATUSES = (RolloutStatus.ACTIVE, RolloutStatus.PAUSED, RolloutStatus.PLANNED)
SURVEYS = [survey_view(SCALES[i % len(SCALES)], i=i) for i in range(50)]
MINE = [
    HomeRollout(
        rollout_detail(i, status=STATUSES[i % 3], touchpoint_count=0),
        ("owner", "champion"),
        metrics([]),
        Waiting(count=10**6, oldest="2026-11-18") if i % 2 else None,  # answers to replies waiting
    )
    for i in range(2, 102)
]
OVERVIEW = [
    HomeRollout(rollout_detail(i, touchpoint_count=0), (), metrics([], enough=False))
    for i in range(1000, 1000 + ROLLOUTS)
]


EN = texts("en")
SV = texts("sv")


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    """The Home at its fullest, in each language the bot speaks."""
    return texts(request.param)


def of_type(home: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in home["blocks"] if b["type"] == kind]


ENGLISH = Reading("en")


def fullest(reading: Reading = ENGLISH) -> HomeView:
    return HomeView(user="U0123456789", surveys=SURVEYS, mine=MINE, overview=OVERVIEW, min_group=5, reading=reading)


def test_the_fullest_home_fits_in_every_language(t: Texts) -> None:
    home = build_home(t, fullest(Reading(t.language, t.language, "chosen")))
    assert check_view(home) == []
    assert len(home["blocks"]) <= VIEW_BLOCKS
    answers = [b for b in of_type(home, "actions") if b.get("block_id", "").startswith(BlockId.SURVEY_ANSWERS.value)]
    assert len(answers) == SURVEYS_SHOWN
    for block, survey in zip(answers, SURVEYS, strict=False):
        assert [e["text"]["text"] for e in block["elements"]] == [t.say(c.label) for c in CHOICES[survey.scale]]
    status = [b["accessory"] for b in of_type(home, "section") if "accessory" in b]
    assert [b["value"] for b in status] == [item.detail.rollout.slug for item in MINE[:MINE_SHOWN]]
    # The language picker and the privacy line are never cut, however much there is above them.
    assert any(e["action_id"].startswith(Action.HOME_LANGUAGE.value) for b in of_type(home, "actions")
               for e in b["elements"])  # fmt: skip
    assert "`/pulse mydata`" in home["blocks"][-1]["elements"][0]["text"]


def test_a_swedish_home_is_written_in_swedish() -> None:
    home = build_home(SV, fullest(Reading("sv", None, "slack")))
    text = shown(home)
    assert f"*Dina öppna enkäter* ({len(SURVEYS)}) – svara direkt här:" in text
    assert "*Införanden du äger eller är ambassadör för*" in text and "_ägare och ambassadör_" in text
    assert "*Ditt språk:* svenska, som det är inställt i Slack." in text
    assert "`/pulse mydata` visar vad som sparas om dig." in text
    assert f"*{escape(SV.say(question('nps', TITLE, None)))}*" in text


def test_the_language_picker_marks_the_choice_and_offers_each_language_in_its_own_words() -> None:
    def picker(reading: Reading) -> list[dict[str, Any]]:
        home = build_home(EN, HomeView(user="U0123456789", reading=reading))
        [block] = [b for b in of_type(home, "actions")
                   if b["elements"][0]["action_id"].startswith(Action.HOME_LANGUAGE.value)]  # fmt: skip
        return list(block["elements"])

    chosen = picker(Reading("sv", "sv", "chosen"))
    assert [(b["text"]["text"], b["value"]) for b in chosen] == [("English", "en"), ("Svenska", "sv"),
                                                                 ("As set in Slack", "auto")]  # fmt: skip
    assert [b.get("style") for b in chosen] == [None, "primary", None]
    assert len({b["action_id"] for b in chosen}) == 3  # ids differ within a block
    assert [b.get("style") for b in picker(Reading("en", None, "default"))] == [None, None, "primary"]
    said = shown(build_home(EN, HomeView(user="U0123456789", reading=Reading("en", None, "default"))))
    assert "*Your language:* English, the bot's default." in said


def test_the_fullest_home_fits_and_says_what_it_leaves_out() -> None:
    home = build_home(EN, fullest())
    assert check_view(home) == []
    assert len(home["blocks"]) <= VIEW_BLOCKS
    text = shown(home)
    assert f"*Your open surveys* ({len(SURVEYS)}) — answer right here:" in text
    answers = [b for b in of_type(home, "actions") if b.get("block_id", "").startswith(BlockId.SURVEY_ANSWERS.value)]
    assert len(answers) == SURVEYS_SHOWN
    for block, survey in zip(answers, SURVEYS, strict=False):
        assert [e["text"]["text"] for e in block["elements"]] == [EN.say(c.label) for c in CHOICES[survey.scale]]
        assert f"*{escape(EN.say(question(survey.scale, TITLE, survey.touchpoint_label)))}*" in text
    assert f"…and {len(SURVEYS) - SURVEYS_SHOWN} more in your messages." in text
    status = [b["accessory"] for b in of_type(home, "section") if "accessory" in b]
    assert [b["value"] for b in status] == [item.detail.rollout.slug for item in MINE[:MINE_SHOWN]]
    assert {b["action_id"] for b in status} == {Action.HOME_STATUS.value}
    assert f"…and {len(MINE) - MINE_SHOWN} more: `/rollout list` shows them all." in text
    assert "*All open rollouts* (you are an admin)" in text and "…more with `/rollout list`." in text
    assert home["blocks"][-1]["elements"][0]["text"].endswith("`/pulse mydata` shows what is stored about you.")


def test_each_rollout_shows_its_stage_and_figures() -> None:
    home = build_home(EN, HomeView(user="U0123456789", mine=MINE[:3], overview=OVERVIEW[:3], min_group=5))
    assert check_view(home) == []
    text = shown(home)
    assert f"*{escape(TITLE)}* · {STAGE_NAMES[4]} · NPS +44 (n=45)\n_owner and champion_" in text
    assert f"*{escape(TITLE)}* · {STAGE_NAMES[4]} · ⏸ paused · NPS +44 (n=45)" in text
    assert f"*{escape(TITLE)}* · 🗓 Planned — not started yet · NPS +44 (n=45)" in text
    # Below the minimum group: the note, and no count of answers so far.
    assert text.count(f"*{escape(TITLE)}* · {STAGE_NAMES[4]} · NPS {fmt.not_enough(EN, 5)}") == 3
    assert "…more" not in text and "more in your messages" not in text


def test_a_home_with_nothing_open() -> None:
    home = build_home(EN, HomeView(user="U0123456789", overview=[], min_group=5))
    assert check_view(home) == []
    text = shown(home)
    assert "Nothing to answer right now. Thank you!" in text and "None yet." in text
    assert "Rollouts you own or champion" not in text


@pytest.mark.parametrize("language", ["en", "sv"])
def test_answers_waiting_for_a_reply_are_counted_with_their_day_and_never_quoted(language: str) -> None:
    t = texts(language)
    text = shown(build_home(t, fullest(Reading(language, language, "chosen")))["blocks"])
    waiting = t.n_(
        "💬 {n} answer to a reply waits for you (the oldest since {day})",
        "💬 {n} answers to replies wait for you (the oldest since {day})",
        10**6,
        day=t.day(date(2026, 11, 18)),
    )
    assert waiting in text
