"""How each kind of outbox row reads when it is sent."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.blocks.announcement import build_announcement
from handlers.blocks.guards import build_alert, build_approval_request
from handlers.blocks.rollouts import build_late_stage
from handlers.blocks.survey import build_closed, build_survey
from handlers.blocks.text import Message
from handlers.blocks.threads import build_action_note, build_note_to_replier, build_note_to_writer
from runtime.i18n import texts
from services.actions import ActionNote
from services.announcements import Announcement, ApprovalNote, LateStage, RegressionAlert
from services.models import OutboxItem
from services.surveys import SurveyNotice
from services.threads import ThreadNote


@dataclass(frozen=True)
class OutboxMessage:
    """How an outbox row goes out: a new post, or an update of a message already posted."""

    message: Message
    update_ts: str | None = None


def render_outbox_item(item: OutboxItem) -> OutboxMessage:
    if item.kind == "announcement":
        announcement = Announcement.model_validate_json(item.payload)
        # In the language fixed when it was queued: the champion's, or the rollout's for its channel.
        return OutboxMessage(build_announcement(texts(announcement.language), announcement))
    if item.kind == "reminder":
        notice = SurveyNotice.model_validate_json(item.payload)
        # A reminder and a closing are of a survey already out: in the language it went out in.
        return OutboxMessage(build_survey(texts(notice.view.language), notice.view, reminder=True))
    if item.kind == "survey_closed":
        notice = SurveyNotice.model_validate_json(item.payload)
        return OutboxMessage(
            build_closed(
                texts(notice.view.language), notice.view, answered=notice.answered, unlinkable=notice.unlinkable
            ),
            update_ts=notice.ts,
        )
    if item.kind == "thread_note":
        note = ThreadNote.model_validate_json(item.payload)
        build = build_note_to_writer if note.to_writer else build_note_to_replier
        # In the reader's language: the writer's is looked up as it goes (only then are they known).
        return OutboxMessage(build(texts(note.language), note))
    if item.kind == "late_stage":
        late = LateStage.model_validate_json(item.payload)
        return OutboxMessage(build_late_stage(texts(late.language), late))
    if item.kind == "action_note":
        action_note = ActionNote.model_validate_json(item.payload)
        return OutboxMessage(build_action_note(texts(action_note.language), action_note))
    if item.kind == "approval_request":
        approval = ApprovalNote.model_validate_json(item.payload)
        return OutboxMessage(build_approval_request(texts(approval.language), approval))
    if item.kind == "regression_alert":
        alert = RegressionAlert.model_validate_json(item.payload)
        return OutboxMessage(build_alert(texts(alert.language), alert))
    raise ValueError(f"no renderer for outbox rows of kind {item.kind!r}")
