"""The metrics service against values computed by hand."""

from __future__ import annotations

import math
from datetime import UTC

import pytest

from services.metrics import (
    Window,
    compute_metrics,
    evaluate_gate,
    nps_summary,
    parse_metric,
    stage_metrics,
    touchpoint_score,
)
from storage import Store
from storage.disclosure import Disclosures
from storage.models import Target, Touchpoint


def test_nps_of_nobody_is_none() -> None:
    assert nps_summary([]) is None


@pytest.mark.parametrize(("score", "nps"), [(10, 100), (9, 100), (8, 0), (7, 0), (6, -100), (0, -100)])
def test_nps_of_one_respondent_has_no_spread(score: int, nps: float) -> None:
    summary = nps_summary([score])
    assert summary is not None
    assert (summary.n, summary.score, summary.margin) == (1, nps, 0)


def test_nps_and_its_interval_for_ten_answers() -> None:
    # promoters 10,10,9,9,10 (5); passives 8,7 (2); detractors 6,0,3 (3)
    summary = nps_summary([10, 10, 9, 8, 7, 6, 0, 3, 9, 10])
    assert summary is not None
    assert summary.n == 10
    assert summary.score == pytest.approx(20.0)
    assert (summary.promoters, summary.passives, summary.detractors) == pytest.approx((0.5, 0.2, 0.3))
    # Var(X) = 0.5 + 0.3 - 0.2² = 0.76; margin = 1.96 · 100 · sqrt(0.76 / 10) = 54.0335…
    assert summary.margin == pytest.approx(1.96 * 100 * math.sqrt(0.076), abs=1e-9)
    assert summary.margin == pytest.approx(54.03, abs=0.01)
    assert (summary.low, summary.high) == pytest.approx((-34.03, 74.03), abs=0.01)


def test_all_promoters_has_no_spread() -> None:
    summary = nps_summary([9, 10, 10, 9, 10])
    assert summary is not None
    assert (summary.score, summary.margin) == (100, 0)


@pytest.mark.parametrize(
    ("scale", "scores", "expected"),
    [
        ("csat", [5, 4, 3, 2, 1], 40.0),
        ("csat", [], None),
        ("ces", [7, 5, 6], 6.0),
        ("thumbs", [1, 0, 1, 1], 75.0),
        ("minutes", [2.5, 10, 22.5], 10.0),
        ("minutes", [2.5, 10], 6.25),
    ],
)
def test_touchpoint_scores(scale: str, scores: list[float], expected: float | None) -> None:
    assert touchpoint_score(scale, scores) == expected  # type: ignore[arg-type]


def _target(metric: str, op: str, value: float) -> Target:
    return Target(id=1, rollout_id=1, stage_id=None, metric=metric, op=op, value=value)


def test_below_the_threshold_nothing_derived_from_answers_is_shown() -> None:
    tp = Touchpoint(id=7, rollout_id=1, key="onboarding", label="Onboarding", scale="csat")
    metrics = compute_metrics(
        min_group=5, nps_scores=[10, 9, 0, 8], asked=10, answered=4, touchpoint_scores={7: [5, 5]}, touchpoints=[tp]
    )
    assert metrics.nps is None and metrics.respondents == 4
    assert metrics.touchpoints["onboarding"].score is None
    assert evaluate_gate(_target("nps", ">=", -100), metrics).state == "not_enough_data"
    assert evaluate_gate(_target("response_rate", ">=", 0.1), metrics).state == "not_enough_data"
    assert evaluate_gate(_target("csat:onboarding", ">=", 0), metrics).state == "not_enough_data"
    # a count of answers reveals nothing about them and is always evaluated
    assert evaluate_gate(_target("responses", ">=", 6), metrics).state == "pass"


def test_gates_pass_and_fail_on_the_values() -> None:
    tp = Touchpoint(id=7, rollout_id=1, key="setup", label="Setup", scale="ces")
    metrics = compute_metrics(
        min_group=5,
        nps_scores=[10, 10, 9, 8, 7, 6, 0, 3, 9, 10],
        asked=20,
        answered=10,
        touchpoint_scores={7: [7, 6, 5, 6, 6]},
        touchpoints=[tp],
    )
    assert metrics.response_rate == 0.5
    assert metrics.responses == 15
    gate = evaluate_gate(_target("nps", ">=", 30), metrics)
    assert gate.state == "fail"
    assert gate.value == pytest.approx(20.0)
    assert evaluate_gate(_target("nps", ">", 19.5), metrics).state == "pass"
    assert evaluate_gate(_target("response_rate", ">=", 0.5), metrics).state == "pass"
    assert evaluate_gate(_target("response_rate", ">", 0.5), metrics).state == "fail"
    assert evaluate_gate(_target("ces:setup", ">=", 6), metrics).state == "pass"
    assert evaluate_gate(_target("ces:other", ">=", 1), metrics).state == "not_enough_data"
    assert evaluate_gate(_target("responses", "<", 15), metrics).state == "fail"
    assert evaluate_gate(_target("responses", "==", 15), metrics).state == "pass"


def test_metric_names() -> None:
    assert str(parse_metric("NPS")) == "nps"
    assert str(parse_metric("csat:onboarding")) == "csat:onboarding"
    for bad in ("happiness", "csat:", "csat:Bad Key", "nps:x", "minutes"):
        assert parse_metric(bad) is None


async def _seed(store: Store) -> tuple[int, int, int]:
    """A rollout with two stages; returns (rollout, alpha, beta)."""
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO rollouts (id, slug, title, created_by, created_at, updated_at)"
            " VALUES (1, 'x1', 'X', 'U1', 0, 0)"
        )
        await conn.execute("INSERT INTO stages (id, rollout_id, position, name) VALUES (10, 1, 1, 'alpha')")
        await conn.execute("INSERT INTO stages (id, rollout_id, position, name) VALUES (11, 1, 2, 'beta')")
    return 1, 10, 11


async def test_stage_metrics_from_the_store(store: Store) -> None:
    _, alpha, beta = await _seed(store)
    async with store.transaction() as conn:
        await conn.execute(
            """INSERT INTO waves (id, rollout_id, stage_id, kind, origin, opened_at, closes_at)
               VALUES (100, 1, ?, 'nps', 'send', 1000, 9000), (101, 1, ?, 'nps', 'send', 1000, 9000)""",
            (alpha, beta),
        )
        # 8 people asked in alpha, 6 answered; one delivery failed and does not count as asked.
        for i in range(8):
            await conn.execute(
                "INSERT INTO deliveries (wave_id, user_id, status, answered, created_at) VALUES (100, ?, 'sent', ?, 0)",
                (f"U{i}", int(i < 6)),
            )
        await conn.execute(
            "INSERT INTO deliveries (wave_id, user_id, status, created_at) VALUES (100, 'UX', 'failed', 0)"
        )
        for i, score in enumerate([10, 9, 9, 7, 3, 10]):
            await conn.execute(
                """INSERT INTO responses (wave_id, rollout_id, stage_id, kind, respondent_key, score, answered_on)
                   VALUES (100, 1, ?, 'nps', ?, ?, pulse_day(?))""",
                (alpha, f"k{i}", score, 2000 + i * 86400),
            )
        await conn.execute(
            """INSERT INTO responses (wave_id, rollout_id, stage_id, kind, respondent_key, score, answered_on)
               VALUES (101, 1, ?, 'nps', 'b1', 0, pulse_day(2000))""",
            (beta,),
        )
    # Released as they would have been on arrival: the first five (on their fifth day) as a group;
    # the sixth waits for four more, and beta's one answer for its own four.
    assert await Disclosures(store).release_backlog(min_group=5) == 5
    metrics = await stage_metrics(store, stage_id=alpha, touchpoints=[], min_group=5)
    # of 10, 9, 9, 7, 3: promoters 3 of 5, detractors 1 of 5: NPS = 100 · 2/5 = 40
    assert metrics.nps is not None
    assert metrics.nps.n == 5 and metrics.nps.score == pytest.approx(40.0)
    assert (metrics.asked, metrics.answered) == (8, 5)
    assert metrics.response_rate == 5 / 8
    assert (await stage_metrics(store, stage_id=beta, touchpoints=[], min_group=5)).respondents == 0
    windowed = await stage_metrics(
        store, stage_id=alpha, touchpoints=[], min_group=5, window=Window.of(0, 3 * 86400, UTC)
    )
    assert windowed.respondents == 0 and windowed.nps is None
    released_later = await stage_metrics(
        store, stage_id=alpha, touchpoints=[], min_group=5, window=Window.of(4 * 86400, 5 * 86400, UTC)
    )
    assert released_later.respondents == 5
