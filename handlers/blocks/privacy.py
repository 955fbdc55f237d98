"""What `/pulse mydata` shows, and the `/pulse forget-me` confirmation."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.blocks.text import Block, Message, context, escape, plain, section, sections_from_lines
from handlers.ids import Action
from services.disclosure import Export, held_back_note
from services.models import AskedRow, Forgotten, OwnAnswer, PersonRecord
from services.privacy import MyData
from services.scales import SurveyScale, choice_for

LISTED = 30
# Roles and cohorts listed by name; past this the rest are counted, so that a person with many
# still gets a message Slack takes (50 blocks) with every other part of it shown.
ROLES_LISTED = 20

# What happens to answers, said the same way wherever people read about it.
HOW_ANSWERS_ARE_KEPT = (
    "*How your answers are kept.* Answers and comments are stored apart from the list of who was asked, "
    "under a key made from the survey's own secret key, never your name. While a survey is open the bot "
    "can still find your answer, so that you can see it here, delete it, or change it until it is counted "
    "in a group; the operator who "
    "holds the bot's key could do the same. When the survey closes its secret key is destroyed: from then "
    "on nobody, the operator included, can tell which answer was yours, as long as at least the minimum "
    "group answered it (fewer answers can be told apart among the people asked). Answers are dated by "
    "the day, not "
    "the time. Results, comments and exports use an answer only once it is released in a group of at "
    "least the minimum number of answers to the same survey, so no figure moves with one answer; comments "
    "and exported rows are dated by their group's week and come in random order."
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _own(row: AskedRow, own: OwnAnswer | None) -> str:
    if own is None:
        return "not answered"
    scale: SurveyScale = "nps" if row.scale is None else row.scale  # type: ignore[assignment]
    chosen = choice_for(scale, own.score)
    said = escape(chosen.said if chosen else f"{own.score:g}")
    comment = f", with the comment “{escape(' '.join(own.comment.split())[:200])}”" if own.comment else ""
    return f"you answered *{said}*{comment} (only you see this, until the survey closes)"


def _row(row: AskedRow, own: OwnAnswer | None, min_group: int) -> str:
    what = escape(row.touchpoint_label) if row.touchpoint_label else "NPS"
    when = datetime.fromtimestamp(row.sent_at or row.opened_at, UTC).strftime("%-d %b %Y")
    if row.status == "skipped":
        outcome = f"not sent ({escape(row.reason or 'skipped')})"
    elif row.status == "failed":
        outcome = "could not be delivered"
    elif row.status in ("pending", "sending"):
        outcome = "waiting to be sent"
    elif row.open:
        outcome = _own(row, own)
    elif row.answers < min_group:
        # Who answered was not written down; the few answers can still be told apart.
        outcome = (
            f"closed with fewer than {min_group} answers: whether you answered is not kept, but so few "
            "answers can be told apart among the people asked"
        )
    else:
        outcome = "answered; no longer tied to you" if row.answered else "not answered"
    return f"• {escape(row.rollout_title)} · {what} · {when} · {outcome}"


def _roles(record: PersonRecord) -> list[str]:
    lines = [f"• {role.role} of {escape(role.title)} (`{role.slug}`)" for role in record.roles]
    lines.extend(
        f"• named in the {escape(member.stage)} cohort of {escape(member.title)} (`{member.slug}`)"
        for member in record.memberships
    )
    if len(lines) > ROLES_LISTED:
        return [*lines[:ROLES_LISTED], f"…and {len(lines) - ROLES_LISTED} more."]
    return lines


def _some(items: list[str], most: int = ROLES_LISTED) -> str:
    """`items` joined, or the first `most` of them and how many more."""
    if len(items) <= most:
        return ", ".join(items)
    return f"{', '.join(items[:most])} and {len(items) - most} more"


def build_mydata(data: MyData) -> Message:
    record = data.record
    lines = ["*What Rollout Pulse stores about you*"]
    roles = _roles(record)
    if roles:
        lines += ["Your roles:", *roles]
    if record.asked:
        lines.append(f"{_plural(len(record.asked), 'survey')} for you:")
        lines += [_row(r, data.own.get(r.wave_id), data.min_group) for r in record.asked[:LISTED]]
        if len(record.asked) > LISTED:
            lines.append(f"…and {len(record.asked) - LISTED} older ones.")
    else:
        lines.append("No surveys have been sent to you.")
    if record.changes_made:
        lines.append(f"Your name is on {_plural(record.changes_made, 'change')} in rollout histories.")
    if record.cached:
        zone = escape(record.cached_tz) if record.cached_tz else "not set"
        lines.append(f"Your time zone, to ask you only in your working hours: {zone}.")
        if record.cached_locale:
            lines.append(f"Your language as set in Slack: {escape(record.cached_locale)}.")
    lines += ["", HOW_ANSWERS_ARE_KEPT]
    blocks = sections_from_lines(lines)
    blocks.append(context("`/pulse forget-me` deletes all of this."))
    return Message(text="What Rollout Pulse stores about you", blocks=blocks)


def forget_summary(record: PersonRecord) -> str:
    """What forget-me will do, said before the person confirms."""
    parts = [
        f"This deletes the {_plural(len(record.asked), 'survey')} sent to you and your answers and comments "
        "in surveys still open."
    ]
    if record.roles:
        named = _some([f"{r.role} of `{r.slug}`" for r in record.roles])
        parts.append(f"You will no longer be {named}.")
        orphaned = [f"`{r.slug}`" for r in record.roles if r.sole_owner]
        if orphaned:
            parts.append(f"You are the only owner of {_some(orphaned)}: the admins will look after it.")
    if record.memberships:
        parts.append(f"You leave {_plural(len(record.memberships), 'cohort')} that name you.")
    if record.changes_made:
        parts.append(
            "Rollout histories will say “a person who asked to be forgotten” where they named you, "
            "without the reasons you typed."
        )
    parts.append(
        "Answers in surveys that have closed are already tied to nobody, so they cannot be found to "
        "delete; they stay in the results without your name. An answer already counted in a group's "
        "figures stays counted there (as a number per score, without your name), so that nobody can "
        "read it off a figure that moves when you leave. It cannot be undone."
    )
    return " ".join(parts)


def build_forget_confirmation(record: PersonRecord) -> Message:
    button: Block = {
        "type": "button",
        "text": plain("Delete my data"),
        "action_id": Action.FORGET_ME.value,
        "value": "confirm",
        "style": "danger",
        "confirm": {
            "title": plain("Delete your data?"),
            "text": plain("Everything that names you is deleted for good."),
            "confirm": plain("Delete"),
            "deny": plain("Keep"),
        },
    }
    text = forget_summary(record)
    return Message(text=text, blocks=[section(text), {"type": "actions", "elements": [button]}])


def build_forgotten(done: Forgotten) -> Message:
    parts = [
        f"Done: deleted {_plural(done.deliveries, 'survey')} sent to you, {_plural(done.responses, 'answer')} and "
        f"{_plural(done.comments, 'comment')}."
    ]
    if done.roles or done.memberships:
        parts.append(f"Removed you from {_plural(done.roles, 'role')} and {_plural(done.memberships, 'cohort')}.")
    parts.append("Nothing stored names you any more.")
    if done.traces_left:
        parts.append(
            "Another process is reading the database: the last copies of the deleted pages leave its files "
            "once it is done (tried again every minute)."
        )
    text = " ".join(parts)
    return Message(text=text, blocks=[section(text)])


def export_comment(min_group: int) -> str:
    return (
        "The released answers, one row each, and the released comments, one row each, in random order, "
        "dated by their group's week; no names, IDs or waves."
    )


def build_export_done(filename: str, exported: Export, min_group: int) -> Message:
    text = (
        f"Sent you `{filename}` ({_plural(exported.answers, 'answer')} and {_plural(exported.comments, 'comment')}) "
        f"in our direct messages. {held_back_note(min_group)}"
    )
    return Message(text=text, blocks=[section(text)])
