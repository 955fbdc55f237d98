"""The order in which the survey sender takes due deliveries."""

from __future__ import annotations

from storage import Store
from storage.surveys import DeliveryQueue

NOW = 1_800_000_000


async def _wave(store: Store, people: int) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            """INSERT INTO rollouts (id, slug, title, status, created_by, created_at, updated_at)
               VALUES (1, 'tool', 'Tool', 'active', 'U0OWNER', 0, 0)"""
        )
        await conn.execute("INSERT INTO stages (id, rollout_id, position, name) VALUES (1, 1, 1, 'alpha')")
        await conn.execute(
            """INSERT INTO waves (id, rollout_id, stage_id, kind, origin, opened_at, closes_at)
               VALUES (1, 1, 1, 'nps', 'send', ?, ?)""",
            (NOW - 60, NOW + 86400),
        )
        await conn.executemany(
            "INSERT INTO deliveries (wave_id, user_id, not_before, created_at) VALUES (1, ?, ?, ?)",
            [(f"U{i:04d}", NOW - 60, NOW - 60) for i in range(people)],
        )


async def test_a_survey_slack_refused_goes_again_before_the_rest_of_a_large_wave(store: Store) -> None:
    await _wave(store, 500)
    # The 400th person's survey was refused (429) once and is due again now.
    await store.execute("UPDATE deliveries SET attempts = 1, not_before = ? WHERE user_id = 'U0400'", (NOW - 1,))
    due = await DeliveryQueue(store).due(NOW, 50)
    assert due[0].user_id == "U0400"
    assert [d.user_id for d in due[1:4]] == ["U0000", "U0001", "U0002"]  # then the wave in order
