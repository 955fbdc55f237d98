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
from runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, for_operator, texts
from services.directory import Directory
from services.errors import BadInput, Conflict
from services.inputs import free_text
from services.languages import LanguageService
from services.options import Options
from services.quiet_hours import next_send_time, zone
from services.rollouts import RolloutService
from services.surveys import SurveyService
from storage.actions import Actions
from storage.db import Store
from storage.models import RolloutStatus
from storage.writes import Writes, write

ACTION_MAX = 500
NOTE_EVERY = 7 * 86400  # at most one note a week per person
CHECK_IN_AFTER = 14 * 86400  # "Did this change help?" two weeks after the change
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

    async def record(
        self, actor: str, slug: str, text: str, touchpoint_key: str | None, *, check_in: bool = False
    ) -> Recorded:
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
            if check_in:
                self._check_in(writes, detail.rollout.id, detail.rollout.slug, action_id, body, now)
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

    def _check_in(self, writes: Writes, rollout_id: int, slug: str, action_id: int, body: str, now: int) -> None:
        """The check-in's thumbs touchpoint, asked about the change in every language, to open
        CHECK_IN_AFTER from now."""
        about = N_("the change “{what}”", what=body[:120])
        labels = {language: texts(language).say(about) for language in LANGUAGES}
        key = f"check-in-{action_id}"
        writes.surveys.upsert_touchpoint(
            rollout_id=rollout_id,
            key=key,
            label=labels[DEFAULT_LANGUAGE],
            label_variants=labels,
            scale="thumbs",
            now=now,
        )
        writes.actions.check_in(action_id, writes.rollouts.touchpoint_id_of(slug, key), now + CHECK_IN_AFTER)

    async def open_check_ins(self, directory: Directory) -> int:
        """Open the check-ins that are due: a thumbs survey "Did the change … work for you?" to
        the people its note went to, with the usual fatigue and working-hours rules. Derived from
        the store, so it survives restarts and catches up after downtime."""
        opened = 0
        for action in await self.actions.check_ins_due(epoch(self.clock.now())):
            detail = await self.rollouts.by_id(action.rollout_id)
            stage = next((s for s in detail.stages if s.id == action.stage_id), None) if detail else None
            touchpoint = next((t for t in detail.touchpoints if t.id == action.check_in_id), None) if detail else None
            if detail is not None and detail.rollout.status == RolloutStatus.PAUSED:
                continue  # paused rollouts send no surveys: it opens once the rollout resumes
            if detail is not None and detail.rollout.status == RolloutStatus.ACTIVE and stage and touchpoint:
                # The people the note went to: those asked before the change was recorded.
                asked = await self.actions.surveyed(stage.id, action.touchpoint_id, until=action.created_at)
                people = [user for user, _ in asked]
                await self.surveys.open_wave(detail, stage, touchpoint, "ask", action.created_by, people, directory)
                opened += 1
            # Opened, or no longer possible (the rollout completed, or the touchpoint went): once only.
            await self.actions.checked_in(action.id, epoch(self.clock.now()))
        return opened
