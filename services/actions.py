""" "You said, we did" (docs/closing-the-loop.md): an owner records what changed because of the
feedback, and everyone a survey of the current stage reached hears of it in one short DM.

Each person gets at most one such note a week: an action recorded while their note still waits
joins it, and one recorded within a week of their last note waits for the week to pass. Notes go
in the person's language and within their working hours, through the exactly-once outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from runtime.clock import Clock, epoch
from runtime.i18n import N_, for_operator
from services.errors import BadInput, Conflict
from services.inputs import free_text
from services.languages import LanguageService
from services.options import Options
from services.quiet_hours import next_send_time, zone
from services.rollouts import RolloutService
from services.surveys import SurveyService
from storage.actions import Action, Actions
from storage.db import Store
from storage.models import RolloutStatus
from storage.writes import Writes, write

ACTION_MAX = 500
NOTE_EVERY = 7 * 86400  # at most one note a week per person
NOTE_KIND = "action_note"
ACTION_RECORDED = for_operator("action recorded")  # the audit code


class NotedAction(BaseModel):
    """One action as a note tells it."""

    id: int
    body: str
    rollout_title: str
    title_variants: dict[str, str] = {}
    theme: str | None  # the touchpoint's label it answers; None: the rollout as a whole (NPS)
    theme_variants: dict[str, str] = {}


class ActionNote(BaseModel):
    """The outbox payload of one person's note: the actions it tells, grouped."""

    actions: list[NotedAction]
    language: str


@dataclass(frozen=True)
class Recorded:
    action_id: int
    told: int  # people whose note will tell it
    grouped: int  # of them, people whose waiting note it joined
    later: int  # of them, people told within the last week: their note waits for the week to pass


class ActionService:
    def __init__(
        self,
        store: Store,
        settings: Options,
        clock: Clock,
        rollouts: RolloutService,
        surveys: SurveyService,
        languages: LanguageService,
    ) -> None:
        self.store = store
        self.surveys = surveys
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.languages = languages
        self.actions = Actions(store)
        self.on_outbox: Callable[[], None] = lambda: None

    async def record(self, actor: str, slug: str, text: str, touchpoint_key: str | None) -> Recorded:
        detail = await self.rollouts.get(slug)
        self.rollouts.require_owner(detail, actor)
        body = free_text(text)
        if not body or len(body) > ACTION_MAX:
            raise BadInput(N_("Say what changed in 1 to {max} characters, in quotes.", max=ACTION_MAX), field="action")
        stage = detail.current
        if stage is None or detail.rollout.status == RolloutStatus.PLANNED:
            raise Conflict(N_("{slug} has not started: nobody has been asked yet.", slug=detail.rollout.slug))
        touchpoint = await self.surveys.touchpoint(detail, touchpoint_key) if touchpoint_key is not None else None
        people = await self.actions.surveyed(stage.id, touchpoint.id if touchpoint else None)
        languages = {user: await self.languages.of(user) for user, _ in people}
        noted = NotedAction(
            id=0,
            body=body,
            rollout_title=detail.rollout.title,
            title_variants=detail.rollout.title_variants,
            theme=touchpoint.label if touchpoint else None,
            theme_variants=touchpoint.label_variants if touchpoint else {},
        )
        now = epoch(self.clock.now())

        def record(writes: Writes) -> Recorded:
            action_id = writes.actions.record(
                rollout_id=detail.rollout.id,
                stage_id=stage.id,
                touchpoint_id=touchpoint.id if touchpoint else None,
                body=body,
                actor=actor,
                now=now,
            )
            writes.rollouts.write_audit(
                rollout_id=detail.rollout.id, actor=actor, action=ACTION_RECORDED, now=now, detail={"action": body}
            )
            told = noted.model_copy(update={"id": action_id})
            grouped = later = 0
            for user, tz in people:
                how = self._note(writes, user, tz, languages[user], told, now)
                grouped += how == "grouped"
                later += how == "later"
            writes.actions.told(action_id, len(people))
            return Recorded(action_id, len(people), grouped, later)

        recorded = await write(self.store, record)
        self.on_outbox()
        return recorded

    def _note(self, writes: Writes, user: str, tz: str | None, language: str, action: NotedAction, now: int) -> str:
        """Queue `action` for `user`: into their waiting note, or a new one no sooner than a week
        after their last. Returns grouped, later or now."""
        waiting = writes.outbox.pending(NOTE_KIND, user)
        if waiting is not None:
            note = ActionNote.model_validate_json(waiting[1])
            note.actions.append(action)
            writes.outbox.replace_payload(waiting[0], note.model_dump_json())
            return "grouped"
        last = writes.outbox.last_sent_at(NOTE_KIND, user)
        earliest = max(now, last + NOTE_EVERY) if last is not None else now
        at = next_send_time(
            datetime.fromtimestamp(earliest, UTC), zone(tz, self.settings.tz), self.settings.pulse_quiet_hours
        )
        writes.outbox.enqueue(
            kind=NOTE_KIND,
            dedupe_key=f"action:{action.id}:{user}",
            channel=user,
            payload=ActionNote(actions=[action], language=language).model_dump_json(),
            now=now,
            not_before=int(at.timestamp()),
        )
        return "later" if earliest > now else "now"

    async def between(self, rollout_id: int, start_at: int, end_at: int) -> list[Action]:
        return await self.actions.between(rollout_id, start_at, end_at)
