"""Pulse surveys: touchpoints, waves with fatigue and quiet hours, answers, comments, reminders,
closing, automatic NPS, and results (docs/surveys.md, docs/privacy.md)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from pydantic import BaseModel, ConfigDict

from runtime.clock import Clock, epoch
from runtime.i18n import DEFAULT_LANGUAGE, N_, Nn_, Phrase, for_operator
from services import disclosure as disclosure_rule
from services import inputs
from services.directory import Directory
from services.errors import BadInput, Conflict, DomainError, NotAllowed, NotFound
from services.keys import KeyRing, new_wave_key, respondent_key
from services.languages import LanguageService
from services.metrics import StageMetrics
from services.options import Options
from services.quiet_hours import next_send_time, zone
from services.rollouts import CohortRef, Edit, RolloutService, channel_for, expand, resolve_cohort
from services.scales import SurveyScale, parse_score
from storage.db import Store, day_of
from storage.disclosure import AlreadyReleased, Disclosures, ReleasedComment, pool_of
from storage.models import RolloutStatus, Scale, Stage, Touchpoint, in_language
from storage.outbox import closed_key, reminder_key
from storage.rollouts import RolloutDetail
from storage.surveys import (
    ClickedSurvey,
    Delivery,
    NewDelivery,
    Question,
    SurveyMessage,
    Surveys,
    Wave,
    WaveClosed,
    WaveKind,
)
from storage.writes import Writes, write

log = logging.getLogger(__name__)

DAY = 24 * 3600
TOUCHPOINT_GAP_SECONDS = 30 * DAY  # one survey per touchpoint per 30 days
TOUCHPOINT_DAILY_SECONDS = DAY  # one touchpoint survey a day
COMMENT_MAX = 3000
RESULT_COMMENTS = 5
LABEL_MAX = 150
# Codes of audit entries, kept as they are; the history says them in its reader's language.
TOUCHPOINT_SET = for_operator("touchpoint set")
TRIGGER_ADDED = for_operator("trigger added")

# Why a person was not sent a survey, by the code stored with the skipped delivery. `{n}` of
# recent_nps is PULSE_MIN_DAYS_BETWEEN_SURVEYS (skip_reason fills it in).
SKIP_REASONS: dict[str, Phrase] = {
    "recent_nps": Nn_("asked for NPS in the last {n} day", "asked for NPS in the last {n} days", 0),
    "recent_touchpoint": N_("asked about this touchpoint in the last 30 days"),
    "touchpoint_today": N_("already asked a touchpoint survey today"),
    "unreachable": N_("a bot or a deactivated account"),
    "unknown": N_("not a person in this workspace"),
}
SKIPPED = N_("skipped")  # a reason of an older version, no longer known


def skip_reason(code: str, min_days: int) -> Phrase:
    """Why a delivery with this skip code was not sent, to be said to whoever reads it."""
    reason = SKIP_REASONS.get(code, SKIPPED)
    return replace(reason, n=min_days) if reason.plural is not None else reason


class SurveyClosed(DomainError):
    """A click on a survey whose wave has closed."""


COMMENTS_CLOSED = N_("This survey has closed, so comments are no longer collected.")


@dataclass(frozen=True)
class WaveReport:
    """What opening a wave did, person by person, summed up."""

    wave_id: int | None
    rollout_title: str
    queued_now: int
    held: int
    first_held_until: int | None
    skipped: dict[str, int] = field(default_factory=dict)
    delivery_ids: dict[str, int] = field(default_factory=dict)
    title_variants: dict[str, str] = field(default_factory=dict)

    def title_in(self, language: str) -> str:
        return in_language(self.rollout_title, self.title_variants, language)

    @property
    def queued(self) -> int:
        return self.queued_now + self.held


class SurveyView(BaseModel):
    """What a survey message for one delivery shows."""

    model_config = ConfigDict(frozen=True)

    wave_id: int
    delivery_id: int
    rollout_title: str
    kind: WaveKind
    scale: SurveyScale
    touchpoint_label: str | None
    closes_at: int
    min_group: int
    asked: int = 0  # how many people the wave went to
    language: str = DEFAULT_LANGUAGE  # what its message was sent in: reminders and closing stay in it

    @property
    def too_few_asked(self) -> bool:
        """Sent to fewer than the minimum group: who was asked tells whose the answers are."""
        return self.asked < self.min_group


@dataclass(frozen=True)
class Answered:
    view: SurveyView
    score: float
    commented: bool = False  # they have left a comment too
    dm_channel: str | None = None  # where the survey DM is, to update it after a Home answer
    message_ts: str | None = None


@dataclass(frozen=True)
class Closed:
    what: Phrase  # "the NPS survey", "the onboarding touchpoint survey"
    waves: int
    answers: int  # kept
    few: int  # waves closed with fewer than PULSE_MIN_GROUP answers: those can be told apart
    wiped: bool  # the -wal was emptied at once (else: once another process stops reading)


@dataclass(frozen=True)
class ClosedWaves:
    waves: int
    answers: int
    few: int
    wiped: bool


@dataclass(frozen=True)
class ResultsView:
    detail: RolloutDetail
    stage: Stage
    metrics: StageMetrics
    comments: list[ReleasedComment]


class SurveyService:
    def __init__(
        self,
        store: Store,
        settings: Options,
        clock: Clock,
        rollouts: RolloutService,
        keys: KeyRing,
        languages: LanguageService,
        on_deliveries: Callable[[], None] = lambda: None,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.keys = keys
        self.languages = languages
        self.surveys = Surveys(store)
        self.on_deliveries = on_deliveries
        self.on_outbox = on_outbox

    def _now(self) -> int:
        return epoch(self.clock.now())

    def _today(self) -> str:
        """Answers and comments are dated by this day (in PULSE_TIMEZONE), never by the time."""
        return day_of(self.clock.now().timestamp(), self.settings.tz)

    async def _respondent_key(self, wave: Wave, user: str, closed: Phrase, *, field: str | None = None) -> str:
        """The person's key in an open wave; SurveyClosed once the wave's key is gone."""
        wave_key = await self.keys.wave_key(wave.id) if wave.is_open(self._now()) else None
        if wave_key is None:
            raise SurveyClosed(closed, field=field)
        return respondent_key(wave_key, user)

    # -- permissions --------------------------------------------------------------------------------

    def require_owner_or_champion(self, detail: RolloutDetail, user: str) -> None:
        if self.rollouts.may_change(detail, user) or user in detail.champions:
            return
        raise NotAllowed(
            N_(
                "Only the owners and champions of {slug} (or an admin) can do this. Its owners:",
                slug=detail.rollout.slug,
            ),
            people=tuple(detail.owners),
        )

    # -- touchpoints --------------------------------------------------------------------------------

    async def define_touchpoint(self, actor: str, slug: str, key: str, label: str, scale: str) -> Touchpoint:
        detail = await self.rollouts.get(slug)
        self.rollouts.require_owner(detail, actor)
        key = key.lower()
        if not inputs.STAGE_NAME.match(key):
            raise BadInput(
                N_("“{key}” is not a valid touchpoint key: use lower-case letters, digits and dashes.", key=key[:40])
            )
        label = inputs.free_text(label)
        if not label or len(label) > LABEL_MAX:
            raise BadInput(N_("Give the touchpoint a label of 1 to {max} characters, in quotes.", max=LABEL_MAX))
        if scale not in ("csat", "ces", "thumbs", "minutes"):
            raise BadInput(N_("“{scale}” is not a scale: use csat, ces, thumbs or minutes.", scale=scale[:20]))
        existing = detail.touchpoint(key)
        if existing is not None and existing.scale != scale and await self.surveys.touchpoint_answers(existing.id):
            raise Conflict(
                N_(
                    "{key} already has answers on the {scale} scale, which would no longer add up. "
                    "Define a new touchpoint with another key instead.",
                    key=key,
                    scale=existing.scale,
                )
            )
        now = self._now()

        def body(edit: Edit) -> None:
            edit.writes.surveys.upsert_touchpoint(
                rollout_id=detail.rollout.id, key=key, label=label, scale=scale, now=now
            )
            edit.detail = {"touchpoint": key, "label": label, "scale": scale}

        await self.rollouts.change(detail, actor, TOUCHPOINT_SET, body)
        found = await self.surveys.touchpoint(detail.rollout.id, key)
        assert found is not None
        return found

    async def touchpoint(self, detail: RolloutDetail, key: str) -> Touchpoint:
        found = detail.touchpoint(key.lower())
        if found is None:
            keys: Phrase | str = ", ".join(t.key for t in detail.touchpoints) or N_("none yet")
            raise NotFound(
                N_(
                    "{slug} has no touchpoint “{key}” (its touchpoints: {keys}).",
                    slug=detail.rollout.slug,
                    key=key[:40],
                    keys=keys,
                )
            )
        return found

    async def add_trigger(self, actor: str, slug: str, key: str, channel_id: str, directory: Directory) -> bool:
        detail = await self.rollouts.get(slug)
        self.rollouts.require_owner(detail, actor)
        touchpoint = await self.touchpoint(detail, key)
        await channel_for(
            directory,
            channel_id,
            actor,
            admin=self.settings.is_admin(actor),
            bot_needed=N_("so Slack does not tell me who joins it"),
        )

        def body(edit: Edit) -> bool:
            added = edit.writes.surveys.add_trigger(
                touchpoint_id=touchpoint.id, channel_id=channel_id, actor=actor, now=edit.now
            )
            edit.unchanged = not added
            edit.detail = {"touchpoint": touchpoint.key, "channel": channel_id}
            return added

        return await self.rollouts.change(detail, actor, TRIGGER_ADDED, body)

    # -- opening waves --------------------------------------------------------------------------------

    def _surveyable(self, detail: RolloutDetail) -> Stage:
        status = detail.rollout.status
        if status == RolloutStatus.PAUSED:
            raise Conflict(N_("{slug} is paused, and paused rollouts send no surveys.", slug=detail.rollout.slug))
        if status == RolloutStatus.COMPLETED:
            raise Conflict(N_("{slug} is complete; it sends no more surveys.", slug=detail.rollout.slug))
        if status == RolloutStatus.PLANNED or detail.current is None:
            raise Conflict(N_("{slug} has not started; start it before sending surveys.", slug=detail.rollout.slug))
        return detail.current

    async def send_nps(self, actor: str, slug: str, directory: Directory) -> WaveReport:
        detail = await self.rollouts.get(slug)
        self.rollouts.require_owner(detail, actor)
        stage = self._surveyable(detail)
        people = await resolve_cohort(detail, stage, directory)
        if not people:
            raise Conflict(
                N_(
                    "The {stage} cohort of {slug} is empty; add people with /rollout cohort.",
                    stage=stage.name,
                    slug=detail.rollout.slug,
                )
            )
        return await self.open_wave(detail, stage, None, "send", actor, sorted(people), directory)

    async def ask(self, actor: str, slug: str, key: str, refs: Sequence[CohortRef], directory: Directory) -> WaveReport:
        detail = await self.rollouts.get(slug)
        self.require_owner_or_champion(detail, actor)
        touchpoint = await self.touchpoint(detail, key)
        stage = self._surveyable(detail)
        if not refs:
            raise BadInput(N_("Name the people, user groups or channels to ask."))
        # Asking a channel is adding it for one survey: its report counts the channel's members.
        admin = self.settings.is_admin(actor)
        for ref in refs:
            if ref.kind == "channel":
                await channel_for(directory, ref.ref, actor, admin=admin)
        people = await expand(refs, directory)
        return await self.open_wave(detail, stage, touchpoint, "ask", actor, sorted(people), directory)

    async def on_join(self, user: str, channel_id: str, directory: Directory) -> list[WaveReport]:
        """member_joined_channel: a touchpoint survey for each on-join trigger of the channel."""
        reports = []
        for rollout_id, touchpoint_id in await self.surveys.triggers_on_join(channel_id):
            detail = await self.rollouts.rollouts.load_by_id(rollout_id)
            if detail is None or detail.rollout.status != RolloutStatus.ACTIVE or detail.current is None:
                continue
            touchpoint = next(t for t in detail.touchpoints if t.id == touchpoint_id)
            reports.append(await self.open_wave(detail, detail.current, touchpoint, "on-join", None, [user], directory))
        return reports

    async def api_trigger(self, slug: str, key: str, user: str, directory: Directory) -> WaveReport:
        detail = await self.rollouts.get(slug)
        touchpoint = await self.touchpoint(detail, key)
        stage = self._surveyable(detail)
        return await self.open_wave(detail, stage, touchpoint, "api", None, [user], directory)

    async def open_auto_waves(self, directory: Directory) -> int:
        """An NPS wave N days after a stage was entered (auto_nps_after_days; 0 turns it off).
        Derived from the store, so it survives restarts and catches up after downtime."""
        opened = 0
        now = self._now()
        for detail in await self.rollouts.open_rollouts():
            days = detail.rollout.auto_nps_after_days
            stage = detail.current
            if days <= 0 or detail.rollout.status != RolloutStatus.ACTIVE or stage is None or stage.entered_at is None:
                continue
            if now < stage.entered_at + days * DAY:
                continue
            if await self.surveys.has_wave_since(stage.id, "auto", stage.entered_at):
                continue
            people = await resolve_cohort(detail, stage, directory)
            report = await self.open_wave(detail, stage, None, "auto", None, sorted(people), directory)
            log.info("automatic NPS for %s (%s): %d queued", detail.rollout.slug, stage.name, report.queued)
            opened += 1
        return opened

    async def open_wave(
        self,
        detail: RolloutDetail,
        stage: Stage,
        touchpoint: Touchpoint | None,
        origin: str,
        opened_by: str | None,
        user_ids: Sequence[str],
        directory: Directory,
    ) -> WaveReport:
        """One wave, one delivery per person (queued, held for their working hours, or skipped
        with the reason), all written in one transaction."""
        now_dt = self.clock.now()
        now = epoch(now_dt)
        kind: WaveKind = "touchpoint" if touchpoint else "nps"
        people = await directory.people(user_ids)
        chosen = await self.languages.chosen(user_ids)
        plan: list[NewDelivery] = []
        recent_nps: dict[str, int] = {}
        recent_tp: dict[str, int] = {}
        today_tp: dict[str, int] = {}
        if kind == "nps":
            min_days = self.settings.pulse_min_days_between_surveys
            recent_nps = await self.surveys.last_asked(user_ids, kind="nps", since=now - min_days * DAY)
        else:
            assert touchpoint is not None
            recent_tp = await self.surveys.last_asked(
                user_ids, kind="touchpoint", since=now - TOUCHPOINT_GAP_SECONDS, touchpoint_id=touchpoint.id
            )
            today_tp = await self.surveys.last_asked(user_ids, kind="touchpoint", since=now - TOUCHPOINT_DAILY_SECONDS)
        for user in user_ids:
            person = people.get(user)
            reason = None
            if person is None:
                reason = "unknown"
            elif not person.reachable:
                reason = "unreachable"
            elif user in recent_nps:
                reason = "recent_nps"
            elif user in recent_tp:
                reason = "recent_touchpoint"
            elif user in today_tp:
                reason = "touchpoint_today"
            if reason is not None:
                plan.append(NewDelivery(user, "skipped", reason=reason, not_before=0, tz=None))
                continue
            assert person is not None
            tz = zone(person.tz, self.settings.tz)
            at = epoch(next_send_time(now_dt, tz, self.settings.pulse_quiet_hours))
            language = self.languages.resolve(chosen.get(user), person.locale)
            plan.append(NewDelivery(user, "pending", reason=None, not_before=at, tz=person.tz, language=language))
        wave_id = None
        ids: dict[str, int] = {}
        if any(d.status == "pending" for d in plan) or origin in ("api", "ask", "on-join"):
            master = await self.keys.master()

            def open_wave(writes: Writes) -> tuple[int, dict[str, int]]:
                wave_id = writes.surveys.insert_wave(
                    rollout_id=detail.rollout.id,
                    stage_id=stage.id,
                    kind=kind,
                    touchpoint_id=touchpoint.id if touchpoint else None,
                    origin=origin,
                    opened_by=opened_by,
                    opened_at=now,
                    closes_at=now + self.settings.pulse_wave_days * DAY,
                    asked=sum(d.status == "pending" for d in plan),
                )
                # The wave's own key, kept only wrapped under the master key, until it closes.
                writes.keys.insert_wave_key(wave_id, master.wrap(wave_id, new_wave_key()))
                return wave_id, writes.surveys.insert_deliveries(wave_id, plan, now)

            wave_id, ids = await write(self.store, open_wave)
            self.on_deliveries()
        pending = [d for d in plan if d.status == "pending"]
        held = [d for d in pending if d.not_before > now]
        return WaveReport(
            wave_id=wave_id,
            rollout_title=detail.rollout.title,
            queued_now=len(pending) - len(held),
            held=len(held),
            first_held_until=min((d.not_before for d in held), default=None),
            skipped=dict(Counter(d.reason for d in plan if d.reason)),
            delivery_ids=ids,
            title_variants=detail.rollout.title_variants,
        )

    def skip_reason(self, code: str) -> Phrase:
        return skip_reason(code, self.settings.pulse_min_days_between_surveys)

    # -- answering ----------------------------------------------------------------------------------

    async def view_of(self, wave: Wave, delivery: Delivery) -> SurveyView:
        return self._view(wave, delivery.id, await self.surveys.question(wave.id), delivery.language)

    def _view(self, wave: Wave, delivery_id: int, question: Question, language: str | None) -> SurveyView:
        """The survey of `delivery_id` as its message shows it, in `language` (None: the default)."""
        language = self.languages.channel(language)
        shown = (question.title_in(language), question.scale, question.label_in(language))
        return self._shown(wave, delivery_id, shown, language)

    def _shown(
        self, wave: Wave, delivery_id: int, shown: tuple[str, Scale | None, str | None], language: str
    ) -> SurveyView:
        """A survey message showing `shown`: the title, the scale (None: NPS) and the label."""
        title, scale, label = shown
        return SurveyView(
            wave_id=wave.id,
            delivery_id=delivery_id,
            rollout_title=title,
            kind=wave.kind,
            scale=scale or "nps",
            touchpoint_label=label,
            closes_at=wave.closes_at,
            min_group=self.settings.pulse_min_group,
            asked=wave.asked,
            language=language,
        )

    async def _wave(self, wave_id: int) -> Wave:
        wave = await self.surveys.wave(wave_id)
        assert wave is not None
        return wave

    async def _own_survey(self, user: str, wave_id: int, delivery_id: int) -> tuple[Wave, Delivery, SurveyView]:
        return self._own(await self.surveys.clicked(delivery_id), user, wave_id, delivery_id)

    def _own(
        self, clicked: ClickedSurvey | None, user: str, wave_id: int, delivery_id: int
    ) -> tuple[Wave, Delivery, SurveyView]:
        """The wave and delivery a click names, if they exist, belong together and to `user`,
        and the survey they show."""
        if clicked is None or clicked.wave.id != wave_id:
            raise BadInput(N_("This survey does not exist (any more)."))
        if clicked.delivery.user_id != user:
            raise NotAllowed(N_("This survey was sent to someone else, so your click was not counted."))
        wave = clicked.wave
        return (
            wave,
            clicked.delivery,
            # Read in the language the survey was sent in.
            self._shown(
                wave,
                delivery_id,
                (clicked.rollout_title, clicked.scale, clicked.touchpoint_label),
                self.languages.channel(clicked.delivery.language),
            ),
        )

    async def answer(self, user: str, wave_id: int, delivery_id: int, score_text: str) -> Answered:
        """Store the person's answer (the last one counts). Committed when this returns.

        The busiest request there is: the click is checked and written in one job on the
        writer's thread (one hop, group-committed with other clicks), so that the checks see
        the same state the answer is written into."""
        master, now, day = await self.keys.master(), self._now(), self._today()

        def check_and_write(writes: Writes) -> Answered:
            wave, delivery, view = self._own(writes.surveys.clicked_survey(delivery_id), user, wave_id, delivery_id)
            wrapped = writes.keys.wrapped_in(wave.id) if wave.is_open(now) else None
            if wrapped is None:
                raise SurveyClosed(
                    N_("This survey has closed, so answers are no longer collected. Thank you all the same!")
                )
            score = parse_score(view.scale, score_text)
            if score is None:
                raise BadInput(N_("“{answer}” is not an answer to this question.", answer=score_text[:20]))
            key = respondent_key(master.unwrap(wave.id, wrapped), user)
            try:
                writes.disclosure.refuse_if_released("responses", wave.id, key)
            except AlreadyReleased:
                raise Conflict(self._counted_answer()) from None
            commented = writes.surveys.record_answer(wave=wave, respondent_key=key, score=score, day=day)
            writes.disclosure.release_due(pool_of(wave), min_group=self.settings.pulse_min_group, day=day)
            return Answered(view, score, commented, delivery.dm_channel, delivery.message_ts)

        return await write(self.store, check_and_write)

    async def current_answer(
        self, user: str, wave_id: int, delivery_id: int, *, to_change: bool = False
    ) -> tuple[SurveyView, float | None]:
        """The survey and the person's answer; `to_change`: Conflict if it can no longer change."""
        wave, _, view = await self._own_survey(user, wave_id, delivery_id)
        key = await self._respondent_key(wave, user, N_("This survey has closed, so answers can no longer change."))
        if to_change and await Disclosures(self.store).is_released("responses", wave.id, key):
            raise Conflict(self._counted_answer())
        return view, await self.surveys.answer(wave.id, key)

    async def existing_comment(self, user: str, wave_id: int, delivery_id: int) -> str | None:
        """The person's comment, to edit; Conflict if it has been released and can no longer change."""
        wave, _, _ = await self._own_survey(user, wave_id, delivery_id)
        key = await self._respondent_key(wave, user, COMMENTS_CLOSED)
        if await Disclosures(self.store).is_released("comments", wave.id, key):
            raise Conflict(self._counted_comment())
        return await self.surveys.comment(wave.id, key)

    def _counted_answer(self) -> Phrase:
        return N_(
            "Your answer is already in the results, counted in a group of at least {min} answers, so it can "
            "no longer change: a change now would move the results by one answer and show what you had said.",
            min=self.settings.pulse_min_group,
        )

    def _counted_comment(self) -> Phrase:
        return N_(
            "Your comment is already in the results, counted in a group of at least {min} answers, so it can "
            "no longer change: a change now would move the results by one answer and show what you had said.",
            min=self.settings.pulse_min_group,
        )

    async def comment(self, user: str, wave_id: int, delivery_id: int, text: str | None) -> None:
        wave, _, _ = await self._own_survey(user, wave_id, delivery_id)
        closed = COMMENTS_CLOSED
        key = await self._respondent_key(wave, user, closed, field="comment")
        body = inputs.multiline_text(text or "")
        if not body:
            raise BadInput(N_("Write a comment, or close this window."), field="comment")
        if len(body) > COMMENT_MAX:
            raise BadInput(
                N_("The comment is {length} characters long; keep it to {max}.", length=len(body), max=COMMENT_MAX),
                field="comment",
            )
        now, day = self._now(), self._today()

        def store_comment(writes: Writes) -> None:
            try:
                writes.disclosure.refuse_if_released("comments", wave.id, key)
            except AlreadyReleased:
                raise BadInput(self._counted_comment(), field="comment") from None
            writes.surveys.record_comment(wave=wave, respondent_key=key, body=body, now=now, day=day)

        await self._write_while_open(store_comment, closed, field="comment")

    async def answered_deliveries(self, wave_id: int, deliveries: Sequence[Delivery]) -> set[int]:
        """Which of the wave's deliveries have an answer: through each person's respondent key,
        while the wave is open (empty once its key is gone)."""
        by_key = await self._keys_for(wave_id, deliveries)
        return {by_key[k] for k in await self.surveys.answered_keys(wave_id, list(by_key))} if by_key else set()

    async def unanswered_for(self, user: str) -> list[Delivery]:
        """The surveys a person has received and not answered, in waves still open."""
        received = await self.surveys.open_for(user, self._now())
        answered: set[int] = set()
        for delivery in received:
            answered |= await self.answered_deliveries(delivery.wave_id, [delivery])
        return [d for d in received if d.id not in answered]

    async def _keys_for(self, wave_id: int, deliveries: Sequence[Delivery]) -> dict[str, int]:
        """Each delivery's respondent key → its id, while the wave's key exists (else empty)."""
        wave_key = await self.keys.wave_key(wave_id) if deliveries else None
        return {respondent_key(wave_key, d.user_id): d.id for d in deliveries} if wave_key else {}

    async def _write_while_open(
        self, job: Callable[[Writes], None], closed: Phrase, *, field: str | None = None
    ) -> None:
        """Write an answer or comment (group-committed with other clicks); refused, with nothing
        stored, if the wave closed meanwhile."""
        try:
            await write(self.store, job)
        except WaveClosed:
            raise SurveyClosed(closed, field=field) from None

    # -- the life of a wave -------------------------------------------------------------------------

    async def queue_reminders(self) -> int:
        """One reminder, PULSE_REMIND_AFTER_HOURS after the survey, to those who have not answered;
        it waits for the person's working hours like the survey did."""
        hours = self.settings.pulse_remind_after_hours
        if hours <= 0:
            return 0
        now_dt = self.clock.now()
        now = epoch(now_dt)
        # Queued only once the person's working hours have begun (this runs every minute), so
        # that it goes out at once: an answer given meanwhile is seen here, and the answer's
        # own commit need not touch the reminder.
        quiet = self.settings.pulse_quiet_hours
        candidates = [
            d
            for d in await self.surveys.to_remind(now - hours * 3600, now)
            if epoch(next_send_time(now_dt, zone(d.tz, self.settings.tz), quiet)) <= now
        ]
        answered: set[int] = set()
        for wave_id in sorted({d.wave_id for d in candidates}):
            answered |= await self.answered_deliveries(wave_id, [d for d in candidates if d.wave_id == wave_id])
        due = [d for d in candidates if d.id not in answered]
        if not due:
            return 0
        views = {d.id: await self.view_of(await self._wave(d.wave_id), d) for d in due}

        def queue(writes: Writes) -> None:
            for delivery in due:
                writes.outbox.enqueue(
                    kind="reminder",
                    dedupe_key=reminder_key(delivery.id),
                    channel=delivery.user_id,
                    payload=SurveyNotice(view=views[delivery.id]).model_dump_json(),
                    now=now,
                    delivery_id=delivery.id,
                )

        await write(self.store, queue)
        self.on_outbox()
        return len(due)

    async def close_due_waves(self) -> int:
        """Close waves past PULSE_WAVE_DAYS; their messages are updated to say so."""
        return (await self._close(await self.surveys.waves_due_to_close(self._now()))).waves

    async def close_now(self, actor: str, slug: str, survey: str | None) -> Closed:
        """`/pulse close`: the current stage's open waves of one survey (NPS unless a touchpoint is
        named) close now, exactly as on schedule."""
        detail = await self.rollouts.get(slug)
        self.rollouts.require_owner(detail, actor)
        stage = detail.current
        if stage is None:
            raise Conflict(N_("{slug} has not started, so it has no surveys to close.", slug=detail.rollout.slug))
        touchpoint = None if survey in (None, "nps") else await self.touchpoint(detail, survey)
        what = N_("the {key} touchpoint survey", key=touchpoint.key) if touchpoint else N_("the NPS survey")
        kind: WaveKind = "touchpoint" if touchpoint else "nps"
        waves = await self.surveys.open_waves_of(stage.id, kind, touchpoint.id if touchpoint else None)
        if not waves:
            raise Conflict(
                N_(
                    "{slug} has no open wave of {what} in {stage}: nothing to close.",
                    slug=detail.rollout.slug,
                    what=what,
                    stage=stage.name,
                )
            )
        closed = await self._close(waves)
        return Closed(what, len(waves), closed.answers, closed.few, closed.wiped)

    async def _close(self, waves: Sequence[Wave]) -> ClosedWaves:
        """Close the waves: keys destroyed, pending surveys skipped, every message of theirs
        updated to say so. Each wave in one transaction; then the journal is emptied, so the
        destroyed keys survive in no older copy of a page."""
        now = self._now()
        min_group = self.settings.pulse_min_group
        total = few = 0
        for wave in waves:
            messages = await self.surveys.survey_messages(wave.id)
            question = await self.surveys.question(wave.id)
            by_key = await self._keys_for(wave.id, await self.surveys.sent_in(wave.id))

            close = _WaveClosing(self, wave, by_key, messages, question, now, min_group)
            answers, unlinkable, skipped = await write(self.store, close.run)
            total, few = total + answers, few + (not unlinkable)
            if skipped:
                log.info("wave %d closed; %d surveys still waiting were not sent", wave.id, skipped)
        wiped = True
        if waves:
            wiped = await self.store.wipe_journal()
            self.on_outbox()
        return ClosedWaves(len(waves), total, few, wiped)

    # -- results ------------------------------------------------------------------------------------

    async def results(self, actor: str, slug: str, stage_name: str | None) -> ResultsView:
        detail = await self.rollouts.get(slug)
        if not (self.settings.is_admin(actor) or actor in detail.owners or actor in detail.champions):
            raise NotAllowed(
                N_("Results of {slug} are for its owners, champions and admins. Its owners:", slug=detail.rollout.slug),
                people=tuple(detail.owners),
            )
        if stage_name:
            stage = self.rollouts.stage(detail, stage_name)
        elif detail.current is not None:
            stage = detail.current
        else:
            raise Conflict(N_("{slug} has not started, so there are no results yet.", slug=detail.rollout.slug))
        metrics = await self.rollouts.metrics_of(detail, stage)
        comments = await disclosure_rule.stage_comments(self.store, stage.id, RESULT_COMMENTS)
        return ResultsView(detail, stage, metrics, comments)


class SurveyNotice(BaseModel):
    """An outbox payload about one delivery's survey message: a reminder, or its closing."""

    view: SurveyView
    channel: str | None = None
    ts: str | None = None
    # Whether they answered; None in a wave closed with fewer than PULSE_MIN_GROUP answers, where
    # who answered is not written down anywhere, this row included.
    answered: bool | None = False
    # Closed with at least PULSE_MIN_GROUP answers: none of them can be tied to anyone any more.
    unlinkable: bool = False


@dataclass
class _WaveClosing:
    """One wave's closing, as one write job: who answered is found through the keys while they
    still exist, in the transaction that destroys them (no click can come in between)."""

    service: SurveyService
    wave: Wave
    by_key: dict[str, int]
    messages: Sequence[SurveyMessage]
    question: Question
    now: int
    min_group: int

    def run(self, writes: Writes) -> tuple[int, bool, int]:
        """(answers, whether they are unlinkable, surveys skipped)."""
        keys = writes.surveys.respondent_keys_of(self.wave.id)
        answered = {self.by_key[k] for k in keys if k in self.by_key}
        # With fewer answers than the minimum group, the answers could be told apart
        # among their few authors: who answered is then not even written down.
        unlinkable = len(keys) >= self.min_group
        skipped = writes.surveys.close_wave(self.wave.id, self.now, sorted(answered) if unlinkable else [])
        # Comments leave their writers' answers; a conversation on one follows it.
        writes.threads.follow(self.wave.id, writes.disclosure.unlink_comments(self.wave.id))
        for message in self.messages:
            notice = SurveyNotice(
                view=self.service._view(self.wave, message.delivery_id, self.question, message.language),
                channel=message.channel,
                ts=message.ts,
                answered=(message.delivery_id in answered) if unlinkable else None,
                unlinkable=unlinkable,
            )
            writes.outbox.enqueue(
                kind="survey_closed",
                dedupe_key=closed_key(message.channel, message.ts),
                channel=message.channel,
                payload=notice.model_dump_json(),
                now=self.now,
                delivery_id=message.delivery_id,
            )
        return len(keys), unlinkable, skipped
