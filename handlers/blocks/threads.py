"""Conversations on anonymous comments: the Reply menu beside a comment, the forms, and the DMs
to the comment's writer and to the replier (docs/closing-the-loop.md)."""

from __future__ import annotations

from datetime import date

from handlers.blocks import format as fmt
from handlers.blocks.text import Block, Message, context, escape, mrkdwn, plain, section, sections_from_lines
from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from runtime.i18n import Texts
from services.actions import ActionNote
from services.models import ReleasedComment, in_language
from services.threads import ACKNOWLEDGEMENTS, REPLY_MAX, ThreadNote

# What a reference in the Reply menu names: a comment (its sealed place) or a thread (its id).
THREAD_REF = "t"


def _choices(t: Texts) -> list[tuple[str, str]]:
    return [
        ("reply", t._("Reply…")),
        ("noted", t.say(ACKNOWLEDGEMENTS["noted"])),
        ("looking", t.say(ACKNOWLEDGEMENTS["looking"])),
        ("fixed", t._("Fixed in…")),
    ]


def reply_menu(t: Texts, ref: str) -> dict[str, object]:
    """The overflow menu of a comment or a thread: a reply, or a one-click acknowledgement."""
    return {
        "type": "overflow",
        "action_id": Action.COMMENT_REPLY.value,
        # Each value stays under the 150 characters Slack allows: a choice and a sealed reference.
        "options": [{"text": plain(label[:75]), "value": f"{choice}:{ref}"} for choice, label in _choices(t)],
    }


def comment_block(t: Texts, released: ReleasedComment) -> Block:
    """A released comment, with the Reply menu when the reader may reply."""
    block = section(fmt.comment(t, released))
    if released.ref is not None:
        block["accessory"] = reply_menu(t, released.ref)
    return block


def parse_menu_value(value: object) -> tuple[str, str] | None:
    """(choice, reference) from a Reply menu's value, or None for anything else."""
    if not isinstance(value, str) or ":" not in value:
        return None
    choice, ref = value.split(":", 1)
    return (choice, ref) if choice and ref else None


def build_reply_modal(t: Texts, choice: str, metadata: str) -> dict[str, object]:
    fixed = choice == "fixed"
    element: dict[str, object] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": not fixed,
        "max_length": 150 if fixed else REPLY_MAX,
        "placeholder": plain(t._("the release, the date or the change") if fixed else t._("What you did, or will do")),
    }
    return {
        "type": "modal",
        "callback_id": Callback.THREAD_REPLY.value,
        "private_metadata": metadata,
        "title": plain((t._("Fixed in…") if fixed else t._("Reply"))[:24]),
        "submit": plain(t._("Send")[:24]),
        "close": plain(t._("Cancel")[:24]),
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.REPLY.value,
                "label": plain(t._("Fixed in") if fixed else t._("Your reply")),
                "element": element,
            },
            context(
                t._(
                    "🔒 It reaches whoever wrote the comment by DM, with your name. You will not learn who they "
                    "are; they can answer you back, still without their name."
                )
            ),
        ],
    }


def build_answer_modal(t: Texts, metadata: str) -> dict[str, object]:
    return {
        "type": "modal",
        "callback_id": Callback.THREAD_ANSWER.value,
        "private_metadata": metadata,
        "title": plain(t._("Answer back")[:24]),
        "submit": plain(t._("Send")[:24]),
        "close": plain(t._("Cancel")[:24]),
        "blocks": [
            {
                "type": "input",
                "block_id": BlockId.REPLY.value,
                "label": plain(t._("Your answer")),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": REPLY_MAX,
                },
            },
            context(t._("🔒 It reaches the person who replied without your name.")),
        ],
    }


def sent_text(t: Texts, delay: tuple[int, int]) -> str:
    """What a replier reads once their reply is queued."""
    low, high = delay
    if high == 0:
        when = t._("It goes to whoever wrote the comment now, with your name.")
    else:
        when = t._(
            "It goes to whoever wrote the comment in {low} to {high} minutes, within their working hours, with "
            "your name.",
            low=t.number(low),
            high=t.number(high),
        )
    return t._("✉️ Sent.") + " " + when + " " + t._("You will not learn who they are.")


def _said(t: Texts, note: ThreadNote) -> str:
    if note.kind in ACKNOWLEDGEMENTS:
        return t.say(ACKNOWLEDGEMENTS[note.kind])
    if note.kind == "fixed":
        return t._("Fixed in {what}.", what=escape(note.body or ""))
    return escape(note.body or "")


def _title(t: Texts, note: ThreadNote) -> str:
    return escape(in_language(note.rollout_title, note.title_variants, t.language))


def _quote(note: ThreadNote) -> str:
    return f"> _{escape(note.comment)}_" if note.comment else ""


def build_note_to_writer(t: Texts, note: ThreadNote) -> Message:
    """A reply to someone's comment, in their DM, naming who replied."""
    head = t._(
        "{replier} replied to your comment about *{title}*:", replier=fmt.user(t, note.replier), title=_title(t, note)
    )
    said = _said(t, note)
    # The comment is not quoted: the DM stays in Slack after the conversation has closed, and must
    # not tie the comment to the person it was sent to then.
    blocks: list[Block] = [section(head), section(said[:3000])]
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": Action.THREAD_ANSWER.value,
                    "text": plain(t._("Answer back")),
                    "value": str(note.thread_id),
                },
                {
                    "type": "button",
                    "action_id": Action.THREAD_CLOSE.value,
                    "text": plain(t._("Close the conversation")),
                    "value": str(note.thread_id),
                    "confirm": {
                        "title": plain(t._("Close it?")[:100]),
                        "text": mrkdwn(
                            t._("Nobody can reply to it after this, and the conversation no longer ties it to you.")
                        ),
                        "confirm": plain(t._("Close")[:30]),
                        "deny": plain(t._("Keep it open")[:30]),
                    },
                },
            ],
        }
    )
    blocks.append(
        context(
            t._(
                "🔒 {replier} does not know who you are. Until you close this conversation, or until {day}, the bot "
                "keeps a sealed link from it to you so that replies can reach you; then the conversation no longer "
                "ties your comment to you.",
                replier=fmt.user(t, note.replier),
                day=t.day_with_year(date.fromisoformat(note.closes_on)),
            )
        )
    )
    return Message(text=f"{head} {said}"[:3000], blocks=blocks)


def build_note_to_replier(t: Texts, note: ThreadNote) -> Message:
    """The writer's answer, or that they closed the conversation, in the replier's DM."""
    if note.kind == "closed":
        text = t._(
            "Whoever wrote a comment about *{title}* has closed the conversation on it; the conversation no "
            "longer ties the comment to them.",
            title=_title(t, note),
        )
        blocks: list[Block] = [section(text)]
        if note.comment:
            blocks.append(context(_quote(note)))
        return Message(text=text, blocks=blocks)
    head = t._("Whoever wrote a comment about *{title}* answered you:", title=_title(t, note))
    answer = f"> {escape(note.body or '')}"[:3000]
    answer_block = section(answer)
    answer_block["accessory"] = reply_menu(t, f"{THREAD_REF}{note.thread_id}")
    blocks = [section(head)]
    if note.comment:
        blocks.append(context(_quote(note)))
    blocks += [answer_block, context(t._("🔒 You do not know who wrote it, and the bot will not tell you."))]
    return Message(text=f"{head} {answer}"[:3000], blocks=blocks)


def build_closed_for_writer(t: Texts) -> Message:
    return Message(
        text=t._(
            "🔒 You closed the conversation: it no longer ties your comment to you, and nobody can reply to it. "
            "Once the survey closes, nothing does."
        )
    )


def build_answer_sent(t: Texts) -> Message:
    return Message(text=t._("✉️ Sent, without your name."))


def build_action_note(t: Texts, note: ActionNote) -> Message:
    """ "You said, we did": the changes made because of the feedback, one short DM."""
    lines = []
    for action in note.actions:
        title = escape(in_language(action.rollout_title, action.title_variants, t.language))
        if action.theme is not None:
            theme = escape(in_language(action.theme, action.theme_variants, t.language))
            about = t._("About *{theme}* ({title}):", theme=theme, title=title)
        else:
            about = t._("About *{title}*:", title=title)
        lines.append(f"{about} {escape(action.body)}")
    head = t.n_(
        "🛠️ You said, we did. Because of what people told us in the surveys, this changed:",
        "🛠️ You said, we did. Because of what people told us in the surveys, these changed:",
        len(note.actions),
    )
    blocks: list[Block] = [section(head), *sections_from_lines([f"• {line}" for line in lines])]
    blocks.append(context(t._("You get at most one of these a week. Thank you for answering.")))
    return Message(text=f"{head} {lines[0]}"[:3000], blocks=blocks[:50])
