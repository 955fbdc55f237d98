"""Clicks in conversations on anonymous comments: the Reply menu beside a comment or a thread's
answer (a reply opens a form; an acknowledgement goes at once), and the writer's Answer back and
Close buttons in their DM."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.text import Message
from handlers.blocks.threads import (
    THREAD_REF,
    build_answer_modal,
    build_closed_for_writer,
    build_reply_modal,
    parse_menu_value,
    sent_text,
)
from handlers.deferred import answer_later
from handlers.ids import Action, row_id
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services
from services.errors import BadInput
from services.threads import NOT_OURS, Sent


def _trigger(body: dict[str, Any]) -> str:
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str):
        raise BadInput(N_("Slack sent this click without a way to open the form; click again."))
    return trigger_id


def _thread_id(value: object) -> int:
    try:
        return row_id(value)
    except ValueError:
        raise BadInput(NOT_OURS) from None


async def send_reply(services: Services, user: str, choice: str, ref: str, text: str | None) -> Sent:
    """A reply to the comment or thread `ref` names (a sealed comment, or t<thread id>)."""
    if ref.startswith(THREAD_REF) and ref[len(THREAD_REF) :].isdigit():
        return await services.threads.reply_in_thread(user, _thread_id(ref[len(THREAD_REF) :]), choice, text)
    return await services.threads.reply_to_comment(user, ref, choice, text)


async def on_reply_menu(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    client: AsyncWebClient,
    respond: AsyncRespond | None,
    background: Background,
    texts: Texts,
) -> None:
    parsed = parse_menu_value((action.get("selected_option") or {}).get("value"))
    if parsed is None:
        raise BadInput(NOT_OURS)
    choice, ref = parsed
    user = body["user"]["id"]
    if choice in ("reply", "fixed"):
        # The reference goes into the form as it came: sealed, or a thread's id.
        metadata = json.dumps({"choice": choice, "ref": ref, "response_url": body.get("response_url")})
        await client.views_open(trigger_id=_trigger(body), view=build_reply_modal(texts, choice, metadata))
        await ack()
        return
    sent = await send_reply(services, user, choice, ref, None)
    await ack()

    async def confirmation() -> Message:
        return Message(text=sent_text(texts, sent.delay_minutes))

    answer_later(background, respond, confirmation, t=texts, name="comment acknowledgement")


async def on_answer(
    ack: AsyncAck, action: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, texts: Texts
) -> None:
    metadata = json.dumps({"thread": _thread_id(action.get("value")), "response_url": body.get("response_url")})
    await client.views_open(trigger_id=_trigger(body), view=build_answer_modal(texts, metadata))
    await ack()


async def on_close(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    respond: AsyncRespond | None,
    background: Background,
    texts: Texts,
) -> None:
    await services.threads.close(body["user"]["id"], _thread_id(action.get("value")))
    await ack()

    async def closed() -> Message:
        return build_closed_for_writer(texts)

    answer_later(background, respond, closed, t=texts, name="conversation closed")


def register(app: AsyncApp) -> None:
    app.action(Action.COMMENT_REPLY.value)(on_reply_menu)
    app.action(Action.THREAD_ANSWER.value)(on_answer)
    app.action(Action.THREAD_CLOSE.value)(on_close)
