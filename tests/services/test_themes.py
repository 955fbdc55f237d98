"""Themes found offline in known comments: the phrases a cell repeats, grouped into one theme
when they are said in the same comments, shared across cells, and shown (with a quote) only when
a group of comments carries the theme; English and Swedish function words are no theme."""

from __future__ import annotations

from services.themes import themes_by_cell

RECEIPTS = [
    "The receipts page is slow",
    "receipts page slow on Monday",
    "Slow receipts page again",
    "Receipts page slow!!",
    "page is slow when uploading receipts",
]
MILEAGE = ["I love the new mileage form", "mileage form is nice"]
SWEDISH = ["Kvittosidan är långsam och det är jobbigt", "kvittosidan är långsam idag", "Det är bra"]


def test_the_phrases_a_cell_repeats_are_its_themes_and_the_quote_waits_for_the_minimum() -> None:
    found = themes_by_cell({"nps/alpha": RECEIPTS + MILEAGE, "csat/beta": [*MILEAGE, "mileage form saves time"]},
                           min_group=5)  # fmt: skip
    [receipts] = found["nps/alpha"]  # "mileage form" is said twice: fewer than a group, not shown
    assert receipts.phrase in ("receipts page", "page slow")
    assert receipts.count == 5 and receipts.quote in RECEIPTS
    # The same words make the same theme in another cell, once a group of comments says them.
    assert found["csat/beta"] == []
    again = themes_by_cell({"a": RECEIPTS, "b": [*MILEAGE, "mileage form saves time"]}, min_group=3)
    assert [(t.phrase, t.count) for t in again["b"]] == [("mileage form", 3)]


def test_function_words_and_singletons_make_no_theme() -> None:
    found = themes_by_cell({"sv": SWEDISH, "once": ["Everything about the export was confusing"], "empty": []},
                           min_group=2)  # fmt: skip
    assert [t.phrase for t in found["sv"]] == ["kvittosidan långsam"]
    assert found["sv"][0].quote in SWEDISH[:2]
    assert found["once"] == [] and found["empty"] == []


def test_no_comments_at_all_find_no_theme() -> None:
    assert themes_by_cell({"a": [], "b": ["ok", "ok"]}, min_group=5) == {"a": [], "b": []}
