"""Every change to the database is one write job: a plain function of `Writes`, the repositories'
write side bound to one transaction, run on the writer's thread in the group commit
(`Store.write`). A job that raises changes nothing; the others in its group still commit.

So a change, its audit entry and the messages it causes commit together or not at all, the
layers above never hold a connection, and all SQL lives in the repository modules beside it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from storage.actions import ActionWrites
from storage.db import Store
from storage.digests import DigestWrites
from storage.disclosure import DisclosureWrites
from storage.guards import GuardWrites
from storage.keys import KeyWrites
from storage.languages import LanguageWrites
from storage.outbox import OutboxWrites
from storage.rollouts import RolloutWrites
from storage.surveys import SurveyWrites
from storage.threads import ThreadWrites

T = TypeVar("T")


class Writes:
    """The repositories' write side, for one write job."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.rollouts = RolloutWrites(conn)
        self.surveys = SurveyWrites(conn)
        self.keys = KeyWrites(conn)
        self.disclosure = DisclosureWrites(conn)
        self.outbox = OutboxWrites(conn)
        self.digests = DigestWrites(conn)
        self.languages = LanguageWrites(conn)
        self.threads = ThreadWrites(conn)
        self.actions = ActionWrites(conn)
        self.guards = GuardWrites(conn)


async def write(store: Store, job: Callable[[Writes], T]) -> T:
    """Run `job` in the next group commit; its result once committed, or its exception."""
    return await store.write(lambda conn: job(Writes(conn)))
