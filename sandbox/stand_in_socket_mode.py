"""Socket Mode: apps.connections.open hands out a websocket URL, and events go down it.

The app opens a connection with its app-level token (the Web API checks it) and gets `hello`;
the test side (sandbox.slack_to_bot) sends envelopes down the socket and waits for the app to
acknowledge each, with the payload of its answer. Envelopes go down the newest connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.stand_in_calls import Handler
from sandbox.workspace import APP_ID


@dataclass
class SocketConnection:
    ws: web.WebSocketResponse
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class SocketMode:
    """The Socket Mode connection, and the envelopes sent down it that wait for their ack."""

    def __init__(self, *, base_url: Callable[[], str]) -> None:
        self._base_url = base_url
        self.socket: SocketConnection | None = None
        self._socket_connected = asyncio.Event()

    @property
    def methods(self) -> dict[str, Handler]:
        return {"apps.connections.open": self.apps_connections_open}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/socket-mode", self._socket_mode)]

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.ws.close()

    async def apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        address = self._base_url().removeprefix("http://")
        return {"url": f"ws://{address}/socket-mode?ticket={uuid.uuid4()}"}

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        connection = SocketConnection(ws)
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
