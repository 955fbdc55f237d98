"""A local stand-in for Slack's Web API, response URLs, file uploads and Socket Mode.

A real aiohttp server on 127.0.0.1. It implements the methods Rollout Pulse calls, keeps the
workspace's state, checks Block Kit limits, and can be told to rate-limit or fail (README: “Development”).
Parameters arrive the way slack-sdk sends them: JSON bodies, forms, or the query string of a
POST with an empty body; some methods as GET.

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

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox import blockkit, spec
from sandbox.faults import Faults, Refusal
from sandbox.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Channel,
    File,
    Message,
    View,
    Workspace,
)

log = logging.getLogger(__name__)

DEFAULT_BOT_TOKEN = "xoxb-sandbox-bot-token"
DEFAULT_APP_TOKEN = "xapp-sandbox-app-token"
DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"
TRIGGER_LIFETIME_SECONDS = 3.0
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60
MODAL_STACK_LIMIT = 3
# Items on a page at most, whatever `limit` asked for, so that every caller meets pagination.
DEFAULT_PAGE_CAP = 3
# Seconds from files.completeUploadExternal's answer to the share in the channel: small, so
# tests stay quick; a test that needs Slack's few seconds sets `share_delay` itself.
DEFAULT_SHARE_DELAY = 0.1


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class ApiCall:
    """One call the app made, as the stand-in saw it."""

    method: str
    params: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    at: float
    http_verb: str


@dataclass
class ResponseTarget:
    """Where a response_url posts: the channel and person of the request it came with."""

    channel: str
    user: str
    original: Message | None
    created: float
    uses: int = 0


@dataclass
class _Trigger:
    user: str
    created: float
    used: bool = False


@dataclass
class _PendingShare:
    """An upload completed but not yet shared in its channel (the message is posted when shared)."""

    message: Message
    files: list[File]
    visibility: str
    due: bool = False


@dataclass
class _SocketConnection:
    ws: web.WebSocketResponse
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

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


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes"))


def _json_param(value: Any, name: str) -> Any:
    """Blocks, views and metadata may arrive as JSON text (forms, query strings) or as JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {name}: not JSON"]}) from None
    return value


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
        # None: pages as full as `limit` asks (Slack's tidy case).
        self.page_cap = page_cap
        self.share_delay = share_delay
        self._shares: list[_PendingShare] = []
        self._shares_held = False
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.clock = clock
        self.calls: list[ApiCall] = []
        # Method names in the order calls arrived (a call is in `calls` only once answered).
        self.arrived: list[str] = []
        self._in_flight = 0
        # Calls refused for breaking Block Kit limits: tests assert this stays empty.
        self.rejected: list[ApiCall] = []
        # What the app answered to commands (and sent to response_urls), as it sent it.
        self.replies: list[dict[str, Any]] = []
        self.response_targets: dict[str, ResponseTarget] = {}
        self.triggers: dict[str, _Trigger] = {}
        self.socket: _SocketConnection | None = None
        self._socket_connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self._methods: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "conversations.open": self.conversations_open,
            "conversations.members": self.conversations_members,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "users.lookupByEmail": self.users_lookup_by_email,
            "usergroups.users.list": self.usergroups_users_list,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
            "files.info": self.files_info,
            "apps.connections.open": self.apps_connections_open,
        }

    # -- life cycle ---------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}", self._download)
        app.router.add_get("/socket-mode", self._socket_mode)
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
        self.share_pending()
        if self.socket is not None:
            await self.socket.ws.close()
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

    # -- interactions (used by SlackToBot) -----------------------------------------------------------

    def new_trigger(self, user: str) -> str:
        trigger_id = f"{int(self.clock())}.{secrets.randbelow(10**12)}.{secrets.token_hex(8)}"
        self.triggers[trigger_id] = _Trigger(user=user, created=self.clock())
        return trigger_id

    def new_response_url(self, channel: str, user: str, original: Message | None = None) -> str:
        token = secrets.token_urlsafe(12)
        self.response_targets[token] = ResponseTarget(channel, user, original, self.clock())
        return f"{self.base_url}/response/{token}"

    def show_reply(
        self, channel: str, user: str, body: dict[str, Any], *, command: str | None = None
    ) -> Message | None:
        """Show what an app answered to a command or sent to a response_url, as Slack would."""
        self.replies.append(body)
        text = body.get("text")
        blocks = body.get("blocks")
        if not text and not blocks:
            return None
        problems = blockkit.check_message(text, blocks)
        if problems:
            self._reject("reply", body, "invalid_blocks")
            return None
        ws = self.workspace
        if channel not in ws.channels:
            channel = ws.im_with(user).id
        in_channel = body.get("response_type") == "in_channel"
        return ws.post(
            Message(
                channel=channel,
                ts=ws.new_ts(),
                text=str(text or ""),
                blocks=list(blocks or []),
                bot_id=BOT_ID,
                user=BOT_USER_ID,
                ephemeral_to=None if in_channel else user,
                via_command=command,
            )
        )

    # -- HTTP plumbing ------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                data = await request.json()
                if isinstance(data, dict):
                    params.update(data)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    def _token(self, request: web.Request, params: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :]
        token = params.pop("token", None)
        return str(token) if token else None

    def _record(self, method: str, params: dict[str, Any], status: int, body: dict[str, Any], verb: str) -> ApiCall:
        call = ApiCall(
            method=method,
            params=params,
            status=status,
            ok=bool(body.get("ok")),
            error=body.get("error") if isinstance(body.get("error"), str) else None,
            at=self.clock(),
            http_verb=verb,
        )
        self.calls.append(call)
        if call.error in ("invalid_blocks", "invalid_arguments"):
            self.rejected.append(call)
        return call

    def _reject(self, method: str, params: dict[str, Any], error: str) -> None:
        call = ApiCall(method, params, 200, False, error, self.clock(), "POST")
        self.calls.append(call)
        self.rejected.append(call)

    @property
    def in_flight(self) -> int:
        """Web API calls that have arrived and are not answered yet (delayed, held, in progress)."""
        return self._in_flight

    @property
    def pending_shares(self) -> int:
        """Uploads completed and not shared in their channel yet."""
        return len(self._shares)

    # -- uploads shared a moment after they complete ------------------------------------------------

    def hold_shares(self) -> None:
        """Keep completed uploads from being shared until `release_shares()` (and their delay)."""
        self._shares_held = True

    def release_shares(self) -> None:
        self._shares_held = False
        for pending in [p for p in self._shares if p.due]:
            self._share(pending)

    def share_pending(self) -> None:
        """Share every completed upload now, delay or hold notwithstanding."""
        for pending in list(self._shares):
            self._share(pending)

    def _share_due(self, pending: _PendingShare) -> None:
        pending.due = True
        if not self._shares_held:
            self._share(pending)

    def _share(self, pending: _PendingShare) -> None:
        if pending not in self._shares:
            return
        self._shares.remove(pending)
        ws = self.workspace
        message = pending.message
        message.ts = ws.new_ts()  # posted when shared, as Slack does
        for file in pending.files:
            file.shared_in.append(message.channel)
            file.share_ts[message.channel] = message.ts
        ws.post(message)

    async def _api(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        try:
            return await self._api_call(request)
        finally:
            self._in_flight -= 1

    async def _api_call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.arrived.append(method)
        try:
            params = await self._params(request)
        except ValueError:
            body: dict[str, Any] = {"ok": False, "error": "invalid_json"}
            self._record(method, {}, 200, body, request.method)
            return web.json_response(body)
        token = self._token(request, params)
        handler = self._methods.get(method)
        if handler is None:
            body = {"ok": False, "error": "unknown_method"}
            self._record(method, params, 404, body, request.method)
            return web.json_response(body, status=404)
        delay = self.faults.delay_for(method)
        if delay:
            await asyncio.sleep(delay)
        if await self.faults.wait_if_held(method):
            body = {"ok": False, "error": "service_unavailable"}
            self._record(method, params, 503, body, request.method)
            return web.json_response(body, status=503)
        outcome = self.faults.check(method, str(params.get("channel") or ""))
        if outcome is not None:
            self._record(method, params, outcome.status, outcome.body, request.method)
            return web.json_response(outcome.body, status=outcome.status, headers=outcome.headers)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            body = {"ok": False, "error": "not_authed"}
        elif token != expected:
            body = {"ok": False, "error": "invalid_auth"}
        else:
            try:
                body = {"ok": True, **(await handler(params))}
                spec.check_required(method, body)
            except ApiError as exc:
                body = {"ok": False, "error": exc.error, **exc.extra}
            await self.faults.wait_if_answer_held(method)
            if self.faults.after_success(method):
                lost = {"ok": False, "error": "service_unavailable"}
                self._record(method, params, 503, lost, request.method)
                return web.json_response(lost, status=503)
        self._record(method, params, 200, body, request.method)
        return web.json_response(body)

    # -- helpers ------------------------------------------------------------------------------------

    def _user(self, user_id: Any) -> Any:
        user = self.workspace.users.get(str(user_id or ""))
        if user is None:
            raise ApiError("user_not_found")
        return user

    def _channel(self, channel_id: Any, *, need_member: bool = False) -> Channel:
        ws = self.workspace
        key = str(channel_id or "")
        channel = ws.channels.get(key) or (ws.channel_by_name(key) if key.startswith("#") else None)
        if channel is None:
            raise ApiError("channel_not_found")
        visible = not channel.is_private or BOT_USER_ID in channel.members
        if not visible:
            raise ApiError("channel_not_found")
        if need_member and BOT_USER_ID not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    def _post_target(self, channel_param: Any) -> Channel:
        """chat.postMessage accepts a user ID (the app's DM with that person) or a channel."""
        key = str(channel_param or "")
        if key[:1] in ("U", "W") and key not in self.workspace.channels:
            user = self.workspace.users.get(key)
            if user is None:
                raise ApiError("channel_not_found")
            if user.is_bot:
                raise ApiError("cannot_dm_bot")
            if user.deleted:
                raise ApiError("user_disabled")
            return self.workspace.im_with(user.id)
        channel = self._channel(key, need_member=True)
        if channel.is_im and channel.user:
            user = self.workspace.users.get(channel.user)
            if user is not None and user.deleted:
                raise ApiError("user_disabled")
        return channel

    @staticmethod
    def _content(params: dict[str, Any], *, required: bool = True) -> tuple[str | None, list[dict[str, Any]] | None]:
        text = params.get("text")
        blocks = _json_param(params.get("blocks"), "blocks") if params.get("blocks") not in (None, "") else None
        if required and not text and not blocks:
            raise ApiError("no_text")
        if isinstance(text, str) and len(text) > blockkit.MESSAGE_TEXT:
            raise ApiError("msg_too_long")
        problems = blockkit.check_message(text, blocks)
        if problems:
            raise ApiError("invalid_blocks", errors=problems, response_metadata={"messages": problems})
        return (str(text) if text is not None else None), blocks

    def _page(self, items: list[Any], params: dict[str, Any], *, default: int = 100) -> tuple[list[Any], str]:
        """One page of `items` from the cursor: at most `limit`, and fewer (page_cap) even when
        more follow, as Slack may answer."""
        try:
            limit = max(1, min(1000, int(params.get("limit") or default)))
        except (TypeError, ValueError):
            raise ApiError("invalid_limit") from None
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        cursor = str(params.get("cursor") or "")
        start = 0
        if cursor:
            try:
                start = int(base64.b64decode(cursor).decode().removeprefix("offset:"))
            except ValueError:
                raise ApiError("invalid_cursor") from None
        page = items[start : start + limit]
        following = start + limit
        next_cursor = base64.b64encode(f"offset:{following}".encode()).decode() if following < len(items) else ""
        return page, next_cursor

    def _take_trigger(self, trigger_id: Any) -> _Trigger:
        trigger = self.triggers.get(str(trigger_id or ""))
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used or self.clock() - trigger.created > TRIGGER_LIFETIME_SECONDS:
            raise ApiError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _view_payload(self, params: dict[str, Any]) -> dict[str, Any]:
        view = _json_param(params.get("view"), "view")
        problems = blockkit.check_view(view)
        if problems:
            raise ApiError("invalid_arguments", response_metadata={"messages": problems})
        assert isinstance(view, dict)
        return view

    def _new_view(
        self, user: str, payload: dict[str, Any], previous: str | None = None, root: str | None = None
    ) -> View:
        view_id = self.workspace.new_id("V")
        view = View(
            id=view_id,
            type=str(payload.get("type")),
            user=user,
            payload=payload,
            hash=self._hash(),
            root_view_id=root or view_id,
            previous_view_id=previous,
        )
        self.workspace.views[view_id] = view
        return view

    @staticmethod
    def _hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    # -- methods ------------------------------------------------------------------------------------

    async def auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Pulse Sandbox",
            "user": "rollout-pulse",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "is_enterprise_install": False,
        }

    async def chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._post_target(params.get("channel"))
        text, blocks = self._content(params)
        metadata = _json_param(params.get("metadata"), "metadata") if params.get("metadata") else None
        ws = self.workspace
        message = ws.post(
            Message(
                channel=channel.id,
                ts=ws.new_ts(),
                text=text or "",
                blocks=blocks or [],
                user=BOT_USER_ID,
                bot_id=BOT_ID,
                thread_ts=params.get("thread_ts") or None,
                metadata=metadata if isinstance(metadata, dict) else None,
            )
        )
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}

    async def chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params.get("user"))
        channel = self._post_target(params.get("channel"))
        if not channel.is_im and user.id not in channel.members:
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        ws = self.workspace
        message = ws.post(
            Message(
                channel=channel.id,
                ts=ws.new_ts(),
                text=text or "",
                blocks=blocks or [],
                user=BOT_USER_ID,
                bot_id=BOT_ID,
                ephemeral_to=user.id,
            )
        )
        return {"message_ts": message.ts}

    def _own_message(self, params: dict[str, Any], refusal: str) -> Message:
        channel = self._channel(params.get("channel"))
        message = self.workspace.find_message(channel.id, str(params.get("ts") or ""))
        if message is None or message.ephemeral_to is not None:
            raise ApiError("message_not_found")
        if message.bot_id != BOT_ID:
            raise ApiError(refusal)
        return message

    async def chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._own_message(params, "cant_update_message")
        text, blocks = self._content(params, required=False)
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = blocks
        message.edited = True
        self.workspace.notify("message_changed", {"channel": message.channel, "ts": message.ts})
        return {
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_api(),
        }

    async def chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._own_message(params, "cant_delete_message")
        self.workspace.remove_message(message)
        return {"channel": message.channel, "ts": message.ts}

    async def conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel = self._channel(params["channel"])
            return {"channel": {"id": channel.id}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            raise ApiError("not_supported")
        user = self._user(users[0])
        if user.deleted:
            raise ApiError("user_disabled")
        channel = self.workspace.im_with(user.id)
        return {"channel": {"id": channel.id} if not _bool(params.get("return_im")) else channel.to_api()}

    async def conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        page, next_cursor = self._page(list(channel.members), params)
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    async def conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        data = self._channel(params.get("channel")).to_api()
        if not _bool(params.get("include_num_members")):
            # As Slack: the member count only when asked for (include_num_members defaults to false).
            data.pop("num_members", None)
        return {"channel": data}

    async def conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"), need_member=True)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        messages = [
            m for m in self.workspace.history(channel.id) if m.ephemeral_to is None and oldest <= float(m.ts) <= latest
        ]
        messages.reverse()  # newest first, as Slack returns them
        page, next_cursor = self._page(messages, params)
        include_metadata = _bool(params.get("include_all_metadata"))
        rendered = []
        for message in page:
            data = message.to_api()
            if message.files:
                data["files"] = [self.workspace.files[f].to_api() for f in message.files if f in self.workspace.files]
            if not include_metadata:
                data.pop("metadata", None)
            rendered.append(data)
        return {
            "messages": rendered,
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    async def users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(params.get("user")).to_api()}

    async def users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        users = [u.to_api() for u in self.workspace.users.values()]
        page, next_cursor = self._page(users, params, default=200)
        return {"members": page, "cache_ts": int(self.clock()), "response_metadata": {"next_cursor": next_cursor}}

    async def users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email") or "").strip().lower()
        for user in self.workspace.users.values():
            if user.email and user.email.lower() == email:
                return {"user": user.to_api()}
        raise ApiError("users_not_found")

    async def usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self.workspace.usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group.users)}

    async def views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger = self._take_trigger(params.get("trigger_id"))
        payload = self._view_payload(params)
        if payload.get("type") != "modal":
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be modal"]})
        view = self._new_view(trigger.user, payload)
        self.workspace.modal_stacks[trigger.user] = [view.id]
        self.workspace.notify("view_opened", {"user": trigger.user, "view": view.id})
        return {"view": view.to_api()}

    async def views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger = self._take_trigger(params.get("trigger_id"))
        payload = self._view_payload(params)
        stack = self.workspace.modal_stacks.get(trigger.user) or []
        if not stack:
            raise ApiError("not_found")
        if len(stack) >= MODAL_STACK_LIMIT:
            raise ApiError("push_limit_reached")
        view = self._new_view(trigger.user, payload, previous=stack[-1], root=stack[0])
        stack.append(view.id)
        self.workspace.notify("view_opened", {"user": trigger.user, "view": view.id})
        return {"view": view.to_api()}

    async def views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        ws = self.workspace
        view: View | None = None
        if params.get("view_id"):
            view = ws.views.get(str(params["view_id"]))
        elif params.get("external_id"):
            view = next((v for v in ws.views.values() if v.payload.get("external_id") == params["external_id"]), None)
        if view is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != view.hash:
            raise ApiError("hash_conflict")
        payload = self._view_payload(params)
        view.payload = payload
        view.hash = self._hash()
        view.errors = {}
        ws.notify("view_updated", {"user": view.user, "view": view.id})
        return {"view": view.to_api()}

    async def views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params.get("user_id"))
        payload = self._view_payload(params)
        if payload.get("type") != "home":
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] must be home"]})
        ws = self.workspace
        current = ws.home_of(user.id)
        if current is not None:
            if params.get("hash") and params["hash"] != current.hash:
                raise ApiError("hash_conflict")
            current.payload = payload
            current.hash = self._hash()
            view = current
        else:
            view = self._new_view(user.id, payload)
            ws.home_views[user.id] = view.id
        ws.notify("home_published", {"user": user.id, "view": view.id})
        return {"view": view.to_api()}

    async def files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not filename:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] filename is required"]})
        if length <= 0:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] length must be > 0"]})
        file = File(id=self.workspace.new_id("F"), name=filename, length=length)
        self.workspace.files[file.id] = file
        return {"upload_url": f"{self.base_url}/upload/{file.id}", "file_id": file.id}

    async def files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _json_param(params.get("files"), "files")
        if not isinstance(entries, list) or not entries:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] files is required"]})
        ws = self.workspace
        files: list[File] = []
        for entry in entries:
            file = ws.files.get(str(entry.get("id") if isinstance(entry, dict) else ""))
            if file is None:
                raise ApiError("file_not_found")
            if not file.uploaded:
                raise ApiError("upload_incomplete")
            if isinstance(entry, dict) and entry.get("title"):
                file.title = str(entry["title"])
            files.append(file)
        for file in files:
            file.completed = True
        channel_id = params.get("channel_id") or params.get("channels")
        if channel_id:
            channel = self._channel(channel_id, need_member=True)
            comment = str(params.get("initial_comment") or "")
            blocks = _json_param(params.get("blocks"), "blocks") if params.get("blocks") else None
            if blocks is not None:
                problems = blockkit.check_message(comment, blocks)
                if problems:
                    raise ApiError("invalid_blocks", errors=problems, response_metadata={"messages": problems})
            message = Message(
                channel=channel.id,
                ts="",
                text=comment,
                blocks=blocks or [],
                user=BOT_USER_ID,
                bot_id=BOT_ID,
                thread_ts=params.get("thread_ts") or None,
                files=[f.id for f in files],
            )
            visibility = "private" if channel.is_private or channel.is_im else "public"
            pending = _PendingShare(message, files, visibility)
            self._shares.append(pending)
            asyncio.get_running_loop().call_later(self.share_delay, self._share_due, pending)
        # As Slack answers before the share is made: no shares, no channels yet.
        return {"files": [{**f.to_api(), "shares": {}, "channels": []} for f in files]}

    async def files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self.workspace.files.get(str(params.get("file") or ""))
        if file is None or not (file.completed or file.shared_in):
            raise ApiError("file_not_found")  # an upload never completed is no file
        data = file.to_api()
        shares: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for channel_id, ts in file.share_ts.items():
            channel = self.workspace.channels.get(channel_id)
            visibility = "private" if channel is None or channel.is_private or channel.is_im else "public"
            shares.setdefault(visibility, {})[channel_id] = [{"ts": ts, "team_id": TEAM_ID}]
        data["shares"] = shares
        return {"file": data, "comments": [], "response_metadata": {"next_cursor": ""}}

    async def apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://{self.host}:{self.port}/socket-mode?ticket={uuid.uuid4()}"}

    # -- non-API endpoints --------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        file = self.workspace.files.get(request.match_info["file_id"])
        if file is None:
            return web.Response(status=404, text="file not found")
        content = await request.read()
        file.content = content
        file.uploaded = True
        return web.Response(text=f"OK - {len(content)}")

    async def _download(self, request: web.Request) -> web.Response:
        file = self.workspace.files.get(request.match_info["file_id"])
        if file is None or not file.uploaded:
            return web.Response(status=404, text="file not found")
        return web.Response(body=file.content, content_type=file.mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        target = self.response_targets.get(request.match_info["token"])
        if target is None:
            return web.json_response({"ok": False, "error": "invalid_url"}, status=404)
        if self.clock() - target.created > RESPONSE_URL_LIFETIME_SECONDS:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        if target.uses >= RESPONSE_URL_USES:
            return web.json_response({"ok": False, "error": "used_url"}, status=404)
        target.uses += 1
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        params = {"response_url": True, **body}
        ws = self.workspace
        original = target.original
        if _bool(body.get("delete_original")):
            if original is not None and original in ws.messages.get(original.channel, []):
                ws.remove_message(original)
            self._record("response_url", params, 200, {"ok": True}, "POST")
            return web.json_response({"ok": True})
        problems = blockkit.check_message(body.get("text"), body.get("blocks"))
        if problems:
            self._record("response_url", params, 400, {"ok": False, "error": "invalid_blocks"}, "POST")
            return web.json_response({"ok": False, "error": "invalid_blocks", "errors": problems}, status=400)
        if _bool(body.get("replace_original")) and original is not None:
            if body.get("text") is not None:
                original.text = str(body["text"])
            original.blocks = list(body.get("blocks") or [])
            original.edited = True
            ws.notify("message_changed", {"channel": original.channel, "ts": original.ts})
        else:
            self.show_reply(target.channel, target.user, body)
        self._record("response_url", params, 200, {"ok": True}, "POST")
        return web.json_response({"ok": True})

    # -- Socket Mode --------------------------------------------------------------------------------

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        connection = _SocketConnection(ws)
        self.socket = connection
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": APP_ID},
                "debug_info": {"host": "sandbox", "approximate_connection_time": 3600},
            }
        )
        self._socket_connected.set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(msg.data)
                    envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                    future = connection.pending.pop(str(envelope_id), None)
                    if future is not None and not future.done():
                        future.set_result(data.get("payload") or {})
        finally:
            for future in connection.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("socket closed"))
            if self.socket is connection:
                self.socket = None
                self._socket_connected.clear()
        return ws

    async def wait_for_socket(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._socket_connected.wait(), timeout)

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Deliver one envelope over Socket Mode and wait for the app's acknowledgement."""
        if self.socket is None:
            raise ConnectionError("no Socket Mode connection")
        envelope_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.socket.pending[envelope_id] = future
        await self.socket.ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(future, timeout)
