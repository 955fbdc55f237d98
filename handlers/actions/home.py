"""The Status button on the Home tab: the status card arrives as a DM, where its buttons work."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.rollouts import build_status_card
from handlers.ids import Action
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services
from services.errors import BadInput


async def on_status(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    client: AsyncWebClient,
    background: Background,
    texts: Texts,
) -> None:
    slug = action.get("value")
    if not isinstance(slug, str) or not slug:
        raise BadInput(N_("This button carries no rollout."))
    user = body["user"]["id"]
    detail = await services.rollouts.get(slug)
    await ack()

    async def send() -> None:
        view = await services.rollouts.status(detail, services.directory)
        card = build_status_card(
            texts, view, viewer_may_change=services.rollouts.may_change(detail, user), tz=services.settings.tz
        )
        await client.chat_postMessage(channel=user, text=card.text, blocks=card.blocks)

    background.spawn(send(), name="status from home")


def register(app: AsyncApp) -> None:
    app.action(Action.HOME_STATUS.value)(on_status)
