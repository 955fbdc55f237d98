"""The app factory: a Bolt AsyncApp wired to the store, the services, the handlers and the sender."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.key_file import prepare_master_key
from bot.settings import Settings
from handlers import errors, middleware
from handlers.blocks.chart import render_trend
from handlers.blocks.digest import build_digest
from handlers.blocks.feedback_map import build_map_share
from handlers.blocks.heatmap import render_heatmap
from handlers.blocks.outbox import render_outbox_item
from handlers.blocks.survey import build_survey
from handlers.home import HomePublisher
from outbound.delivery_sender import DeliverySender
from outbound.digest_poster import DigestPoster, MapParts
from outbound.directory import SlackDirectory
from outbound.http_session import SharedSession
from outbound.sender import OutboxSender, create_sender_client
from runtime.background import Background
from runtime.clock import Clock, SystemClock
from services import Services
from services.keys import KeySetup
from storage import Store
from storage.digests import Digests
from storage.outbox import Outbox
from storage.slack_users import SlackUsers
from storage.surveys import DeliveryQueue

log = logging.getLogger(__name__)

# Web API calls made while handling a request wait at most this long per attempt.
WEB_API_TIMEOUT_SECONDS = 10


def _token(settings: Settings) -> str:
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is required to talk to Slack")
    return settings.slack_bot_token.get_secret_value()


def create_web_client(settings: Settings) -> AsyncWebClient:
    """A Web API client for SLACK_API_URL that retries what is worth retrying once."""
    return AsyncWebClient(
        token=_token(settings),
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class Bot:
    """The app and what runs beside it: services, background work, the two senders."""

    app: AsyncApp
    services: Services
    background: Background
    sender: OutboxSender
    surveys_sender: DeliverySender
    digests: DigestPoster
    http: SharedSession
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await self.http.open()
        self._tasks.append(asyncio.create_task(self.sender.run(), name="outbox sender"))
        self._tasks.append(asyncio.create_task(self.surveys_sender.run(), name="survey sender"))

    async def stop(self, grace: float) -> bool:
        """Let the senders finish what they are sending and background work complete; True if in time."""
        self.sender.stop()
        self.surveys_sender.stop()
        finished = await self.background.drain(grace)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            finished = finished and not pending
        await self.http.close()
        return finished


def build_bot(settings: Settings, store: Store, *, clock: Clock | None = None, keys: KeySetup | None = None) -> Bot:
    clock = clock or SystemClock()
    client = create_web_client(settings)
    services = Services(
        settings=settings,
        store=store,
        directory=SlackDirectory(client, SlackUsers(store), clock),
        clock=clock,
        key_setup=keys or (lambda: prepare_master_key(settings)),
    )
    background = Background()
    sender_client = create_sender_client(_token(settings), settings.slack_api_url)
    sender = OutboxSender(Outbox(store), sender_client, render_outbox_item, clock, address=services.threads.address)
    surveys_sender = DeliverySender(DeliveryQueue(store), sender_client, build_survey, settings, clock)
    services.on_queued(outbox=sender.kick, deliveries=surveys_sender.kick)
    maps = MapParts(services.maps, render_heatmap, build_map_share)
    digests = DigestPoster(
        services.digests, Digests(store), sender_client, build_digest, render_trend, clock, maps=maps
    )
    app = AsyncApp(
        client=client,
        # The listener runs to completion before the HTTP response leaves, so whatever an
        # acknowledgement promises is already committed (docs/reliability.md); slow work is handed to
        # `background` explicitly. This also avoids Bolt's 10 ms polling for ack().
        process_before_response=True,
        # Signatures are checked by the HTTP server before Bolt parses a body (bot.inbound);
        # in Socket Mode there is nothing to sign.
        request_verification_enabled=False,
        raise_error_for_unhandled_request=False,
        name="rollout-pulse",
    )
    home = HomePublisher(services, client, background)
    # Homes show stage and status: refresh those of the people concerned after a change.
    services.rollouts.on_moved = lambda detail: home.refresh(
        [*detail.owners, *detail.champions, *settings.pulse_admins]
    )
    http = SharedSession(client, sender_client)
    middleware.install(app, services, background, home, lambda: http.session)
    errors.install(app)
    handlers.register_all(app)
    return Bot(app, services, background, sender, surveys_sender, digests, http)


def create_app(settings: Settings, store: Store, *, clock: Clock | None = None) -> AsyncApp:
    """The Bolt app alone (its sender is not started)."""
    return build_bot(settings, store, clock=clock).app
