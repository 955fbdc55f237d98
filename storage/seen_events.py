"""Slack event ids already handled, so that a retried event is handled once (docs/reliability.md)."""

from __future__ import annotations

from storage.db import Store


class SeenEvents:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, event_id: str, at: int) -> bool:
        """Remember `event_id`; True the first time, False for a repeat."""
        changed = await self._store.execute(
            "INSERT OR IGNORE INTO seen_events (event_id, seen_at) VALUES (?, ?)", (event_id, at)
        )
        return changed == 1

    async def forget(self, event_id: str) -> None:
        """Its handling failed: a retry of it is to be handled, not ignored."""
        await self._store.execute("DELETE FROM seen_events WHERE event_id = ?", (event_id,))

    async def prune(self, older_than: int) -> int:
        """Forget ids seen before `older_than`; Slack stops retrying after about an hour."""
        return await self._store.execute("DELETE FROM seen_events WHERE seen_at < ?", (older_than,))
