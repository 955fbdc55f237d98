"""Global middleware: dependencies into Bolt's context, and one handling per Slack event."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.background import Background
from bot.clock import epoch
from bot.services import Services
from handlers.home import HomePublisher

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[BoltResponse]]


def install(app: AsyncApp, services: Services, background: Background, home: HomePublisher) -> None:
    async def inject_dependencies(context: dict[str, Any], next: Next) -> BoltResponse:
        # Listeners take these as keyword arguments (Bolt injects context keys by name).
        context["services"] = services
        context["store"] = services.store
        context["settings"] = services.settings
        context["background"] = background
        context["home"] = home
        return await next()

    async def handle_each_event_once(body: dict[str, Any], next: Next) -> BoltResponse:
        if body.get("type") == "event_callback":
            event_id = str(body["event_id"])
            first = await services.seen_events.record(event_id, epoch(services.clock.now()))
            if not first:
                log.info("event %s already handled; ignoring the repeat", event_id)
                return BoltResponse(status=200, body="")
        return await next()

    app.middleware(inject_dependencies)
    app.middleware(handle_each_event_once)
