"""Slack's file upload, as files_upload_v2 makes it: three steps, and a share that comes later.

files.getUploadURLExternal names the file and hands out an upload URL; the app POSTs the bytes
there; files.completeUploadExternal completes the upload and, given a channel, shares it there
with the initial comment (held to Block Kit's limits). The two methods are dispatched by the Web
API (sandbox.stand_in_web_api); the upload URL and the download at /files/{id} are routes here.

As Slack, the share is not made when files.completeUploadExternal answers: Slack shares
asynchronously, after its security scans (slackapi/bolt-js#2115), so the answer has no `shares`
yet and the share shows in conversations.history and files.info only once made, `share_delay`
seconds later. A test can hold the shares and release them when it wants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox import blockkit
from sandbox.stand_in_calls import ApiError, Handler, json_param
from sandbox.stand_in_web_api import visible_channel
from sandbox.workspace import BOT_ID, BOT_USER_ID, File, Message, Workspace

# Seconds from files.completeUploadExternal's answer to the share in the channel: small, so
# tests stay quick; a test that needs Slack's few seconds sets `share_delay` itself.
DEFAULT_SHARE_DELAY = 0.1


@dataclass
class _PendingShare:
    """An upload completed but not yet shared in its channel (the message is posted when shared)."""

    message: Message
    files: list[File]
    visibility: str
    due: bool = False


class FileUploads:
    """The upload methods and URLs, and the uploads completed but not shared yet."""

    def __init__(self, workspace: Workspace, *, base_url: Callable[[], str], share_delay: float) -> None:
        self.workspace = workspace
        self._base_url = base_url
        self.share_delay = share_delay
        self._shares: list[_PendingShare] = []
        self._shares_held = False

    @property
    def methods(self) -> dict[str, Handler]:
        return {
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
        }

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/upload/{file_id}", self._upload), web.get("/files/{file_id}", self._download)]

    # -- uploads shared a moment after they complete ------------------------------------------------

    @property
    def pending_shares(self) -> int:
        """Uploads completed and not shared in their channel yet."""
        return len(self._shares)

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

    # -- methods ------------------------------------------------------------------------------------

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
        return {"upload_url": f"{self._base_url()}/upload/{file.id}", "file_id": file.id}

    async def files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = json_param(params.get("files"), "files")
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
            channel = visible_channel(self.workspace, channel_id, need_member=True)
            comment = str(params.get("initial_comment") or "")
            blocks = json_param(params.get("blocks"), "blocks") if params.get("blocks") else None
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

    # -- the upload URL and the download ------------------------------------------------------------

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
