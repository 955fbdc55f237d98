"""Replies: what the app answers to a slash command, and what it posts to a response_url.

Slack hands the app a response_url with each command and interaction; the app may post to it a
few times (RESPONSE_URL_USES) within half an hour, to reply ephemerally or in the channel,
replace the message the interaction came from, or delete it. A command's direct answer is shown
the same way (`show_reply`, called by sandbox.slack_to_bot). Replies are held to Block Kit's
limits; the response_url posts are logged with the Web API calls, as method "response_url".
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox import blockkit
from sandbox.stand_in_calls import CallLog, flag
from sandbox.workspace import BOT_ID, BOT_USER_ID, Message, Workspace

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60


@dataclass
class ResponseTarget:
    """Where a response_url posts: the channel and person of the request it came with."""

    channel: str
    user: str
    original: Message | None
    created: float
    uses: int = 0


class ResponseUrls:
    """The response_urls handed out and what the app sent to them or answered to commands."""

    def __init__(
        self, workspace: Workspace, log: CallLog, *, clock: Callable[[], float], base_url: Callable[[], str]
    ) -> None:
        self.workspace = workspace
        self.log = log
        self.clock = clock
        self._base_url = base_url
        # What the app answered to commands (and sent to response_urls), as it sent it.
        self.replies: list[dict[str, Any]] = []
        self.response_targets: dict[str, ResponseTarget] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/response/{token}", self._response_url)]

    def new_response_url(self, channel: str, user: str, original: Message | None = None) -> str:
        token = secrets.token_urlsafe(12)
        self.response_targets[token] = ResponseTarget(channel, user, original, self.clock())
        return f"{self._base_url()}/response/{token}"

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
            self.log.reject("reply", body, "invalid_blocks")
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
        if flag(body.get("delete_original")):
            if original is not None and original in ws.messages.get(original.channel, []):
                ws.remove_message(original)
            self.log.record("response_url", params, 200, {"ok": True}, "POST")
            return web.json_response({"ok": True})
        problems = blockkit.check_message(body.get("text"), body.get("blocks"))
        if problems:
            self.log.record("response_url", params, 400, {"ok": False, "error": "invalid_blocks"}, "POST")
            return web.json_response({"ok": False, "error": "invalid_blocks", "errors": problems}, status=400)
        if flag(body.get("replace_original")) and original is not None:
            if body.get("text") is not None:
                original.text = str(body["text"])
            original.blocks = list(body.get("blocks") or [])
            original.edited = True
            ws.notify("message_changed", {"channel": original.channel, "ts": original.ts})
        else:
            self.show_reply(target.channel, target.user, body)
        self.log.record("response_url", params, 200, {"ok": True}, "POST")
        return web.json_response({"ok": True})
