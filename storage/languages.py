"""The language each person reads in: their own choice, kept until they change or clear it, and
the locale Slack told us (cached with their time zone in `slack_users`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

from storage.db import Store, chunks


class Spoken(NamedTuple):
    """What is known of one person's language: both may be None."""

    chosen: str | None  # set with /pulse language
    slack_locale: str | None  # as set in Slack, e.g. "sv-SE"


class Languages:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, user_id: str) -> Spoken:
        row = await self.store.fetch_one(
            """SELECT (SELECT language FROM person_languages WHERE user_id = ?),
                      (SELECT locale FROM slack_users WHERE user_id = ?)""",
            (user_id, user_id),
        )
        return Spoken(row[0], row[1]) if row else Spoken(None, None)

    async def chosen(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The languages these people chose themselves (those who chose none are left out)."""
        found: dict[str, str] = {}
        for chunk in chunks(sorted(set(user_ids))):
            marks = ",".join("?" * len(chunk))
            rows = await self.store.fetch_all(
                f"SELECT user_id, language FROM person_languages WHERE user_id IN ({marks})", chunk
            )
            found.update({str(r[0]): str(r[1]) for r in rows})
        return found


class LanguageWrites:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def choose(self, user_id: str, language: str | None) -> None:
        """Keep `language` as the person's choice; None clears it (their Slack locale again)."""
        if language is None:
            self.conn.execute("DELETE FROM person_languages WHERE user_id = ?", (user_id,))
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO person_languages (user_id, language) VALUES (?, ?)", (user_id, language)
            )
