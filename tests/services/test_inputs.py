from __future__ import annotations

from datetime import date

import pytest

from services import inputs
from services.errors import BadInput
from services.metrics import MetricName


@pytest.mark.parametrize("slug", ["Expense", "a", "-lead", "x" * 41, "has space", "émoji", "a_b"])
def test_bad_slugs(slug: str) -> None:
    with pytest.raises(BadInput, match="not a valid rollout name"):
        inputs.slug(slug)


@pytest.mark.parametrize("slug", ["ab", "expense-tool", "9lives", "x" * 40])
def test_good_slugs(slug: str) -> None:
    assert inputs.slug(slug) == slug


@pytest.mark.parametrize(("text", "message"), [("2026-13-45", "not a real date"), ("2026-02-30", "not a real date"),
                                               ("tomorrow", "YYYY-MM-DD"), ("20261201", "YYYY-MM-DD"),
                                               # digits of other scripts are not a date we can read
                                               ("２０２６-１２-０１", "YYYY-MM-DD"),
                                               ("\u0662\u0660\u0662\u0666-12-01", "YYYY-MM-DD")])  # fmt: skip
def test_impossible_dates(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        inputs.day(text)


def test_a_real_date() -> None:
    assert inputs.day("2026-12-01") == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [("nps", "30", 30.0), ("response_rate", "40%", 0.4), ("response_rate", "0.4", 0.4), ("ces", "5,5", 5.5)],
)
def test_target_values(metric: str, value: str, expected: float) -> None:
    assert inputs.target_value(MetricName(metric), value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "value", "message"),
    [("nps", "lots", "not a number"), ("nps", "130", "out of range"), ("response_rate", "2", "out of range"),
     ("nps", "nan", "not a number"), ("ces", "9", "out of range")],
)  # fmt: skip
def test_bad_target_values(metric: str, value: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        inputs.target_value(MetricName(metric), value)


def test_operators_and_metrics() -> None:
    assert inputs.op("≥") == ">=" and inputs.op("=") == "=="
    with pytest.raises(BadInput, match="not a comparison"):
        inputs.op("~")
    with pytest.raises(BadInput, match="not a metric"):
        inputs.metric("happiness")


def test_stage_names() -> None:
    assert inputs.stage_names("Pilot, beta,GA") == ["pilot", "beta", "ga"]
    with pytest.raises(BadInput, match="appears twice"):
        inputs.stage_names("a,b,a")
    with pytest.raises(BadInput, match="too many"):
        inputs.stage_names(",".join(f"s{i}" for i in range(11)))


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "\x00\x01\x7f", "\u200b\u200b", "\u00a0\t\n", "\x1b\u2060",
     "\ufe0f", "\u0301\u0301", "\u3164", "\u2800 \u115f", "\u202e", "\ud800"],
)  # fmt: skip
def test_a_reason_that_would_show_nothing_is_no_reason(typed: str) -> None:
    with pytest.raises(BadInput, match="Give a reason"):
        inputs.reason(typed, required=True)
    with pytest.raises(BadInput, match="empty"):
        inputs.title(typed)
    assert inputs.multiline_text(typed) == ""


def test_typed_text_keeps_what_shows_and_drops_what_cannot_be_stored_or_misleads() -> None:
    assert inputs.reason("  pilot\x00 found\n\na   bug ", required=True) == "pilot found a bug"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji joined by zero-width joiners
    assert inputs.title(f"Rollout {family}") == f"Rollout {family}"
    assert inputs.title("\U0001fa75") == "\U0001fa75"  # an emoji newer than Python 3.11's tables
    assert inputs.title("caf\u0065\u0301") == "caf\u0065\u0301"  # a letter with a combining accent
    assert inputs.title("abc\u202eevil") == "abcevil"  # no text reading backwards
    assert inputs.vision("half\ud800 a surrogate") == "half a surrogate"  # SQLite could not store it
    assert inputs.multiline_text("  first line\n\n  second\x07 line  ") == "first line\n\n  second line"
