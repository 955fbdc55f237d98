"""What the store holds about one person: their deliveries, and forgetting them (SPEC §3.6)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Store
from storage.models import _Row


class AskedRow(_Row):
    """One survey someone was sent (or skipped for): what `/pulse mydata` lists."""

    delivery_id: int
    wave_id: int
    rollout_title: str
    kind: str
    touchpoint_label: str | None
    opened_at: int
    status: str
    reason: str | None
    answered: bool
    sent_at: int | None


class ExportRow(_Row):
    wave: int
    stage: str
    kind: str
    touchpoint: str | None
    score: float
    comment: str | None
    answered_at: int


@dataclass(frozen=True)
class Forgotten:
    deliveries: int
    responses: int
    comments: int


class People:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def asked(self, user_id: str) -> list[AskedRow]:
        rows = await self.store.fetch_all(
            """SELECT d.id AS delivery_id, d.wave_id, r.title AS rollout_title, w.kind, t.label AS touchpoint_label,
                      w.opened_at, d.status, d.reason, d.answered, d.sent_at
               FROM deliveries d JOIN waves w ON w.id = d.wave_id JOIN rollouts r ON r.id = w.rollout_id
               LEFT JOIN touchpoints t ON t.id = w.touchpoint_id
               WHERE d.user_id = ? ORDER BY w.opened_at DESC, d.id DESC""",
            (user_id,),
        )
        return [AskedRow.from_row(r) for r in rows]

    async def forget(self, user_id: str, keys: list[tuple[int, str]]) -> Forgotten:
        """Delete a person's deliveries and, by their respondent keys, their answers and comments:
        all in one transaction."""
        responses = comments = 0
        async with self.store.transaction() as conn:
            for wave_id, key in keys:
                cur = await conn.execute(
                    "DELETE FROM responses WHERE wave_id = ? AND respondent_key = ?", (wave_id, key)
                )
                responses += cur.rowcount
                cur = await conn.execute(
                    "DELETE FROM comments WHERE wave_id = ? AND respondent_key = ?", (wave_id, key)
                )
                comments += cur.rowcount
            cur = await conn.execute("DELETE FROM deliveries WHERE user_id = ?", (user_id,))
            deliveries = cur.rowcount
            await conn.execute("DELETE FROM slack_users WHERE user_id = ?", (user_id,))
        return Forgotten(deliveries, responses, comments)

    async def export_rows(self, rollout_id: int) -> list[ExportRow]:
        """One row per response: wave, stage, kind, touchpoint, score, comment, answered time.
        No user ID and no respondent key leaves this query."""
        rows = await self.store.fetch_all(
            """SELECT r.wave_id AS wave, s.name AS stage, r.kind, t.key AS touchpoint, r.score, c.body AS comment,
                      r.answered_at
               FROM responses r JOIN stages s ON s.id = r.stage_id
               LEFT JOIN touchpoints t ON t.id = r.touchpoint_id
               LEFT JOIN comments c ON c.wave_id = r.wave_id AND c.respondent_key = r.respondent_key
               WHERE r.rollout_id = ? ORDER BY r.answered_at, r.id""",
            (rollout_id,),
        )
        return [ExportRow.from_row(r) for r in rows]
