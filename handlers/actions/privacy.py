"""The confirmation button of `/pulse forget-me`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.blocks.privacy import build_forgotten
from handlers.blocks.text import Message
from handlers.deferred import answer_later
from handlers.home import HomePublisher
from handlers.ids import Action
from runtime.background import Background
from runtime.i18n import Texts
from services import Services


async def on_forget_me(
    ack: AsyncAck,
    body: dict[str, Any],
    services: Services,
    respond: AsyncRespond | None,
    background: Background,
    home: HomePublisher,
    texts: Texts,
) -> None:
    # The person clicking is the person forgotten: the button carries nobody's ID.
    user = body["user"]["id"]
    done = await services.privacy.forget(user)
    await ack()

    async def confirmation() -> Message:
        home.refresh([user])
        return build_forgotten(texts, done)

    answer_later(background, respond, confirmation, t=texts, name="forget me", replace=True)


def register(app: AsyncApp) -> None:
    app.action(Action.FORGET_ME.value)(on_forget_me)
