"""The survey DM and what replaces it: question, thanks, closed; the reminder; the comment modal.

Every builder takes the reader's `Texts`: a survey DM is written in the language it was sent in
(`view.language`), what answers a click in the clicker's language of now."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.blocks.text import Block, Message, context, escape, plain, section
from handlers.ids import Action, Callback
from handlers.ids import Block as BlockId
from runtime.i18n import Texts
from services.scales import CHOICES, ENDS, choice_for, question
from services.surveys import SurveyView


def general_privacy_line(t: Texts, min_group: int) -> str:
    """How answers are kept, for a surface about many surveys (the Home tab)."""
    return t._(
        "🔒 Answers are stored without names. While a survey is open the bot can still match your answer "
        "to you, so that you can delete it, or change it until it is counted; when it closes that link is "
        "destroyed, and if at least {min} people answered, nobody, the bot's operator included, can "
        "tell which answer was yours. Results count answers only in groups of {min}, from at least "
        "{min} people.",
        min=min_group,
    )


def privacy_line(t: Texts, view: SurveyView) -> str:
    """How this survey's answer is kept, in one line: true for this wave."""
    if view.too_few_asked:
        return t._(
            "🔒 Your answer is stored without your name, and results count it only in a group of "
            "{min} answers from at least {min} people. This survey went to fewer than "
            "{min} people, so who was asked tells whose the stored answers are, also after it closes.",
            min=view.min_group,
        )
    return t._(
        "🔒 Your answer is stored without your name. While the survey is open the bot can still match it "
        "to you, so that you can delete it, or change it until it is counted; when it closes that link is "
        "destroyed, and if at least {min} people answered, nobody, the bot's operator included, "
        "can tell which answer was yours. Results count answers only in groups of {min}, from at "
        "least {min} people.",
        min=view.min_group,
    )


def answer_value(view: SurveyView, score: float) -> str:
    """What an answer button carries: wave, delivery and score (checked again on the click)."""
    return f"{view.wave_id}:{view.delivery_id}:{score:g}"


def survey_ref(view: SurveyView) -> str:
    return f"{view.wave_id}:{view.delivery_id}"


def _headline(t: Texts, view: SurveyView) -> Block:
    if view.kind == "nps":
        text = t._("{title} · a 10-second question", title=view.rollout_title)
    else:
        label = view.touchpoint_label or t._("a quick question")
        text = f"{view.rollout_title} · {label}"
    return {"type": "header", "text": plain(text[:150])}


def _closes(t: Texts, view: SurveyView) -> str:
    return t.day(datetime.fromtimestamp(view.closes_at, UTC).date())


def answer_buttons(t: Texts, view: SurveyView) -> Block:
    return {
        "type": "actions",
        # One per survey: a Home tab shows several, and block_ids must differ within a view.
        "block_id": f"{BlockId.SURVEY_ANSWERS.value}.{view.delivery_id}",
        "elements": [
            {
                "type": "button",
                "text": plain(t.say(choice.label)),
                "action_id": f"{Action.SURVEY_ANSWER.value}_{i}",
                "value": answer_value(view, choice.score),
            }
            for i, choice in enumerate(CHOICES[view.scale])
        ],
    }


def question_text(t: Texts, view: SurveyView) -> str:
    return t.say(question(view.scale, view.rollout_title, view.touchpoint_label))


def build_survey(t: Texts, view: SurveyView, *, reminder: bool = False, current: float | None = None) -> Message:
    asked = question_text(t, view)
    blocks: list[Block] = [_headline(t, view)]
    if reminder:
        blocks.append(section(t._("A gentle reminder — it takes ten seconds, and this is the only reminder.")))
    blocks.append(section(f"*{escape(asked)}*"))
    blocks.append(answer_buttons(t, view))
    ends = ENDS[view.scale]
    notes = [t.say(ends)] if ends else []
    if current is not None:
        chosen = choice_for(view.scale, current)
        said = escape(t.say(chosen.said) if chosen else f"{current:g}")
        notes.insert(0, t._("Your answer now: *{said}* — pick another to change it.", said=said))
    if notes:
        blocks.append(context(" · ".join(notes)))
    until = t._("Open until {day}.", day=_closes(t, view))
    blocks.append(context(f"{privacy_line(t, view)} {until}"))
    text = t._("Reminder: {question}", question=escape(asked)) if reminder else escape(asked)
    return Message(text=text, blocks=blocks)


def build_thanks(t: Texts, view: SurveyView, score: float, *, commented: bool = False) -> Message:
    chosen = choice_for(view.scale, score)
    said = t.say(chosen.said) if chosen else f"{score:g}"
    ref = survey_ref(view)
    note = t._("Comment saved — thank you.") if commented else t._("Want to say why? Add a comment (optional).")
    buttons = [
        {"type": "button", "text": plain(t._("Change answer")), "action_id": Action.SURVEY_CHANGE.value, "value": ref},
        {
            "type": "button",
            "text": plain(t._("Edit comment") if commented else t._("Add a comment")),
            "action_id": Action.SURVEY_COMMENT.value,
            "value": ref,
        },
    ]
    until = t._(
        "You can change your answer until it is counted in the results with a group of {min}, "
        "and at the latest until {day}.",
        min=view.min_group,
        day=_closes(t, view),
    )
    blocks: list[Block] = [
        _headline(t, view),
        section(t._("Thanks — you answered *{said}*.", said=escape(said)) + f"\n{note}"),
        {"type": "actions", "block_id": BlockId.SURVEY_THANKS.value, "elements": buttons},
        context(f"{privacy_line(t, view)} {until}"),
    ]
    return Message(text=t._("Thanks — you answered {said}", said=escape(said)), blocks=blocks)


def build_closed(t: Texts, view: SurveyView, *, answered: bool | None, unlinkable: bool) -> Message:
    """`unlinkable`: the wave closed with at least the minimum group of answers. `answered`: None
    when who answered was not kept (a wave closed with fewer)."""
    if answered is None:
        text = t._("This survey has closed. Thank you if you answered!")
    elif not answered:
        text = t._("This survey has closed. It can no longer be answered.")
    elif unlinkable:
        text = t._(
            "This survey has closed. Thank you for answering! Your answer can no longer be tied to you, by anyone."
        )
    else:
        text = t._("This survey has closed. Thank you for answering!")
    blocks: list[Block] = [
        _headline(t, view),
        section(f"~{escape(question_text(t, view))}~\n{text}"),
    ]
    return Message(text=text, blocks=blocks)


def build_comment_modal(t: Texts, view: SurveyView, metadata: str, existing: str | None) -> dict[str, object]:
    element: dict[str, object] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": 3000,
        "placeholder": plain(t._("What worked, what did not, what would help?")),
    }
    if existing:
        element["initial_value"] = existing
    return {
        "type": "modal",
        "callback_id": Callback.SURVEY_COMMENT.value,
        "private_metadata": metadata,
        # Slack cuts nothing here: a modal's title, submit and close are at most 24 characters.
        "title": plain(t._("Add a comment")[:24]),
        "submit": plain(t._("Save")[:24]),
        "close": plain(t._("Cancel")[:24]),
        "blocks": [
            section(f"*{escape(question_text(t, view))}*"),
            {
                "type": "input",
                "block_id": BlockId.COMMENT.value,
                "label": plain(t._("Your comment")),
                "element": element,
            },
            context(
                t._(
                    "🔒 Comments are stored without your name and shown only with the results of groups of "
                    "{min} or more, without saying who wrote them. An owner may reply: the reply reaches you by "
                    "DM, and they do not learn who you are.",
                    min=view.min_group,
                )
            ),
        ],
    }
