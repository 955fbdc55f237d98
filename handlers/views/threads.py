"""The forms of conversations on anonymous comments: a reply (or "Fixed in …"), and the writer's
answer back."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.actions.threads import send_reply
from handlers.blocks.text import Message
from handlers.blocks.threads import build_answer_sent, sent_text
from handlers.deferred import answer_later
from handlers.ids import Block, Callback, row_id
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services
from services.errors import BadInput

OUT_OF_DATE = N_("This form is out of date; open it again from the message.")


def _typed(view: dict[str, Any]) -> str | None:
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(Block.REPLY.value) or {}).get("value") or {}).get("value")
    return text if isinstance(text, str) else None


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise BadInput(OUT_OF_DATE, field=Block.REPLY.value)
    return meta


def _answer_to(background: Background, meta: dict[str, Any], message: Message, t: Texts, *, name: str) -> None:
    response_url = meta.get("response_url")
    if isinstance(response_url, str) and response_url:

        async def confirmation() -> Message:
            return message

        answer_later(background, AsyncRespond(response_url=response_url), confirmation, t=t, name=name)


async def on_reply(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services, background: Background, texts: Texts
) -> None:
    meta = _metadata(view)
    choice, ref = meta.get("choice"), meta.get("ref")
    if not isinstance(choice, str) or not isinstance(ref, str):
        raise BadInput(OUT_OF_DATE, field=Block.REPLY.value)
    sent = await send_reply(services, body["user"]["id"], choice, ref, _typed(view))
    await ack()
    _answer_to(background, meta, Message(text=sent_text(texts, sent.delay_minutes)), texts, name="reply sent")


async def on_answer(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services, background: Background, texts: Texts
) -> None:
    meta = _metadata(view)
    try:
        thread_id = row_id(meta.get("thread"))
    except ValueError:
        raise BadInput(OUT_OF_DATE, field=Block.REPLY.value) from None
    await services.threads.answer_back(body["user"]["id"], thread_id, _typed(view))
    await ack()
    _answer_to(background, meta, build_answer_sent(texts), texts, name="answer sent")


def register(app: AsyncApp) -> None:
    app.view(Callback.THREAD_REPLY.value)(on_reply)
    app.view(Callback.THREAD_ANSWER.value)(on_answer)
