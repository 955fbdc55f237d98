"""What the stand-in's protocols share about a call: its record, its refusal, its parameters.

Web API calls and response_url posts go into one `CallLog` as they are answered, so that a test
reads what the app sent Slack in one place whichever way it went; a reply to a command that
breaks Block Kit's limits goes there too, as refused. A method refuses with `ApiError`.
Parameters arrive as slack-sdk sends them, as text (forms, query strings) or as JSON (bodies);
`flag` and `json_param` read them either way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


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
class CallLog:
    """The calls answered, the methods in the order they arrived, and the calls refused."""

    clock: Callable[[], float]
    calls: list[ApiCall] = field(default_factory=list)
    # Method names in the order calls arrived (a call is in `calls` only once answered).
    arrived: list[str] = field(default_factory=list)
    # Calls refused for breaking Block Kit limits: tests assert this stays empty.
    rejected: list[ApiCall] = field(default_factory=list)

    def record(self, method: str, params: dict[str, Any], status: int, body: dict[str, Any], verb: str) -> ApiCall:
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

    def reject(self, method: str, params: dict[str, Any], error: str) -> None:
        call = ApiCall(method, params, 200, False, error, self.clock(), "POST")
        self.calls.append(call)
        self.rejected.append(call)


def flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes"))


def json_param(value: Any, name: str) -> Any:
    """Blocks, views and metadata may arrive as JSON text (forms, query strings) or as JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {name}: not JSON"]}) from None
    return value
