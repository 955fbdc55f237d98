"""What `/pulse mydata` shows, and the `/pulse forget-me` confirmation."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.blocks.rollouts import language_name
from handlers.blocks.text import Block, Message, context, escape, plain, section, sections_from_lines
from handlers.ids import Action
from runtime.i18n import Texts
from services.disclosure import Export, held_back_note
from services.models import AskedRow, Forgotten, OwnAnswer, PersonRecord
from services.privacy import MyData, Reading
from services.scales import SurveyScale, choice_for
from services.surveys import skip_reason

LISTED = 30
# Roles and cohorts listed by name; past this the rest are counted, so that a person with many
# still gets a message Slack takes (50 blocks) with every other part of it shown.
ROLES_LISTED = 20


def how_answers_are_kept(t: Texts) -> str:
    """What happens to answers, said the same way wherever people read about it."""
    return t._(
        "*How your answers are kept.* Answers and comments are stored apart from the list of who was asked, "
        "under a key made from the survey's own secret key, never your name. While a survey is open the bot "
        "can still find your answer, so that you can see it here, delete it, or change it until it is counted "
        "in a group; the operator who holds the bot's key could do the same. When the survey closes its secret "
        "key is destroyed: from then on nobody, the operator included, can tell which answer was yours, as "
        "long as at least the minimum group answered it (fewer answers can be told apart among the people "
        "asked). Answers are dated by the day, not the time. Results, comments and exports use an answer only "
        "once it is released in a group of at least the minimum number of answers to the same survey, so no "
        "figure moves with one answer; comments and exported rows are dated by their group's week and come "
        "in random order."
    )


def _surveys(t: Texts, n: int) -> str:
    return t.n_("{n} survey", "{n} surveys", n)


def _answers(t: Texts, n: int) -> str:
    return t.n_("{n} answer", "{n} answers", n)


def _comments(t: Texts, n: int) -> str:
    return t.n_("{n} comment", "{n} comments", n)


def _own(t: Texts, row: AskedRow, own: OwnAnswer | None) -> str:
    if own is None:
        return t._("not answered")
    scale: SurveyScale = "nps" if row.scale is None else row.scale  # type: ignore[assignment]
    chosen = choice_for(scale, own.score)
    said = escape(t.say(chosen.said) if chosen else f"{own.score:g}")
    if own.comment:
        comment = escape(" ".join(own.comment.split())[:200])
        return t._(
            "you answered *{said}*, with the comment “{comment}” (only you see this, until the survey closes)",
            said=said,
            comment=comment,
        )
    return t._("you answered *{said}* (only you see this, until the survey closes)", said=said)


def _row(t: Texts, row: AskedRow, own: OwnAnswer | None, data: MyData) -> str:
    what = escape(row.touchpoint_label) if row.touchpoint_label else "NPS"
    when = t.day_with_year(datetime.fromtimestamp(row.sent_at or row.opened_at, UTC).date())
    if row.status == "skipped":
        why = t.say(skip_reason(row.reason or "", data.min_days_between_surveys))
        outcome = t._("not sent ({why})", why=escape(why))
    elif row.status == "failed":
        outcome = t._("could not be delivered")
    elif row.status in ("pending", "sending"):
        outcome = t._("waiting to be sent")
    elif row.open:
        outcome = _own(t, row, own)
    elif row.answers < data.min_group:
        # Who answered was not written down; the few answers can still be told apart.
        outcome = t._(
            "closed with fewer than {min} answers: whether you answered is not kept, but so few "
            "answers can be told apart among the people asked",
            min=data.min_group,
        )
    else:
        outcome = t._("answered; no longer tied to you") if row.answered else t._("not answered")
    return f"• {escape(row.rollout_title)} · {what} · {when} · {outcome}"


def _role(t: Texts, role: str, title: str, slug: str) -> str:
    if role == "owner":
        return t._("owner of {title} (`{slug}`)", title=escape(title), slug=slug)
    if role == "approver":
        return t._("approver of a stage of {title} (`{slug}`)", title=escape(title), slug=slug)
    return t._("champion of {title} (`{slug}`)", title=escape(title), slug=slug)


def _role_short(t: Texts, role: str, slug: str) -> str:
    if role == "owner":
        return t._("owner of `{slug}`", slug=slug)
    if role == "approver":
        return t._("approver of a stage of `{slug}`", slug=slug)
    return t._("champion of `{slug}`", slug=slug)


def _roles(t: Texts, record: PersonRecord) -> list[str]:
    lines = [f"• {_role(t, r.role, r.title_in(t.language), r.slug)}" for r in record.roles]
    lines.extend(
        "• "
        + t._(
            "named in the {stage} cohort of {title} (`{slug}`)",
            stage=escape(member.stage),
            title=escape(member.title_in(t.language)),
            slug=member.slug,
        )
        for member in record.memberships
    )
    if len(lines) > ROLES_LISTED:
        more = len(lines) - ROLES_LISTED
        return [*lines[:ROLES_LISTED], t.n_("…and {n} more.", "…and {n} more.", more)]
    return lines


def _some(t: Texts, items: list[str], most: int = ROLES_LISTED) -> str:
    """`items` joined, or the first `most` of them and how many more."""
    if len(items) <= most:
        return ", ".join(items)
    listed = ", ".join(items[:most])
    return t.n_("{items} and {n} more", "{items} and {n} more", len(items) - most, items=listed)


def language_line(t: Texts, reading: Reading, slack_locale: str | None) -> str:
    """The language the bot writes to the person in, and why it is that one."""
    language = language_name(t, reading.language)
    if reading.source == "chosen":
        return t._(
            "The language you chose: {language}. Rollout Pulse writes to you in it; "
            "`/pulse language auto` goes back to the one set on you in Slack.",
            language=language,
        )
    if reading.source == "slack":
        return t._(
            "Rollout Pulse writes to you in {language}, the language set on you in Slack; "
            "`/pulse language` picks another.",
            language=language,
        )
    if slack_locale:
        return t._(
            "Rollout Pulse writes to you in {language}, its default: you have not chosen a language, and "
            "the one set on you in Slack is not one it speaks. `/pulse language` picks another.",
            language=language,
        )
    return t._(
        "Rollout Pulse writes to you in {language}, its default: you have not chosen a language, and Slack "
        "has not told it yours yet. `/pulse language` picks another.",
        language=language,
    )


def build_mydata(t: Texts, data: MyData) -> Message:
    record = data.record
    lines = ["*" + t._("What Rollout Pulse stores about you") + "*"]
    roles = _roles(t, record)
    if roles:
        lines += [t._("Your roles:"), *roles]
    if record.asked:
        lines.append(t.n_("{n} survey for you:", "{n} surveys for you:", len(record.asked)))
        lines += [_row(t, r, data.own.get(r.wave_id), data) for r in record.asked[:LISTED]]
        if len(record.asked) > LISTED:
            older = len(record.asked) - LISTED
            lines.append(t.n_("…and {n} older one.", "…and {n} older ones.", older))
    else:
        lines.append(t._("No surveys have been sent to you."))
    if record.changes_made:
        lines.append(
            t.n_(
                "Your name is on {n} change in rollout histories.",
                "Your name is on {n} changes in rollout histories.",
                record.changes_made,
            )
        )
    if record.cached:
        zone = escape(record.cached_tz) if record.cached_tz else t._("not set")
        lines.append(t._("Your time zone, to ask you only in your working hours: {zone}.", zone=zone))
        if record.cached_locale:
            lines.append(t._("Your language as set in Slack: {locale}.", locale=escape(record.cached_locale)))
    lines.append(language_line(t, data.reading, record.cached_locale))
    if record.maps_shared:
        lines.append(
            t.n_(
                "Which feedback map was last shared in your DM, for your Home: {n} rollout.",
                "Which feedback map was last shared in your DM, for your Home: {n} rollouts.",
                record.maps_shared,
            )
        )
    lines += ["", how_answers_are_kept(t)]
    blocks = sections_from_lines(lines)
    blocks.append(context(t._("`/pulse forget-me` deletes all of this.")))
    return Message(text=t._("What Rollout Pulse stores about you"), blocks=blocks)


def forget_summary(t: Texts, record: PersonRecord) -> str:
    """What forget-me will do, said before the person confirms."""
    parts = [
        t.n_(
            "This deletes the {n} survey sent to you and your answers and comments in surveys still open.",
            "This deletes the {n} surveys sent to you and your answers and comments in surveys still open.",
            len(record.asked),
        )
    ]
    if record.roles:
        named = _some(
            t,
            [_role_short(t, r.role, r.slug) for r in record.roles],
        )
        parts.append(t._("You will no longer be {roles}.", roles=named))
        orphaned = [f"`{r.slug}`" for r in record.roles if r.sole_owner]
        if orphaned:
            parts.append(
                t._("You are the only owner of {rollouts}: the admins will look after it.", rollouts=_some(t, orphaned))
            )
    if record.memberships:
        parts.append(
            t.n_(
                "You leave {n} cohort that names you.", "You leave {n} cohorts that name you.", len(record.memberships)
            )
        )
    if record.changes_made:
        parts.append(
            t._(
                "Rollout histories will say “a person who asked to be forgotten” where they named you, "
                "without the reasons you typed."
            )
        )
    parts.append(
        t._(
            "Answers in surveys that have closed are already tied to nobody, so they cannot be found to "
            "delete; they stay in the results without your name. An answer already counted in a group's "
            "figures stays counted there (as a number per score, without your name), so that nobody can "
            "read it off a figure that moves when you leave. It cannot be undone."
        )
    )
    return " ".join(parts)


def build_forget_confirmation(t: Texts, record: PersonRecord) -> Message:
    button: Block = {
        "type": "button",
        "text": plain(t._("Delete my data")),
        "action_id": Action.FORGET_ME.value,
        "value": "confirm",
        "style": "danger",
        "confirm": {
            "title": plain(t._("Delete your data?")),
            "text": plain(t._("Everything that names you is deleted for good.")),
            "confirm": plain(t._("Delete")),
            "deny": plain(t._("Keep")),
        },
    }
    text = forget_summary(t, record)
    return Message(text=text, blocks=[section(text), {"type": "actions", "elements": [button]}])


def build_forgotten(t: Texts, done: Forgotten) -> Message:
    parts = [
        t._(
            "Done: deleted {surveys} sent to you, {answers} and {comments}.",
            surveys=_surveys(t, done.deliveries),
            answers=_answers(t, done.responses),
            comments=_comments(t, done.comments),
        )
    ]
    if done.roles or done.memberships:
        parts.append(
            t._(
                "Removed you from {roles} and {cohorts}.",
                roles=t.n_("{n} role", "{n} roles", done.roles),
                cohorts=t.n_("{n} cohort", "{n} cohorts", done.memberships),
            )
        )
    parts.append(t._("Nothing stored names you any more."))
    if done.traces_left:
        parts.append(
            t._(
                "Another process is reading the database: the last copies of the deleted pages leave its files "
                "once it is done (tried again every minute)."
            )
        )
    text = " ".join(parts)
    return Message(text=text, blocks=[section(text)])


def export_comment(t: Texts, min_group: int) -> str:
    return t._(
        "The released answers, one row each, and the released comments, one row each, in random order, "
        "dated by their group's week; no names, IDs or waves."
    )


def build_export_done(t: Texts, filename: str, exported: Export, min_group: int) -> Message:
    sent = t._(
        "Sent you `{file}` ({answers} and {comments}) in our direct messages.",
        file=filename,
        answers=_answers(t, exported.answers),
        comments=_comments(t, exported.comments),
    )
    text = f"{sent} {t.say(held_back_note(min_group))}"
    return Message(text=text, blocks=[section(text)])
