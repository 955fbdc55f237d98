"""`/pulse`: surveys, results, digests, privacy (docs/surveys.md, docs/digests.md, docs/privacy.md: “Commands”)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import replace

from slack_bolt.async_app import AsyncApp

from handlers.blocks import format as fmt
from handlers.blocks.digest import build_digest, build_preview
from handlers.blocks.feedback_map import build_map_message, build_map_share
from handlers.blocks.heatmap import render_heatmap
from handlers.blocks.privacy import build_export_done, build_forget_confirmation, build_mydata, export_comment
from handlers.blocks.results import build_results, build_wave_report
from handlers.blocks.rollouts import build_done, language_name
from handlers.blocks.text import Message, escape
from handlers.catalog import PULSE
from handlers.commands.mentions import mentions
from handlers.commands.router import Answer, CommandCall, CommandRouter, Deferred
from runtime.i18n import N_, texts
from services.cron import more_than_daily, parse_cron
from services.errors import BadInput, DomainError
from services.languages import parse_language
from services.privacy import reading
from services.rollouts import CohortRef
from services.surveys import WaveReport

router = CommandRouter(PULSE)
_LANGUAGE_LIKE = re.compile(r"[A-Za-z]{2}")  # the language of `digest subscribe`, e.g. sv


def _report(call: CommandCall, report: WaveReport, touchpoint: str | None) -> Message:
    settings = call.services.settings
    return build_wave_report(call.texts, report, call.services.surveys, settings.tz, touchpoint=touchpoint)


@router.on("send")
async def send(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout and the survey kind, e.g. /pulse send expense-tool nps"))
    if len(args) > 2 or args[1].lower() != "nps":
        kind = args[1] if len(args) > 1 else ""
        raise BadInput(
            N_(
                "“{kind}” is not a survey kind /pulse send knows: use nps (touchpoints go by /pulse ask).",
                kind=kind[:20],
            )
        )
    services = call.services

    async def run() -> Message:
        report = await services.surveys.send_nps(call.user_id, args[0], services.directory)
        return _report(call, report, None)

    return Deferred(run, "send")


@router.on("touchpoint")
async def touchpoint(call: CommandCall) -> Answer:
    args = call.need(4, N_('the rollout, a key, a label in quotes and a scale, e.g. onboarding "Onboarding" csat'))
    if len(args) > 4:
        raise BadInput(N_("Put the label in quotes, e.g. “Onboarding session”."))
    slug, key, label, scale = args
    defined = await call.services.surveys.define_touchpoint(call.user_id, slug, key, label, scale.lower())
    return build_done(
        call.texts._(
            "Touchpoint *{label}* (`{key}`, {scale}) is set for `{slug}`. Ask people about it with "
            "`/pulse ask {slug} {key} @people`, or on joining a channel with "
            "`/pulse trigger {slug} {key} on-join #channel`.",
            label=escape(defined.label),
            key=defined.key,
            scale=defined.scale,
            slug=slug,
        )
    )


@router.on("trigger")
async def trigger(call: CommandCall) -> Answer:
    args = call.need(4, N_("the rollout, the touchpoint, on-join and a #channel"))
    if args[2].lower() != "on-join" or len(args) != 4:
        raise BadInput(N_("The only trigger is on-join, followed by one #channel."))
    [channel] = mentions(args[3:], allowed=("channel",))
    services = call.services

    async def run() -> Message:
        added = await services.surveys.add_trigger(call.user_id, args[0], args[1], channel.id, services.directory)
        t, where = call.texts, fmt.channel(channel.id)
        if not added:
            return build_done(t._("That trigger was already set: people joining {channel} are asked.", channel=where))
        return build_done(
            t._(
                "People who join {channel} will be asked about `{key}` "
                "(within their working hours, at most once a month).",
                channel=where,
                key=escape(args[1].lower()),
            )
        )

    return Deferred(run, "trigger")


@router.on("ask")
async def ask(call: CommandCall) -> Answer:
    args = call.need(3, N_("the rollout, the touchpoint and the people to ask"))
    found = mentions(args[2:], allowed=("user", "usergroup", "channel"))
    refs = [CohortRef(m.kind, m.id, m.label) for m in found]
    services = call.services

    async def run() -> Message:
        report = await services.surveys.ask(call.user_id, args[0], args[1], refs, services.directory)
        return _report(call, report, args[1].lower())

    return Deferred(run, "ask")


@router.on("digest")
async def digest(call: CommandCall) -> Answer:
    services = call.services
    t = call.texts
    services.digests.require_admin(call.user_id)
    if not call.args:

        async def preview() -> Message:
            subscriptions = await services.digests.subscriptions()
            periods = services.digests.current_periods(
                subscriptions[0] if subscriptions else None, services.clock.now()
            )
            return build_preview(t, build_digest(t, await services.digests.compute(periods)))

        return Deferred(preview, "digest-preview")
    verb = call.args[0].lower()
    if verb not in ("subscribe", "unsubscribe") or len(call.args) < 2:
        raise BadInput(N_("Say subscribe or unsubscribe, then the #channel."))
    [channel] = mentions(call.args[1:2], allowed=("channel",))
    if verb == "unsubscribe":
        if len(call.args) > 2:
            raise BadInput(N_("unsubscribe takes one #channel."))
        await services.digests.unsubscribe(call.user_id, channel.id)
        return build_done(t._("{channel} gets no more digests.", channel=fmt.channel(channel.id)))
    rest = call.args[2:]
    # A language ends the command: two letters, which no cron field is (MON and JAN have three).
    language = parse_language(rest.pop()) if rest and _LANGUAGE_LIKE.fullmatch(rest[-1]) else None
    cron = " ".join(rest) or None

    async def subscribe() -> Message:
        schedule, new = await services.digests.subscribe(call.user_id, channel.id, cron, services.directory, language)
        values = {
            "channel": fmt.channel(channel.id),
            "schedule": escape(schedule),
            "zone": escape(services.settings.pulse_timezone),
            "language": language_name(t, services.languages.channel(language)),
        }
        if new:
            text = t._("{channel} will get the digest on the schedule `{schedule}` ({zone}), in {language}.", **values)
        else:
            text = t._("{channel} now gets the digest on the schedule `{schedule}` ({zone}), in {language}.", **values)
        if more_than_daily(parse_cron(schedule, services.settings.tz), services.clock.now()):
            text += " " + t._(
                "Answers are dated by the day, not the time, so a digest counts only the days that are over: "
                "on a schedule more often than daily, a day's answers appear once, in the first digest after it."
            )
        return build_done(text)

    return Deferred(subscribe, "digest-subscribe")


@router.on("action")
async def action(call: CommandCall) -> Answer:
    args = call.need(2, N_("the rollout and what changed, in quotes"))
    check_in = "--check-in" in args[2:]
    rest = [a for a in args[2:] if a != "--check-in"]
    if len(rest) > 1:
        raise BadInput(N_("Put what changed in quotes, e.g. “Receipts can be photographed”."))
    recorded = await call.services.actions.record(
        call.user_id, args[0], args[1], rest[0] if rest else None, check_in=check_in
    )
    t = call.texts
    said = t.n_(
        "Recorded. {n} person asked in this stage will hear of it in one short DM, within their working hours.",
        "Recorded. {n} people asked in this stage will hear of it in one short DM, within their working hours.",
        recorded.told,
    )
    if recorded.grouped or recorded.later:
        said += " " + t._(
            "Nobody gets more than one such note a week: for {grouped} it joins a note still waiting, and "
            "{later} were told of another change this week and hear of it when the week is over.",
            grouped=t.number(recorded.grouped),
            later=t.number(recorded.later),
        )
    if check_in:
        said += " " + t._("In 14 days they are asked whether the change helped; the result shows beside it.")
    return build_done(said + " " + t._("The next digest lists it."))


@router.on("close")
async def close(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout, and nps or a touchpoint (nps if left out)"))
    if len(args) > 2:
        raise BadInput(N_("close takes the rollout and, optionally, nps or one touchpoint."))
    survey = args[1].lower() if len(args) == 2 else None
    services = call.services

    async def run() -> Message:  # a wave of thousands takes a second or more: after the ack
        done = await services.surveys.close_now(call.user_id, args[0], survey)
        t, min_group = call.texts, services.settings.pulse_min_group
        # Not how many: "6 kept" rather than "5" would tell whether the one person asked beside five
        # who answer had answered too. The figures say how many, in whole groups.
        if done.answers >= min_group:
            kept = t._("at least {min} answers", min=min_group)
        else:
            kept = t._("fewer than {min} answers", min=min_group)
        parts = [
            t._(
                "Closed {what} of `{slug}` ({waves}, {kept} kept).",
                what=t.say(done.what),
                slug=escape(args[0].lower()),
                waves=t.n_("{n} wave", "{n} waves", done.waves),
                kept=kept,
            )
        ]
        if done.few:
            parts.append(
                t.n_(
                    "Its messages now say it has closed, clicks on them store nothing, and its key is destroyed. "
                    "{n} wave closed with fewer than {min} answers: so few answers can still be told apart "
                    "among the people asked.",
                    "Its messages now say it has closed, clicks on them store nothing, and its key is destroyed. "
                    "{n} waves closed with fewer than {min} answers: so few answers can still be told apart "
                    "among the people asked.",
                    done.few,
                    min=min_group,
                )
            )
        else:
            parts.append(
                t._(
                    "Its messages now say it has closed, clicks on them store nothing, and its key is destroyed: "
                    "nobody can tell any more which answer was whose."
                )
            )
        if not done.wiped:
            parts.append(
                t._(
                    "(Another process is reading the database, so the last copy of the key leaves its files once "
                    "that process is done; tried again every minute.)"
                )
            )
        return build_done(" ".join(parts))

    return Deferred(run, "close")


@router.on("results")
async def results(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout"))
    if len(args) > 2:
        raise BadInput(N_("results takes the rollout and, optionally, a stage."))
    view = await call.services.surveys.results(call.user_id, args[0], args[1] if len(args) == 2 else None)
    comments = await call.services.threads.repliable(view.comments, view.detail, call.user_id)
    return build_results(call.texts, replace(view, comments=comments))


@router.on("map")
async def feedback_map(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout"))
    if len(args) > 1:
        raise BadInput(N_("map takes one rollout."))
    fmap = await call.services.maps.map_for(call.user_id, args[0])  # refused at once if not theirs
    t, slug = call.texts, fmap.detail.rollout.slug

    async def with_heatmap() -> Message:
        # The heatmap goes to the caller's DM, as an export does; matplotlib draws off the loop.
        drawn = await asyncio.to_thread(render_heatmap, t, fmap)
        opened = await call.client.conversations_open(users=call.user_id)
        uploaded = await call.client.files_upload_v2(
            channel=opened["channel"]["id"],
            content=drawn.png,
            filename=f"feedback-map-{slug}.png",
            title=t._("Feedback map: {title}", title=fmap.detail.rollout.title_in(t.language)),
            initial_comment=build_map_share(t, fmap).text,
        )
        # Shared in their DM, the file is one they can see: their Home shows it (owners).
        file_id = (uploaded.get("file") or {}).get("id")
        if file_id and call.user_id in fmap.detail.owners:
            await call.services.maps.shared(fmap, call.user_id, str(file_id))
        return build_map_message(t, fmap)

    return Deferred(with_heatmap, "map")


@router.on("mydata")
async def mydata(call: CommandCall) -> Answer:
    if call.args:
        raise BadInput(N_("mydata takes no arguments: it is always about you."))
    return build_mydata(call.texts, await call.services.privacy.mydata(call.user_id))


@router.on("forget-me")
async def forget_me(call: CommandCall) -> Answer:
    if call.args:
        raise BadInput(N_("forget-me takes no arguments: it is always about you."))
    return build_forget_confirmation(call.texts, (await call.services.privacy.mydata(call.user_id)).record)


@router.on("language")
async def language(call: CommandCall) -> Answer:
    """The language the bot writes to the caller in; answered in the language just chosen."""
    args = call.need(1, N_("the language: en, sv, or auto for the one set in Slack"))
    if len(args) > 1:
        raise BadInput(N_("language takes one of en, sv or auto."))
    services = call.services
    chosen = await services.languages.choose(call.user_id, args[0])
    if chosen is not None:
        return await _language_chosen(call)

    async def slacks() -> Message:
        # Slack's language again: asked of Slack if the bot has not kept it (a day, with the time
        # zone), so that the answer can say which it is. The choice is stored whatever Slack says.
        with contextlib.suppress(DomainError):
            await services.directory.people([call.user_id])
        return await _language_chosen(call)

    return Deferred(slacks, "language")


async def _language_chosen(call: CommandCall) -> Message:
    """The confirmation of a language choice, in the language now chosen, saying why it is that one."""
    languages = call.services.languages
    spoken = await languages.languages.of(call.user_id)
    now = reading(languages, spoken.chosen, spoken.slack_locale)
    t = texts(now.language)
    name = language_name(t, now.language)
    if now.source == "chosen":
        said = t._(
            "Done: Rollout Pulse writes to you in {language} from now on. `/pulse language auto` goes back "
            "to the language set on you in Slack.",
            language=name,
        )
    elif now.source == "slack":
        said = t._("Done: Rollout Pulse writes to you in the language set on you in Slack, {language}.", language=name)
    else:
        said = t._(
            "Done: Rollout Pulse writes to you in the language set on you in Slack once that is one it speaks; "
            "until then in {language}, its default.",
            language=name,
        )
    return build_done(f"{said} " + t._("Surveys already sent stay in the language they were sent in."))


@router.on("export")
async def export(call: CommandCall) -> Answer:
    args = call.need(1, N_("the rollout to export"))
    if len(args) > 1:
        raise BadInput(N_("export takes one rollout."))
    filename, exported = await call.services.privacy.export_csv(call.user_id, args[0])
    min_group = call.services.settings.pulse_min_group

    async def upload() -> Message:
        opened = await call.client.conversations_open(users=call.user_id)
        await call.client.files_upload_v2(
            channel=opened["channel"]["id"],
            content=exported.csv_for(call.texts.say).encode(),
            filename=filename,
            title=call.texts._("Answers to {slug}", slug=args[0]),
            initial_comment=export_comment(call.texts, min_group),
        )
        return build_export_done(call.texts, filename, exported, min_group)

    return Deferred(upload, "export")


def register(app: AsyncApp) -> None:
    router.register(app)
