"""The comment modal of a survey: up to 3000 characters, stored without a name."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.blocks.survey import build_thanks
from handlers.blocks.text import Message
from handlers.deferred import answer_later
from handlers.ids import Block, Callback, row_id
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services
from services.errors import BadInput


async def on_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    services: Services,
    background: Background,
    texts: Texts,
) -> None:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        wave_id, delivery_id = row_id(meta["wave"]), row_id(meta["delivery"])
    except (ValueError, KeyError, TypeError):
        raise BadInput(N_("This form is out of date; click Add a comment again."), field=Block.COMMENT.value) from None
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(Block.COMMENT.value) or {}).get("value") or {}).get("value")
    user = body["user"]["id"]
    await services.surveys.comment(user, wave_id, delivery_id, text if isinstance(text, str) else None)
    await ack()
    response_url = meta.get("response_url")
    if not isinstance(response_url, str) or not response_url:
        return

    async def thanks() -> Message:
        survey, current = await services.surveys.current_answer(user, wave_id, delivery_id)
        if current is None:
            return Message(text=texts._("Comment saved — thank you."))
        return build_thanks(texts, survey, current, commented=True)

    answer_later(
        background, AsyncRespond(response_url=response_url), thanks, t=texts, name="comment thanks", replace=True
    )


def register(app: AsyncApp) -> None:
    app.view(Callback.SURVEY_COMMENT.value)(on_submit)
