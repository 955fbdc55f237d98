"""Publishing App Homes: when opened, and again when something on them changes. Each Home is
written in its person's language (services.languages: their choice, else Slack's, else the
default), so it is built per person."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.home import build_home
from runtime.background import Background
from runtime.i18n import texts
from services import Services

log = logging.getLogger(__name__)


class HomePublisher:
    """Publishes Homes. Slack asks for a Home (app_home_opened) whenever someone opens it, so
    refreshing one matters only for people who have looked at theirs since the bot started;
    publishing everyone else's would be a views.publish call (rate-limited) and a Home built
    from the store per answer and per stage change, for nobody to read."""

    def __init__(self, services: Services, client: AsyncWebClient, background: Background) -> None:
        self.services = services
        self.client = client
        self.background = background
        self._looked: set[str] = set()

    def looked(self, user: str) -> None:
        """This person has their Home open (they opened it, or clicked something on it)."""
        self._looked.add(user)

    async def publish(self, user: str) -> None:
        view = await self.services.home.view(user)  # with the language the person reads in
        try:
            await self.client.views_publish(user_id=user, view=build_home(texts(view.reading.language), view))
        except SlackApiError as exc:
            if "slack_file" not in str(exc.response.get("response_metadata")):
                log.warning("could not publish the Home of %s: %s", user, exc.response.get("error"))
                return
            # A heatmap they can no longer see (deleted in Slack, say) must not keep the whole
            # Home from showing: it goes out without the maps' images.
            log.info("the Home of %s goes without its feedback-map images: Slack cannot show one", user)
            bare = replace(view, mine=[replace(item, map_file=None) for item in view.mine])
            try:
                await self.client.views_publish(user_id=user, view=build_home(texts(view.reading.language), bare))
            except SlackApiError as again:
                log.warning("could not publish the Home of %s: %s", user, again.response.get("error"))

    def refresh(self, users: Iterable[str]) -> None:
        """Publish again, after the acknowledgement, the Homes of these people who have looked
        at theirs."""
        for user in sorted(set(users) & self._looked):
            self.background.spawn(self.publish(user), name=f"home of {user}")
