"""What `/pulse mydata` shows, and the `/pulse forget-me` confirmation."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.blocks.text import Block, Message, context, escape, plain, section, sections_from_lines
from handlers.ids import Action
from storage.people import AskedRow, Forgotten

LISTED = 30


def _row(row: AskedRow) -> str:
    what = escape(row.touchpoint_label) if row.touchpoint_label else "NPS"
    when = datetime.fromtimestamp(row.sent_at or row.opened_at, UTC).strftime("%-d %b %Y")
    if row.status == "skipped":
        outcome = f"not sent ({escape(row.reason or 'skipped')})"
    elif row.status == "failed":
        outcome = "could not be delivered"
    elif row.status in ("pending", "sending"):
        outcome = "waiting to be sent"
    else:
        outcome = "answered" if row.answered else "not answered"
    return f"• {escape(row.rollout_title)} · {what} · {when} · {outcome}"


def build_mydata(rows: list[AskedRow]) -> Message:
    lines = ["*What Rollout Pulse stores about you*"]
    if rows:
        lines.append(f"{len(rows)} survey{'s' if len(rows) != 1 else ''} for you:")
        lines += [_row(r) for r in rows[:LISTED]]
        if len(rows) > LISTED:
            lines.append(f"…and {len(rows) - LISTED} older ones.")
    else:
        lines.append("No surveys have been sent to you.")
    lines += [
        "",
        "*Your answers and comments are not linked to you.* They are stored apart from this list, under "
        "a one-way key instead of your name, so nobody can see which answer is yours — not this list "
        "either. Results only show groups large enough that no one can be singled out.",
        "Also kept: your time zone (to ask you only in your working hours), and, if you own or champion "
        "a rollout, your name on it and on the changes you made.",
    ]
    blocks = sections_from_lines(lines)
    blocks.append(context("`/pulse forget-me` deletes the surveys sent to you, your answers and your comments."))
    return Message(text="What Rollout Pulse stores about you", blocks=blocks)


def build_forget_confirmation(count: int) -> Message:
    button: Block = {
        "type": "button",
        "text": plain("Delete my data"),
        "action_id": Action.FORGET_ME.value,
        "value": "confirm",
        "style": "danger",
        "confirm": {
            "title": plain("Delete your data?"),
            "text": plain("Your surveys, answers and comments are deleted for good."),
            "confirm": plain("Delete"),
            "deny": plain("Keep"),
        },
    }
    text = (
        f"This deletes the {count} survey{'s' if count != 1 else ''} sent to you, your answers and your comments. "
        "Results will no longer count them. It cannot be undone."
    )
    return Message(text=text, blocks=[section(text), {"type": "actions", "elements": [button]}])


def build_forgotten(done: Forgotten) -> Message:
    text = (
        f"Done: deleted {done.deliveries} survey{'s' if done.deliveries != 1 else ''} sent to you, "
        f"{done.responses} answer{'s' if done.responses != 1 else ''} and {done.comments} "
        f"comment{'s' if done.comments != 1 else ''}. Results no longer count them."
    )
    return Message(text=text, blocks=[section(text)])
