"""The digest's trend chart with the most periods, the longest titles and stage names, and more
rollouts than it has panels for: always a PNG, one panel per rollout up to twelve, the ones with
the most answers first; its title, dates and stage marks in the digest's language."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from handlers.blocks.chart import COLUMNS, MAX_PANELS, render_trend
from runtime.i18n import LANGUAGES, texts
from services.digests import TREND_PERIODS, TrendPoint
from tests.handlers.blocks.extremes import TREND_NPS, digest_content, rollout_digest

PNG = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's header chunk."""
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("language", LANGUAGES)
def test_more_rollouts_than_panels_with_every_period(language: str) -> None:
    rollouts = [rollout_digest(i, touchpoint_count=0) for i in range(1, 61)]
    # One with fewer answers than the others, but a figure in every period: left out, so its
    # points are not drawn.
    few = replace(rollouts[0], trend=[replace(p, n=1, nps=50.0) for p in rollouts[0].trend])
    chart = render_trend(texts(language), digest_content([few, *rollouts[1:]]))
    assert chart.png.startswith(PNG)
    assert (chart.panels, chart.left_out) == (MAX_PANELS, 60 - MAX_PANELS)
    shown_per_panel = sum(nps is not None for nps in TREND_NPS)
    assert chart.points == MAX_PANELS * shown_per_panel
    assert size(chart.png) == (420 * COLUMNS, 280 * MAX_PANELS // COLUMNS)
    assert len(rollouts[1].trend) == TREND_PERIODS


def test_a_rollout_without_a_period_to_show_still_gets_its_panel() -> None:
    digest = rollout_digest(1, touchpoint_count=0)
    empty = replace(digest, trend=[TrendPoint(p.period, 0, None) for p in digest.trend])
    chart = render_trend(texts("en"), digest_content([empty]))
    assert chart.png.startswith(PNG)
    assert (chart.panels, chart.points, chart.left_out) == (1, 0, 0)


def test_no_rollouts_is_still_a_chart() -> None:
    chart = render_trend(texts("en"), digest_content([]))
    assert chart.png.startswith(PNG)
    assert (chart.panels, chart.points, chart.left_out) == (0, 0, 0)
    assert size(chart.png) == (420, 280)
    assert "No active rollouts" in chart.texts
    assert "Inga pågående införanden" in render_trend(texts("sv"), digest_content([])).texts


def test_the_chart_is_drawn_in_the_digests_language() -> None:
    digest = rollout_digest(1, touchpoint_count=0)
    completed = digest.marks[0].model_copy(update={"kind": "complete", "to_stage_id": None})
    content = digest_content([replace(digest, marks=[digest.marks[1], completed])])
    english, swedish = render_trend(texts("en"), content), render_trend(texts("sv"), content)
    assert "NPS, last periods (gaps: too few answers to show)" in english.texts
    assert "NPS, senaste perioderna (luckor: för få svar att visa)" in swedish.texts
    # The periods end on Mondays from 5 Oct to 23 Nov 2026.
    assert {"Oct 5", "Nov 16", "Nov 23"} <= set(english.texts)
    assert {"5 okt.", "16 nov.", "23 nov."} <= set(swedish.texts)
    assert not {"Nov 23", "Oct 5"} & set(swedish.texts)
    # A stage change is marked with the stage it went to, or else with what happened.
    assert digest.detail.stages[2].name in swedish.texts
    assert "complete" in english.texts and "klart" in swedish.texts
