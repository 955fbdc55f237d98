"""`pulse apply`: the changes a config file asks for, checked whole, then made in one transaction.

A bad file is refused with every problem and its position, and nothing is changed. `--dry-run`
shows the plan; applying the same file again finds nothing to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import cast

from runtime.clock import Clock, epoch
from runtime.timezones import parse_zone
from services import inputs
from services.config_file import ConfigError, Located, OwnText, Path, Problem, PulseConfig, RolloutSpec, StageSpec
from services.cron import parse_cron
from services.errors import BadInput
from services.options import Options
from storage.db import Store
from storage.digests import Digests
from storage.models import CohortKind, RolloutStatus, variants_json
from storage.rollouts import RolloutDetail, Rollouts
from storage.surveys import Surveys
from storage.writes import Writes, write

ACTOR = "pulse apply"

# A change as made: a part of the one write job that applies the whole file.
Run = Callable[[Writes, int], None]


@dataclass(frozen=True)
class Change:
    """One change, as the plan shows it and as it is made."""

    text: str
    run: Run
    rollout: str | None = None  # the slug it belongs to, for its audit entry


@dataclass(frozen=True)
class _Current:
    """A rollout as it is before the file is applied (or as it is created): what the spec is compared with."""

    stage_names: list[str]  # after any stage change the plan makes
    owners: list[str]
    champions: list[str]
    cohort: dict[str, set[tuple[str, str]]]
    planned: dict[str, date | None]
    soaks: dict[str, int]
    approvers: dict[str, list[str]]
    targets: dict[tuple[str, str | None], tuple[str, float]]
    touchpoints: dict[str, tuple[OwnText, str, int | None]]
    vision: OwnText | None
    channel: str | None
    language: str | None
    auto: int
    on_regression: str = "notify"


class ConfigService:
    def __init__(self, store: Store, settings: Options, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rollouts = Rollouts(store)
        self.surveys = Surveys(store)
        self.digests = Digests(store)

    async def plan(self, config: PulseConfig, located: Located) -> list[Change]:
        problems: list[Problem] = []
        changes: list[Change] = []
        seen: set[str] = set()
        for i, spec in enumerate(config.rollouts):
            at: Path = ("rollouts", i)
            if spec.slug in seen:
                problems.append(located.problem((*at, "slug"), f"{spec.slug} appears twice in this file"))
                continue
            seen.add(spec.slug)
            detail = await self.rollouts.load(spec.slug)
            changes += await self._rollout(spec, detail, at, located, problems)
        if config.digests is not None:
            changes += await self._digests(config, located, problems)
        if problems:
            raise ConfigError(sorted(problems, key=lambda p: (p.line, p.column)))
        return changes

    async def apply(self, changes: list[Change]) -> None:
        """Every change in one transaction, each with its audit entry."""
        now = epoch(self.clock.now())

        def apply_all(w: Writes) -> None:
            for change in changes:
                change.run(w, now)
                if change.rollout is not None:
                    w.rollouts.write_audit(
                        rollout_id=w.rollouts.rollout_id_of(change.rollout),
                        actor=ACTOR,
                        action="config applied",
                        now=now,
                        detail={"change": change.text},
                    )

        await write(self.store, apply_all)

    # -- a rollout --------------------------------------------------------------------------------

    async def _rollout(
        self, spec: RolloutSpec, detail: RolloutDetail | None, at: Path, located: Located, problems: list[Problem]
    ) -> list[Change]:
        stage_names = [s.name for s in spec.stages] if spec.stages else None
        if not self._check_rollout(spec, stage_names, at, located, problems):
            return []
        changes: list[Change] = []
        if detail is None:
            if not spec.owners:
                problems.append(located.problem(at, f"{spec.slug} is new, so it needs owners: (at least one user ID)"))
                return []
            current = self._new_rollout(spec, spec.owners[0], stage_names, changes)
        else:
            current = self._existing_rollout(spec, detail, stage_names, at, located, problems, changes)
        changes += self._rollout_settings(spec, current)
        changes += await self._rollout_parts(spec, current, at, located, problems)
        return changes

    def _check_rollout(
        self,
        spec: RolloutSpec,
        stage_names: list[str] | None,
        at: Path,
        located: Located,
        problems: list[Problem],
    ) -> bool:
        """Record the problems of the spec on its own; False when nothing more can be planned for it."""
        if stage_names is not None and len(set(stage_names)) != len(stage_names):
            problems.append(located.problem((*at, "stages"), "stage names must differ"))
            return False
        if spec.owners is not None and not spec.owners:
            problems.append(located.problem((*at, "owners"), "a rollout needs at least one owner"))
        return True

    def _new_rollout(
        self, spec: RolloutSpec, creator: str, stage_names: list[str] | None, changes: list[Change]
    ) -> _Current:
        """The change that creates the rollout, and the state it starts in."""
        slug = spec.slug
        names = stage_names or list(inputs.DEFAULT_STAGES)

        title = spec.title

        def create(w: Writes, now: int) -> None:
            rollout_id = w.rollouts.insert_rollout(
                slug=slug, title=title.text, stage_names=names, creator=creator, now=now
            )
            if title.variants:
                w.rollouts.update_rollout(rollout_id, now, title_variants=variants_json(title.variants))

        changes.append(Change(f"+ rollout {slug} {_quoted(title)} (stages {', '.join(names)})", create, slug))
        return _Current(
            stage_names=names,
            owners=[creator],
            champions=[],
            cohort={n: set() for n in names},
            planned=dict.fromkeys(names),
            soaks=dict.fromkeys(names, 0),
            approvers={},
            targets={},
            touchpoints={},
            vision=None,
            channel=None,
            language=None,
            auto=7,
        )

    def _existing_rollout(
        self,
        spec: RolloutSpec,
        detail: RolloutDetail,
        stage_names: list[str] | None,
        at: Path,
        located: Located,
        problems: list[Problem],
        changes: list[Change],
    ) -> _Current:
        """The stage and title changes to a stored rollout, and its state as stored."""
        slug = spec.slug
        rollout = detail.rollout
        current_names = [s.name for s in detail.stages]
        if stage_names is not None and stage_names != current_names:
            if rollout.status != RolloutStatus.PLANNED:
                problems.append(
                    located.problem(
                        (*at, "stages"),
                        f"{slug} has started, so its stages cannot change (they are {', '.join(current_names)})",
                    )
                )
            else:
                changes.append(self._set_stages(slug, current_names, stage_names))
                current_names = stage_names
        if "title" in spec.model_fields_set and spec.title != OwnText(rollout.title, rollout.title_variants):
            changes.append(self._own_text(slug, "title", spec.title, f"title {_quoted(spec.title)}"))
        by_id = {s.id: s.name for s in detail.stages}
        cohort: dict[str, set[tuple[str, str]]] = {n: set() for n in current_names}
        for entry in detail.cohort:
            cohort.setdefault(by_id[entry.stage_id], set()).add((entry.kind, entry.ref))
        return _Current(
            stage_names=current_names,
            owners=detail.owners,
            champions=detail.champions,
            cohort=cohort,
            planned={s.name: s.planned_start for s in detail.stages},
            soaks={s.name: s.soak_days for s in detail.stages},
            approvers={s.name: detail.approvers_of(s) for s in detail.stages},
            targets={(t.metric, by_id.get(t.stage_id or 0)): (t.op, t.value) for t in detail.targets},
            touchpoints={t.key: (OwnText(t.label, t.label_variants), t.scale, t.id) for t in detail.touchpoints},
            vision=None if rollout.vision is None else OwnText(rollout.vision, rollout.vision_variants),
            channel=rollout.channel_id,
            language=rollout.language,
            auto=rollout.auto_nps_after_days,
            on_regression=rollout.on_regression,
        )

    def _rollout_settings(self, spec: RolloutSpec, current: _Current) -> list[Change]:
        """The vision, announcement channel and automatic NPS, where the spec changes them."""
        slug = spec.slug
        given = spec.model_fields_set
        changes: list[Change] = []
        if "vision" in given and spec.vision != current.vision:
            text = "vision set" if spec.vision and spec.vision.text else "vision cleared"
            changes.append(self._own_text(slug, "vision", spec.vision, text))
        # Channels here (and in cohorts and triggers) are not checked against anyone's membership,
        # unlike in Slack: the file is applied by the operator, on the bot's machine and database,
        # who is trusted as an admin is (and with no Slack token, nothing could be checked).
        if "channel" in given and spec.channel != current.channel:
            changes.append(self._column(slug, "channel_id", spec.channel, f"announcement channel {spec.channel}"))
        if "language" in given and spec.language != current.language:
            said = f"announcements in {spec.language}" if spec.language else "announcements in the default language"
            changes.append(self._column(slug, "language", spec.language, said))
        if spec.on_regression is not None and spec.on_regression != current.on_regression:
            what = spec.on_regression
            changes.append(self._column(slug, "on_regression", what, f"on a clear regression: {what}"))
        if spec.auto_nps_after_days is not None and spec.auto_nps_after_days != current.auto:
            days = spec.auto_nps_after_days
            changes.append(self._column(slug, "auto_nps_after_days", days, f"automatic NPS after {days} days"))
        return changes

    async def _rollout_parts(
        self, spec: RolloutSpec, current: _Current, at: Path, located: Located, problems: list[Problem]
    ) -> list[Change]:
        """The people, stages, touchpoints and targets, where the spec changes them."""
        slug = spec.slug
        changes: list[Change] = []
        if spec.owners:
            changes += self._people(slug, "owners", current.owners, spec.owners)
        if spec.champions is not None:
            changes += self._people(slug, "champions", current.champions, spec.champions)
        for i, stage in enumerate(spec.stages or []):
            if stage.name in current.stage_names:
                changes += self._stage(
                    slug, stage, current.planned.get(stage.name), current.cohort.get(stage.name, set())
                )
                changes += self._soak(slug, stage, current.soaks.get(stage.name, 0))
                if stage.approvers and current.stage_names.index(stage.name) == 0:
                    where = (*at, "stages", i, "approvers")
                    problems.append(
                        located.problem(where, f"{stage.name} is the first stage: nothing advances into it")
                    )
                else:
                    changes += self._approvers(slug, stage, current.approvers.get(stage.name, []))
        if spec.touchpoints is not None:
            changes += await self._touchpoints(spec, current.touchpoints, at, located, problems)
        if spec.targets is not None:
            scales = {key: scale for key, (_, scale, _) in current.touchpoints.items()}
            scales.update({t.key: t.scale for t in spec.touchpoints or []})
            changes += self._targets(spec, current.targets, current.stage_names, scales, at, located, problems)
        return changes

    def _column(self, slug: str, column: str, value: object, text: str) -> Change:
        return self._columns(slug, {column: value}, text)

    def _own_text(self, slug: str, column: str, value: OwnText | None, text: str) -> Change:
        """The change of an owner's text and of its variants by language (none given: none kept)."""
        variants = variants_json(value.variants) if value else None
        return self._columns(slug, {column: value.text if value else None, f"{column}_variants": variants}, text)

    def _columns(self, slug: str, columns: dict[str, object], text: str) -> Change:
        def run(w: Writes, now: int) -> None:
            w.rollouts.update_rollout(w.rollouts.rollout_id_of(slug), now, **columns)

        return Change(f"~ {slug}: {text}", run, slug)

    def _set_stages(self, slug: str, before: list[str], after: list[str]) -> Change:
        def run(w: Writes, now: int) -> None:
            w.rollouts.replace_stages(w.rollouts.rollout_id_of(slug), after)

        return Change(f"~ {slug}: stages {' → '.join(after)} (were {' → '.join(before)})", run, slug)

    def _people(self, slug: str, role: str, current: list[str], wanted: list[str]) -> list[Change]:
        noun = role[:-1]
        changes = []
        for user in [u for u in dict.fromkeys(wanted) if u not in current]:

            def add(w: Writes, now: int, user: str = user) -> None:
                w.rollouts.add_people(role, w.rollouts.rollout_id_of(slug), [user], ACTOR, now)

            changes.append(Change(f"+ {slug}: {noun} {user}", add, slug))
        for user in [u for u in current if u not in wanted]:

            def remove(w: Writes, now: int, user: str = user) -> None:
                w.rollouts.remove_people(role, w.rollouts.rollout_id_of(slug), [user])

            changes.append(Change(f"- {slug}: {noun} {user}", remove, slug))
        return changes

    def _soak(self, slug: str, stage: StageSpec, soak: int) -> list[Change]:
        days, name = stage.soak_days, stage.name
        if days is None or days == soak:
            return []

        def run(w: Writes, now: int) -> None:
            w.rollouts.set_soak(w.rollouts.stage_id_of(slug, name), days)

        return [Change(f"~ {slug} {name}: soak {days} days (was {soak})", run, slug)]

    def _approvers(self, slug: str, stage: StageSpec, current: list[str]) -> list[Change]:
        wanted, name = stage.approvers, stage.name
        if wanted is None or list(dict.fromkeys(wanted)) == current:
            return []
        users = list(dict.fromkeys(wanted))

        def run(w: Writes, now: int) -> None:
            w.guards.set_approvers(w.rollouts.stage_id_of(slug, name), users, ACTOR, now)

        said = ", ".join(users) if users else "none"
        return [Change(f"~ {slug} {name}: approvers {said}", run, slug)]

    def _stage(self, slug: str, stage: StageSpec, planned: date | None, cohort: set[tuple[str, str]]) -> list[Change]:
        changes = []
        name = stage.name
        if "planned_start" in stage.model_fields_set and stage.planned_start != planned:
            day = stage.planned_start

            def plan(w: Writes, now: int) -> None:
                w.rollouts.set_planned_start(w.rollouts.stage_id_of(slug, name), day)

            was = planned.isoformat() if planned else "—"
            changes.append(
                Change(f"~ {slug} {name}: planned {day.isoformat() if day else '—'} (was {was})", plan, slug)
            )
        if stage.cohort is not None:
            wanted = {("user", u) for u in stage.cohort.users}
            wanted |= {("usergroup", g) for g in stage.cohort.usergroups}
            wanted |= {("channel", c) for c in stage.cohort.channels}
            for kind, ref in sorted(wanted - cohort):

                def add(w: Writes, now: int, kind: str = kind, ref: str = ref) -> None:
                    entries = [(cast(CohortKind, kind), ref, None)]
                    w.rollouts.add_cohort_entries(w.rollouts.stage_id_of(slug, name), entries, ACTOR, now)

                changes.append(Change(f"+ {slug} {name}: cohort {kind} {ref}", add, slug))
            for kind, ref in sorted(cohort - wanted):

                def remove(w: Writes, now: int, kind: str = kind, ref: str = ref) -> None:
                    entries = [(cast(CohortKind, kind), ref)]
                    w.rollouts.remove_cohort_entries(w.rollouts.stage_id_of(slug, name), entries)

                changes.append(Change(f"- {slug} {name}: cohort {kind} {ref}", remove, slug))
        return changes

    async def _touchpoints(
        self,
        spec: RolloutSpec,
        current: dict[str, tuple[OwnText, str, int | None]],
        at: Path,
        located: Located,
        problems: list[Problem],
    ) -> list[Change]:
        slug = spec.slug
        changes: list[Change] = []
        keys: set[str] = set()
        for i, tp in enumerate(spec.touchpoints or []):
            where: Path = (*at, "touchpoints", i)
            if tp.key in keys:
                problems.append(located.problem((*where, "key"), f"touchpoint {tp.key} appears twice"))
                continue
            keys.add(tp.key)
            existing = current.get(tp.key)
            changed_scale = existing is not None and existing[1] != tp.scale and existing[2] is not None
            if changed_scale and existing and existing[2] and await self.surveys.touchpoint_answers(existing[2]):
                message = f"{tp.key} has answers on the {existing[1]} scale; define a new touchpoint instead"
                problems.append(located.problem((*where, "scale"), message))
                continue
            if existing is None or existing[:2] != (tp.label, tp.scale):

                def upsert(
                    w: Writes,
                    now: int,
                    key: str = tp.key,
                    label: OwnText = tp.label,
                    scale: str = tp.scale,
                ) -> None:
                    w.surveys.upsert_touchpoint(
                        rollout_id=w.rollouts.rollout_id_of(slug),
                        key=key,
                        label=label.text,
                        label_variants=label.variants,
                        scale=scale,
                        now=now,
                    )

                sign = "+" if existing is None else "~"
                text = f"{sign} {slug}: touchpoint {tp.key} {_quoted(tp.label)} {tp.scale}"
                changes.append(Change(text, upsert, slug))
            if tp.triggers is not None:
                have = set(await self.surveys.trigger_channels(existing[2])) if existing and existing[2] else set()
                want = set(tp.triggers.on_join)
                for channel in sorted(want - have):

                    def add(w: Writes, now: int, key: str = tp.key, channel: str = channel) -> None:
                        w.surveys.add_trigger(
                            touchpoint_id=w.rollouts.touchpoint_id_of(slug, key),
                            channel_id=channel,
                            actor=ACTOR,
                            now=now,
                        )

                    changes.append(Change(f"+ {slug} {tp.key}: trigger on-join {channel}", add, slug))
                for channel in sorted(have - want):

                    def remove(w: Writes, now: int, key: str = tp.key, channel: str = channel) -> None:
                        w.surveys.remove_trigger(
                            touchpoint_id=w.rollouts.touchpoint_id_of(slug, key), channel_id=channel
                        )

                    changes.append(Change(f"- {slug} {tp.key}: trigger on-join {channel}", remove, slug))
        return changes

    def _targets(
        self,
        spec: RolloutSpec,
        current: dict[tuple[str, str | None], tuple[str, float]],
        stages: list[str],
        scales: dict[str, str],
        at: Path,
        located: Located,
        problems: list[Problem],
    ) -> list[Change]:
        slug = spec.slug
        wanted: dict[tuple[str, str | None], tuple[str, float]] = {}
        for i, target in enumerate(spec.targets or []):
            where: Path = (*at, "targets", i)
            try:
                name = inputs.metric(target.metric)
                op = inputs.op(target.op)
                value = inputs.target_value(name, str(target.value))
            except BadInput as err:
                problems.append(located.problem(where, str(err.message)))
                continue
            if target.stage is not None and target.stage not in stages:
                problems.append(located.problem((*where, "stage"), f"{slug} has no stage {target.stage}"))
                continue
            if name.touchpoint is not None and scales.get(name.touchpoint) != name.family:
                known = scales.get(name.touchpoint)
                why = f"is measured with {known}" if known else "is not a touchpoint of this rollout"
                problems.append(located.problem((*where, "metric"), f"{name.touchpoint} {why}"))
                continue
            key = (str(name), target.stage)
            if key in wanted:
                problems.append(located.problem(where, f"a second {name} target for {target.stage or 'every stage'}"))
                continue
            wanted[key] = (op, value)
        changes = []
        for (metric, stage), (op, value) in wanted.items():
            if current.get((metric, stage)) == (op, value):
                continue

            def upsert(
                w: Writes,
                now: int,
                metric: str = metric,
                stage: str | None = stage,
                op: str = op,
                value: float = value,
            ) -> None:
                sid = w.rollouts.stage_id_of(slug, stage) if stage else None
                w.rollouts.upsert_target(
                    rollout_id=w.rollouts.rollout_id_of(slug),
                    stage_id=sid,
                    metric=metric,
                    op=op,
                    value=value,
                    actor=ACTOR,
                    now=now,
                )

            sign = "~" if (metric, stage) in current else "+"
            where_text = f" ({stage})" if stage else ""
            changes.append(Change(f"{sign} {slug}: target {metric} {op} {value:g}{where_text}", upsert, slug))
        for metric, stage in current:
            if (metric, stage) in wanted:
                continue

            def remove(w: Writes, now: int, metric: str = metric, stage: str | None = stage) -> None:
                if stage is not None and stage not in stages:
                    return  # the file drops this stage, and its targets went with it
                sid = w.rollouts.stage_id_of(slug, stage) if stage else None
                w.rollouts.remove_target(w.rollouts.rollout_id_of(slug), sid, metric)

            changes.append(Change(f"- {slug}: target {metric}{f' ({stage})' if stage else ''}", remove, slug))
        return changes

    # -- digests --------------------------------------------------------------------------------------

    async def _digests(self, config: PulseConfig, located: Located, problems: list[Problem]) -> list[Change]:
        current = {s.channel_id: s for s in await self.digests.subscriptions()}
        changes: list[Change] = []
        listed: set[str] = set()
        for i, digest in enumerate(config.digests or []):
            where: Path = ("digests", i)
            if digest.channel in listed:
                problems.append(located.problem((*where, "channel"), f"{digest.channel} appears twice"))
                continue
            listed.add(digest.channel)
            tz_name = digest.timezone or self.settings.pulse_timezone
            tz = parse_zone(tz_name)
            if tz is None:
                problems.append(located.problem((*where, "timezone"), f"{tz_name!r} is not a time zone"))
                continue
            try:
                parse_cron(digest.cron, tz)
            except BadInput as err:
                problems.append(located.problem((*where, "cron"), str(err.message)))
                continue
            existing = current.get(digest.channel)
            if existing is not None and (existing.cron, existing.timezone, existing.language) == (
                digest.cron,
                tz_name,
                digest.language,
            ):
                continue

            def subscribe(
                w: Writes,
                now: int,
                channel: str = digest.channel,
                cron: str = digest.cron,
                tz_name: str = tz_name,
                language: str | None = digest.language,
            ) -> None:
                w.digests.subscribe(
                    channel_id=channel,
                    cron=cron,
                    timezone=tz_name,
                    actor=ACTOR,
                    now=now,
                    source="config",
                    language=language,
                )

            sign = "~" if existing else "+"
            spoken = f" {digest.language}" if digest.language else ""
            changes.append(Change(f'{sign} digest {digest.channel} "{digest.cron}" {tz_name}{spoken}', subscribe))
        for channel, subscription in current.items():
            if channel in listed or subscription.source != "config":
                continue  # subscriptions made with /pulse digest are not the file's to remove

            def unsubscribe(w: Writes, now: int, channel: str = channel) -> None:
                w.digests.unsubscribe(channel)

            changes.append(Change(f"- digest {channel}", unsubscribe))
        return changes


def _quoted(text: OwnText) -> str:
    """An owner's text as the plan shows it: `"Title"`, or `"Title" (en, sv)` with its languages."""
    return f'"{text.text}"' + (f" ({', '.join(text.variants)})" if text.variants else "")


def plan_text(changes: list[Change]) -> str:
    return "\n".join(c.text for c in changes) if changes else "Nothing to change."
