"""Global middleware: dependencies into Bolt's context, and one handling per Slack event."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from handlers.home import HomePublisher
from handlers.respond import SessionRespond
from runtime.background import Background
from runtime.clock import epoch
from runtime.i18n import texts
from runtime.write_wait import limit_write_wait
from services import Services
from services.errors import StorageError, storage_problem

log = logging.getLogger(__name__)

# Slack shows the person an error when a request is not answered within 3 s. A write made while
# answering one waits at most this long for a database another process has locked; then the
# person is told that nothing was saved and to try again (handlers.errors).
REQUEST_WRITE_WAIT_SECONDS = 2.0

Next = Callable[[], Awaitable[BoltResponse]]


def retry_later() -> BoltResponse:
    """How the bot asks Slack to send an event again (Slack retries what is not answered with a
    2xx: at once, after a minute, after five); bot.server lets a 5xx with Retry-After through
    instead of turning it into 200."""
    return BoltResponse(status=503, body="", headers={"Retry-After": "60"})


def install(
    app: AsyncApp,
    services: Services,
    background: Background,
    home: HomePublisher,
    session: Callable[[], aiohttp.ClientSession | None],
) -> None:
    async def inject_dependencies(context: AsyncBoltContext, body: dict[str, Any], next: Next) -> BoltResponse:
        # Listeners take these as keyword arguments (Bolt injects context keys by name).
        context["services"] = services
        context["settings"] = services.settings
        context["background"] = background
        context["home"] = home
        # The language of the person a request comes from: what every answer to it is written in.
        user = context.user_id
        language = await services.languages.of(user) if user else services.settings.pulse_language
        context["texts"] = texts(language)
        view = body.get("view")
        if isinstance(view, dict) and view.get("type") == "home" and context.user_id:
            home.looked(context.user_id)  # a click on someone's Home: they have it open
        # The keep-alive session the wiring opened for Slack calls (None before it is open).
        if context.response_url and (open_session := session()) is not None:
            context["respond"] = SessionRespond(
                response_url=context.response_url, session=open_session, proxy=context.client.proxy
            )
        # For the rest of this request (its listener runs after the middleware, in this task).
        limit_write_wait(REQUEST_WRITE_WAIT_SECONDS)
        return await next()

    async def handle_each_event_once(body: dict[str, Any], next: Next) -> BoltResponse:
        if body.get("type") != "event_callback":
            return await next()
        event_id = str(body["event_id"])
        try:
            first = await services.seen_events.record(event_id, epoch(services.clock.now()))
        except StorageError as exc:
            if (problem := storage_problem(exc)) is None:
                raise
            # Not recorded, not handled: Slack sends it again (a join must not go unsurveyed).
            log.warning("event %s could not be recorded (%s); Slack will send it again", event_id, problem[1])
            return retry_later()
        if not first:
            log.info("event %s already handled; ignoring the repeat", event_id)
            return BoltResponse(status=200, body="")
        return await next()

    app.middleware(inject_dependencies)
    app.middleware(handle_each_event_once)
