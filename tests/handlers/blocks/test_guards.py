"""Guarded stages stay within Slack's limits at their longest, in each language: the approver's
DM, the regression alert, the answer to an advance that waits, and the status card's lines for
every rule (approvers waiting, every gate's alarm raised, pause on regression)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from handlers.blocks.guards import build_alert, build_approval_request, build_held
from handlers.blocks.rollouts import build_status_card
from handlers.ids import Action
from runtime.i18n import LANGUAGES, Texts, texts
from services.announcements import AlertKind, ApprovalNote, Figures, RegressionAlert
from services.rollouts import Held, StatusView
from storage.models import ApprovalRequest
from storage.rollouts import RolloutDetail
from tests.handlers.blocks import extremes as longest
from tests.handlers.blocks.extremes import BIG_ID, REASON, SLUG, STAGE_NAMES, TITLE, message_problems, shown, user

BERLIN = ZoneInfo("Europe/Berlin")
APPROVERS = 100


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    return texts(request.param)


def request(status: str = "waiting") -> ApprovalRequest:
    return ApprovalRequest(
        id=BIG_ID, rollout_id=1, from_stage_id=104, to_stage_id=105, requested_by=user(1), reason=REASON,
        overridden=True, status=status, decided_by=None, requested_at=1_767_000_000, decided_at=None,
    )  # fmt: skip


def guarded_detail() -> RolloutDetail:
    """The longest rollout, in its fourth stage, with many approvers of the next and an advance waiting."""
    detail = longest.rollout_detail(current=4)
    approvers = {stage.id: [user(i, "W") for i in range(APPROVERS)] for stage in detail.stages}
    rollout = detail.rollout.model_copy(update={"on_regression": "pause"})
    return RolloutDetail(
        rollout, detail.stages, detail.owners, detail.champions, touchpoints=detail.touchpoints,
        approvers=approvers, waiting=request(),
    )  # fmt: skip


@pytest.mark.parametrize("requested_by", [user(1), "soak"])
def test_the_approvers_dm_fits_at_its_longest_with_every_gate_and_its_button(t: Texts, requested_by: str) -> None:
    detail = longest.rollout_detail()
    note = ApprovalNote(
        request_id=BIG_ID, rollout_slug=SLUG, title=TITLE, from_stage=STAGE_NAMES[0], to_stage=STAGE_NAMES[1],
        requested_by=requested_by, reason=REASON, overridden=True, gates=longest.gates(detail.touchpoints),
        figures=Figures(min_group=5, respondents=10**6, nps=-33.3, nps_margin=1.2, asked=10**7, answered=10**6),
        language=t.language,
    )  # fmt: skip
    message = build_approval_request(t, note)
    assert message_problems(message) == []
    [button] = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == (Action.APPROVE.value, str(BIG_ID))
    text = shown(message.blocks)
    assert "-33 (n=1" in text and text.count("`") >= 2 * len(note.gates)  # every gate, each in code
    withheld = note.model_copy(update={"figures": Figures(min_group=5, respondents=4, nps=None, nps_margin=None,
                                                          asked=10, answered=4)})  # fmt: skip
    assert message_problems(build_approval_request(t, withheld)) == []


@pytest.mark.parametrize("kind", ["gate", "nps_drop"])
@pytest.mark.parametrize("paused", [True, False])
def test_the_regression_alert_fits_at_its_longest(t: Texts, kind: AlertKind, paused: bool) -> None:
    metric = "nps" if kind == "nps_drop" else f"minutes:{longest.name('touchpoint', 1)}"
    alert = RegressionAlert(
        rollout_slug=SLUG, title=TITLE, stage=STAGE_NAMES[0], kind=kind, metric=metric,
        op=None if kind == "nps_drop" else "<=", target=None if kind == "nps_drop" else 15.0, value=90.0,
        low=45.0, high=90.0, previous=22.5, previous_low=10.0, previous_high=45.0, latest=90.0,
        comments=10**6, paused=paused, language=t.language,
    )  # fmt: skip
    message = build_alert(t, alert)
    assert message_problems(message) == []
    assert message.text.startswith("🚨")
    assert ("/rollout resume" in shown(message.blocks)) is paused


def test_the_answer_to_an_advance_that_waits_names_its_approvers(t: Texts) -> None:
    detail = guarded_detail()
    for already in (True, False):
        held = Held(detail, request(), detail.approvers_of(detail.stages[4]), already)
        message = build_held(t, held)
        assert message_problems(message) == []
        assert f"<@{user(0, 'W')}>" in shown(message.blocks)


def test_the_status_card_shows_each_rule_at_its_longest(t: Texts) -> None:
    detail = guarded_detail()
    gates = longest.gates(detail.touchpoints)
    raised = [f"target:{g.metric}" for g in gates] + ["nps-drop"]
    view = StatusView(detail, longest.metrics(detail.touchpoints), gates, 10**6, longest.PERIODS[-1].end.date(),
                      raised=raised)  # fmt: skip
    card = build_status_card(t, view, viewer_may_change=True, tz=BERLIN)
    assert message_problems(card) == []
    text = shown(card.blocks)
    assert "⏳" in text and "🚨" in text and "👁" in text
