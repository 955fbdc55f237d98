"""The Web API methods Rollout Pulse calls, at /api/{method}, answered as Slack answers them.

Every call goes the same way: its parameters are read the way slack-sdk sends them (JSON bodies,
forms, or the query string of a POST with an empty body; some methods as GET); then come what
the test asked of sandbox.faults (a delay, a hold, a refusal), the token (the bot token, or the
app-level one for apps.connections.open), the method, the fields Slack's spec marks required in
a success (sandbox.spec), and a success the faults may lose on its way back. Messages and views
are held to Block Kit's limits (sandbox.blockkit). The upload and Socket Mode methods live with
their protocols (sandbox.stand_in_uploads, sandbox.stand_in_socket_mode) and are dispatched here.

Paginated methods answer short pages, as Slack may ("Fewer than the requested number of items
may be returned, even if the end of the list hasn't been reached": the `limit` argument in
Slack's OpenAPI spec), with `has_more` and a cursor: at most `page_cap` items whatever `limit`
asked for, so that every caller meets pagination.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox import blockkit, spec
from sandbox.faults import Faults
from sandbox.stand_in_calls import ApiError, CallLog, Handler, flag, json_param
from sandbox.workspace import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Channel, Message, View, Workspace

TRIGGER_LIFETIME_SECONDS = 3.0
MODAL_STACK_LIMIT = 3
# Items on a page at most, whatever `limit` asked for, so that every caller meets pagination.
DEFAULT_PAGE_CAP = 3


@dataclass
class Trigger:
    user: str
    created: float
    used: bool = False


def visible_channel(ws: Workspace, channel_id: Any, *, need_member: bool = False) -> Channel:
    """A channel as the app sees it: a private one only from inside, a post only as a member."""
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


class WebApi:
    """The methods at /api/{method}, and the trigger_ids that views.open and views.push take."""

    def __init__(
        self,
        workspace: Workspace,
        faults: Faults,
        log: CallLog,
        *,
        bot_token: str,
        app_token: str,
        clock: Callable[[], float],
        page_cap: int | None,
        more_methods: Mapping[str, Handler],
    ) -> None:
        self.workspace = workspace
        self.faults = faults
        self.log = log
        self.bot_token = bot_token
        self.app_token = app_token
        self.clock = clock
        # None: pages as full as `limit` asks (Slack's tidy case).
        self.page_cap = page_cap
        self.triggers: dict[str, Trigger] = {}
        self._in_flight = 0
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
            "files.info": self.files_info,
            **more_methods,
        }

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/api/{method}", self._api)]

    @property
    def in_flight(self) -> int:
        """Web API calls that have arrived and are not answered yet (delayed, held, in progress)."""
        return self._in_flight

    def new_trigger(self, user: str) -> str:
        trigger_id = f"{int(self.clock())}.{secrets.randbelow(10**12)}.{secrets.token_hex(8)}"
        self.triggers[trigger_id] = Trigger(user=user, created=self.clock())
        return trigger_id

    # -- one call -----------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        try:
            return await self._api_call(request)
        finally:
            self._in_flight -= 1

    async def _api_call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.log.arrived.append(method)
        try:
            params = await self._params(request)
        except ValueError:
            body: dict[str, Any] = {"ok": False, "error": "invalid_json"}
            self.log.record(method, {}, 200, body, request.method)
            return web.json_response(body)
        token = self._token(request, params)
        handler = self._methods.get(method)
        if handler is None:
            body = {"ok": False, "error": "unknown_method"}
            self.log.record(method, params, 404, body, request.method)
            return web.json_response(body, status=404)
        delay = self.faults.delay_for(method)
        if delay:
            await asyncio.sleep(delay)
        if await self.faults.wait_if_held(method):
            body = {"ok": False, "error": "service_unavailable"}
            self.log.record(method, params, 503, body, request.method)
            return web.json_response(body, status=503)
        outcome = self.faults.check(method, str(params.get("channel") or ""))
        if outcome is not None:
            self.log.record(method, params, outcome.status, outcome.body, request.method)
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
                self.log.record(method, params, 503, lost, request.method)
                return web.json_response(lost, status=503)
        self.log.record(method, params, 200, body, request.method)
        return web.json_response(body)

    # -- reading a call -----------------------------------------------------------------------------

    def _token(self, request: web.Request, params: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :]
        token = params.pop("token", None)
        return str(token) if token else None

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

    # -- helpers ------------------------------------------------------------------------------------

    def _user(self, user_id: Any) -> Any:
        user = self.workspace.users.get(str(user_id or ""))
        if user is None:
            raise ApiError("user_not_found")
        return user

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
        channel = visible_channel(self.workspace, key, need_member=True)
        if channel.is_im and channel.user:
            user = self.workspace.users.get(channel.user)
            if user is not None and user.deleted:
                raise ApiError("user_disabled")
        return channel

    @staticmethod
    def _content(params: dict[str, Any], *, required: bool = True) -> tuple[str | None, list[dict[str, Any]] | None]:
        text = params.get("text")
        blocks = json_param(params.get("blocks"), "blocks") if params.get("blocks") not in (None, "") else None
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

    def _take_trigger(self, trigger_id: Any) -> Trigger:
        trigger = self.triggers.get(str(trigger_id or ""))
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used or self.clock() - trigger.created > TRIGGER_LIFETIME_SECONDS:
            raise ApiError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _view_payload(self, params: dict[str, Any]) -> dict[str, Any]:
        view = json_param(params.get("view"), "view")
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
        metadata = json_param(params.get("metadata"), "metadata") if params.get("metadata") else None
        message = self._post(
            channel,
            text,
            blocks,
            thread_ts=params.get("thread_ts") or None,
            metadata=metadata if isinstance(metadata, dict) else None,
        )
        return {"channel": channel.id, "ts": message.ts, "message": message.to_api()}

    async def chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params.get("user"))
        channel = self._post_target(params.get("channel"))
        if not channel.is_im and user.id not in channel.members:
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        message = self._post(channel, text, blocks, ephemeral_to=user.id)
        return {"message_ts": message.ts}

    def _post(
        self,
        channel: Channel,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
        ephemeral_to: str | None = None,
    ) -> Message:
        """Post a message of the app's in `channel` now (chat.postMessage, chat.postEphemeral)."""
        ws = self.workspace
        return ws.post(
            Message(
                channel=channel.id,
                ts=ws.new_ts(),
                text=text or "",
                blocks=blocks or [],
                user=BOT_USER_ID,
                bot_id=BOT_ID,
                thread_ts=thread_ts,
                metadata=metadata,
                ephemeral_to=ephemeral_to,
            )
        )

    def _own_message(self, params: dict[str, Any], refusal: str) -> Message:
        channel = visible_channel(self.workspace, params.get("channel"))
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
            channel = visible_channel(self.workspace, params["channel"])
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
        return {"channel": {"id": channel.id} if not flag(params.get("return_im")) else channel.to_api()}

    async def conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = visible_channel(self.workspace, params.get("channel"))
        page, next_cursor = self._page(list(channel.members), params)
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    async def conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        data = visible_channel(self.workspace, params.get("channel")).to_api()
        if not flag(params.get("include_num_members")):
            # As Slack: the member count only when asked for (include_num_members defaults to false).
            data.pop("num_members", None)
        return {"channel": data}

    async def conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = visible_channel(self.workspace, params.get("channel"), need_member=True)
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        messages = [
            m for m in self.workspace.history(channel.id) if m.ephemeral_to is None and oldest <= float(m.ts) <= latest
        ]
        messages.reverse()  # newest first, as Slack returns them
        page, next_cursor = self._page(messages, params)
        include_metadata = flag(params.get("include_all_metadata"))
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
        return {"user": self._user(params.get("user")).to_api(include_locale=flag(params.get("include_locale")))}

    async def users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        with_locale = flag(params.get("include_locale"))
        users = [u.to_api(include_locale=with_locale) for u in self.workspace.users.values()]
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
        hidden = self._files_hidden_from(payload.get("blocks") or [], user.id)
        if hidden:
            raise ApiError("invalid_arguments", response_metadata={"messages": hidden})
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

    def _files_hidden_from(self, blocks: list[Any], viewer: str) -> list[str]:
        """Image blocks showing a Slack file the viewer cannot see. As Slack: a file is seen where
        it was shared, by that conversation's members; a file uploaded and shared nowhere only by
        its uploader (here the bot), so an image of it is refused."""
        problems = []
        for i, block in enumerate(blocks):
            if not (isinstance(block, dict) and block.get("type") == "image" and "slack_file" in block):
                continue
            file = self.workspace.files.get(str((block["slack_file"] or {}).get("id") or ""))
            seen = file is not None and any(
                viewer in self.workspace.channels[c].members for c in file.share_ts if c in self.workspace.channels
            )
            if not seen:
                problems.append(f"[ERROR] invalid slack file [json-pointer:/blocks/{i}/slack_file]")
        return problems

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
