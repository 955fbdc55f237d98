"""The feedback map fits Slack's limits with 20 touchpoints at 5 stages, every cell at its
longest (themes with quotes), in each language; a withheld cell shows only that it is."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.blocks.feedback_map import build_map_message
from runtime.i18n import LANGUAGES, texts
from services.feedback_map import NPS_ROW, FeedbackMap, MapCell
from services.themes import Theme
from tests.handlers.blocks import extremes as longest
from tests.handlers.blocks.extremes import COMMENT, LABEL, message_problems, shown

TOUCHPOINTS = 20
STAGES = 5


def crowded_map(*, enough: bool = True) -> FeedbackMap:
    detail = longest.rollout_detail(touchpoint_count=TOUCHPOINTS)
    stages = detail.stages[:STAGES]
    rows = [(NPS_ROW, "NPS", "nps"), *((t.key, t.label, t.scale) for t in detail.touchpoints)]
    themes = [Theme(("word " * 20).strip() + f" {i}", 10**6, COMMENT) for i in range(3)]
    cells = {
        (row, stage.name): MapCell(row, stage.name, scale, 10**6, -99.5, 0.01, -150.0, themes)
        if enough
        else MapCell(row, stage.name, scale, 0, None, None, None)
        for row, _, scale in rows
        for stage in stages
    }
    return FeedbackMap(detail, rows, stages, cells, 5, date(2026, 11, 17))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("enough", [True, False])
def test_a_map_of_twenty_touchpoints_at_five_stages_fits(language: str, enough: bool) -> None:
    message = build_map_message(texts(language), crowded_map(enough=enough))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert text.count(texts(language)._("not enough answers yet")) == (0 if enough else (TOUCHPOINTS + 1) * STAGES)
    assert LABEL[:20] in text
