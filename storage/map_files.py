"""The heatmap last shared in each owner's DM, per rollout: what their Home tab shows. An image
block may show only a file its reader can see, and the one file each owner surely can is the
one the bot shared with them."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Store


@dataclass(frozen=True)
class MapFile:
    file_id: str
    made_on: str  # the day it was drawn (ISO), which the Home says: its figures are of that day


class MapFiles:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def shared(self, rollout_id: int, user_id: str, file_id: str, day: str) -> None:
        # Only while they are an owner, checked in the same statement: a forget-me or a removal
        # that came while the map was being drawn and shared leaves no row naming them.
        await self.store.execute(
            """INSERT INTO map_files (rollout_id, user_id, file_id, made_on)
               SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM owners WHERE rollout_id = ? AND user_id = ?)
               ON CONFLICT (rollout_id, user_id)
               DO UPDATE SET file_id = excluded.file_id, made_on = excluded.made_on""",
            (rollout_id, user_id, file_id, day, rollout_id, user_id),
        )

    async def of(self, user_id: str) -> dict[int, MapFile]:
        """Rollout → the latest heatmap shared with the person."""
        rows = await self.store.fetch_all(
            "SELECT rollout_id, file_id, made_on FROM map_files WHERE user_id = ?", (user_id,)
        )
        return {int(r[0]): MapFile(str(r[1]), str(r[2])) for r in rows}
