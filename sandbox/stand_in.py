"""A local stand-in for Slack's Web API, response URLs, file uploads and Socket Mode.

A real aiohttp server on 127.0.0.1. It implements the methods Rollout Pulse calls, keeps the
workspace's state (sandbox.workspace), checks Block Kit limits, and can be told to rate-limit or
fail (sandbox.faults; docs/development.md: “The Slack stand-in”). This module builds the server from one part per
protocol and is what tests, benchmarks and the sandbox hold:
- sandbox.stand_in_web_api: the methods at /api/{method}, with faults, tokens and the spec;
- sandbox.stand_in_response_urls: response_url posts, and the answers to slash commands;
- sandbox.stand_in_uploads: files.getUploadURLExternal, the upload URL, files.completeUploadExternal;
- sandbox.stand_in_socket_mode: apps.connections.open and the websocket events go down;
- sandbox.stand_in_calls: the log of calls they all write to, and what else they share.

It is as untidy as Slack where Slack is untidy, by default:
- an upload is shared in its channel a moment after files.completeUploadExternal answers, and
  that answer has no `shares` yet (Slack shares asynchronously, after its security scans:
  slackapi/bolt-js#2115); the share shows in conversations.history and files.info once made;
- paginated methods answer short pages ("Fewer than the requested number of items may be
  returned, even if the end of the list hasn't been reached": the `limit` argument in Slack's
  OpenAPI spec) with `has_more` and a cursor;
- a refusal for going too fast comes as 429 `ratelimited` or 200 `rate_limited` (sandbox.faults);
- every success carries the fields Slack's spec marks required (sandbox.spec).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.faults import Faults, Refusal
from sandbox.stand_in_calls import ApiCall, ApiError, CallLog
from sandbox.stand_in_response_urls import ResponseTarget, ResponseUrls
from sandbox.stand_in_socket_mode import SocketConnection, SocketMode
from sandbox.stand_in_uploads import DEFAULT_SHARE_DELAY, FileUploads
from sandbox.stand_in_web_api import DEFAULT_PAGE_CAP, Trigger, WebApi
from sandbox.workspace import Message, Workspace

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "DEFAULT_PAGE_CAP",
    "DEFAULT_SHARE_DELAY",
    "DEFAULT_SIGNING_SECRET",
    "ApiCall",
    "ApiError",
    "ResponseTarget",
    "SlackStandIn",
]

DEFAULT_BOT_TOKEN = "xoxb-sandbox-bot-token"
DEFAULT_APP_TOKEN = "xapp-sandbox-app-token"
DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"

# The methods whose parameters carry something people read.
_CONTENT_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
        "files.completeUploadExternal",
        "response_url",
    }
)


class SlackStandIn:
    """The pretend Slack. `await start()`, then point SLACK_API_URL at `api_url`."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        seed: int = 0,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        clock: Callable[[], float] = time.time,
        page_cap: int | None = DEFAULT_PAGE_CAP,
        share_delay: float = DEFAULT_SHARE_DELAY,
        refusal: Refusal = "either",
    ) -> None:
        self.workspace = workspace or Workspace(clock=clock)
        self.faults = Faults(seed, refusal=refusal)
        self.signing_secret = signing_secret
        self.clock = clock
        self.log = CallLog(clock)
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

        def base_url() -> str:
            return self.base_url

        self.response_urls = ResponseUrls(self.workspace, self.log, clock=clock, base_url=base_url)
        self.uploads = FileUploads(self.workspace, base_url=base_url, share_delay=share_delay)
        self.socket_mode = SocketMode(base_url=base_url)
        self.web_api = WebApi(
            self.workspace,
            self.faults,
            self.log,
            bot_token=bot_token,
            app_token=app_token,
            clock=clock,
            page_cap=page_cap,
            more_methods={**self.uploads.methods, **self.socket_mode.methods},
        )

    # -- life cycle ---------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.add_routes(self.web_api.routes())
        app.add_routes(self.response_urls.routes())
        app.add_routes(self.uploads.routes())
        app.add_routes(self.socket_mode.routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        for address in self._runner.addresses:
            self.port = int(address[1])
            break

    async def stop(self) -> None:
        self.uploads.share_pending()
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # -- what the tests read ------------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        return self.log.calls

    @property
    def arrived(self) -> list[str]:
        return self.log.arrived

    @property
    def rejected(self) -> list[ApiCall]:
        return self.log.rejected

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def sent_mark(self) -> tuple[int, int]:
        """Where `sent_payloads(since=…)` is to start, to see only what is sent from now on."""
        return len(self.calls), len(self.replies)

    def sent_payloads(self, *, since: tuple[int, int] = (0, 0)) -> list[tuple[str, dict[str, Any]]]:
        """Everything the app gave Slack to show, each as (where, payload): the calls that carry
        messages, views and file comments (refused ones too), the answers to commands, and every
        view held (also those a view_submission answer pushed or updated). For
        sandbox.markup_check.live_markup."""
        calls, replies = since
        sent = [
            (f"{c.method} #{i}", c.params)
            for i, c in enumerate(self.calls[calls:], start=calls)
            if c.method in _CONTENT_METHODS
        ]
        sent += [(f"reply #{i}", body) for i, body in enumerate(self.replies[replies:], start=replies)]
        sent += [(f"view {v.id}", v.payload) for v in self.workspace.views.values()]
        return sent

    # -- the Web API --------------------------------------------------------------------------------

    @property
    def bot_token(self) -> str:
        return self.web_api.bot_token

    @bot_token.setter
    def bot_token(self, token: str) -> None:
        self.web_api.bot_token = token

    @property
    def app_token(self) -> str:
        return self.web_api.app_token

    @app_token.setter
    def app_token(self, token: str) -> None:
        self.web_api.app_token = token

    @property
    def page_cap(self) -> int | None:
        """Items on a page at most, whatever `limit` asked for; None: as many as `limit` asks."""
        return self.web_api.page_cap

    @page_cap.setter
    def page_cap(self, cap: int | None) -> None:
        self.web_api.page_cap = cap

    @property
    def in_flight(self) -> int:
        return self.web_api.in_flight

    @property
    def triggers(self) -> dict[str, Trigger]:
        return self.web_api.triggers

    def new_trigger(self, user: str) -> str:
        """A trigger_id for an interaction of `user`'s, as views.open and views.push take one."""
        return self.web_api.new_trigger(user)

    # -- response_urls and the answers to commands --------------------------------------------------

    @property
    def replies(self) -> list[dict[str, Any]]:
        return self.response_urls.replies

    @property
    def response_targets(self) -> dict[str, ResponseTarget]:
        return self.response_urls.response_targets

    def new_response_url(self, channel: str, user: str, original: Message | None = None) -> str:
        return self.response_urls.new_response_url(channel, user, original)

    def show_reply(
        self, channel: str, user: str, body: dict[str, Any], *, command: str | None = None
    ) -> Message | None:
        return self.response_urls.show_reply(channel, user, body, command=command)

    # -- file uploads, shared a moment after they complete ------------------------------------------

    @property
    def share_delay(self) -> float:
        """Seconds from files.completeUploadExternal's answer to the share in the channel."""
        return self.uploads.share_delay

    @share_delay.setter
    def share_delay(self, seconds: float) -> None:
        self.uploads.share_delay = seconds

    @property
    def pending_shares(self) -> int:
        return self.uploads.pending_shares

    def hold_shares(self) -> None:
        self.uploads.hold_shares()

    def release_shares(self) -> None:
        self.uploads.release_shares()

    def share_pending(self) -> None:
        self.uploads.share_pending()

    # -- Socket Mode --------------------------------------------------------------------------------

    @property
    def socket(self) -> SocketConnection | None:
        return self.socket_mode.socket

    async def wait_for_socket(self, timeout: float = 10.0) -> None:
        await self.socket_mode.wait_for_socket(timeout)

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, timeout: float = 10.0
    ) -> dict[str, Any]:
        return await self.socket_mode.send_envelope(kind, payload, retry_attempt=retry_attempt, timeout=timeout)
