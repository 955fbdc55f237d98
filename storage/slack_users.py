"""What Slack said about people, kept a while: their time zone and language, and whether they
are a bot or deactivated. Asking Slack about each person for every wave would cost a call per
person."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from storage.db import Store, chunks


class CachedPerson(NamedTuple):
    user_id: str
    tz: str | None
    is_bot: bool
    deleted: bool
    locale: str | None = None


class SlackUsers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def fetched_since(self, user_ids: Iterable[str], since: int) -> list[CachedPerson]:
        """Those of `user_ids` whose answer from Slack is no older than `since`."""
        found: list[CachedPerson] = []
        for chunk in chunks(sorted(set(user_ids))):
            marks = ",".join("?" * len(chunk))
            rows = await self.store.fetch_all(
                f"""SELECT user_id, tz, is_bot, deleted, locale FROM slack_users
                    WHERE fetched_at >= ? AND user_id IN ({marks})""",
                (since, *chunk),
            )
            found += [CachedPerson(str(r[0]), r[1], bool(r[2]), bool(r[3]), r[4]) for r in rows]
        return found

    async def tz_of(self, user_id: str) -> str | None:
        """The time zone Slack last gave for the person (None: not known)."""
        value = await self.store.fetch_value("SELECT tz FROM slack_users WHERE user_id = ?", (user_id,))
        return str(value) if value else None

    async def forget(self, user_id: str) -> None:
        """Drop what Slack said about a person: the next look-up asks Slack again."""
        await self.store.write(lambda conn: conn.execute("DELETE FROM slack_users WHERE user_id = ?", (user_id,)))

    async def remember(self, people: Sequence[CachedPerson], now: int) -> None:
        if people:
            await self.store.executemany(
                """INSERT OR REPLACE INTO slack_users (user_id, tz, is_bot, deleted, locale, fetched_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [(p.user_id, p.tz, int(p.is_bot), int(p.deleted), p.locale, now) for p in people],
            )
