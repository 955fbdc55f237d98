"""The app factory: a Bolt AsyncApp wired to the store, the services and the handlers."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.background import Background
from bot.clock import Clock, SystemClock
from bot.services import Services
from bot.settings import Settings
from handlers import errors, middleware
from storage import Store

log = logging.getLogger(__name__)

# Web API calls made while handling a request wait at most this long per attempt.
WEB_API_TIMEOUT_SECONDS = 10


def create_web_client(settings: Settings) -> AsyncWebClient:
    """A Web API client for SLACK_API_URL that retries what is worth retrying once."""
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is required to talk to Slack")
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def create_app(
    settings: Settings,
    store: Store,
    *,
    services: Services | None = None,
    clock: Clock | None = None,
    background: Background | None = None,
) -> AsyncApp:
    """Build the Bolt app. Signatures are checked by the HTTP server before Bolt parses a body
    (bot.inbound), so Bolt's own check is off; in Socket Mode there is nothing to sign."""
    if services is None:
        services = Services(settings=settings, store=store, clock=clock or SystemClock())
    app = AsyncApp(
        client=create_web_client(settings),
        # The listener runs to completion before the HTTP response leaves, so whatever an
        # acknowledgement promises is already committed (SPEC §4.3); slow work is handed to
        # `background` explicitly. This also avoids Bolt's 10 ms polling for ack().
        process_before_response=True,
        request_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        name="rollout-pulse",
    )
    middleware.install(app, services, background or Background())
    errors.install(app)
    handlers.register_all(app)
    return app
