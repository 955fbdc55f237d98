"""Clicks on a survey: an answer (stored before Slack hears back), Change answer, Add a comment."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.survey import build_comment_modal, build_survey, build_thanks
from handlers.blocks.text import Message
from handlers.deferred import answer_later
from handlers.home import HomePublisher
from handlers.ids import Action, row_id
from runtime import i18n
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services
from services.errors import BadInput

ANSWER = re.compile(rf"^{Action.SURVEY_ANSWER.value}_\d+$", re.ASCII)


def parse_ref(value: object, *, with_score: bool) -> tuple[int, int, str]:
    """`wave:delivery[:score]` from a button's value; BadInput for anything else."""
    parts = value.split(":") if isinstance(value, str) else []
    try:
        if len(parts) != (3 if with_score else 2):
            raise ValueError("not a survey reference")
        return row_id(parts[0]), row_id(parts[1]), parts[2] if with_score else ""
    except ValueError:
        raise BadInput(N_("This button is not one of ours, so nothing was stored.")) from None


async def on_answer(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    client: AsyncWebClient,
    respond: AsyncRespond | None,
    background: Background,
    home: HomePublisher,
    texts: Texts,
) -> None:
    wave_id, delivery_id, score = parse_ref(action.get("value"), with_score=True)
    answered = await services.surveys.answer(body["user"]["id"], wave_id, delivery_id, score)
    # The answer is committed: only now does Slack get its acknowledgement.
    await ack()
    user = body["user"]["id"]

    async def thanks() -> Message:
        # The thank-you is in the language the person reads in now, the survey's in its own.
        return build_thanks(texts, answered.view, answered.score, commented=answered.commented)

    if (body.get("container") or {}).get("type") == "view":
        # Answered on the Home tab: the DM turns into the thank-you too.
        async def update_dm() -> None:
            if answered.dm_channel and answered.message_ts:
                message = await thanks()
                await client.chat_update(
                    channel=answered.dm_channel, ts=answered.message_ts, text=message.text, blocks=message.blocks
                )

        background.spawn(update_dm(), name="survey thanks in the DM")
    else:
        answer_later(background, respond, thanks, t=texts, name="survey thanks", replace=True)
    home.refresh([user])


async def on_change(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    respond: AsyncRespond | None,
    background: Background,
    texts: Texts,
) -> None:
    wave_id, delivery_id, _ = parse_ref(action.get("value"), with_score=False)
    view, current = await services.surveys.current_answer(body["user"]["id"], wave_id, delivery_id, to_change=True)
    await ack()

    async def question() -> Message:
        return build_survey(i18n.texts(view.language), view, current=current)

    answer_later(background, respond, question, t=texts, name="survey change", replace=True)


async def on_comment(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    client: AsyncWebClient,
    texts: Texts,
) -> None:
    wave_id, delivery_id, _ = parse_ref(action.get("value"), with_score=False)
    user = body["user"]["id"]
    view, _ = await services.surveys.current_answer(user, wave_id, delivery_id)
    existing = await services.surveys.existing_comment(user, wave_id, delivery_id)
    metadata = json.dumps({"wave": wave_id, "delivery": delivery_id, "response_url": body.get("response_url")})
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str):
        raise BadInput(N_("Slack sent this click without a way to open the form; click Add a comment again."))
    await client.views_open(trigger_id=trigger_id, view=build_comment_modal(texts, view, metadata, existing))
    await ack()


def register(app: AsyncApp) -> None:
    app.action(ANSWER)(on_answer)
    app.action(Action.SURVEY_CHANGE.value)(on_change)
    app.action(Action.SURVEY_COMMENT.value)(on_comment)
