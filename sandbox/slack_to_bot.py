"""What Slack sends into the app: signed slash commands, clicks, modal submissions and events.

Payloads are built the way Slack builds them, from the stand-in's state (a click is built from
a button of a message the app posted), and delivered over signed HTTP or over Socket Mode.
What the app answers is shown in the stand-in's workspace as Slack would show it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import urlencode

import aiohttp

from bot.inbound import slack_signature
from sandbox import blockkit
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Message, View, Workspace, render_text

Kind = Literal["command", "interactive", "event"]
VERIFICATION_TOKEN = "sandbox-verification-token"


@dataclass
class BotReply:
    """The app's HTTP answer (or Socket Mode acknowledgement payload)."""

    status: int
    text: str

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.text) if self.text else {}
        return value if isinstance(value, dict) else {}

    @property
    def shown_text(self) -> str:
        """All the text a person would read in the answer: fallback text and block texts."""
        body = self.json if self.text.startswith("{") else {"text": self.text}
        return render_text(body)


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request it sends to an app."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(signing_secret, ts, body)}


class Transport(Protocol):
    async def deliver(self, kind: Kind, payload: dict[str, Any], *, retry_num: int = 0) -> BotReply: ...


class HttpTransport:
    """Signed HTTP POSTs to the app's request URL, encoded as Slack encodes each kind."""

    def __init__(self, url: str, signing_secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env=False: loopback traffic must never go through a proxy.
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @staticmethod
    def encode(kind: Kind, payload: dict[str, Any]) -> tuple[bytes, str]:
        if kind == "command":
            return urlencode({k: str(v) for k, v in payload.items()}).encode(), "application/x-www-form-urlencoded"
        if kind == "interactive":
            return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
        return json.dumps(payload).encode(), "application/json"

    async def post_raw(
        self,
        body: bytes,
        content_type: str = "application/x-www-form-urlencoded",
        *,
        headers: dict[str, str] | None = None,
        signed: bool = True,
        timestamp: int | None = None,
    ) -> BotReply:
        """Send any body, signed or not: for the tests of malformed and forged requests."""
        all_headers = {"Content-Type": content_type}
        if signed:
            all_headers.update(sign(self.signing_secret, body, timestamp))
        all_headers.update(headers or {})
        session = await self.session()
        async with session.post(self.url, data=body, headers=all_headers) as response:
            return BotReply(response.status, await response.text())

    async def deliver(self, kind: Kind, payload: dict[str, Any], *, retry_num: int = 0) -> BotReply:
        body, content_type = self.encode(kind, payload)
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post_raw(body, content_type, headers=headers)


class SocketTransport:
    """Envelopes over the app's Socket Mode connection to the stand-in."""

    _TYPES: ClassVar[dict[str, str]] = {
        "command": "slash_commands",
        "interactive": "interactive",
        "event": "events_api",
    }

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin

    async def deliver(self, kind: Kind, payload: dict[str, Any], *, retry_num: int = 0) -> BotReply:
        answer = await self.standin.send_envelope(self._TYPES[kind], payload, retry_attempt=retry_num)
        return BotReply(200, json.dumps(answer) if answer else "")


class SlackToBot:
    """Acts as Slack towards the app on behalf of the people of the stand-in's workspace."""

    def __init__(self, standin: SlackStandIn, transport: Transport) -> None:
        self.standin = standin
        self.transport = transport

    @property
    def ws(self) -> Workspace:
        return self.standin.workspace

    def _user_object(self, user_id: str) -> dict[str, Any]:
        user = self.ws.users[user_id]
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}

    # -- slash commands -----------------------------------------------------------------------------

    async def command(self, user: str, text: str, *, command: str = "/rollout", channel: str | None = None) -> BotReply:
        """Type `command text` as `user` in `channel` (their DM with the app by default)."""
        ws = self.ws
        chan = ws.channels[channel] if channel else ws.im_with(user)
        payload = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": chan.id,
            "channel_name": "directmessage" if chan.is_im else chan.name,
            "user_id": user,
            "user_name": ws.users[user].name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.standin.new_response_url(chan.id, user),
            "trigger_id": self.standin.new_trigger(user),
        }
        reply = await self.transport.deliver("command", payload)
        if reply.status == 200 and reply.text:
            body = reply.json if reply.text.startswith("{") else {"text": reply.text}
            self.standin.show_reply(chan.id, user, body, command=f"{command} {text}".strip())
        return reply

    async def ask(
        self, user: str, text: str, *, command: str = "/rollout", channel: str | None = None, timeout: float = 10.0
    ) -> Message:
        """Run a command and wait for the answer the person sees, whether it came with the
        acknowledgement or later through the response_url."""
        chan = self.ws.channels[channel] if channel else self.ws.im_with(user)
        before = len(self.ws.history(chan.id, viewer=user))
        reply = await self.command(user, text, command=command, channel=chan.id)
        if reply.status != 200:
            raise AssertionError(f"{command} {text} got HTTP {reply.status}: {reply.text[:200]}")
        deadline = time.monotonic() + timeout
        while len(self.ws.history(chan.id, viewer=user)) <= before:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer to {command} {text} within {timeout}s")
            await asyncio.sleep(0.01)
        return self.ws.history(chan.id, viewer=user)[before]

    # -- clicks -------------------------------------------------------------------------------------

    @staticmethod
    def find_element(
        blocks: list[dict[str, Any]], action_id: str, value: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The (block_id, element) of the first element with this action_id (and value)."""
        for block in blocks:
            candidates = list(block.get("elements", [])) if block.get("type") == "actions" else []
            if isinstance(block.get("accessory"), dict):
                candidates.append(block["accessory"])
            for element in candidates:
                if element.get("action_id") == action_id and (value is None or element.get("value") == value):
                    return str(block.get("block_id", "")), element
        raise LookupError(f"no element with action_id={action_id!r} value={value!r}")

    async def click(
        self,
        user: str,
        action_id: str,
        *,
        value: str | None = None,
        message: Message | None = None,
        view: View | None = None,
        option: str | None = None,
    ) -> BotReply:
        """Click a button in a message or a view, sending the block_actions payload Slack sends;
        for an overflow menu, pick the first of its options whose value starts with `option`."""
        if (message is None) == (view is None):
            raise ValueError("click a message or a view")
        blocks = message.blocks if message is not None else view.payload.get("blocks", [])  # type: ignore[union-attr]
        block_id, element = self.find_element(blocks, action_id, value)
        action: dict[str, Any] = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
        }
        if "value" in element:
            action["value"] = element["value"]
        if "text" in element:
            action["text"] = element["text"]
        if element.get("type") == "overflow":
            # Slack sends the option picked, its text and value, and nothing of the others.
            picked = [o for o in element.get("options", []) if str(o.get("value", "")).startswith(option or "")]
            if not picked:
                raise LookupError(f"no option starting {option!r} in the overflow menu {action_id!r}")
            action["selected_option"] = {"text": picked[0]["text"], "value": picked[0]["value"]}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user_object(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "trigger_id": self.standin.new_trigger(user),
            "actions": [action],
            "state": {"values": {}},
        }
        if message is not None:
            channel = self.ws.channels[message.channel]
            payload["container"] = {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel.id,
                "is_ephemeral": message.ephemeral_to is not None,
            }
            payload["channel"] = {
                "id": channel.id,
                "name": "directmessage" if channel.is_im else channel.name,
            }
            payload["message"] = message.to_api()
            payload["response_url"] = self.standin.new_response_url(channel.id, user, original=message)
        else:
            assert view is not None
            payload["container"] = {"type": "view", "view_id": view.id}
            payload["view"] = view.to_api()
        return await self.transport.deliver("interactive", payload)

    # -- modals -------------------------------------------------------------------------------------

    async def submit(self, user: str, values: dict[str, str], *, view: View | None = None) -> BotReply:
        """Fill the inputs of the person's open modal (by block_id) and press its submit button."""
        view = view or self.ws.top_modal(user)
        if view is None:
            raise LookupError(f"{user} has no open modal")
        state: dict[str, Any] = {}
        for block in view.payload.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block.get("element", {})
            state[block["block_id"]] = {
                element.get("action_id", "input"): {
                    "type": element.get("type", "plain_text_input"),
                    "value": values.get(block["block_id"]),
                }
            }
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": self._user_object(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.standin.new_trigger(user),
            "view": view.to_api(state),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        reply = await self.transport.deliver("interactive", payload)
        if reply.status == 200:
            self._apply_response_action(user, view, reply.json if reply.text.startswith("{") else {})
        return reply

    def _apply_response_action(self, user: str, view: View, answer: dict[str, Any]) -> None:
        ws = self.ws
        stack: list[str] = ws.modal_stacks.get(user, [])
        action = answer.get("response_action")
        if action == "errors":
            view.errors = dict(answer.get("errors") or {})
            ws.notify("view_updated", {"user": user, "view": view.id})
        elif action == "update" and not blockkit.check_view(answer.get("view")):
            view.payload = answer["view"]
            view.errors = {}
            ws.notify("view_updated", {"user": user, "view": view.id})
        elif action == "push" and not blockkit.check_view(answer.get("view")):
            pushed = View(
                id=ws.new_id("V"),
                type="modal",
                user=user,
                payload=answer["view"],
                hash=str(time.time()),
                root_view_id=stack[0] if stack else view.id,
                previous_view_id=view.id,
            )
            ws.views[pushed.id] = pushed
            stack.append(pushed.id)
            ws.notify("view_opened", {"user": user, "view": pushed.id})
        elif action == "clear":
            ws.modal_stacks[user] = []
            ws.notify("view_closed", {"user": user})
        elif action is None:
            if stack and stack[-1] == view.id:
                stack.pop()
            ws.notify("view_closed", {"user": user})

    # -- events -------------------------------------------------------------------------------------

    def event_body(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    async def event(self, body: dict[str, Any], *, retry_num: int = 0) -> BotReply:
        """Deliver an event body (see event_body); a retry carries the same event_id."""
        return await self.transport.deliver("event", body, retry_num=retry_num)

    async def join(self, user: str, channel: str) -> BotReply | None:
        """The person joins the channel; the app hears member_joined_channel."""
        if not self.ws.join(user, channel):
            return None
        chan = self.ws.channels[channel]
        body = self.event_body(
            {
                "type": "member_joined_channel",
                "user": user,
                "channel": channel,
                "channel_type": "G" if chan.is_private else "C",
                "team": TEAM_ID,
            }
        )
        return await self.event(body)

    async def open_home(self, user: str) -> BotReply:
        """The person opens the app's Home tab."""
        home = self.ws.home_of(user)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.ws.im_with(user).id,
            "tab": "home",
        }
        if home is not None:
            event["view"] = home.to_api()
        return await self.event(self.event_body(event))
