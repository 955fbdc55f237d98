"""`/pulse`: surveys, results, digests, privacy (docs/surveys.md, docs/digests.md, docs/privacy.md: “Commands”)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.blocks import format as fmt
from handlers.blocks.digest import build_digest, build_preview
from handlers.blocks.privacy import build_export_done, build_forget_confirmation, build_mydata, export_comment
from handlers.blocks.results import build_results, build_wave_report
from handlers.blocks.rollouts import build_done
from handlers.blocks.text import Message, escape
from handlers.catalog import PULSE
from handlers.commands.mentions import mentions
from handlers.commands.router import Answer, CommandCall, CommandRouter, Deferred
from services.cron import more_than_daily, parse_cron
from services.errors import BadInput
from services.rollouts import CohortRef
from services.surveys import WaveReport

router = CommandRouter(PULSE)


def _report(call: CommandCall, report: WaveReport, what: str) -> Message:
    return build_wave_report(report, call.services.surveys, call.services.settings.tz, what=what)


@router.on("send")
async def send(call: CommandCall) -> Answer:
    args = call.need(2, "the rollout and the survey kind, e.g. /pulse send expense-tool nps")
    if len(args) > 2 or args[1].lower() != "nps":
        kind = args[1] if len(args) > 1 else ""
        raise BadInput(f"“{kind[:20]}” is not a survey kind /pulse send knows: use nps (touchpoints go by /pulse ask).")
    services = call.services

    async def run() -> Message:
        report = await services.surveys.send_nps(call.user_id, args[0], services.directory)
        return _report(call, report, "NPS")

    return Deferred(run, "send")


@router.on("touchpoint")
async def touchpoint(call: CommandCall) -> Answer:
    args = call.need(4, 'the rollout, a key, a label in quotes and a scale, e.g. onboarding "Onboarding" csat')
    if len(args) > 4:
        raise BadInput("Put the label in quotes, e.g. “Onboarding session”.")
    slug, key, label, scale = args
    defined = await call.services.surveys.define_touchpoint(call.user_id, slug, key, label, scale.lower())
    return build_done(
        f"Touchpoint *{escape(defined.label)}* (`{defined.key}`, {defined.scale}) is set for `{slug}`. "
        f"Ask people about it with `/pulse ask {slug} {defined.key} @people`, or on joining a channel with "
        f"`/pulse trigger {slug} {defined.key} on-join #channel`."
    )


@router.on("trigger")
async def trigger(call: CommandCall) -> Answer:
    args = call.need(4, "the rollout, the touchpoint, on-join and a #channel")
    if args[2].lower() != "on-join" or len(args) != 4:
        raise BadInput("The only trigger is on-join, followed by one #channel.")
    [channel] = mentions(args[3:], allowed=("channel",))
    services = call.services

    async def run() -> Message:
        added = await services.surveys.add_trigger(call.user_id, args[0], args[1], channel.id, services.directory)
        if not added:
            return build_done(f"That trigger was already set: people joining {fmt.channel(channel.id)} are asked.")
        return build_done(
            f"People who join {fmt.channel(channel.id)} will be asked about `{escape(args[1].lower())}` "
            "(within their working hours, at most once a month)."
        )

    return Deferred(run, "trigger")


@router.on("ask")
async def ask(call: CommandCall) -> Answer:
    args = call.need(3, "the rollout, the touchpoint and the people to ask")
    found = mentions(args[2:], allowed=("user", "usergroup", "channel"))
    refs = [CohortRef(m.kind, m.id, m.label) for m in found]
    services = call.services

    async def run() -> Message:
        report = await services.surveys.ask(call.user_id, args[0], args[1], refs, services.directory)
        return _report(call, report, f"the {escape(args[1].lower())} touchpoint")

    return Deferred(run, "ask")


@router.on("digest")
async def digest(call: CommandCall) -> Answer:
    services = call.services
    services.digests.require_admin(call.user_id)
    if not call.args:

        async def preview() -> Message:
            subscriptions = await services.digests.subscriptions()
            periods = services.digests.current_periods(
                subscriptions[0] if subscriptions else None, services.clock.now()
            )
            return build_preview(build_digest(await services.digests.compute(periods)))

        return Deferred(preview, "digest preview")
    verb = call.args[0].lower()
    if verb not in ("subscribe", "unsubscribe") or len(call.args) < 2:
        raise BadInput("Say subscribe or unsubscribe, then the #channel.")
    [channel] = mentions(call.args[1:2], allowed=("channel",))
    if verb == "unsubscribe":
        if len(call.args) > 2:
            raise BadInput("unsubscribe takes one #channel.")
        await services.digests.unsubscribe(call.user_id, channel.id)
        return build_done(f"{fmt.channel(channel.id)} gets no more digests.")
    cron = " ".join(call.args[2:]) or None

    async def subscribe() -> Message:
        schedule, new = await services.digests.subscribe(call.user_id, channel.id, cron, services.directory)
        verb = "will get" if new else "now gets"
        note = ""
        if more_than_daily(parse_cron(schedule, services.settings.tz), services.clock.now()):
            note = (
                " Answers are dated by the day, not the time, so a digest counts only the days that are over: "
                "on a schedule more often than daily, a day's answers appear once, in the first digest after it."
            )
        return build_done(
            f"{fmt.channel(channel.id)} {verb} the digest on the schedule `{escape(schedule)}` "
            f"({escape(services.settings.pulse_timezone)}).{note}"
        )

    return Deferred(subscribe, "digest subscribe")


@router.on("close")
async def close(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout, and nps or a touchpoint (nps if left out)")
    if len(args) > 2:
        raise BadInput("close takes the rollout and, optionally, nps or one touchpoint.")
    survey = args[1].lower() if len(args) == 2 else None
    services = call.services

    async def run() -> Message:  # a wave of thousands takes a second or more: after the ack
        done = await services.surveys.close_now(call.user_id, args[0], survey)
        min_group = services.settings.pulse_min_group
        # Not how many: "6 kept" rather than "5" would tell whether the one person asked beside five
        # who answer had answered too. The figures say how many, in whole groups.
        kept = f"at least {min_group} answers" if done.answers >= min_group else f"fewer than {min_group} answers"
        text = (
            f"Closed {done.what} of `{escape(args[0].lower())}` ({done.waves} wave{'s' if done.waves != 1 else ''}, "
            f"{kept} kept). Its messages now say it has closed, clicks on them store nothing, and its key is destroyed"
        )
        if done.few:
            text += (
                f". {done.few} wave(s) closed with fewer than {min_group} answers: so few answers can still be "
                "told apart among the people asked."
            )
        else:
            text += ": nobody can tell any more which answer was whose."
        if not done.wiped:
            text += (
                " (Another process is reading the database, so the last copy of the key leaves its files once "
                "that process is done; tried again every minute.)"
            )
        return build_done(text)

    return Deferred(run, "close")


@router.on("results")
async def results(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout")
    if len(args) > 2:
        raise BadInput("results takes the rollout and, optionally, a stage.")
    view = await call.services.surveys.results(call.user_id, args[0], args[1] if len(args) == 2 else None)
    return build_results(view)


@router.on("mydata")
async def mydata(call: CommandCall) -> Answer:
    if call.args:
        raise BadInput("mydata takes no arguments: it is always about you.")
    return build_mydata(await call.services.privacy.mydata(call.user_id))


@router.on("forget-me")
async def forget_me(call: CommandCall) -> Answer:
    if call.args:
        raise BadInput("forget-me takes no arguments: it is always about you.")
    return build_forget_confirmation((await call.services.privacy.mydata(call.user_id)).record)


@router.on("export")
async def export(call: CommandCall) -> Answer:
    args = call.need(1, "the rollout to export")
    if len(args) > 1:
        raise BadInput("export takes one rollout.")
    filename, exported = await call.services.privacy.export_csv(call.user_id, args[0])
    min_group = call.services.settings.pulse_min_group

    async def upload() -> Message:
        opened = await call.client.conversations_open(users=call.user_id)
        await call.client.files_upload_v2(
            channel=opened["channel"]["id"],
            content=exported.csv.encode(),
            filename=filename,
            title=f"Answers to {args[0]}",
            initial_comment=export_comment(min_group),
        )
        return build_export_done(filename, exported, min_group)

    return Deferred(upload, "export")


def register(app: AsyncApp) -> None:
    router.register(app)
