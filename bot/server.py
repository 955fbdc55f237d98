"""The HTTP side: /slack/events, /healthz; `pulse serve` with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from bot.app import Bot, build_bot
from bot.inbound import MAX_BODY_BYTES, InboundError, check_signature, classify, parse_body
from bot.key_file import open_store
from bot.scheduler import create_scheduler, sync_digest_jobs
from bot.settings import Settings, SettingsError
from bot.signals import restore_signals, stop_on_signals
from handlers.touchpoint_api import TouchpointApi
from storage import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# SIGTERM to exit must stay under 10 s: requests get 5 s to finish, background work 3 s.
REQUEST_GRACE_SECONDS = 5.0
BACKGROUND_GRACE_SECONDS = 3.0

# Slack answers these to auth.test when the token itself is wrong; anything else may pass.
_BAD_TOKEN_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


class SlackEndpoint:
    """POST /slack/events: authenticate, parse safely, then let Bolt dispatch."""

    def __init__(self, bolt_app: AsyncApp, signing_secret: str) -> None:
        self._app = bolt_app
        self._secret = signing_secret

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413, text="request body too large")
        raw = await request.read()
        try:
            check_signature(self._secret, request.headers, raw)
            body = parse_body(raw, request.content_type)
            classify(body)
            # Bolt gets the body we parsed rather than parsing it again: parsing a click's form
            # body (the whole message, URL-encoded) is the costliest step of a request, and
            # Bolt's parser treats any form containing the word "payload" as interactive, which
            # would lose a slash command such as `/rollout new payload-tool`.
            bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=dict(request.headers))
            bolt_request.raw_body = raw.decode("utf-8")
            bolt_request.body = body
            bolt_request.context = build_async_context(AsyncBoltContext({}), body)
        except InboundError as exc:
            return web.Response(status=exc.status, text=exc.reason)
        except Exception as exc:  # Bolt could not build its request from a shape we let through
            log.warning("refused a Slack request Bolt could not read: %s", exc)
            return web.Response(status=400, text="malformed request")
        try:
            response = await self._app.async_dispatch(bolt_request)
        except Exception:
            # Bolt's own error path can fail on a shape it did not expect; Slack gets a 4xx.
            log.exception("Bolt could not handle a request; answered 400")
            return web.Response(status=400, text="malformed request")
        if response.status >= 500 and "retry-after" not in {k.lower() for k in response.headers}:
            log.error("Bolt answered %s; sending 200 so Slack does not retry", response.status)
            return web.Response(status=200, text="")
        return await to_aiohttp_response(response)


async def healthz(request: web.Request) -> web.Response:
    store: Store = request.app[STORE_KEY]
    if not await store.ping():
        return web.json_response({"status": "unavailable", "database": "not answering"}, status=503)
    if store.write_problem is not None:
        # Still serving what only reads, but nothing new can be kept: worth an operator's look.
        return web.json_response(
            {"status": "degraded", "database": f"reads work; writes fail: {store.write_problem}"}, status=503
        )
    return web.json_response({"status": "ok", "database": "ok"})


STORE_KEY = web.AppKey("store", Store)


def build_web_app(settings: Settings, bot: Bot) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STORE_KEY] = bot.services.store
    app.router.add_get("/healthz", healthz)
    token = settings.pulse_api_token.get_secret_value() if settings.pulse_api_token else None
    app.router.add_post("/touchpoints/{slug}/{key}", TouchpointApi(bot.services, token).handle)
    if not settings.socket_mode:
        assert settings.slack_signing_secret is not None
        endpoint = SlackEndpoint(bot.app, settings.slack_signing_secret.get_secret_value())
        app.router.add_post("/slack/events", endpoint.handle)
    return app


async def check_token(bolt_app: AsyncApp) -> None:
    """Fail start-up on a token Slack refuses; only warn when Slack cannot be reached."""
    try:
        auth = await bolt_app.client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error in _BAD_TOKEN_ERRORS:
            raise SettingsError(
                [
                    f"SLACK_BOT_TOKEN was refused by Slack ({error}): copy the Bot User OAuth Token "
                    "again from the Slack app settings → OAuth & Permissions."
                ]
            ) from None
        log.warning("auth.test failed (%s); starting anyway", error)
        return
    except Exception as exc:
        log.warning("could not reach Slack at start-up (%s); starting anyway", exc)
        return
    log.info("connected to Slack workspace %s as %s", auth.get("team"), auth.get("user"))


async def serve(settings: Settings, *, on_listening: Callable[[str], None] | None = None) -> int:
    """Run until SIGTERM or SIGINT; return the exit code."""
    stop = stop_on_signals()  # first: a stop while migrating or starting is a clean stop too
    try:
        store, keys = await open_store(settings)
        try:
            bot = build_bot(settings, store, keys=keys)
            await bot.services.keys.master()  # the check value recorded, older waves upgraded
        except BaseException:
            await store.close()
            raise
    except BaseException:
        restore_signals()
        raise
    bolt_app = bot.app
    runner: web.AppRunner | None = None
    socket_handler: AsyncSocketModeHandler | None = None
    scheduler = create_scheduler(bot.services, bot.digests)
    try:
        await _unless_stopped(stop, check_token(bolt_app))
        runner = web.AppRunner(
            build_web_app(settings, bot),
            shutdown_timeout=REQUEST_GRACE_SECONDS,
            access_log=None,
            handle_signals=False,
        )
        await runner.setup()
        site = web.TCPSite(runner, settings.pulse_host, settings.pulse_port)
        await site.start()
        address = _listening_address(runner, settings)
        if settings.socket_mode:
            assert settings.slack_app_token is not None
            socket_handler = AsyncSocketModeHandler(bolt_app, settings.slack_app_token.get_secret_value())
            await _unless_stopped(stop, socket_handler.connect_async())  # type: ignore[no-untyped-call]
            log.info("Socket Mode connected; health at %s/healthz", address)
        else:
            log.info("listening on %s (Slack requests at %s/slack/events)", address, address)
        if on_listening is not None:
            on_listening(address)
        scheduler.start()
        await sync_digest_jobs(scheduler, bot.services, bot.digests)
        bot.services.digests.on_subscriptions_changed = lambda: bot.background.spawn(
            sync_digest_jobs(scheduler, bot.services, bot.digests), name="digest schedule"
        )
        await bot.start()
        settle_memory()
        await stop.wait()
        log.info("stopping: no new requests; finishing what is in flight")
    except _StoppedWhileStarting:
        log.info("stopping before start-up finished")
    finally:
        restore_signals()
        await scheduler.stop(BACKGROUND_GRACE_SECONDS)
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        if runner is not None:
            await runner.cleanup()
        if not await bot.stop(BACKGROUND_GRACE_SECONDS):
            log.warning("background work did not finish in time and was cancelled; it resumes at next start")
        await store.close()
    log.info("stopped")
    return 0


class _StoppedWhileStarting(Exception):
    """A stop signal came while start-up was waiting on Slack."""


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T:
    """Await `work`, unless a stop signal comes first: then cancel it and raise
    _StoppedWhileStarting. Start-up waits on Slack (auth.test, the Socket Mode connection) for
    up to half a minute when Slack is unreachable; a stop must not wait that long."""
    task = asyncio.ensure_future(work)
    signalled = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, signalled}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        signalled.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise _StoppedWhileStarting
    return task.result()


def settle_memory() -> None:
    """Once started: what exists now (modules, the app, its listeners) lives as long as the
    process, so the garbage collector stops scanning it. Without this every full collection
    walks it all and stalls every request in flight for tens of milliseconds (seen as 60-80 ms
    outliers at 10 concurrent clicks)."""
    gc.collect()
    gc.freeze()


def _listening_address(runner: web.AppRunner, settings: Settings) -> str:
    port = settings.pulse_port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            port = int(address[1])
            break
    return f"http://{settings.pulse_host}:{port}"
