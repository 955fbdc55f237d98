"""Publishing App Homes: when opened, and again when something on them changes."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.background import Background
from bot.services import Services
from handlers.blocks.home import build_home

log = logging.getLogger(__name__)


class HomePublisher:
    def __init__(self, services: Services, client: AsyncWebClient, background: Background) -> None:
        self.services = services
        self.client = client
        self.background = background

    async def publish(self, user: str) -> None:
        view = await self.services.home.view(user)
        try:
            await self.client.views_publish(user_id=user, view=build_home(view))
        except SlackApiError as exc:
            log.warning("could not publish the Home of %s: %s", user, exc.response.get("error"))

    def refresh(self, users: Iterable[str]) -> None:
        """Publish these people's Homes again, after the acknowledgement."""
        for user in sorted(set(users)):
            self.background.spawn(self.publish(user), name=f"home of {user}")
