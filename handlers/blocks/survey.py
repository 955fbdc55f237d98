"""The survey DM and what replaces it: question, thanks, closed; the reminder; the comment modal."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.blocks.text import Block, Message, context, escape, plain, section
from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from services.scales import CHOICES, ENDS, choice_for, question
from services.surveys import SurveyView


def general_privacy_line(min_group: int) -> str:
    """How answers are kept, for a surface about many surveys (the Home tab)."""
    return (
        "🔒 Answers are stored without names. While a survey is open the bot can still match your answer "
        "to you, so that you can delete it, or change it until it is counted; when it closes that link is "
        f"destroyed, and if at least {min_group} people answered, nobody, the bot's operator included, can "
        f"tell which answer was yours. Results count answers only in groups of {min_group}, from at least "
        f"{min_group} people."
    )


def privacy_line(view: SurveyView) -> str:
    """How this survey's answer is kept, in one line: true for this wave."""
    if view.too_few_asked:
        return (
            f"🔒 Your answer is stored without your name, and results count it only in a group of "
            f"{view.min_group} answers from at least {view.min_group} people. This survey went to fewer than "
            f"{view.min_group} people, so who was asked tells whose the stored answers are, also after it closes."
        )
    return (
        "🔒 Your answer is stored without your name. While the survey is open the bot can still match it "
        "to you, so that you can delete it, or change it until it is counted; when it closes that link is "
        f"destroyed, and if at least {view.min_group} people answered, nobody, the bot's operator included, "
        f"can tell which answer was yours. Results count answers only in groups of {view.min_group}, from at "
        f"least {view.min_group} people."
    )


def answer_value(view: SurveyView, score: float) -> str:
    """What an answer button carries: wave, delivery and score (checked again on the click)."""
    return f"{view.wave_id}:{view.delivery_id}:{score:g}"


def survey_ref(view: SurveyView) -> str:
    return f"{view.wave_id}:{view.delivery_id}"


def _headline(view: SurveyView) -> str:
    if view.kind == "nps":
        return f"{view.rollout_title} · a 10-second question"
    return f"{view.rollout_title} · {view.touchpoint_label or 'a quick question'}"


def _closes(view: SurveyView) -> str:
    return datetime.fromtimestamp(view.closes_at, UTC).strftime("%-d %b")


def answer_buttons(view: SurveyView) -> Block:
    return {
        "type": "actions",
        # One per survey: a Home tab shows several, and block_ids must differ within a view.
        "block_id": f"{BlockId.SURVEY_ANSWERS.value}.{view.delivery_id}",
        "elements": [
            {
                "type": "button",
                "text": plain(choice.label),
                "action_id": f"{Action.SURVEY_ANSWER.value}_{i}",
                "value": answer_value(view, choice.score),
            }
            for i, choice in enumerate(CHOICES[view.scale])
        ],
    }


def build_survey(view: SurveyView, *, reminder: bool = False, current: float | None = None) -> Message:
    asked = question(view.scale, view.rollout_title, view.touchpoint_label)
    blocks: list[Block] = [{"type": "header", "text": plain(_headline(view)[:150])}]
    if reminder:
        blocks.append(section("A gentle reminder — it takes ten seconds, and this is the only reminder."))
    blocks.append(section(f"*{escape(asked)}*"))
    blocks.append(answer_buttons(view))
    notes = [ENDS[view.scale]] if ENDS[view.scale] else []
    if current is not None:
        chosen = choice_for(view.scale, current)
        said = escape(chosen.said if chosen else f"{current:g}")
        notes.insert(0, f"Your answer now: *{said}* — pick another to change it.")
    if notes:
        blocks.append(context(" · ".join(notes)))
    blocks.append(context(f"{privacy_line(view)} Open until {_closes(view)}."))
    prefix = "Reminder: " if reminder else ""
    return Message(text=f"{prefix}{escape(asked)}", blocks=blocks)


def build_thanks(view: SurveyView, score: float, *, commented: bool = False) -> Message:
    chosen = choice_for(view.scale, score)
    said = chosen.said if chosen else f"{score:g}"
    ref = survey_ref(view)
    note = "Comment saved — thank you." if commented else "Want to say why? Add a comment (optional)."
    buttons = [
        {"type": "button", "text": plain("Change answer"), "action_id": Action.SURVEY_CHANGE.value, "value": ref},
        {
            "type": "button",
            "text": plain("Edit comment" if commented else "Add a comment"),
            "action_id": Action.SURVEY_COMMENT.value,
            "value": ref,
        },
    ]
    blocks: list[Block] = [
        {"type": "header", "text": plain(_headline(view)[:150])},
        section(f"Thanks — you answered *{escape(said)}*.\n{note}"),
        {"type": "actions", "block_id": BlockId.SURVEY_THANKS.value, "elements": buttons},
        context(
            f"{privacy_line(view)} You can change your answer until it is counted in the results with a group "
            f"of {view.min_group}, and at the latest until {_closes(view)}."
        ),
    ]
    return Message(text=f"Thanks — you answered {escape(said)}", blocks=blocks)


def build_closed(view: SurveyView, *, answered: bool, unlinkable: bool) -> Message:
    """`unlinkable`: the wave closed with at least the minimum group of answers."""
    if not answered:
        thanks = "It can no longer be answered."
    elif unlinkable:
        thanks = "Thank you for answering! Your answer can no longer be tied to you, by anyone."
    else:
        thanks = "Thank you for answering!"
    text = f"This survey has closed. {thanks}"
    blocks: list[Block] = [
        {"type": "header", "text": plain(_headline(view)[:150])},
        section(f"~{escape(question(view.scale, view.rollout_title, view.touchpoint_label))}~\n{text}"),
    ]
    return Message(text=text, blocks=blocks)


def build_comment_modal(view: SurveyView, metadata: str, existing: str | None) -> dict[str, object]:
    element: dict[str, object] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": 3000,
        "placeholder": plain("What worked, what did not, what would help?"),
    }
    if existing:
        element["initial_value"] = existing
    return {
        "type": "modal",
        "callback_id": Callback.SURVEY_COMMENT.value,
        "private_metadata": metadata,
        "title": plain("Add a comment"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "blocks": [
            section(f"*{escape(question(view.scale, view.rollout_title, view.touchpoint_label))}*"),
            {
                "type": "input",
                "block_id": BlockId.COMMENT.value,
                "label": plain("Your comment"),
                "element": element,
            },
            context(
                "🔒 Comments are stored without your name and shown only with the results of groups of "
                f"{view.min_group} or more, without saying who wrote them."
            ),
        ],
    }
