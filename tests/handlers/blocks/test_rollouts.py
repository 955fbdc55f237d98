"""The rollout surfaces stay within Slack's limits however much there is to show."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from handlers.blocks.rollouts import build_history, build_list, build_roadmap, build_status_card, stage_track
from sandbox.blockkit import check_message
from services.metrics import compute_metrics
from services.rollouts import HistoryView, StatusView
from storage.models import AuditEntry, GateRecord, Rollout, RolloutStatus, Stage
from storage.rollouts import RolloutDetail

TZ = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 21)


def detail(
    status: RolloutStatus = RolloutStatus.ACTIVE, current: int = 2, *, title: str = "Expense tool"
) -> RolloutDetail:
    plan = [
        ("alpha", date(2026, 11, 2), 1_762_000_000, 1_763_200_000),
        ("beta", date(2026, 11, 16), 1_763_300_000, None),
        ("ga", date(2026, 11, 20), None, None),
    ]
    stages = [
        Stage(id=i, rollout_id=1, position=i, name=name, planned_start=day, entered_at=entered, left_at=left)
        for i, (name, day, entered, left) in enumerate(plan, start=1)
    ]
    rollout = Rollout(
        id=1, slug="expense-tool", title=title, vision="V" * 2000, status=status, current_stage_id=current,
        channel_id="C1", auto_nps_after_days=7, created_by="U1", created_at=0, updated_at=0,
    )  # fmt: skip
    return RolloutDetail(
        rollout, stages, owners=[f"U0OWNER{i}" for i in range(20)], champions=[f"U0CH{i}" for i in range(60)]
    )


def test_stage_track() -> None:
    assert stage_track(detail()) == "alpha ✓ → *beta* → ga"
    assert stage_track(detail(RolloutStatus.COMPLETED, 3)) == "alpha ✓ → beta ✓ → ga ✓"
    assert stage_track(detail(RolloutStatus.PLANNED, 1)) == "alpha → beta → ga"


def test_a_crowded_status_card_fits() -> None:
    metrics = compute_metrics(
        min_group=5, nps_scores=[10] * 30 + [0] * 10, asked=80, answered=40, touchpoint_scores={}, touchpoints=[]
    )
    gates = [GateRecord(metric=f"csat:touchpoint-{i}", op=">=", target=80, value=None, state="not_enough_data",
                        stage_specific=True) for i in range(60)]  # fmt: skip
    view = StatusView(detail(title="T" * 150), metrics, gates, 12345, TODAY)
    card = build_status_card(view, viewer_may_change=True, tz=TZ)
    assert check_message(card.text, card.blocks) == []
    text = str(card.blocks)
    assert "+50 (n=40, ±" in text and "50% (40 of 80)" in text and "12345 people" in text
    assert "2 days over plan" not in text  # ga planned 2026-11-20: day counts come from the plan
    assert "day " in text


def test_roadmap_marks_late_stages() -> None:
    roadmap = build_roadmap(detail(), TODAY, TZ)
    text = str(roadmap.blocks)
    assert "⚠️ *late*: due 1 day ago" in text  # ga was planned for 2026-11-20
    assert check_message(roadmap.text, roadmap.blocks) == []


def test_a_long_history_fits() -> None:
    entries = [AuditEntry(id=i, rollout_id=1, actor="U1", action="advance", detail={"from": "a", "to": "b",
               "overridden": True}, reason="r" * 500, at=1_763_000_000 + i) for i in range(200)]  # fmt: skip
    view = HistoryView(detail(), entries, [], [])
    message = build_history(view, TZ)
    assert check_message(message.text, message.blocks) == []


def test_sixty_rollouts_fit_in_the_list() -> None:
    items = [(detail(title=f"Rollout number {i} with a long descriptive title " + "x" * 60), "+12") for i in range(60)]
    message = build_list(items, 3, TODAY, TZ)
    assert check_message(message.text, message.blocks) == []
    assert str(message.blocks).count("Rollout number") == 60
