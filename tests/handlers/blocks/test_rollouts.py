"""The rollout surfaces stay within Slack's limits however much there is to show: the status
card, list, roadmap, history, gate verdict, confirmations and the override form, with the
longest titles, stage names and reasons, every stage and gate, and many people and rollouts."""

from __future__ import annotations

import json
from datetime import date
from typing import cast, get_args
from zoneinfo import ZoneInfo

import pytest

from handlers.blocks import format as fmt
from handlers.blocks.rollouts import (
    HISTORY_LINES,
    build_done,
    build_gates_blocked,
    build_history,
    build_late_stage,
    build_list,
    build_moved,
    build_override_modal,
    build_roadmap,
    build_status_card,
    stage_track,
)
from handlers.blocks.text import Block, escape
from handlers.ids import Action
from runtime.i18n import LANGUAGES, Texts, texts
from sandbox.blockkit import MESSAGE_BLOCKS, SECTION_TEXT, check_message, check_view
from services import inputs
from services.announcements import LateStage
from services.metrics import compute_metrics
from services.rollouts import GateCheck, HistoryView, Moved, StatusView
from storage.models import AuditEntry, GateRecord, OutboxItem, Rollout, RolloutStatus, Stage, TransitionKind
from storage.people import FORGOTTEN
from storage.rollouts import RolloutDetail
from tests.handlers.blocks import extremes as longest
from tests.handlers.blocks.extremes import (
    BIG_ID,
    CHANNEL,
    GATES,
    REASON,
    RESPONSE_URL,
    ROLLOUTS,
    SLUG,
    STAGE_NAMES,
    TITLE,
    VISION,
    message_problems,
    name,
    rollout_detail,
    shown,
    user,
)

EN = texts("en")
SV = texts("sv")
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
    card = build_status_card(EN, view, viewer_may_change=True, tz=TZ)
    assert check_message(card.text, card.blocks) == []
    text = str(card.blocks)
    assert "+50 (n=40, ±" in text and "50% (40 of 80)" in text and "12,345 people" in text
    assert "2 days over plan" not in text  # ga planned 2026-11-20: day counts come from the plan
    assert "day " in text


def test_roadmap_marks_late_stages() -> None:
    roadmap = build_roadmap(EN, detail(), TODAY, TZ)
    text = str(roadmap.blocks)
    assert "⚠️ *late*: due 1 day ago" in text  # ga was planned for 2026-11-20
    assert check_message(roadmap.text, roadmap.blocks) == []


def test_a_long_history_fits() -> None:
    entries = [AuditEntry(id=i, rollout_id=1, actor="U1", action="advance", detail={"from": "a", "to": "b",
               "overridden": True}, reason="r" * 500, at=1_763_000_000 + i) for i in range(200)]  # fmt: skip
    view = HistoryView(detail(), entries, [], [])
    message = build_history(EN, view, TZ)
    assert check_message(message.text, message.blocks) == []


def test_sixty_rollouts_fit_in_the_list() -> None:
    items = [(detail(title=f"Rollout number {i} with a long descriptive title " + "x" * 60), "+12") for i in range(60)]
    message = build_list(EN, items, 3, TODAY, TZ)
    assert check_message(message.text, message.blocks) == []
    assert str(message.blocks).count("Rollout number") == 60


# -- at the limits: the longest texts, every stage and gate, many people -------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
LATE = date(2026, 3, 1)  # after every planned start of extremes.stages
KINDS: tuple[TransitionKind, ...] = get_args(TransitionKind)


def crowded_card(*, champions: int = longest.CHAMPIONS, may_change: bool = True) -> tuple[StatusView, list[Block]]:
    detail = rollout_detail(champions=champions)
    view = StatusView(detail, longest.metrics(detail.touchpoints), longest.gates(detail.touchpoints), 10**6, LATE)
    card = build_status_card(EN, view, viewer_may_change=may_change, tz=BERLIN)
    assert message_problems(card) == []
    return view, card.blocks


def test_the_longest_status_card_shows_every_gate_and_its_buttons() -> None:
    view, blocks = crowded_card()
    text = shown(blocks)
    assert blocks[0]["text"]["text"] == TITLE
    assert blocks[1]["text"]["text"] == f"_{escape(VISION)}"[: SECTION_TEXT - 1] + "…"
    assert f"*{STAGE_NAMES[4]}*" in text and f"{STAGE_NAMES[3]} ✓" in text
    assert all(fmt.gate(EN, g, STAGE_NAMES[4]) in text for g in view.gates), f"not all {GATES} gates are shown"
    assert f"<@{user(0)}>" in text and f"<@{user(longest.CHAMPIONS - 1, 'W')}>" in text
    assert f"announced in <#{CHANNEL}>" in text
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [(b["text"]["text"], b["value"]) for b in actions["elements"]] == [("Advance", SLUG), ("Roadmap", SLUG)]
    _, read_only = crowded_card(may_change=False)
    assert [b["action_id"] for b in read_only[-1]["elements"]] == [Action.ROADMAP.value]


def test_a_status_card_with_two_hundred_champions_fits_and_counts_the_rest() -> None:
    _, blocks = crowded_card(champions=200)
    text = shown(blocks)
    assert f"<@{user(0, 'W')}>" in text and f"<@{user(99, 'W')}>" in text and f"<@{user(100, 'W')}>" not in text
    assert "and 100 more · Owners:" in text


def test_the_roadmap_of_every_stage_with_the_longest_names() -> None:
    detail = rollout_detail()
    message = build_roadmap(EN, detail, LATE, BERLIN)
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert text.startswith(f"*Roadmap — {escape(TITLE)}*")
    assert all(f"*{stage}* · planned " in text for stage in STAGE_NAMES)
    assert text.count("⚠️ *late*: due ") == len(STAGE_NAMES) - 5  # the stages not reached yet
    assert f"▶ *{STAGE_NAMES[4]}*" in text and text.count("✓ *") == 4


def entry(i: int, action: str, detail: dict[str, object], actor: str) -> AuditEntry:
    return AuditEntry(
        id=i, rollout_id=1, actor=actor, action=action, detail=detail, reason=REASON, at=1_767_000_000 + 60 * i
    )


def history_entries(people_named: int = 10) -> list[AuditEntry]:
    people = [user(i) for i in range(people_named)]
    details: list[tuple[str, dict[str, object]]] = [
        *((kind, {"from": STAGE_NAMES[0], "to": STAGE_NAMES[1], "overridden": True}) for kind in KINDS),
        ("planned", {"stage": STAGE_NAMES[-1], "date": "2026-12-31"}),
        ("target added", {"target": f"csat:{name('touchpoint', 1)} >= 80", "stage": STAGE_NAMES[-1]}),
        ("cohort added", {"entries": [f"<@{u}>" for u in people], "stage": STAGE_NAMES[-1]}),
        ("owners added", {"people": people}),
        ("champions removed", {"people": people}),
        ("channel set", {"channel": CHANNEL}),
        ("config applied", {"change": "&" * 100 if people_named < 100 else "&" * 2000}),
        ("created", {}),
        ("approvers set", {"stage": STAGE_NAMES[-1], "people": people}),
        ("approval asked", {"from": STAGE_NAMES[0], "to": STAGE_NAMES[1], "approvers": people}),
        ("approved", {"from": STAGE_NAMES[0], "to": STAGE_NAMES[1]}),
        ("on regression set", {"on_regression": "pause"}),
        ("regression alert", {"stage": STAGE_NAMES[-1], "rule": "target:nps", "reason": "regression: nps -50 < +0"}),
        ("regression recovered", {"stage": STAGE_NAMES[-1], "rule": "nps-drop"}),
        ("an action of a later version", {}),
    ]
    actors = [user(1), user(2, "W"), FORGOTTEN, "config-file"]
    return [entry(i, *details[i % len(details)], actors[i % len(actors)]) for i in range(HISTORY_LINES + 10)]


def undelivered(i: int) -> OutboxItem:
    """An announcement still waiting to be sent, or failed with the longest error, to a person or the channel."""
    return OutboxItem(
        id=i, kind="announcement", dedupe_key=f"announcement:{i}", transition_id=i, delivery_id=None,
        channel=user(i) if i % 2 else CHANNEL, payload=json.dumps({"to_stage": STAGE_NAMES[-1]}),
        status="failed" if i % 3 else "pending", attempts=9, error="&" * 500, next_attempt_at=0.0,
        message_ts=None, created_at=0, sent_at=None, claimed_at=None,
    )  # fmt: skip


def test_the_longest_history_still_shows_the_announcements_not_delivered() -> None:
    entries = history_entries()
    message = build_history(
        EN, HistoryView(rollout_detail(), entries, [], [undelivered(i) for i in range(200)]), BERLIN
    )
    assert message_problems(message) == []
    assert len(message.blocks) <= MESSAGE_BLOCKS
    text = shown(message.blocks)
    assert text.count(f" — “{escape(REASON)}”") == HISTORY_LINES
    assert f"`{fmt.moment(entries[HISTORY_LINES - 1].at, BERLIN)}`" in text
    assert f"`{fmt.moment(entries[HISTORY_LINES].at, BERLIN)}`" not in text
    assert "_a person who asked to be forgotten_ " in text and "` *config-file* " in text
    assert f"advanced it: {STAGE_NAMES[0]} → {STAGE_NAMES[1]} *(gates overridden)*" in text
    assert "an action of a later version" in text
    assert "*Announcements not delivered*" in text
    assert f"⚠️ The announcement of {STAGE_NAMES[-1]} to <@{user(1)}> failed: `{'&amp;' * 5}" in text
    assert f"⏳ The announcement of {STAGE_NAMES[-1]} to <#{CHANNEL}> is waiting to be sent" in text


def test_history_lines_naming_hundreds_of_people_are_cut_to_fit() -> None:
    entries = history_entries(people_named=300)
    message = build_history(EN, HistoryView(rollout_detail(), entries, [], []), BERLIN)
    assert message_problems(message) == []
    assert shown(message.blocks).count(f"`{fmt.moment(entries[0].at, BERLIN)}`") == 1


def test_a_list_of_many_rollouts_fits_and_still_counts_the_completed() -> None:
    statuses = (RolloutStatus.ACTIVE, RolloutStatus.PAUSED, RolloutStatus.PLANNED)
    items = [(rollout_detail(i, status=statuses[i % 3], touchpoint_count=0), "+100") for i in range(2, ROLLOUTS + 2)]
    message = build_list(EN, items, 10**6, LATE, BERLIN)
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert f"*{escape(TITLE)}* (`{name('rollout', 2)}`) — 🗓 Planned — not started yet · NPS +100" in text
    assert f"(`{name('rollout', 3)}`) — {STAGE_NAMES[4]} · day " in text and " · ⏸ paused · NPS +100" in text
    assert message.blocks[-1]["elements"][0]["text"] == "1,000,000 completed rollouts not shown."
    assert message.text == f"{ROLLOUTS} rollouts"


def test_a_refused_advance_shows_every_gate_and_the_override() -> None:
    detail = rollout_detail()
    stage = detail.stages[-1]
    check = GateCheck(detail, stage, longest.metrics(detail.touchpoints), longest.gates(detail.touchpoints))
    message = build_gates_blocked(EN, check)
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert f"cannot move to completion yet: not every gate of *{STAGE_NAMES[-1]}* passes." in text
    assert all(fmt.gate(EN, g, stage.name) in text for g in check.gates)
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    [button] = actions["elements"]
    assert button["action_id"] == Action.ADVANCE_ANYWAY.value and button["style"] == "danger"
    assert json.loads(button["value"]) == {"rollout": 1, "stage": stage.id}


@pytest.mark.parametrize("kind", KINDS)
def test_the_confirmation_of_a_move_says_whom_it_is_announced_to(kind: TransitionKind) -> None:
    detail = rollout_detail(champions=10**4, touchpoint_count=0)
    message = build_moved(EN, Moved(detail, BIG_ID, kind, STAGE_NAMES[0], STAGE_NAMES[1], 10**6))
    assert message_problems(message) == []
    assert f"*{escape(TITLE)}*" in message.text
    assert shown(message.blocks).endswith(f"Announcing it to 10,000 champions and <#{CHANNEL}>.")


def test_a_done_answer_as_long_as_any_is_cut_to_fit() -> None:
    message = build_done(escape(VISION))
    assert message_problems(message) == []


def test_the_override_form_takes_a_reason_as_long_as_the_bot_keeps() -> None:
    metadata = json.dumps({"rollout": BIG_ID, "stage": BIG_ID, "response_url": RESPONSE_URL})
    modal = build_override_modal(EN, TITLE, STAGE_NAMES[-1], metadata)
    assert check_view(modal) == []
    blocks = cast(list[Block], modal["blocks"])
    assert f"*{escape(TITLE)}* has gates in *{STAGE_NAMES[-1]}* that do not pass." in shown(blocks)
    [reason] = [b for b in blocks if b["type"] == "input"]
    assert (reason["element"]["min_length"], reason["element"]["max_length"]) == (1, inputs.REASON_MAX)


# -- in each language: every surface at its longest fits, and Swedish reads as Swedish -------------


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    return texts(request.param)


def test_every_rollout_surface_at_its_longest_fits_in_each_language(t: Texts) -> None:
    detail = rollout_detail(champions=200)
    view = StatusView(detail, longest.metrics(detail.touchpoints), longest.gates(detail.touchpoints), 10**6, LATE)
    for may_change in (True, False):
        assert message_problems(build_status_card(t, view, viewer_may_change=may_change, tz=BERLIN)) == []
    assert message_problems(build_roadmap(t, detail, LATE, BERLIN)) == []
    for people_named in (10, 300):
        entries = history_entries(people_named)
        history = HistoryView(detail, entries, [], [undelivered(i) for i in range(200)])
        assert message_problems(build_history(t, history, BERLIN)) == []
    statuses = (RolloutStatus.ACTIVE, RolloutStatus.PAUSED, RolloutStatus.PLANNED)
    items = [(rollout_detail(i, status=statuses[i % 3], touchpoint_count=0), "+100") for i in range(2, ROLLOUTS + 2)]
    assert message_problems(build_list(t, items, 10**6, LATE, BERLIN)) == []
    assert message_problems(build_list(t, [], 10**6, LATE, BERLIN)) == []
    stage = detail.stages[-1]
    check = GateCheck(detail, stage, longest.metrics(detail.touchpoints), longest.gates(detail.touchpoints))
    assert message_problems(build_gates_blocked(t, check)) == []
    for kind in KINDS:
        moved = Moved(
            rollout_detail(champions=10**4, touchpoint_count=0), BIG_ID, kind, STAGE_NAMES[0], STAGE_NAMES[1], 10**6
        )
        assert message_problems(build_moved(t, moved)) == []
    metadata = json.dumps({"rollout": BIG_ID, "stage": BIG_ID, "response_url": RESPONSE_URL})
    assert check_view(build_override_modal(t, TITLE, STAGE_NAMES[-1], metadata)) == []


def test_the_status_card_in_swedish() -> None:
    metrics = compute_metrics(
        min_group=5, nps_scores=[10] * 30 + [0] * 10, asked=80, answered=40, touchpoint_scores={}, touchpoints=[]
    )
    card = build_status_card(SV, StatusView(detail(), metrics, [], 12345, TODAY), viewer_may_change=True, tz=TZ)
    assert check_message(card.text, card.blocks) == []
    text = shown(card.blocks)
    assert "▶️ Pågår · `expense-tool`" in text
    [fields] = [[f["text"] for f in b["fields"]] for b in card.blocks if "fields" in b]
    assert fields[0] == "*I det här steget*\ndag 371 (sedan 2025-11-16) · planerat till 2026-11-20, 1 dag efter planen"
    assert fields[1] == "*Målgrupp*\n12\xa0345 personer"  # Babel's Swedish thousands separator
    assert fields[3] == "*Svarsfrekvens*\n50\xa0% (40 av 80)"
    assert "*Grindar*\nInga satta: det krävs inga siffror för att gå vidare." in text
    assert "Ambassadörer: <@U0CH0>" in text and " · Ägare: <@U0OWNER0>" in text and "meddelas i <#C1>" in text
    [actions] = [b for b in card.blocks if b["type"] == "actions"]
    assert [b["text"]["text"] for b in actions["elements"]] == ["Gå vidare", "Färdplan"]


def test_the_roadmap_list_and_confirmations_in_swedish() -> None:
    roadmap = shown(build_roadmap(SV, detail(), TODAY, TZ).blocks)
    assert roadmap.startswith("*Färdplan – Expense tool*")
    assert "⚠️ *sent*: skulle ha börjat för 1 dag sedan" in roadmap and "planerat 2026-11-02" in roadmap
    listing = build_list(SV, [(detail(RolloutStatus.PAUSED), "+12")], 3, TODAY, TZ)
    assert "· ⏸ pausat · NPS +12" in shown(listing.blocks) and listing.text == "1 införande"
    assert listing.blocks[-1]["elements"][0]["text"] == "3 klara införanden visas inte."
    empty = build_list(SV, [], 0, TODAY, TZ)
    assert empty.text == "Inga pågående eller planerade införanden."
    moved = build_moved(SV, Moved(detail(), 7, "advance", "alpha", "beta", 1))
    assert moved.text == "⏩ *Expense tool* gick vidare alpha → *beta*. Målgrupp: 1 person."
    assert shown(moved.blocks).endswith("Meddelar det till 60 ambassadörer och i <#C1>.")
    check = GateCheck(detail(), detail().stages[1], longest.metrics([]), [])
    blocked = shown(build_gates_blocked(SV, check).blocks)
    assert "kan inte gå vidare till ga än: inte alla grindar i *beta* är uppfyllda." in blocked
    modal = build_override_modal(SV, "Expense tool", "beta", "{}")
    title, submit = (cast(dict[str, str], modal[part])["text"] for part in ("title", "submit"))
    assert (title, submit) == ("Gå vidare ändå", "Gå vidare")  # a modal's title holds at most 24 characters
    assert check_view(modal) == []


def test_the_history_is_said_in_the_readers_language_old_entries_too() -> None:
    """The log keeps action codes and facts: the same rows read in English and in Swedish."""
    entries = [
        entry(1, "advance", {"from": "alpha", "to": "beta", "overridden": True}, user(1)),
        entry(2, "planned", {"stage": "ga", "date": "2026-12-31"}, user(1)),
        entry(3, "complete", {"from": "ga", "to": None}, user(1)),
        entry(4, "language set", {"language": "sv"}, user(1)),
        entry(5, "an action of a later version", {}, "config-file"),
    ]
    view = HistoryView(detail(), entries, [], [undelivered(1), undelivered(2)])
    english, swedish = (shown(build_history(language, view, TZ).blocks) for language in (EN, SV))
    assert "advanced it: alpha → beta *(gates overridden)*" in english
    assert "planned a stage: ga on 2026-12-31" in english and "completed it: ga → complete" in english
    assert "set the announcement language: Swedish" in english
    assert swedish.startswith("*Historik – Expense tool* (nyast först)")
    assert "tog det vidare: alpha → beta *(grindarna åsidosattes)*" in swedish
    assert "planerade ett steg: ga den 2026-12-31" in swedish and "slutförde det: ga → klart" in swedish
    assert "satte språket för meddelanden: svenska" in swedish
    assert "` *config-file* an action of a later version" in swedish  # a code this version does not know
    assert "*Meddelanden som inte har kommit fram*" in swedish and "⚠️ Meddelandet om " in swedish


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_late_stage_reminder_fits_at_its_longest_and_offers_the_roadmap(language: str) -> None:
    note = LateStage(
        rollout_slug=SLUG, title=TITLE, stage=STAGE_NAMES[0], next_stage=STAGE_NAMES[1],
        planned=date(2026, 11, 25), language=language,
    )  # fmt: skip
    message = build_late_stage(texts(language), note)
    assert message_problems(message) == []
    assert [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]] == [
        "rollout_roadmap"
    ]
