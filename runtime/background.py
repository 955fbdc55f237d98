"""Work started after Slack has its acknowledgement, tracked so shutdown can wait for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from runtime.write_wait import limit_write_wait

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run `coro` in the background; its failure is logged, never lost silently."""
        if self._closed:
            coro.close()
            log.warning("shutting down: dropped background work %s", name)
            return
        task = asyncio.create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None], name: str) -> None:
        # Work started by a request is no longer bound by its 3 s: writes wait as long as usual.
        limit_write_wait(None)
        try:
            await coro
        except asyncio.CancelledError:
            log.warning("background work %s was cancelled", name)
            raise
        except Exception:
            log.exception("background work %s failed", name)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def settle(self, timeout: float) -> None:
        """Wait until no background work is running (new work may still start afterwards)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    async def drain(self, timeout: float) -> bool:
        """Stop taking work, wait up to `timeout` for what is running; cancel the rest.

        Returns True when everything finished in time.
        """
        self._closed = True
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)
        return not pending
