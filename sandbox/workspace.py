"""The state of the pretend Slack workspace: people, channels, user groups, messages, views, files."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "pulse-sandbox"
BOT_USER_ID = "U0PULSEBOT"
BOT_ID = "B0PULSEBOT"
APP_ID = "A0PULSE"


@dataclass
class User:
    id: str
    name: str
    real_name: str
    email: str | None = None
    tz: str = "UTC"
    is_bot: bool = False
    deleted: bool = False
    title: str = ""
    # The language the person set in Slack (Preferences → Language & region), as Slack names it.
    locale: str = "en-US"

    def to_api(self, *, include_locale: bool = False) -> dict[str, Any]:
        """The user object of users.info and users.list; `locale` only when it is asked for, as
        Slack gives it (include_locale=true)."""
        zone = ZoneInfo(self.tz)
        offset = datetime.now(UTC).astimezone(zone).utcoffset()
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "display_name": self.name,
            "title": self.title,
        }
        if self.email:
            profile["email"] = self.email
        user = {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "profile": profile,
        }
        if include_locale:
            user["locale"] = self.locale
        return user


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: list[str] = field(default_factory=list)
    # For a DM: the person the bot talks to.
    user: str | None = None
    topic: str = ""

    def to_api(self, viewer: str = BOT_USER_ID) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "is_channel": not self.is_im and not self.is_private,
            "is_group": self.is_private and not self.is_im,
            "is_im": self.is_im,
            "is_private": self.is_private or self.is_im,
            "is_member": viewer in self.members,
            "is_archived": False,
            "created": 1_700_000_000,
        }
        if self.is_im:
            data["user"] = self.user
        else:
            data["name"] = self.name
            data["num_members"] = len(self.members)
            data["topic"] = {"value": self.topic}
        return data


@dataclass
class UserGroup:
    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    # Ephemeral messages are seen by one person only and never reach the channel's history.
    ephemeral_to: str | None = None
    edited: bool = False
    # Replies to a slash command are shown as coming from the command.
    via_command: str | None = None

    @property
    def shown_text(self) -> str:
        """Everything a person reads in the message: fallback text and the texts of its blocks."""
        return render_text({"text": self.text, "blocks": self.blocks})

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.blocks:
            data["blocks"] = self.blocks
        if self.user:
            data["user"] = self.user
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = APP_ID
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.metadata:
            data["metadata"] = self.metadata
        if self.files:
            data["files"] = [{"id": f} for f in self.files]
            data["upload"] = True
        if self.edited:
            data["edited"] = {"user": self.user or BOT_USER_ID, "ts": self.ts}
        return data


@dataclass
class View:
    id: str
    type: str
    user: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    # Errors the app returned with response_action=errors, by block_id (shown on the fields).
    errors: dict[str, str] = field(default_factory=dict)

    def to_api(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        data = dict(self.payload)
        data.update(
            id=self.id,
            team_id=TEAM_ID,
            app_id=APP_ID,
            bot_id=BOT_ID,
            hash=self.hash,
            root_view_id=self.root_view_id,
            previous_view_id=self.previous_view_id,
            app_installed_team_id=TEAM_ID,
            state={"values": state or {}},
        )
        data.setdefault("private_metadata", "")
        data.setdefault("callback_id", "")
        data.setdefault("external_id", "")
        data.setdefault("blocks", [])
        return data


@dataclass
class File:
    id: str
    name: str
    length: int
    content: bytes = b""
    title: str = ""
    uploaded: bool = False
    shared_in: list[str] = field(default_factory=list)
    # files.completeUploadExternal was called; the share in a channel follows a moment later.
    completed: bool = False
    # The ts of the message that shared the file, by channel.
    share_ts: dict[str, str] = field(default_factory=dict)

    @property
    def mimetype(self) -> str:
        lower = self.name.lower()
        if lower.endswith(".png"):
            return "image/png"
        if lower.endswith(".csv"):
            return "text/csv"
        return "application/octet-stream"

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": self.mimetype,
            "size": len(self.content),
            "channels": list(self.shared_in),
        }


def render_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    if isinstance(body.get("text"), str):
        parts.append(body["text"])

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body.get("blocks", []))
    return "\n".join(parts)


Listener = Callable[[str, dict[str, Any]], None]


class Workspace:
    """Everything the stand-in knows. Not thread-safe; lives on one event loop."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.messages: dict[str, list[Message]] = {}
        self.views: dict[str, View] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.home_views: dict[str, str] = {}
        self.files: dict[str, File] = {}
        self.last_id = 0
        self._last_ts = 0.0
        self.listeners: list[Listener] = []
        self.add_user(BOT_USER_ID, "rollout-pulse", "Rollout Pulse", is_bot=True)

    # -- notifications (the sandbox page listens to show new messages at once) ----------------------

    def notify(self, kind: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(kind, data)

    # -- ids ----------------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.last_id += 1
        return f"{prefix}{self.last_id:08X}"

    def new_ts(self) -> str:
        now = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    # -- people and channels ------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str | None,
        name: str,
        real_name: str | None = None,
        *,
        email: str | None = None,
        tz: str = "UTC",
        is_bot: bool = False,
        deleted: bool = False,
        title: str = "",
        locale: str = "en-US",
    ) -> User:
        user = User(
            id=user_id or self.new_id("U"),
            name=name,
            real_name=real_name or name,
            email=email,
            tz=tz,
            is_bot=is_bot,
            deleted=deleted,
            title=title,
            locale=locale,
        )
        self.users[user.id] = user
        return user

    def add_channel(
        self,
        name: str,
        members: list[str] | None = None,
        *,
        is_private: bool = False,
        channel_id: str | None = None,
    ) -> Channel:
        channel = Channel(
            id=channel_id or self.new_id("G" if is_private else "C"),
            name=name,
            is_private=is_private,
            members=list(members or []),
        )
        self.channels[channel.id] = channel
        self.messages.setdefault(channel.id, [])
        return channel

    def add_usergroup(self, handle: str, users: list[str], *, name: str | None = None) -> UserGroup:
        group = UserGroup(id=self.new_id("S"), handle=handle, name=name or handle, users=list(users))
        self.usergroups[group.id] = group
        return group

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def user_by_name(self, name: str) -> User | None:
        return next((u for u in self.users.values() if u.name == name), None)

    def im_with(self, user_id: str) -> Channel:
        """The DM between the bot and a person, opened on first use."""
        for channel in self.channels.values():
            if channel.is_im and channel.user == user_id:
                return channel
        channel = Channel(id=self.new_id("D"), name=user_id, is_im=True, members=[BOT_USER_ID, user_id], user=user_id)
        self.channels[channel.id] = channel
        self.messages.setdefault(channel.id, [])
        return channel

    def join(self, user_id: str, channel_id: str) -> bool:
        """Add a person to a channel; False if they were already in it."""
        channel = self.channels[channel_id]
        if user_id in channel.members:
            return False
        channel.members.append(user_id)
        self.notify("member_joined", {"channel": channel_id, "user": user_id})
        return True

    # -- messages -----------------------------------------------------------------------------------

    def post(self, message: Message) -> Message:
        self.messages.setdefault(message.channel, []).append(message)
        self.notify("message", {"channel": message.channel, "ts": message.ts})
        return message

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        for message in self.messages.get(channel_id, []):
            if message.ts == ts:
                return message
        return None

    def remove_message(self, message: Message) -> None:
        self.messages[message.channel].remove(message)
        self.notify("message_deleted", {"channel": message.channel, "ts": message.ts})

    def history(self, channel_id: str, *, viewer: str | None = None) -> list[Message]:
        """Messages of a channel in order; ephemeral ones only for the person they were for."""
        return [m for m in self.messages.get(channel_id, []) if m.ephemeral_to is None or m.ephemeral_to == viewer]

    def dms_to(self, user_id: str) -> list[Message]:
        """Every message the bot sent a person in their DM."""
        return [m for m in self.history(self.im_with(user_id).id, viewer=user_id) if m.bot_id]

    # -- views --------------------------------------------------------------------------------------

    def top_modal(self, user_id: str) -> View | None:
        stack = self.modal_stacks.get(user_id) or []
        return self.views[stack[-1]] if stack else None

    def home_of(self, user_id: str) -> View | None:
        view_id = self.home_views.get(user_id)
        return self.views.get(view_id) if view_id else None


# -- saving and loading (the sandbox keeps its workspace across restarts) --------------------------


def snapshot(ws: Workspace) -> dict[str, Any]:
    """Everything in the workspace as JSON-ready data."""
    return {
        "users": [asdict(u) for u in ws.users.values()],
        "channels": [asdict(c) for c in ws.channels.values()],
        "usergroups": [asdict(g) for g in ws.usergroups.values()],
        "messages": {cid: [asdict(m) for m in messages] for cid, messages in ws.messages.items()},
        "views": [asdict(v) for v in ws.views.values()],
        "modal_stacks": ws.modal_stacks,
        "home_views": ws.home_views,
        "files": [{**asdict(f), "content": base64.b64encode(f.content).decode()} for f in ws.files.values()],
        "last_id": ws.last_id,
        "last_ts": ws._last_ts,
    }


def restore(data: dict[str, Any], *, clock: Callable[[], float] = time.time) -> Workspace:
    ws = Workspace(clock=clock)
    ws.users = {u["id"]: User(**u) for u in data["users"]}
    ws.channels = {c["id"]: Channel(**c) for c in data["channels"]}
    ws.usergroups = {g["id"]: UserGroup(**g) for g in data["usergroups"]}
    ws.messages = {cid: [Message(**m) for m in messages] for cid, messages in data["messages"].items()}
    ws.views = {v["id"]: View(**v) for v in data["views"]}
    ws.modal_stacks = {k: list(v) for k, v in data["modal_stacks"].items()}
    ws.home_views = dict(data["home_views"])
    ws.files = {f["id"]: File(**{**f, "content": base64.b64decode(f["content"])}) for f in data["files"]}
    ws.last_id = int(data["last_id"])
    ws._last_ts = float(data["last_ts"])
    return ws
