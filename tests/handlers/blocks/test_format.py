"""How figures, people, dates, gates and comments read, at their longest: a released comment is
one quoted line of at most 280 characters, dated by its week; below the minimum group no count shows."""

from __future__ import annotations

import pytest

from handlers.blocks import format as fmt
from handlers.blocks.text import escape, section
from runtime.i18n import texts
from sandbox.blockkit import SECTION_TEXT, check_message
from services.metrics import compute_metrics
from storage.disclosure import ReleasedComment
from storage.models import GateRecord
from storage.people import FORGOTTEN
from tests.handlers.blocks.extremes import COMMENT, REASON, STAGE_NAMES, gates, name, touchpoints, user

EN = texts("en")
SV = texts("sv")


def test_a_released_comment_is_one_quoted_line_dated_by_its_week() -> None:
    line = fmt.comment(EN, ReleasedComment(body=COMMENT, released_on="2026-11-22"))  # a Sunday
    assert "\n" not in line  # the quote mark covers all of it
    assert line.startswith("> It broke on Monday, twice &amp;")
    assert line.endswith(" _(week of Nov 16, 2026)_")
    quoted = line.removeprefix("> ").removesuffix(" _(week of Nov 16, 2026)_")
    assert quoted == escape(" ".join(COMMENT.split())[:280])
    # Escaped, 280 `&` are 1400 characters: a section still takes two of the longest.
    assert len("\n".join([line] * 2)) <= SECTION_TEXT


def test_the_longest_gate_reads_in_one_line() -> None:
    [tp] = touchpoints(count=1)
    record = GateRecord(metric=f"minutes:{tp.key}", op="<=", target=15, value=22.5, state="fail", stage_specific=True)
    line = fmt.gate(EN, record, STAGE_NAMES[-1])
    assert line == f"❌ `minutes:{tp.key} ≤ 15 min` — now 22.5 min _({STAGE_NAMES[-1]} only)_"
    waiting = fmt.gate(EN, record.model_copy(update={"state": "not_enough_data", "value": None}))
    assert waiting.endswith("— not enough data yet")


def test_every_gate_of_a_crowded_stage_fits_in_a_message() -> None:
    lines = [fmt.gate(EN, g, STAGE_NAMES[-1]) for g in gates(touchpoints())]
    blocks = [section("\n".join(lines[i : i + 20])) for i in range(0, len(lines), 20)]
    assert check_message("gates", blocks) == []
    assert all(len(line) < 200 for line in lines)


def test_below_the_minimum_group_no_count_is_shown() -> None:
    few = compute_metrics(min_group=5, nps_scores=[10] * 4, asked=9, answered=4, touchpoint_scores={}, touchpoints=[])
    assert fmt.nps(EN, few.nps, few.respondents, 5) == "not enough answers yet (shown once 5 have answered)"
    assert fmt.response_rate(EN, few) == fmt.not_enough(EN, 5)  # 4 of 9 would move with each answer
    enough = compute_metrics(
        min_group=5, nps_scores=[10] * 6, asked=8, answered=6, touchpoint_scores={}, touchpoints=[]
    )
    assert fmt.response_rate(EN, enough) == "75% (6 of 8)"
    assert fmt.nps(EN, enough.nps, 6, 5) == "+100 (n=6, ±0)"


def test_people_read_as_mentions_and_the_forgotten_as_nobody() -> None:
    many = [user(i) for i in range(200)]
    assert fmt.people(EN, many) == ", ".join(f"<@{u}>" for u in many)
    assert fmt.people(EN, []) == "none yet"
    assert fmt.user(EN, FORGOTTEN) == "_a person who asked to be forgotten_"


def test_a_typed_reason_is_quoted_escaped() -> None:
    assert fmt.quoted(REASON) == f"“{escape(REASON)}”"
    assert fmt.quoted(None) == ""


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("nps", -100, "-100"),
        ("nps", 0.4, "0"),
        ("response_rate", 1.0, "100%"),
        (f"csat:{name('touchpoint', 1)}", 99.6, "100%"),
        (f"ces:{name('touchpoint', 1)}", 6.96, "7.0"),
        (f"minutes:{name('touchpoint', 1)}", 90, "90 min"),
        ("responses", 500, "500"),
    ],
)
def test_figures_read_in_their_units(metric: str, value: float, shown: str) -> None:
    assert fmt.metric_value(EN, metric, value) == shown


def test_swedish_figures_and_weeks_read_as_swedes_write_them() -> None:
    assert fmt.metric_value(SV, "response_rate", 0.84) == "84\u00a0%"
    assert fmt.metric_value(SV, f"ces:{name('touchpoint', 1)}", 6.96) == "7,0"
    assert fmt.days(SV, 1) == "1 dag" and fmt.days(SV, 3) == "3 dagar"
    assert fmt.comment(SV, ReleasedComment(body="Bra", released_on="2026-11-22")).endswith(
        "_(veckan som börjar 16 nov. 2026)_"
    )
