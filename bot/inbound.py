"""Checks on a request from Slack before Bolt sees it (docs/reliability.md: “Requests from Slack”).

Bolt parses the body while building its request object, before any middleware runs, so a
`payload=` with broken JSON, or a field of an unexpected type, becomes an exception and a 500.
Here the signature is checked first (401), then the body is parsed and its shape validated
(400), so that only well-formed, authentic requests reach the app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_SECONDS = 5 * 60


class InboundError(Exception):
    """The request is refused with `status` (4xx) and a short plain-text reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class RequestKind(StrEnum):
    COMMAND = "command"
    INTERACTIVE = "interactive"
    EVENT = "event"
    URL_VERIFICATION = "url_verification"
    SSL_CHECK = "ssl_check"
    RATE_LIMITED = "app_rate_limited"


def check_signature(signing_secret: str, headers: Mapping[str, str], raw: bytes, *, now: float | None = None) -> None:
    """Raise InboundError(401) unless the request carries Slack's signature for this body."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        raise InboundError(401, "missing signature")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise InboundError(401, "malformed timestamp")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise InboundError(401, "stale timestamp")
    expected = slack_signature(signing_secret, timestamp, raw)
    # compare_digest on bytes: it refuses str holding non-ASCII characters.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise InboundError(401, "invalid signature")


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: v0= and the HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), message, hashlib.sha256).hexdigest()


def parse_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as Slack meant it: JSON, a form, or a form whose `payload` field is JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InboundError(400, "the body is not UTF-8") from None
    if not text:
        raise InboundError(400, "empty body")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or text.startswith("{"):
        return _json_object(text, "the JSON body")
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        return _json_object(form["payload"], "the payload field")
    if not form:
        raise InboundError(400, "the body is neither JSON nor a form")
    return form


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InboundError(400, f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InboundError(400, f"{what} is not a JSON object")
    return value


# -- shapes ---------------------------------------------------------------------------------------
# Only the fields Bolt and our handlers read are checked; Slack adds fields over time.


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _IdObject(_Lenient):
    id: str | None = None


class _Actor(_IdObject):
    """The person who clicked or submitted: the handlers act as them."""

    id: str


class _Common(_Lenient):
    """Fields Bolt reads from every kind of request while building its context."""

    user: str | _IdObject | None = None
    team: str | _IdObject | None = None
    channel: str | _IdObject | None = None
    enterprise: str | _IdObject | None = None
    authorizations: list[_IdObjectAny] | None = None
    response_url: str | None = None
    response_urls: list[_ResponseUrl] | None = None
    message: dict[str, Any] | None = None
    thread_ts: str | None = None
    is_enterprise_install: bool | str | None = None


class _Loose(_Common):
    """Kinds that do not use these fields must still not carry them with the wrong type."""

    event: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None


class _IdObjectAny(_Lenient):
    team_id: str | None = None
    user_id: str | None = None
    enterprise_id: str | None = None


class _ResponseUrl(_Lenient):
    response_url: str


class _Command(_Loose):
    command: str = Field(pattern=r"^/\S+$")
    text: str = ""
    user_id: str
    channel_id: str
    team_id: str | None = None
    trigger_id: str | None = None


class _Action(_Lenient):
    action_id: str
    block_id: str | None = None
    value: str | None = None
    type: str | None = None


class _ViewState(_Lenient):
    values: dict[str, dict[str, dict[str, Any]]] = {}


class _View(_Lenient):
    id: str
    type: str
    callback_id: str | None = None
    private_metadata: str | None = None
    hash: str | None = None
    state: _ViewState | None = None
    app_installed_team_id: str | None = None
    team_id: str | None = None
    root_view_id: str | None = None


class _BlockActions(_Common):
    event: dict[str, Any] | None = None
    type: str
    user: _Actor
    actions: list[_Action] = Field(min_length=1)
    trigger_id: str | None = None
    container: dict[str, Any] | None = None
    view: _View | None = None


class _ViewSubmission(_Common):
    event: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    type: str
    user: _Actor
    view: _View
    trigger_id: str | None = None


class _CallbackPayload(_Loose):
    type: str
    callback_id: str


class _Suggestion(_Loose):
    type: str
    action_id: str
    value: str = ""


class _EventBody(_Lenient):
    type: str


class _Event(_Lenient):
    type: str
    message: dict[str, Any] | None = None
    previous_message: dict[str, Any] | None = None
    channel_type: str | None = None
    subtype: str | None = None
    user: str | _IdObject | None = None
    channel: str | _IdObject | None = None
    team: str | None = None
    user_team: str | None = None


class _EventCallback(_Common):
    view: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    type: str
    event_id: str = Field(min_length=1)
    event: _Event
    team_id: str | None = None


class _UrlVerification(_Lenient):
    type: str
    challenge: str


_INTERACTIVE_SHAPES: dict[str, type[_Lenient]] = {
    "block_actions": _BlockActions,
    "view_submission": _ViewSubmission,
    "view_closed": _ViewSubmission,
    "shortcut": _CallbackPayload,
    "message_action": _CallbackPayload,
    "block_suggestion": _Suggestion,
}

# Forward references between the models above.
_Common.model_rebuild()
for _shape in (
    _Loose,
    _Command,
    _BlockActions,
    _ViewSubmission,
    _CallbackPayload,
    _Suggestion,
    _EventCallback,
):
    _shape.model_rebuild()


def classify(body: dict[str, Any]) -> RequestKind:
    """Which kind of Slack request this is; InboundError(400) if unknown or malformed."""
    try:
        if "ssl_check" in body:
            return RequestKind.SSL_CHECK
        if "command" in body:
            _Command.model_validate(body)
            return RequestKind.COMMAND
        kind = body.get("type")
        if not isinstance(kind, str):
            raise InboundError(400, "unknown request type")
        if kind == "event_callback":
            _EventCallback.model_validate(body)
            return RequestKind.EVENT
        if kind == "url_verification":
            _UrlVerification.model_validate(body)
            return RequestKind.URL_VERIFICATION
        if kind == "app_rate_limited":
            return RequestKind.RATE_LIMITED
        shape = _INTERACTIVE_SHAPES.get(kind)
        if shape is None:
            raise InboundError(400, f"unknown request type: {kind[:40]}")
        shape.model_validate(body)
        return RequestKind.INTERACTIVE
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InboundError(400, f"malformed request: {where}: {first['msg']}") from None
    except RecursionError:
        raise InboundError(400, "malformed request: nested too deeply") from None
