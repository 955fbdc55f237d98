"""`/rollout`: rollouts, stages, cohorts, champions, gates (docs/rollouts.md: “Commands”)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.blocks import format as fmt
from handlers.blocks.rollouts import (
    build_done,
    build_gates_blocked,
    build_history,
    build_list,
    build_moved,
    build_roadmap,
    build_status_card,
)
from handlers.blocks.text import Message, escape
from handlers.catalog import ROLLOUT
from handlers.commands.mentions import mentions
from handlers.commands.router import Answer, CommandCall, CommandRouter, Deferred
from services import inputs
from services.errors import BadInput
from services.rollouts import Blocked, CohortRef, RolloutService

router = CommandRouter(ROLLOUT)


def _rest(words: list[str]) -> str:
    """Free text after the fixed arguments, quoted or not."""
    return " ".join(words).strip()


def _svc(call: CommandCall) -> RolloutService:
    return call.services.rollouts


@router.on("list")
async def list_rollouts(call: CommandCall) -> Answer:
    svc = _svc(call)
    items = []
    for detail in await svc.open_rollouts():
        stage = detail.current
        nps_text = "—"
        if stage is not None and detail.rollout.status != "planned":
            metrics = await svc.metrics_of(detail, stage)
            nps_text = fmt.nps(metrics.nps, metrics.respondents, metrics.min_group).split(" (n=")[0]
            nps_text = nps_text if metrics.nps else "not enough responses yet"
        items.append((detail, nps_text))
    completed = await svc.rollouts.count_completed()
    return build_list(items, completed, svc.today(), call.services.settings.tz)


@router.on("status")
async def status(call: CommandCall) -> Answer:
    if len(call.args) > 1:
        raise BadInput("status takes at most one rollout name.")
    svc = _svc(call)
    detail = await svc.for_status(call.args[0] if call.args else None, call.channel_id)

    async def card() -> Message:
        view = await svc.status(detail, call.services.directory)
        return build_status_card(
            view, viewer_may_change=svc.may_change(detail, call.user_id), tz=call.services.settings.tz
        )

    return Deferred(card, "status")


@router.on("new")
async def new(call: CommandCall) -> Answer:
    args = call.need(2, 'a name and a title, e.g. /rollout new expense-tool "Expense tool"')
    slug, title, extra = args[0], args[1], args[2:]
    stages = None
    if extra:
        first = extra[0].lower()
        if first.startswith("stages="):
            extra = [first.removeprefix("stages="), *extra[1:]]
        elif first == "stages":
            extra = extra[1:]
        else:
            raise BadInput("Put the title in quotes, e.g. “Expense tool”; after it only stages a,b,c may follow.")
        if not extra:
            raise BadInput("Name the stages after the word stages, e.g. stages pilot,ga.")
        stages = inputs.stage_names(",".join(extra))
    detail = await _svc(call).create(call.user_id, slug, title, stages)
    track = " → ".join(escape(s.name) for s in detail.stages)
    first_stage = escape(detail.stages[0].name)
    return build_done(
        f"Created *{escape(detail.rollout.title)}* (`{detail.rollout.slug}`) with the stages {track}; "
        f"you are its owner.\nNext: `/rollout cohort {detail.rollout.slug} {first_stage} @people`, "
        f"`/rollout champions {detail.rollout.slug} add @someone`, `/rollout channel {detail.rollout.slug} #channel`, "
        f"then `/rollout start {detail.rollout.slug}`."
    )


@router.on("stages")
async def stages(call: CommandCall) -> Answer:
    args = call.need(2, "the rollout and its stages, e.g. pilot,beta,ga")
    names = inputs.stage_names(",".join(args[1:]))
    detail = await _svc(call).set_stages(call.user_id, args[0], names)
    track = " → ".join(escape(s.name) for s in detail.stages)
    return build_done(f"The stages of `{detail.rollout.slug}` are now {track}.")


@router.on("vision")
async def vision(call: CommandCall) -> Answer:
    args = call.need(2, "the rollout and the vision text")
    detail = await _svc(call).set_vision(call.user_id, args[0], _rest(args[1:]))
    return build_done(f"The vision of `{detail.rollout.slug}` is now: _{escape(detail.rollout.vision or '')}_")


@router.on("plan")
async def plan(call: CommandCall) -> Answer:
    args = call.need(3, "the rollout, the stage and a date (YYYY-MM-DD)")
    if len(args) > 3:
        raise BadInput("plan takes three words: the rollout, the stage and the date.")
    day = inputs.day(args[2])
    detail = await _svc(call).plan(call.user_id, args[0], args[1], day)
    return build_done(
        f"*{escape(args[1].lower())}* of `{detail.rollout.slug}` is planned to start on {day.isoformat()}."
    )


@router.on("cohort")
async def cohort(call: CommandCall) -> Answer:
    args = call.need(3, "the rollout, the stage, and people, user groups or channels")
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
        shown = ", ".join(_mention_text(r) for r in refs)
        verb = "Removed" if remove else "Added"
        prep = "from" if remove else "to"
        people = "1 person" if size == 1 else f"{size} people"
        unchanged = "" if changed else " (nothing changed: " + ("not there)" if remove else "already there)")
        return build_done(
            f"{verb} {shown} {prep} *{escape(target_stage.name)}* of `{detail.rollout.slug}`{unchanged}. "
            f"The {escape(target_stage.name)} cohort now has {people} (earlier stages included)."
        )

    return Deferred(change, "cohort")


def _mention_text(ref: CohortRef) -> str:
    if ref.kind == "user":
        return fmt.user(ref.ref)
    if ref.kind == "channel":
        return fmt.channel(ref.ref)
    return f"<!subteam^{ref.ref}>"


async def _people(call: CommandCall, role: str) -> Answer:
    noun = "owners" if role == "owners" else "champions"
    args = call.need(3, f"the rollout, add or remove, and the {noun}")
    slug, verb = args[0], args[1].lower()
    if verb not in ("add", "remove"):
        raise BadInput(f"Say add or remove before the {noun}, not “{args[1][:20]}”.")
    users = [m.id for m in mentions(args[2:], allowed=("user",))]
    svc = _svc(call)

    async def change() -> Message:
        detail, changed = await svc.change_people(
            call.user_id, slug, role, users, call.services.directory, remove=verb == "remove"
        )
        everyone = detail.owners if role == "owners" else detail.champions
        if not changed:
            what = "none of them were" if verb == "remove" else "all of them already are"
            return build_done(f"Nothing changed: {what} {noun} of `{detail.rollout.slug}`.")
        done = "Added" if verb == "add" else "Removed"
        return build_done(
            f"{done} {fmt.people(changed)}. {noun.capitalize()} of `{detail.rollout.slug}`: {fmt.people(everyone)}."
        )

    if verb == "remove":
        return await change()
    return Deferred(change, noun)


@router.on("champions")
async def champions(call: CommandCall) -> Answer:
    return await _people(call, "champions")


@router.on("owners")
async def owners(call: CommandCall) -> Answer:
    return await _people(call, "owners")


@router.on("channel")
async def channel(call: CommandCall) -> Answer:
    args = call.need(2, "the rollout and a #channel")
    if len(args) > 2:
        raise BadInput("channel takes one channel.")
    [found] = mentions(args[1:], allowed=("channel",))
    svc = _svc(call)

    async def change() -> Message:
        detail = await svc.set_channel(call.user_id, args[0], found.id, call.services.directory)
        return build_done(f"Stage changes of `{detail.rollout.slug}` will be announced in {fmt.channel(found.id)}.")

    return Deferred(change, "channel")


@router.on("target")
async def target(call: CommandCall) -> Answer:
    args = call.need(3, "the rollout and a target such as nps >= 30")
    svc = _svc(call)
    if args[1].lower() == "remove":
        if len(args) > 4:
            raise BadInput("target … remove takes a metric and, optionally, a stage.")
        stage = args[3] if len(args) == 4 else None
        detail = await svc.remove_target(call.user_id, args[0], args[2], stage)
        where = f" for {escape(stage.lower())}" if stage else ""
        return build_done(f"Removed the {escape(args[2].lower())} target{where} of `{detail.rollout.slug}`.")
    if len(args) not in (4, 5):
        raise BadInput("A target is a metric, a comparison and a value, e.g. nps >= 30, optionally then a stage.")
    stage = args[4] if len(args) == 5 else None
    detail, replaced = await svc.set_target(call.user_id, args[0], args[1], args[2], args[3], stage)
    saved = next(
        t
        for t in detail.targets
        if t.metric == args[1].lower()
        and ((t.stage_id is None) if stage is None else t.stage_id == svc.stage(detail, stage).id)
    )
    where = f"the {escape(stage.lower())} stage" if stage else "every stage"
    verb = "Replaced the target with" if replaced else "Added the target"
    return build_done(
        f"{verb} `{fmt.target(saved.metric, saved.op, saved.value)}` for {where} of `{detail.rollout.slug}`."
    )


@router.on("start")
async def start(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout to start")
    svc = _svc(call)

    async def run() -> Message:
        return build_moved(await svc.start(call.user_id, args[0], call.services.directory))

    return Deferred(run, "start")


@router.on("advance")
async def advance(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout to advance")
    svc = _svc(call)
    reason = _rest(args[1:]) or None

    async def run() -> Message:
        outcome = await svc.advance(call.user_id, args[0], call.services.directory, reason=reason)
        if isinstance(outcome, Blocked):
            return build_gates_blocked(outcome.check)
        return build_moved(outcome)

    return Deferred(run, "advance")


@router.on("rollback")
async def rollback(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout and a reason in quotes")
    svc = _svc(call)
    reason = _rest(args[1:])
    if not reason:
        raise BadInput("Give a reason in quotes: it goes to the champions and into the history.")

    async def run() -> Message:
        return build_moved(await svc.rollback(call.user_id, args[0], reason, call.services.directory))

    return Deferred(run, "rollback")


@router.on("pause")
async def pause(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout and a reason in quotes")
    reason = _rest(args[1:])
    if not reason:
        raise BadInput("Give a reason in quotes: it goes to the champions and into the history.")
    return build_moved(await _svc(call).pause(call.user_id, args[0], reason))


@router.on("resume")
async def resume(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout to resume")
    return build_moved(await _svc(call).resume(call.user_id, args[0]))


@router.on("roadmap")
async def roadmap(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout")
    svc = _svc(call)
    detail = await svc.get(args[0])
    return build_roadmap(detail, svc.today(), call.services.settings.tz)


@router.on("history")
async def history(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout")
    return build_history(await _svc(call).history(args[0]), call.services.settings.tz)


def register(app: AsyncApp) -> None:
    router.register(app)
