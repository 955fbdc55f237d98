"""The fields Slack's own spec marks required in each success response the stand-in gives, so
that the bot is never tested against an answer Slack could not give.

Source: slackapi/slack-api-specs, web-api/slack_web_openapi_v2.json (the `required` list of each
method's 200 schema). files.completeUploadExternal and files.getUploadURLExternal are newer than
that spec: their fields are those of https://docs.slack.dev/reference/methods/files.completeUploadExternal
and .../files.getUploadURLExternal ("files", and "upload_url" with "file_id").
"""

from __future__ import annotations

from typing import Any

REQUIRED: dict[str, tuple[str, ...]] = {
    "auth.test": ("ok", "url", "team", "user", "team_id", "user_id"),
    "chat.postMessage": ("ok", "channel", "ts", "message"),
    "chat.postEphemeral": ("ok", "message_ts"),
    "chat.update": ("ok", "channel", "ts", "text", "message"),
    "chat.delete": ("ok", "channel", "ts"),
    "conversations.open": ("ok", "channel"),
    "conversations.info": ("ok", "channel"),
    "conversations.history": ("ok", "messages", "has_more", "pin_count", "channel_actions_ts", "channel_actions_count"),
    "conversations.members": ("ok", "members", "response_metadata"),
    "users.info": ("ok", "user"),
    "users.list": ("ok", "members", "cache_ts"),
    "users.lookupByEmail": ("ok", "user"),
    "usergroups.users.list": ("ok", "users"),
    "views.open": ("ok",),
    "views.push": ("ok",),
    "views.update": ("ok",),
    "views.publish": ("ok",),
    "files.info": ("ok", "file", "comments"),
    "files.getUploadURLExternal": ("ok", "upload_url", "file_id"),
    "files.completeUploadExternal": ("ok", "files"),
}


def missing(method: str, body: dict[str, Any]) -> list[str]:
    """The required fields `body`, a success of `method`, lacks."""
    return [name for name in REQUIRED.get(method, ("ok",)) if name not in body]


def check_required(method: str, body: dict[str, Any]) -> None:
    """Fail loudly (the stand-in is wrong, not the bot) when a success lacks a required field."""
    absent = missing(method, body)
    if absent:
        raise AssertionError(f"the stand-in's {method} answer lacks {', '.join(absent)}, which Slack's spec requires")
