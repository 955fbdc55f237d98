"""Rollouts: creating and changing them, moving them through their stages, and what they show.

Every change checks who may make it, is applied in one transaction with its audit
entry, and a stage change queues its announcements in that same transaction (docs/rollouts.md: “Stage changes”).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from runtime.clock import Clock, epoch
from runtime.i18n import LANGUAGES, N_, Phrase, for_operator, language_of
from services import inputs
from services.announcements import Announcement, ApprovalNote, Audience, Figures, LateStage
from services.directory import ChannelInfo, Directory
from services.errors import BadInput, Conflict, DuplicateError, NotAllowed, NotFound
from services.languages import LanguageService, parse_language
from services.metrics import MetricName, StageMetrics, Window, evaluate_gates, stage_metrics
from services.options import Options
from storage.db import Store
from storage.guards import Guards
from storage.models import (
    ApprovalRequest,
    AuditEntry,
    CohortKind,
    GateRecord,
    OutboxItem,
    RolloutStatus,
    Stage,
    Transition,
    TransitionKind,
)
from storage.outbox import transition_key
from storage.rollouts import RolloutDetail, Rollouts
from storage.writes import Writes, write

log = logging.getLogger(__name__)

HISTORY_LIMIT = 40

# The codes of audit entries with more than one word. A code is kept as it is, for the operator
# reading the database; the history says each in its reader's language (handlers/blocks/rollouts.py).
STAGES_SET = for_operator("stages set")
VISION_SET = for_operator("vision set")
CHANNEL_SET = for_operator("channel set")
LANGUAGE_SET = for_operator("language set")
SOAK_SET = for_operator("soak set")
# Who an automatic advance is recorded as made by: the stage's soak.
SOAK_ACTOR = for_operator("soak")
APPROVERS_SET = for_operator("approvers set")
APPROVAL_ASKED = for_operator("approval asked")
ON_REGRESSION_SET = for_operator("on regression set")
MAX_SOAK_DAYS = 365
TARGET_REPLACED = for_operator("target replaced")
TARGET_ADDED = for_operator("target added")
TARGET_REMOVED = for_operator("target removed")
COHORT_REMOVED = for_operator("cohort removed")
COHORT_ADDED = for_operator("cohort added")

T = TypeVar("T")


@dataclass
class Edit:
    """What an edit inside `RolloutService.changing` wrote, for its audit entry."""

    writes: Writes
    now: int
    action: str
    detail: dict[str, object] = field(default_factory=dict)
    columns: dict[str, object] = field(default_factory=dict)
    unchanged: bool = False


@dataclass(frozen=True)
class CohortRef:
    kind: CohortKind
    ref: str
    label: str | None = None


@dataclass(frozen=True)
class GateCheck:
    detail: RolloutDetail
    stage: Stage
    metrics: StageMetrics
    gates: list[GateRecord]

    @property
    def passed(self) -> bool:
        return all(g.state == "pass" for g in self.gates)


@dataclass(frozen=True)
class Moved:
    """A stage change that happened."""

    detail: RolloutDetail  # as it is after the change
    transition_id: int
    kind: TransitionKind
    from_stage: str | None
    to_stage: str | None
    cohort_size: int | None


@dataclass(frozen=True)
class Blocked:
    """An advance refused by its gates: say which, and offer the override."""

    check: GateCheck


@dataclass(frozen=True)
class Held:
    """An advance into a stage with approvers: it waits for one of them to click Approve."""

    detail: RolloutDetail
    request: ApprovalRequest
    approvers: list[str]
    already: bool  # it was waiting before this ask


@dataclass(frozen=True)
class StatusView:
    detail: RolloutDetail
    metrics: StageMetrics | None
    gates: list[GateRecord]
    cohort_size: int | None
    today: date
    now: int = 0  # when it was read: how far a soak has come
    raised: list[str] = field(default_factory=list)  # the current stage's rules whose alarm is raised


@dataclass(frozen=True)
class HistoryView:
    detail: RolloutDetail
    entries: list[AuditEntry]
    transitions: list[Transition]
    undelivered: list[OutboxItem]


class RolloutService:
    def __init__(
        self,
        store: Store,
        settings: Options,
        clock: Clock,
        on_outbox: Callable[[], None] = lambda: None,
        languages: LanguageService | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        # What each announcement is written in: a champion's own language, the rollout's for its channel.
        self.languages = languages or LanguageService(store, settings)
        self.rollouts = Rollouts(store)
        # Wakes the sender after announcements were queued.
        self.on_outbox = on_outbox
        # Told after every stage change (the Homes of the people concerned are refreshed).
        self.on_moved: Callable[[RolloutDetail], None] = lambda _detail: None

    # -- helpers ------------------------------------------------------------------------------------

    def _now(self) -> int:
        return epoch(self.clock.now())

    def today(self) -> date:
        return self.clock.now().astimezone(self.settings.tz).date()

    def local_date(self, at: int) -> date:
        return datetime.fromtimestamp(at, self.settings.tz).date()

    async def get(self, slug: str) -> RolloutDetail:
        detail = await self.rollouts.load(slug.lower())
        if detail is None:
            known = await self.rollouts.slugs()
            if known:
                raise NotFound(
                    N_(
                        "There is no rollout called “{name}”. Known rollouts: {known}.",
                        name=slug[:40],
                        known=", ".join(known[:10]),
                    )
                )
            raise NotFound(N_("There is no rollout called “{name}”. There are no rollouts yet.", name=slug[:40]))
        return detail

    async def by_id(self, rollout_id: int) -> RolloutDetail | None:
        """The rollout a button names by id; None once it no longer exists."""
        return await self.rollouts.load_by_id(rollout_id)

    def may_change(self, detail: RolloutDetail, user: str) -> bool:
        return self.settings.is_admin(user) or user in detail.owners

    def require_owner(self, detail: RolloutDetail, user: str) -> None:
        if not self.may_change(detail, user):
            raise NotAllowed(
                N_("Only the owners of {slug} or an admin can change it. Its owners:", slug=detail.rollout.slug),
                people=tuple(detail.owners),
            )

    @staticmethod
    def stage(detail: RolloutDetail, name: str) -> Stage:
        stage = detail.stage_named(name)
        if stage is None:
            names = ", ".join(s.name for s in detail.stages)
            raise NotFound(
                N_(
                    "{slug} has no stage “{name}”; its stages are {names}.",
                    slug=detail.rollout.slug,
                    name=name[:40],
                    names=names,
                )
            )
        return stage

    async def change(self, detail: RolloutDetail, actor: str, action: str, body: Callable[[Edit], T]) -> T:
        """One write job for an edit: `body` changes rows through `edit.writes`, then the
        rollout's updated_at and the audit entry are written, unless the body set `unchanged`.
        If `body` raises, nothing is written."""
        now = self._now()

        def job(writes: Writes) -> T:
            edit = Edit(writes, now, action)
            result = body(edit)
            if not edit.unchanged:
                writes.rollouts.update_rollout(detail.rollout.id, now, **edit.columns)
                writes.rollouts.write_audit(
                    rollout_id=detail.rollout.id,
                    actor=actor,
                    action=edit.action,
                    now=now,
                    detail=edit.detail or None,
                )
            return result

        return await write(self.store, job)

    # -- creating and editing -------------------------------------------------------------------------

    async def create(self, actor: str, slug: str, title: str, stages: Sequence[str] | None = None) -> RolloutDetail:
        slug = inputs.slug(slug)
        title = inputs.title(title)
        names = list(stages) if stages else list(inputs.DEFAULT_STAGES)
        if await self.rollouts.get(slug) is not None:
            raise Conflict(N_("A rollout called {slug} already exists; pick another name.", slug=slug))
        now = self._now()

        def create(writes: Writes) -> None:
            rollout_id = writes.rollouts.insert_rollout(
                slug=slug, title=title, stage_names=names, creator=actor, now=now
            )
            writes.rollouts.write_audit(
                rollout_id=rollout_id,
                actor=actor,
                action="created",
                now=now,
                detail={"title": title, "stages": names},
            )

        try:
            await write(self.store, create)
        except DuplicateError:
            raise Conflict(N_("A rollout called {slug} already exists; pick another name.", slug=slug)) from None
        return await self.get(slug)

    async def set_stages(self, actor: str, slug: str, names: Sequence[str]) -> RolloutDetail:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        refusal = N_(
            "{slug} has started, so its stages can no longer change. Plan dates and cohorts still can.",
            slug=detail.rollout.slug,
        )
        if detail.rollout.status != RolloutStatus.PLANNED:
            raise Conflict(refusal)

        def body(edit: Edit) -> None:
            status, _ = edit.writes.rollouts.current_status(detail.rollout.id)
            if status != RolloutStatus.PLANNED:
                raise Conflict(refusal)
            edit.writes.rollouts.replace_stages(detail.rollout.id, names)
            edit.detail = {"stages": list(names)}

        await self.change(detail, actor, STAGES_SET, body)
        return await self.get(slug)

    async def set_vision(self, actor: str, slug: str, text: str) -> RolloutDetail:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        vision = inputs.vision(text)

        def body(edit: Edit) -> None:
            # Typed in one language: the variants of the config file's vision no longer say it.
            edit.columns = {"vision": vision, "vision_variants": None}

        await self.change(detail, actor, VISION_SET, body)
        return await self.get(slug)

    async def set_soak(self, actor: str, slug: str, stage_name: str, days_text: str) -> tuple[RolloutDetail, int]:
        """The stage advances by itself once its gates have passed `days` days in a row and it is
        at least that old; 0 turns it off."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        stage = self.stage(detail, stage_name)
        days = int(days_text) if re.fullmatch(r"[0-9]{1,3}", days_text) else -1
        if not 0 <= days <= MAX_SOAK_DAYS:
            raise BadInput(N_("The soak is a number of days from 0 (off) to {max}.", max=MAX_SOAK_DAYS))

        def body(edit: Edit) -> None:
            edit.writes.rollouts.set_soak(stage.id, days)
            edit.detail = {"stage": stage.name, "days": days}

        await self.change(detail, actor, SOAK_SET, body)
        return await self.get(slug), days

    async def set_approvers(
        self, actor: str, slug: str, stage_name: str, users: Sequence[str], directory: Directory
    ) -> tuple[RolloutDetail, list[str]]:
        """An advance into the stage, typed or automatic, waits for one of `users` to approve it;
        none clears them. Returns the approvers now."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        stage = self.stage(detail, stage_name)
        if detail.previous_stage(stage) is None:
            raise BadInput(
                N_("{stage} is the first stage: nothing advances into it. Name a later stage.", stage=stage.name)
            )
        users = list(dict.fromkeys(users))
        if users:
            await self._check_people(users, "approvers", directory)

        def body(edit: Edit) -> None:
            edit.writes.guards.set_approvers(stage.id, users, actor, edit.now)
            edit.detail = {"stage": stage.name, "people": users}

        await self.change(detail, actor, APPROVERS_SET, body)
        after = await self.get(slug)
        return after, after.approvers_of(stage)

    async def set_on_regression(self, actor: str, slug: str, what: str) -> RolloutDetail:
        """What a clear regression does: tell the owners and champions, or also pause the rollout."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        if what not in ("notify", "pause"):
            raise BadInput(N_("On a regression the rollout can notify (the default) or pause."))

        def body(edit: Edit) -> None:
            edit.columns = {"on_regression": what}
            edit.detail = {"on_regression": what}

        await self.change(detail, actor, ON_REGRESSION_SET, body)
        return await self.get(slug)

    async def remind_late_stages(self) -> int:
        """A stage that runs past the next stage's planned start reminds each owner once (once
        per planned date: moved and missed again, it reminds again). Returns how many were queued."""
        today, now, queued = self.today(), self._now(), 0
        for detail in await self.rollouts.open_rollouts():
            stage = detail.current
            following = detail.next_stage(stage) if stage is not None else None
            if detail.rollout.status != RolloutStatus.ACTIVE or stage is None or following is None:
                continue
            planned = following.planned_start
            if planned is None or planned >= today:
                continue
            languages = await self.readers_languages(detail, detail.owners)
            notes = [
                (owner, LateStage(
                    rollout_slug=detail.rollout.slug, title=detail.rollout.title_in(language), stage=stage.name,
                    next_stage=following.name, planned=planned, language=language,
                ))
                for owner, language in languages.items()
            ]  # fmt: skip

            def remind(writes: Writes, notes: list[tuple[str, LateStage]] = notes, stage_id: int = stage.id) -> int:
                return sum(
                    writes.outbox.enqueue(
                        kind="late_stage",
                        dedupe_key=f"late:{stage_id}:{note.planned.isoformat()}:{owner}",
                        channel=owner,
                        payload=note.model_dump_json(),
                        now=now,
                    )
                    for owner, note in notes
                )

            queued += await write(self.store, remind)
        if queued:
            self.on_outbox()
        return queued

    async def watch_soaks(self, directory: Directory) -> int:
        """Check the gates of every active stage with a soak: a pass keeps its run going, a fail
        ends it; a run as long as the soak (in a stage at least that old) advances the stage,
        as `advance` would, recorded as made by the soak. Returns how many advanced."""
        advanced = 0
        now = self._now()
        for detail in await self.rollouts.open_rollouts():
            stage = detail.current
            if detail.rollout.status != RolloutStatus.ACTIVE or stage is None or not stage.soak_days:
                continue
            check = await self.check_gates(detail)

            def seen(writes: Writes, stage_id: int = stage.id, passed: bool = check.passed) -> None:
                writes.rollouts.gates_seen(stage_id, passed, now)

            await write(self.store, seen)
            since = stage.passing_since if check.passed and stage.passing_since is not None else None
            soak = stage.soak_days * 86400
            if since is None or now - since < soak or now - (stage.entered_at or now) < soak:
                continue
            following = detail.next_stage(stage)
            if following is not None and detail.approvers_of(following):
                if detail.waiting is None:  # asked once; it waits for an approver from then on
                    await self._hold(detail, SOAK_ACTOR, stage, following, check, reason=None, overridden=False)
                continue
            size = await self.cohort_size(detail, following or stage, directory)
            try:
                await self.move(
                    detail,
                    SOAK_ACTOR,
                    "advance" if following else "complete",
                    expect=(RolloutStatus.ACTIVE, stage.id),
                    to_stage=following,
                    status=RolloutStatus.ACTIVE if following else RolloutStatus.COMPLETED,
                    reason=None,
                    cohort_size=size,
                    gates=check.gates,
                )
                advanced += 1
            except Conflict:
                continue  # someone moved it meanwhile: nothing to do
        return advanced

    async def plan(self, actor: str, slug: str, stage_name: str, day: date) -> RolloutDetail:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        stage = self.stage(detail, stage_name)

        def body(edit: Edit) -> None:
            edit.writes.rollouts.set_planned_start(stage.id, day)
            edit.detail = {"stage": stage.name, "date": day.isoformat()}

        await self.change(detail, actor, "planned", body)
        return await self.get(slug)

    async def change_cohort(
        self,
        actor: str,
        slug: str,
        stage_name: str,
        refs: Sequence[CohortRef],
        directory: Directory,
        *,
        remove: bool = False,
    ) -> tuple[RolloutDetail, int]:
        """Add (checked against Slack) or remove cohort entries; return the number changed."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        stage = self.stage(detail, stage_name)
        if not refs:
            raise BadInput(
                N_("Name the people, user groups or channels to remove.")
                if remove
                else N_("Name the people, user groups or channels to add.")
            )
        if not remove:
            refs = [await self._checked_ref(ref, directory, actor) for ref in refs]

        def body(edit: Edit) -> int:
            if remove:
                changed = edit.writes.rollouts.remove_cohort_entries(stage.id, [(r.kind, r.ref) for r in refs])
            else:
                entries = [(r.kind, r.ref, r.label) for r in refs]
                changed = edit.writes.rollouts.add_cohort_entries(stage.id, entries, actor, self._now())
            edit.unchanged = changed == 0
            edit.detail = {"stage": stage.name, "entries": [_ref_text(r) for r in refs]}
            return changed

        changed = await self.change(detail, actor, COHORT_REMOVED if remove else COHORT_ADDED, body)
        return await self.get(slug), changed

    async def _checked_ref(self, ref: CohortRef, directory: Directory, actor: str) -> CohortRef:
        """The entry exists in Slack (raises NotFound naming it otherwise), and a channel is one
        `actor` may use."""
        if ref.kind == "usergroup":
            await directory.usergroup_members(ref.ref)
            return ref
        if ref.kind == "channel":
            channel = await channel_for(directory, ref.ref, actor, admin=self.settings.is_admin(actor))
            return CohortRef("channel", ref.ref, ref.label or channel.name)
        people = await directory.people([ref.ref])
        if ref.ref not in people:
            raise NotFound(N_("There is no person {user} in this workspace.", user=ref.ref))
        return ref

    async def change_people(
        self,
        actor: str,
        slug: str,
        role: str,
        users: Sequence[str],
        directory: Directory,
        *,
        remove: bool = False,
    ) -> tuple[RolloutDetail, list[str]]:
        """Add or remove owners or champions; return the people whose role changed."""
        assert role in ("owners", "champions")
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        if not users:
            raise BadInput(N_("Mention at least one person."))
        if not remove:
            await self._check_people(users, role, directory)
        noun = "owner" if role == "owners" else "champion"

        def body(edit: Edit) -> list[str]:
            if remove:
                changed = edit.writes.rollouts.remove_people(role, detail.rollout.id, users)
                if role == "owners" and edit.writes.rollouts.count_people("owners", detail.rollout.id) == 0:
                    raise Conflict(
                        N_("A rollout needs at least one owner; add another owner before removing the last.")
                    )
            else:
                changed = edit.writes.rollouts.add_people(role, detail.rollout.id, users, actor, edit.now)
            edit.unchanged = not changed
            edit.detail = {"people": changed}
            return changed

        changed = await self.change(detail, actor, f"{noun}s {'removed' if remove else 'added'}", body)
        return await self.get(slug), changed

    @staticmethod
    async def _check_people(users: Sequence[str], role: str, directory: Directory) -> None:
        found = await directory.people(users)
        for user in users:
            person = found.get(user)
            if person is None:
                raise NotFound(N_("There is no person {user} in this workspace.", user=user))
            if person.is_bot:
                only_people = {
                    "owners": N_("Only people can be owners; this is a bot:"),
                    "champions": N_("Only people can be champions; this is a bot:"),
                }.get(role, N_("Only people can approve; this is a bot:"))
                raise BadInput(only_people, people=(user,))
            if person.deleted:
                raise BadInput(N_("This account is deactivated:"), people=(user,))

    async def set_channel(self, actor: str, slug: str, channel_id: str, directory: Directory) -> RolloutDetail:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        await channel_for(
            directory,
            channel_id,
            actor,
            admin=self.settings.is_admin(actor),
            bot_needed=N_("yet, so I could not post there"),
        )

        def body(edit: Edit) -> None:
            edit.columns = {"channel_id": channel_id}
            edit.detail = {"channel": channel_id}

        await self.change(detail, actor, CHANNEL_SET, body)
        return await self.get(slug)

    async def set_language(self, actor: str, slug: str, code: str) -> RolloutDetail:
        """The language the rollout's channel announcements are written in (champions read theirs)."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        language = parse_language(code)

        def body(edit: Edit) -> None:
            edit.columns = {"language": language}
            edit.detail = {"language": language}

        await self.change(detail, actor, LANGUAGE_SET, body)
        return await self.get(slug)

    def language(self, detail: RolloutDetail) -> str:
        """What the rollout's channel posts are written in (its own, else PULSE_LANGUAGE)."""
        return self.languages.channel(detail.rollout.language)

    async def readers_languages(self, detail: RolloutDetail, users: Iterable[str]) -> dict[str, str]:
        """What each of `users` reads a DM about the rollout in (see `reader_language`)."""
        otherwise = self.language(detail)
        return {user: await self.reader_language(user, otherwise) for user in dict.fromkeys(users)}

    async def reader_language(self, user: str, otherwise: str) -> str:
        """What `user` reads in when they chose a language or Slack says theirs; else `otherwise`
        (a champion of whom nothing is known reads the rollout's announcements in its language)."""
        spoken = await self.languages.languages.of(user)
        if spoken.chosen in LANGUAGES or language_of(spoken.slack_locale):
            return self.languages.resolve(spoken.chosen, spoken.slack_locale)
        return otherwise

    async def set_target(
        self, actor: str, slug: str, metric_text: str, op_text: str, value_text: str, stage_name: str | None
    ) -> tuple[RolloutDetail, bool]:
        """Add or replace a target; True when it replaced one."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        name = inputs.metric(metric_text)
        op = inputs.op(op_text)
        value = inputs.target_value(name, value_text)
        if name.touchpoint is not None:
            self._check_touchpoint_metric(detail, name)
        stage = self.stage(detail, stage_name) if stage_name else None

        def body(edit: Edit) -> bool:
            replaced = edit.writes.rollouts.upsert_target(
                rollout_id=detail.rollout.id,
                stage_id=stage.id if stage else None,
                metric=str(name),
                op=op,
                value=value,
                actor=actor,
                now=edit.now,
            )
            edit.action = TARGET_REPLACED if replaced else TARGET_ADDED
            edit.detail = {"target": f"{name} {op} {value:g}", "stage": stage.name if stage else None}
            return replaced

        replaced = await self.change(detail, actor, TARGET_ADDED, body)
        return await self.get(slug), replaced

    @staticmethod
    def _check_touchpoint_metric(detail: RolloutDetail, name: MetricName) -> None:
        touchpoint = detail.touchpoint(name.touchpoint or "")
        if touchpoint is None:
            command = f'/pulse touchpoint {detail.rollout.slug} {name.touchpoint} "<label>" {name.family}'
            raise NotFound(
                N_(
                    "{slug} has no touchpoint “{key}”; define it with {command}.",
                    slug=detail.rollout.slug,
                    key=name.touchpoint,
                    command=command,
                )
            )
        if touchpoint.scale != name.family:
            metric = f"{touchpoint.scale}:{touchpoint.key}"
            raise BadInput(
                N_(
                    "The touchpoint {key} is measured with {scale}, not {family}; use {metric}.",
                    key=touchpoint.key,
                    scale=touchpoint.scale,
                    family=name.family,
                    metric=metric,
                )
            )

    async def remove_target(self, actor: str, slug: str, metric_text: str, stage_name: str | None) -> RolloutDetail:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        name = inputs.metric(metric_text)
        stage = self.stage(detail, stage_name) if stage_name else None

        def body(edit: Edit) -> None:
            if not edit.writes.rollouts.remove_target(detail.rollout.id, stage.id if stage else None, str(name)):
                slug_, metric = detail.rollout.slug, str(name)
                if stage:
                    raise NotFound(
                        N_("{slug} has no {metric} target for {stage}.", slug=slug_, metric=metric, stage=stage.name)
                    )
                raise NotFound(N_("{slug} has no {metric} target for the whole rollout.", slug=slug_, metric=metric))
            edit.detail = {"target": str(name), "stage": stage.name if stage else None}

        await self.change(detail, actor, TARGET_REMOVED, body)
        return await self.get(slug)

    # -- reading ------------------------------------------------------------------------------------

    async def metrics_of(self, detail: RolloutDetail, stage: Stage, window: Window | None = None) -> StageMetrics:
        return await stage_metrics(
            self.store,
            stage_id=stage.id,
            touchpoints=detail.touchpoints,
            min_group=self.settings.pulse_min_group,
            window=window,
        )

    async def check_gates(self, detail: RolloutDetail) -> GateCheck:
        stage = detail.current
        if stage is None:
            raise Conflict(N_("{slug} has not started yet.", slug=detail.rollout.slug))
        metrics = await self.metrics_of(detail, stage)
        return GateCheck(detail, stage, metrics, evaluate_gates(detail.targets_for(stage), metrics))

    async def cohort_size(self, detail: RolloutDetail, stage: Stage, directory: Directory) -> int:
        return len(await resolve_cohort(detail, stage, directory))

    async def for_status(self, slug: str | None, channel_id: str | None) -> RolloutDetail:
        """The rollout `/rollout status` means: the named one, the one announced in this channel,
        the only active one, or the only one there is."""
        if slug:
            return await self.get(slug)
        if channel_id:
            here = await self.rollouts.by_channel(channel_id)
            if len(here) == 1:
                return await self.get(here[0].slug)
        open_ones = await self.rollouts.open_rollouts()
        active = [d for d in open_ones if d.rollout.status == RolloutStatus.ACTIVE]
        if len(active) == 1:
            return active[0]
        if len(open_ones) == 1 and not active:
            return open_ones[0]
        if not open_ones:
            raise NotFound(N_("There are no rollouts yet. Create one with /rollout new."))
        names = ", ".join(d.rollout.slug for d in (active or open_ones)[:10])
        raise BadInput(N_("Which rollout? Name one: {names}.", names=names))

    async def status(self, detail: RolloutDetail, directory: Directory | None) -> StatusView:
        stage = detail.current
        metrics = gates = None
        if stage is not None:
            check = await self.check_gates(detail)
            metrics, gates = check.metrics, check.gates
        first = detail.stages[0] if detail.stages else None
        sized = stage or first
        size = await self.cohort_size(detail, sized, directory) if (directory and sized) else None
        alarms = await Guards(self.store).alarms(stage.id) if stage is not None else {}
        raised = [rule for rule, alarm in alarms.items() if alarm.state == "raised"]
        return StatusView(detail, metrics, gates or [], size, self.today(), self._now(), raised)

    async def history(self, slug: str) -> HistoryView:
        detail = await self.get(slug)
        entries = await self.rollouts.audit(detail.rollout.id, HISTORY_LIMIT)
        transitions = await self.rollouts.transitions(detail.rollout.id)
        undelivered = await self.rollouts.announcement_outcomes(detail.rollout.id)
        return HistoryView(detail, entries, transitions, undelivered)

    async def open_rollouts(self) -> list[RolloutDetail]:
        return await self.rollouts.open_rollouts()

    # -- moving through stages ------------------------------------------------------------------------

    async def start(self, actor: str, slug: str, directory: Directory) -> Moved:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        if detail.rollout.status != RolloutStatus.PLANNED:
            raise Conflict(
                N_("{slug} has already started; it is {where}.", slug=detail.rollout.slug, where=self._where(detail))
            )
        first = detail.stages[0]
        size = await self.cohort_size(detail, first, directory)
        return await self.move(
            detail,
            actor,
            "start",
            expect=(RolloutStatus.PLANNED, None),
            to_stage=first,
            status=RolloutStatus.ACTIVE,
            reason=None,
            cohort_size=size,
        )

    def _movable(self, detail: RolloutDetail) -> Stage:
        status, slug = detail.rollout.status, detail.rollout.slug
        if status == RolloutStatus.PLANNED:
            start = f"/rollout start {slug}"
            raise Conflict(N_("{slug} has not started; start it with {command}.", slug=slug, command=start))
        if status == RolloutStatus.PAUSED:
            resume = f"/rollout resume {slug}"
            raise Conflict(N_("{slug} is paused; resume it with {command} first.", slug=slug, command=resume))
        if status == RolloutStatus.COMPLETED:
            raise Conflict(N_("{slug} is already complete.", slug=slug))
        stage = detail.current
        assert stage is not None
        return stage

    async def advance(
        self,
        actor: str,
        slug: str,
        directory: Directory,
        *,
        reason: str | None = None,
        override: str | None = None,
        expected_stage_id: int | None = None,
    ) -> Moved | Blocked | Held:
        """Enter the next stage if every gate passes, or with `override` (a reason) anyway; into
        a stage with approvers, ask them instead."""
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        reason = inputs.reason(reason, required=False)
        override = inputs.reason(override, required=False) if override is not None else None
        if override is not None and not override:
            raise BadInput(N_("Give a reason for advancing anyway."), field="reason")
        stage = self._movable(detail)
        if expected_stage_id is not None and stage.id != expected_stage_id:
            raise Conflict(
                N_(
                    "{slug} has moved on since (it is {where}); nothing was changed.",
                    slug=detail.rollout.slug,
                    where=self._where(detail),
                )
            )
        check = await self.check_gates(detail)
        if not check.passed and override is None:
            return Blocked(check)
        following = detail.next_stage(stage)
        if following is not None and detail.approvers_of(following):
            return await self._hold(
                detail, actor, stage, following, check, reason=override or reason, overridden=override is not None
            )
        size = await self.cohort_size(detail, following or stage, directory)
        return await self.move(
            detail,
            actor,
            "advance" if following else "complete",
            expect=(RolloutStatus.ACTIVE, stage.id),
            to_stage=following,
            status=RolloutStatus.ACTIVE if following else RolloutStatus.COMPLETED,
            reason=override or reason,
            cohort_size=size,
            gates=check.gates,
            overridden=override is not None,
        )

    async def _hold(
        self,
        detail: RolloutDetail,
        actor: str,
        stage: Stage,
        following: Stage,
        check: GateCheck,
        *,
        reason: str | None,
        overridden: bool,
    ) -> Held:
        """Ask the approvers of `following`: one transaction writes the request, its audit entry
        and a DM to each approver (with the figures and gates as they stand); an advance already
        waiting is not asked again."""
        approvers = detail.approvers_of(following)
        languages = await self.readers_languages(detail, approvers)
        metrics = check.metrics
        figures = Figures(
            min_group=metrics.min_group,
            respondents=metrics.respondents,
            nps=metrics.nps.score if metrics.nps else None,
            nps_margin=metrics.nps.margin if metrics.nps else None,
            asked=metrics.asked,
            answered=metrics.answered,
        )
        now = self._now()

        def ask(writes: Writes) -> tuple[int, bool]:
            if writes.rollouts.current_status(detail.rollout.id) != (RolloutStatus.ACTIVE, stage.id):
                raise Conflict(
                    N_("{slug} changed while this was being done; nothing was changed. Try again.",
                       slug=detail.rollout.slug)
                )  # fmt: skip
            waiting = writes.guards.waiting(detail.rollout.id)
            if waiting is not None:
                return waiting.id, True
            request_id = writes.guards.request(
                rollout_id=detail.rollout.id, from_stage_id=stage.id, to_stage_id=following.id,
                requested_by=actor, reason=reason, overridden=overridden, now=now,
            )  # fmt: skip
            writes.rollouts.write_audit(
                rollout_id=detail.rollout.id, actor=actor, action=APPROVAL_ASKED, now=now, reason=reason,
                detail={"from": stage.name, "to": following.name, "approvers": approvers, "overridden": overridden},
            )  # fmt: skip
            for user, language in languages.items():
                note = ApprovalNote(
                    request_id=request_id, rollout_slug=detail.rollout.slug, title=detail.rollout.title_in(language),
                    from_stage=stage.name, to_stage=following.name, requested_by=actor, reason=reason,
                    overridden=overridden, gates=check.gates, figures=figures, language=language,
                )  # fmt: skip
                writes.outbox.enqueue(
                    kind="approval_request",
                    dedupe_key=f"approval:{request_id}:{user}",
                    channel=user,
                    payload=note.model_dump_json(),
                    now=now,
                )
            return request_id, False

        request_id, already = await write(self.store, ask)
        self.on_outbox()
        after = await self.get(detail.rollout.slug)
        request = await Guards(self.store).request(request_id)
        assert request is not None
        return Held(after, request, approvers, already)

    async def approve(self, user: str, request_id: int, directory: Directory) -> Moved:
        """An approver's Approve: the advance that waited is made, as the one who asked it made
        it, with the approval recorded beside it in the same transaction."""
        request = await Guards(self.store).request(request_id)
        detail = await self.rollouts.load_by_id(request.rollout_id) if request is not None else None
        if request is None or detail is None:
            raise NotFound(N_("This advance no longer exists."))
        to_stage = detail.stage_by_id(request.to_stage_id)
        approvers = detail.approvers_of(to_stage)
        if user not in approvers:
            raise NotAllowed(N_("Only the approvers of this stage can approve the advance:"), people=tuple(approvers))
        slug = detail.rollout.slug
        if request.status == "approved" and request.decided_by:
            approver = f"<@{request.decided_by}>"
            raise Conflict(N_("This advance was already approved, by {person}.", person=approver))
        if request.status != "waiting":
            raise Conflict(N_("This advance no longer waits: {slug} has moved since.", slug=slug))
        stage = self._movable(detail)
        assert to_stage is not None
        if stage.id != request.from_stage_id:
            raise Conflict(N_("This advance no longer waits: {slug} has moved since.", slug=slug))
        check = await self.check_gates(detail)
        if not check.passed and not request.overridden:
            raise Conflict(
                N_(
                    "Not every gate of {stage} passes any more, so nothing was changed; the advance still "
                    "waits. Approve it once they pass, or an owner can advance anyway.",
                    stage=stage.name,
                )
            )
        size = await self.cohort_size(detail, to_stage, directory)

        def approved(writes: Writes, now: int) -> None:
            if not writes.guards.decide(request_id, "approved", user, now):
                raise Conflict(N_("This advance no longer waits: {slug} has moved since.", slug=slug))
            writes.rollouts.write_audit(
                rollout_id=detail.rollout.id, actor=user, action="approved", now=now,
                detail={"from": stage.name, "to": to_stage.name},
            )  # fmt: skip

        return await self.move(
            detail,
            request.requested_by,
            "advance",
            expect=(RolloutStatus.ACTIVE, stage.id),
            to_stage=to_stage,
            status=RolloutStatus.ACTIVE,
            reason=request.reason,
            cohort_size=size,
            gates=check.gates,
            overridden=request.overridden,
            approved_by=user,
            also=approved,
        )

    async def rollback(self, actor: str, slug: str, reason_text: str | None, directory: Directory) -> Moved:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        reason = inputs.reason(reason_text, required=True)
        status = detail.rollout.status
        current = detail.current
        expect: tuple[RolloutStatus, int | None]
        if status == RolloutStatus.COMPLETED:
            target, expect = detail.stages[-1], (status, current.id if current else None)
        elif status in (RolloutStatus.ACTIVE, RolloutStatus.PAUSED) and current is not None:
            previous = detail.previous_stage(current)
            if previous is None:
                raise Conflict(
                    N_(
                        "{slug} is in its first stage ({stage}); there is nothing to roll back to.",
                        slug=detail.rollout.slug,
                        stage=current.name,
                    )
                )
            target, expect = previous, (status, current.id)
        else:
            raise Conflict(N_("{slug} has not started, so there is nothing to roll back.", slug=detail.rollout.slug))
        size = await self.cohort_size(detail, target, directory)
        return await self.move(
            detail,
            actor,
            "rollback",
            expect=expect,
            to_stage=target,
            status=RolloutStatus.ACTIVE,
            reason=reason,
            cohort_size=size,
        )

    async def pause(self, actor: str, slug: str, reason_text: str | None) -> Moved:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        reason = inputs.reason(reason_text, required=True)
        current = self._movable(detail)
        return await self.move(
            detail,
            actor,
            "pause",
            expect=(RolloutStatus.ACTIVE, current.id),
            to_stage=current,
            status=RolloutStatus.PAUSED,
            reason=reason,
            cohort_size=None,
        )

    async def resume(self, actor: str, slug: str) -> Moved:
        detail = await self.get(slug)
        self.require_owner(detail, actor)
        if detail.rollout.status != RolloutStatus.PAUSED:
            raise Conflict(
                N_("{slug} is not paused; it is {where}.", slug=detail.rollout.slug, where=self._where(detail))
            )
        current = detail.current
        assert current is not None
        return await self.move(
            detail,
            actor,
            "resume",
            expect=(RolloutStatus.PAUSED, current.id),
            to_stage=current,
            status=RolloutStatus.ACTIVE,
            reason=None,
            cohort_size=None,
        )

    def _where(self, detail: RolloutDetail) -> Phrase:
        status = detail.rollout.status
        current = detail.current
        if status == RolloutStatus.COMPLETED:
            return N_("complete")
        if status == RolloutStatus.PLANNED or current is None:
            return N_("planned")
        if status == RolloutStatus.PAUSED:
            return N_("paused in {stage}", stage=current.name)
        return N_("in {stage}", stage=current.name)

    async def move(
        self,
        detail: RolloutDetail,
        actor: str,
        kind: TransitionKind,
        *,
        expect: tuple[RolloutStatus, int | None],
        to_stage: Stage | None,
        status: RolloutStatus,
        reason: str | None,
        cohort_size: int | None,
        gates: list[GateRecord] | None = None,
        overridden: bool = False,
        approved_by: str | None = None,
        also: Callable[[Writes, int], None] | None = None,
        at: int | None = None,
    ) -> Moved:
        """One transaction: the new state, the transition, its audit entry, its announcements, and
        what `also` writes with them (it may raise Conflict to write none of it). An advance still
        waiting for approval no longer waits: the rollout moved. `at`: the time its rows say (the
        regression watch gives the day only); default now."""
        rollout = detail.rollout
        from_stage = detail.current if rollout.status != RolloutStatus.PLANNED else None
        if rollout.status == RolloutStatus.COMPLETED:
            from_stage = None
        # Looked up before the transaction: what each champion reads in, and the channel.
        channel_language = self.language(detail)
        languages = await self.readers_languages(detail, detail.champions)
        if rollout.channel_id:
            languages[rollout.channel_id] = channel_language
        now = self._now() if at is None else at

        def move(writes: Writes) -> int:
            if writes.rollouts.current_status(rollout.id) != expect:
                raise Conflict(
                    N_("{slug} changed while this was being done; nothing was changed. Try again.", slug=rollout.slug)
                )
            if also is not None:
                also(writes, now)
            writes.guards.withdraw_waiting(rollout.id, now)
            if kind in ("start", "advance", "rollback", "complete") and from_stage is not None:
                writes.rollouts.leave_stage(from_stage.id, now)
            if kind in ("start", "advance", "rollback") and to_stage is not None:
                writes.rollouts.enter_stage(to_stage.id, now)
            new_current = to_stage.id if to_stage is not None else rollout.current_stage_id
            writes.rollouts.update_rollout(rollout.id, now, status=status.value, current_stage_id=new_current)
            transition_id = writes.rollouts.record_transition(
                rollout_id=rollout.id,
                kind=kind,
                from_stage_id=from_stage.id if from_stage else None,
                to_stage_id=to_stage.id if to_stage else None,
                actor=actor,
                reason=reason,
                gates=gates,
                overridden=overridden,
                cohort_size=cohort_size,
                now=now,
            )
            writes.rollouts.write_audit(
                rollout_id=rollout.id,
                actor=actor,
                action=kind,
                now=now,
                reason=reason,
                detail={
                    "from": from_stage.name if from_stage else None,
                    "to": to_stage.name if to_stage else None,
                    "overridden": overridden,
                    "cohort_size": cohort_size,
                },
            )
            self._queue_announcements(
                writes,
                detail,
                transition_id,
                kind,
                from_stage,
                to_stage,
                actor,
                reason,
                gates,
                overridden,
                cohort_size,
                now,
                languages,
                approved_by,
            )
            return transition_id

        transition_id = await write(self.store, move)
        self.on_outbox()
        after = await self.get(rollout.slug)
        self.on_moved(after)
        return Moved(
            after,
            transition_id,
            kind,
            from_stage.name if from_stage else None,
            to_stage.name if to_stage else None,
            cohort_size,
        )

    def _queue_announcements(
        self,
        writes: Writes,
        detail: RolloutDetail,
        transition_id: int,
        kind: TransitionKind,
        from_stage: Stage | None,
        to_stage: Stage | None,
        actor: str,
        reason: str | None,
        gates: list[GateRecord] | None,
        overridden: bool,
        cohort_size: int | None,
        now: int,
        languages: dict[str, str],
        approved_by: str | None = None,
    ) -> None:
        following = detail.next_stage(to_stage) if to_stage is not None and kind != "complete" else None
        recipients: list[tuple[str, Audience]] = [(user, "champion") for user in detail.champions]
        if detail.rollout.channel_id:
            recipients.append((detail.rollout.channel_id, "channel"))
        for channel, audience in recipients:
            language = languages.get(channel) or self.language(detail)
            announcement = Announcement(
                transition_id=transition_id,
                rollout_slug=detail.rollout.slug,
                title=detail.rollout.title_in(language),
                kind=kind,
                from_stage=from_stage.name if from_stage else None,
                to_stage=to_stage.name if to_stage else None,
                actor=actor,
                reason=reason,
                gates=gates,
                overridden=overridden,
                cohort_size=cohort_size,
                next_stage=following.name if following else None,
                next_planned=following.planned_start if following else None,
                audience=audience,
                language=language,
                approved_by=approved_by,
            )
            writes.outbox.enqueue(
                kind="announcement",
                dedupe_key=transition_key(transition_id, channel),
                channel=channel,
                payload=announcement.model_dump_json(),
                now=now,
                transition_id=transition_id,
            )


async def channel_with_bot(directory: Directory, channel_id: str, why: Phrase) -> ChannelInfo:
    """The channel exists, is a channel, and the bot is in it (else say how to fix it, `why`
    ending "I am not in #channel …"). Says the channel's name: call it only for admins, or
    through `channel_for`."""
    channel = await directory.channel(channel_id)
    if channel.is_im:
        raise BadInput(N_("Pick a channel, not a direct message."))
    if not channel.is_member:
        raise BadInput(
            N_(
                "I am not in #{channel} {why}. Invite me with /invite @Rollout Pulse in that channel, then try again.",
                channel=channel.name or channel_id,
                why=why,
            )
        )
    return channel


# The one answer to anyone who may not use a channel, whatever the reason: it does not exist, it
# is private and the bot is not in it, or they are not in it. Telling these apart, naming the
# channel or counting its members would tell a person about a channel they cannot see.
NOT_A_MEMBER = N_(
    "You can only add channels you are a member of. If you are in it and it is private, "
    "invite me there first with /invite @Rollout Pulse, then try again."
)


async def channel_for(
    directory: Directory, channel_id: str, actor: str, *, admin: bool, bot_needed: Phrase | None = None
) -> ChannelInfo:
    """A channel `actor` may add to a rollout: one they are a member of; for an admin, any channel
    the bot can see. `bot_needed` says why the bot must be in it too (None: it need not be)."""
    if not admin and not await is_member(directory, channel_id, actor):
        raise NotAllowed(NOT_A_MEMBER)
    if bot_needed is not None:
        return await channel_with_bot(directory, channel_id, bot_needed)
    channel = await directory.channel(channel_id)
    if channel.is_im:
        raise BadInput(N_("Pick a channel, not a direct message."))
    return channel


async def is_member(directory: Directory, channel_id: str, user: str) -> bool:
    """Whether `user` is in the channel. False also when the bot cannot see it (Slack answers
    channel_not_found for a private channel the bot is not in), as nobody can be shown to be."""
    try:
        return user in await directory.channel_members(channel_id)
    except NotFound:
        return False


async def resolve_cohort(detail: RolloutDetail, stage: Stage, directory: Directory) -> set[str]:
    """The people in a stage's cohort now: its entries and those of earlier stages, user groups
    and channels expanded, bots and deactivated accounts left out."""
    entries = [CohortRef(e.kind, e.ref) for e in detail.cohort_up_to(stage)]
    people = await directory.people(await expand(entries, directory))
    return {uid for uid, person in people.items() if person.reachable}


async def expand(refs: Iterable[CohortRef], directory: Directory) -> set[str]:
    """The user IDs that people, user groups and channels stand for (a group or channel that
    has disappeared counts as empty)."""
    candidates: set[str] = set()
    for ref in refs:
        if ref.kind == "user":
            candidates.add(ref.ref)
        elif ref.kind == "usergroup":
            candidates.update(await _members_or_none(directory.usergroup_members(ref.ref), ref.ref))
        else:
            candidates.update(await _members_or_none(directory.channel_members(ref.ref), ref.ref))
    return candidates


async def _members_or_none(lookup: Awaitable[list[str]], ref: str) -> Iterable[str]:
    """A group or channel that disappeared after it was added counts as empty (and is logged)."""
    try:
        return await lookup
    except NotFound:
        log.warning("cohort entry %s no longer exists in Slack; counted as empty", ref)
        return []


def _ref_text(ref: CohortRef) -> str:
    prefix = {"user": "@", "usergroup": "@", "channel": "#"}[ref.kind]
    return f"{prefix}{ref.label or ref.ref}"
