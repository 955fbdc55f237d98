"""`/rollout`: rollouts, stages, cohorts, champions, gates (docs/rollouts.md: “Commands”)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.blocks import format as fmt
from handlers.blocks.rollouts import (
    build_advanced,
    build_done,
    build_history,
    build_list,
    build_moved,
    build_roadmap,
    build_status_card,
    language_name,
)
from handlers.blocks.text import Message, escape
from handlers.catalog import ROLLOUT
from handlers.commands.mentions import mentions
from handlers.commands.router import Answer, CommandCall, CommandRouter, Deferred
from runtime.i18n import N_, Texts
from services import inputs
from services.errors import BadInput
from services.rollouts import CohortRef, RolloutService

router = CommandRouter(ROLLOUT)

REASON_NEEDED = N_("Give a reason in quotes: it goes to the champions and into the history.")


def _code(text: str) -> str:
    """A name or command as code: `expense-tool`."""
    return f"`{text}`"


def _rest(words: list[str]) -> str:
    """Free text after the fixed arguments, quoted or not."""
    return " ".join(words).strip()


def _svc(call: CommandCall) -> RolloutService:
    return call.services.rollouts


@router.on("list")
async def list_rollouts(call: CommandCall) -> Answer:
    svc, t = _svc(call), call.texts
    items = []
    for detail in await svc.open_rollouts():
        stage = detail.current
        nps_text = "—"
        if stage is not None and detail.rollout.status != "planned":
            metrics = await svc.metrics_of(detail, stage)
            summary = metrics.nps
            nps_text = fmt.signed(summary.score) if summary is not None else t._("not enough responses yet")
        items.append((detail, nps_text))
    completed = await svc.rollouts.count_completed()
    return build_list(t, items, completed, svc.today(), call.services.settings.tz)


@router.on("status")
async def status(call: CommandCall) -> Answer:
    if len(call.args) > 1:
        raise BadInput(N_("status takes at most one rollout name."))
    svc = _svc(call)
    detail = await svc.for_status(call.args[0] if call.args else None, call.channel_id)

    async def card() -> Message:
        view = await svc.status(detail, call.services.directory)
        return build_status_card(
            call.texts, view, viewer_may_change=svc.may_change(detail, call.user_id), tz=call.services.settings.tz
        )

    return Deferred(card, "status")


@router.on("new")
async def new(call: CommandCall) -> Answer:
    args = call.need(2, N_('a name and a title, e.g. /rollout new expense-tool "Expense tool"'))
    slug, title, extra = args[0], args[1], args[2:]
    stages = None
    if extra:
        first = extra[0].lower()
        if first.startswith("stages="):
            extra = [first.removeprefix("stages="), *extra[1:]]
        elif first == "stages":
            extra = extra[1:]
        else:
            raise BadInput(N_("Put the title in quotes, e.g. “Expense tool”; after it only stages a,b,c may follow."))
        if not extra:
            raise BadInput(N_("Name the stages after the word stages, e.g. stages pilot,ga."))
        stages = inputs.stage_names(",".join(extra))
    detail = await _svc(call).create(call.user_id, slug, title, stages)
    track = " → ".join(escape(s.name) for s in detail.stages)
    slug = detail.rollout.slug
    first_stage = escape(detail.stages[0].name)
    next_steps = {
        "cohort": _code(f"/rollout cohort {slug} {first_stage} @people"),
        "champions": _code(f"/rollout champions {slug} add @someone"),
        "channel": _code(f"/rollout channel {slug} #channel"),
        "start": _code(f"/rollout start {slug}"),
    }
    return build_done(
        call.texts._(
            "Created *{title}* ({slug}) with the stages {track}; you are its owner.\n"
            "Next: {cohort}, {champions}, {channel}, then {start}.",
            title=escape(detail.rollout.title_in(call.texts.language)),
            slug=_code(slug),
            track=track,
            **next_steps,
        )
    )


@router.on("stages")
async def stages(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout and its stages, e.g. pilot,beta,ga"))
    names = inputs.stage_names(",".join(args[1:]))
    detail = await _svc(call).set_stages(call.user_id, args[0], names)
    track = " → ".join(escape(s.name) for s in detail.stages)
    return build_done(
        call.texts._("The stages of {slug} are now {track}.", slug=_code(detail.rollout.slug), track=track)
    )


@router.on("vision")
async def vision(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout and the vision text"))
    detail = await _svc(call).set_vision(call.user_id, args[0], _rest(args[1:]))
    shown = f"_{escape(detail.rollout.vision_in(call.texts.language) or '')}_"
    return build_done(
        call.texts._("The vision of {slug} is now: {vision}", slug=_code(detail.rollout.slug), vision=shown)
    )


@router.on("soak")
async def soak(call: CommandCall) -> Answer:
    args = call.need(3, N_("the rollout, the stage and a number of days"))
    if len(args) > 3:
        raise BadInput(N_("soak takes three words: the rollout, the stage and the days (0 turns it off)."))
    detail, days = await _svc(call).set_soak(call.user_id, args[0], args[1], args[2])
    t, stage, slug = call.texts, escape(args[1].lower()), _code(detail.rollout.slug)
    if not days:
        return build_done(t._("*{stage}* of {slug} no longer advances by itself.", stage=stage, slug=slug))
    return build_done(
        t.n_(
            "*{stage}* of {slug} advances by itself once every gate has passed for {n} day in a row "
            "and the stage is at least that old.",
            "*{stage}* of {slug} advances by itself once every gate has passed for {n} days in a row "
            "and the stage is at least that old.",
            days,
            stage=stage,
            slug=slug,
        )
    )


@router.on("approvers")
async def approvers(call: CommandCall) -> Answer:
    args = call.need(3, N_("the rollout, the stage, and the approvers (or remove)"))
    slug, stage = args[0], args[1]
    clear = len(args) == 3 and args[2].lower() == "remove"
    users = [] if clear else [m.id for m in mentions(args[2:], allowed=("user",))]
    svc = _svc(call)

    async def change() -> Message:
        detail, now = await svc.set_approvers(call.user_id, slug, stage, users, call.services.directory)
        t, shown, code = call.texts, escape(stage.lower()), _code(detail.rollout.slug)
        if not now:
            return build_done(t._("Moving {slug} into *{stage}* no longer waits for approval.", slug=code, stage=shown))
        return build_done(
            t._(
                "Moving {slug} into *{stage}*, typed or by itself, now waits until one of {people} approves it "
                "in a DM that shows the figures and the gates.",
                slug=code,
                stage=shown,
                people=fmt.people(call.texts, now),
            )
        )

    return await change() if clear else Deferred(change, "approvers")


@router.on("on-regression")
async def on_regression(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout, and notify or pause"))
    if len(args) > 2:
        raise BadInput(N_("On a regression the rollout can notify (the default) or pause."))
    detail = await _svc(call).set_on_regression(call.user_id, args[0], args[1].lower())
    t, code = call.texts, _code(detail.rollout.slug)
    if detail.rollout.on_regression == "pause":
        return build_done(
            t._(
                "When a gate of {slug} that had passed fails clearly, or its NPS falls clearly week over week, "
                "its owners and champions are told and it pauses.",
                slug=code,
            )
        )
    return build_done(
        t._(
            "When a gate of {slug} that had passed fails clearly, or its NPS falls clearly week over week, "
            "its owners and champions are told; it keeps going.",
            slug=code,
        )
    )


@router.on("plan")
async def plan(call: CommandCall) -> Answer:
    args = call.need(3, N_("the rollout, the stage and a date (YYYY-MM-DD)"))
    if len(args) > 3:
        raise BadInput(N_("plan takes three words: the rollout, the stage and the date."))
    day = inputs.day(args[2])
    detail = await _svc(call).plan(call.user_id, args[0], args[1], day)
    return build_done(
        call.texts._(
            "*{stage}* of {slug} is planned to start on {day}.",
            stage=escape(args[1].lower()),
            slug=_code(detail.rollout.slug),
            day=day.isoformat(),
        )
    )


def _cohort_done(t: Texts, *, shown: str, stage: str, slug: str, size: int, remove: bool, changed: bool) -> str:
    where = {"shown": shown, "stage": escape(stage), "slug": _code(slug)}
    if remove:
        done = t._("Removed {shown} from *{stage}* of {slug}", **where)
        unchanged = t._("nothing changed: not there")
    else:
        done = t._("Added {shown} to *{stage}* of {slug}", **where)
        unchanged = t._("nothing changed: already there")
    if not changed:
        done += f" ({unchanged})"
    now = t.n_(
        "The {stage} cohort now has {n} person (earlier stages included).",
        "The {stage} cohort now has {n} people (earlier stages included).",
        size,
        stage=escape(stage),
    )
    return f"{done}. {now}"


@router.on("cohort")
async def cohort(call: CommandCall) -> Answer:
    args = call.need(3, N_("the rollout, the stage, and people, user groups or channels"))
    slug, stage, rest = args[0], args[1], args[2:]
    remove = rest[0].lower() == "remove"
    found = mentions(rest[1:] if remove else rest, allowed=("user", "usergroup", "channel"))
    refs = [CohortRef(m.kind, m.id, m.label) for m in found]
    svc = _svc(call)
    directory = call.services.directory

    async def change() -> Message:
        detail, changed = await svc.change_cohort(call.user_id, slug, stage, refs, directory, remove=remove)
        target_stage = svc.stage(detail, stage)
        size = await svc.cohort_size(detail, target_stage, directory)
        shown = ", ".join(_mention_text(call.texts, r) for r in refs)
        return build_done(
            _cohort_done(
                call.texts,
                shown=shown,
                stage=target_stage.name,
                slug=detail.rollout.slug,
                size=size,
                remove=remove,
                changed=bool(changed),
            )
        )

    return Deferred(change, "cohort")


def _mention_text(t: Texts, ref: CohortRef) -> str:
    if ref.kind == "user":
        return fmt.user(t, ref.ref)
    if ref.kind == "channel":
        return fmt.channel(ref.ref)
    return f"<!subteam^{ref.ref}>"


def _people_done(t: Texts, role: str, slug: str, changed: list[str], everyone: list[str], *, add: bool) -> str:
    code = _code(slug)
    if not changed:
        if role == "owners":
            if add:
                return t._("Nothing changed: all of them already are owners of {slug}.", slug=code)
            return t._("Nothing changed: none of them were owners of {slug}.", slug=code)
        if add:
            return t._("Nothing changed: all of them already are champions of {slug}.", slug=code)
        return t._("Nothing changed: none of them were champions of {slug}.", slug=code)
    done = (
        t._("Added {people}.", people=fmt.people(t, changed))
        if add
        else t._("Removed {people}.", people=fmt.people(t, changed))
    )
    if role == "owners":
        now = t._("Owners of {slug}: {people}.", slug=code, people=fmt.people(t, everyone))
    else:
        now = t._("Champions of {slug}: {people}.", slug=code, people=fmt.people(t, everyone))
    return f"{done} {now}"


async def _people(call: CommandCall, role: str) -> Answer:
    owners = role == "owners"
    what = (
        N_("the rollout, add or remove, and the owners")
        if owners
        else N_("the rollout, add or remove, and the champions")
    )
    args = call.need(3, what)
    slug, verb = args[0], args[1].lower()
    if verb not in ("add", "remove"):
        typed = args[1][:20]
        raise BadInput(
            N_("Say add or remove before the owners, not “{typed}”.", typed=typed)
            if owners
            else N_("Say add or remove before the champions, not “{typed}”.", typed=typed)
        )
    users = [m.id for m in mentions(args[2:], allowed=("user",))]
    svc = _svc(call)

    async def change() -> Message:
        detail, changed = await svc.change_people(
            call.user_id, slug, role, users, call.services.directory, remove=verb == "remove"
        )
        everyone = detail.owners if owners else detail.champions
        return build_done(_people_done(call.texts, role, detail.rollout.slug, changed, everyone, add=verb == "add"))

    if verb == "remove":
        return await change()
    return Deferred(change, "owners" if owners else "champions")


@router.on("champions")
async def champions(call: CommandCall) -> Answer:
    return await _people(call, "champions")


@router.on("owners")
async def owners(call: CommandCall) -> Answer:
    return await _people(call, "owners")


@router.on("channel")
async def channel(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout and a #channel"))
    if len(args) > 2:
        raise BadInput(N_("channel takes one channel."))
    [found] = mentions(args[1:], allowed=("channel",))
    svc = _svc(call)

    async def change() -> Message:
        detail = await svc.set_channel(call.user_id, args[0], found.id, call.services.directory)
        return build_done(
            call.texts._(
                "Stage changes of {slug} will be announced in {channel}.",
                slug=_code(detail.rollout.slug),
                channel=fmt.channel(found.id),
            )
        )

    return Deferred(change, "channel")


@router.on("language")
async def language(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout and a language, e.g. en or sv"))
    if len(args) > 2:
        raise BadInput(N_("language takes one language: en or sv."))
    svc = _svc(call)
    detail = await svc.set_language(call.user_id, args[0], args[1])
    t = call.texts
    return build_done(
        t._(
            "Stage changes of {slug} are now announced in {language} in its channel. "
            "Champions get them in their own language when they have set one.",
            slug=_code(detail.rollout.slug),
            language=language_name(t, svc.language(detail)),
        )
    )


@router.on("target")
async def target(call: CommandCall) -> Answer:
    args = call.need(3, N_("the rollout and a target such as nps >= 30"))
    svc, t = _svc(call), call.texts
    if args[1].lower() == "remove":
        if len(args) > 4:
            raise BadInput(N_("target … remove takes a metric and, optionally, a stage."))
        stage = args[3] if len(args) == 4 else None
        detail = await svc.remove_target(call.user_id, args[0], args[2], stage)
        metric, slug = escape(args[2].lower()), _code(detail.rollout.slug)
        if stage:
            removed = t._(
                "Removed the {metric} target for {stage} of {slug}.",
                metric=metric,
                stage=escape(stage.lower()),
                slug=slug,
            )
        else:
            removed = t._("Removed the {metric} target of {slug}.", metric=metric, slug=slug)
        return build_done(removed)
    if len(args) not in (4, 5):
        raise BadInput(N_("A target is a metric, a comparison and a value, e.g. nps >= 30, optionally then a stage."))
    stage = args[4] if len(args) == 5 else None
    detail, replaced = await svc.set_target(call.user_id, args[0], args[1], args[2], args[3], stage)
    saved = next(
        g
        for g in detail.targets
        if g.metric == args[1].lower()
        and ((g.stage_id is None) if stage is None else g.stage_id == svc.stage(detail, stage).id)
    )
    shown = _code(fmt.target(t, saved.metric, saved.op, saved.value))
    slug = _code(detail.rollout.slug)
    if stage:
        where = {"target": shown, "stage": escape(stage.lower()), "slug": slug}
        if replaced:
            done = t._("Replaced the target with {target} for the {stage} stage of {slug}.", **where)
        else:
            done = t._("Added the target {target} for the {stage} stage of {slug}.", **where)
    elif replaced:
        done = t._("Replaced the target with {target} for every stage of {slug}.", target=shown, slug=slug)
    else:
        done = t._("Added the target {target} for every stage of {slug}.", target=shown, slug=slug)
    return build_done(done)


@router.on("start")
async def start(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout to start"))
    svc = _svc(call)

    async def run() -> Message:
        return build_moved(call.texts, await svc.start(call.user_id, args[0], call.services.directory))

    return Deferred(run, "start")


@router.on("advance")
async def advance(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout to advance"))
    svc = _svc(call)
    reason = _rest(args[1:]) or None

    async def run() -> Message:
        outcome = await svc.advance(call.user_id, args[0], call.services.directory, reason=reason)
        return build_advanced(call.texts, outcome)

    return Deferred(run, "advance")


@router.on("rollback")
async def rollback(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout and a reason in quotes"))
    svc = _svc(call)
    reason = _rest(args[1:])
    if not reason:
        raise BadInput(REASON_NEEDED)

    async def run() -> Message:
        return build_moved(call.texts, await svc.rollback(call.user_id, args[0], reason, call.services.directory))

    return Deferred(run, "rollback")


@router.on("pause")
async def pause(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout and a reason in quotes"))
    reason = _rest(args[1:])
    if not reason:
        raise BadInput(REASON_NEEDED)
    return build_moved(call.texts, await _svc(call).pause(call.user_id, args[0], reason))


@router.on("resume")
async def resume(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout to resume"))
    return build_moved(call.texts, await _svc(call).resume(call.user_id, args[0]))


@router.on("roadmap")
async def roadmap(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout"))
    svc = _svc(call)
    detail = await svc.get(args[0])
    return build_roadmap(call.texts, detail, svc.today(), call.services.settings.tz)


@router.on("history")
async def history(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout"))
    return build_history(call.texts, await _svc(call).history(args[0]), call.services.settings.tz)


def register(app: AsyncApp) -> None:
    router.register(app)
