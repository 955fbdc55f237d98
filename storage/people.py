"""What the store holds about one person, and forgetting them: every row that names them.

Answers and comments do not name anyone; the caller finds a person's own by their respondent
keys, which exist only for waves still open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storage.db import Store
from storage.models import Titled, _Row, in_language_sql
from storage.threads import ThreadWrites

# Stands where a forgotten person's ID stood (who made a change, who added someone).
FORGOTTEN = "forgotten"

# Columns that say who did something. A forgotten person's ID is replaced there, not deleted
# with the row: the change happened; only who made it is forgotten.
_ACTOR_COLUMNS = (
    ("rollouts", "created_by"),
    ("owners", "added_by"),
    ("champions", "added_by"),
    ("cohort_entries", "added_by"),
    ("targets", "created_by"),
    ("triggers", "created_by"),
    ("digest_subscriptions", "created_by"),
    ("waves", "opened_by"),
    ("stage_transitions", "actor"),
    ("audit_log", "actor"),
    ("threads", "replier"),
    ("thread_messages", "author"),
    ("actions", "created_by"),
    ("approval_requests", "requested_by"),
    ("approval_requests", "decided_by"),
    ("stage_approvers", "added_by"),
)
# Text that may mention the person among other things (JSON of changes, queued messages).
_TEXT_COLUMNS = (("audit_log", "detail"), ("outbox", "payload"))


class AskedRow(_Row):
    """One survey someone was sent (or skipped for): what `/pulse mydata` lists."""

    delivery_id: int
    wave_id: int
    rollout_title: str
    kind: str
    touchpoint_label: str | None
    scale: str | None  # the touchpoint's; None for NPS
    opened_at: int
    open: bool
    asked: int  # how many people the wave went to
    answers: int  # how many answers the wave holds
    status: str
    reason: str | None
    answered: bool
    sent_at: int | None


class Role(Titled):
    role: str  # owner | champion | approver (of a stage)
    slug: str
    sole_owner: bool = False


class Membership(Titled):
    slug: str
    stage: str


@dataclass(frozen=True)
class OwnAnswer:
    wave_id: int
    score: float
    comment: str | None


@dataclass(frozen=True)
class PersonRecord:
    """Everything stored that names one person."""

    roles: list[Role]
    memberships: list[Membership]
    asked: list[AskedRow]
    changes_made: int  # history entries naming them as who made a change
    cached_tz: str | None  # from the people cache
    cached: bool
    cached_locale: str | None = None  # the language set in Slack, from the people cache
    language: str | None = None  # the language they chose with /pulse language
    maps_shared: int = 0  # rollouts whose heatmap, shared in their DM, their Home shows


@dataclass(frozen=True)
class Forgotten:
    deliveries: int
    responses: int
    comments: int
    roles: int = 0
    memberships: int = 0
    # The -wal could not be emptied at once (another process was reading): it is within a minute.
    traces_left: bool = False


class People:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def asked(self, user_id: str) -> list[AskedRow]:
        rows = await self.store.fetch_all(
            f"""SELECT d.id AS delivery_id, d.wave_id, {in_language_sql("r.title", "d.language")} AS rollout_title,
                      w.kind, {in_language_sql("t.label", "d.language")} AS touchpoint_label, t.scale,
                      w.opened_at, w.closed_at IS NULL AS open, w.asked,
                      (SELECT count(*) FROM responses x WHERE x.wave_id = w.id) AS answers,
                      d.status, d.reason, d.answered, d.sent_at
               FROM deliveries d JOIN waves w ON w.id = d.wave_id JOIN rollouts r ON r.id = w.rollout_id
               LEFT JOIN touchpoints t ON t.id = w.touchpoint_id
               WHERE d.user_id = ? ORDER BY w.opened_at DESC, d.id DESC""",
            (user_id,),
        )
        return [AskedRow.from_row(r) for r in rows]

    async def record(self, user_id: str) -> PersonRecord:
        roles = await self.store.fetch_all(
            """SELECT 'owner' AS role, r.slug, r.title, r.title_variants,
                      (SELECT count(*) FROM owners o2 WHERE o2.rollout_id = r.id) = 1 AS sole_owner
               FROM owners o JOIN rollouts r ON r.id = o.rollout_id WHERE o.user_id = ?
               UNION ALL
               SELECT 'champion', r.slug, r.title, r.title_variants, 0
               FROM champions c JOIN rollouts r ON r.id = c.rollout_id WHERE c.user_id = ?
               UNION
               SELECT 'approver', r.slug, r.title, r.title_variants, 0
               FROM stage_approvers a JOIN stages s ON s.id = a.stage_id JOIN rollouts r ON r.id = s.rollout_id
               WHERE a.user_id = ? ORDER BY 2, 1""",
            (user_id, user_id, user_id),
        )
        memberships = await self.store.fetch_all(
            """SELECT r.slug, r.title, r.title_variants, s.name AS stage
               FROM cohort_entries e JOIN stages s ON s.id = e.stage_id JOIN rollouts r ON r.id = s.rollout_id
               WHERE e.kind = 'user' AND e.ref = ?
               ORDER BY r.slug, s.position""",
            (user_id,),
        )
        changes = await self.store.fetch_value("SELECT count(*) FROM audit_log WHERE actor = ?", (user_id,))
        cached = await self.store.fetch_one("SELECT tz, locale FROM slack_users WHERE user_id = ?", (user_id,))
        chosen = await self.store.fetch_value("SELECT language FROM person_languages WHERE user_id = ?", (user_id,))
        maps = await self.store.fetch_value("SELECT count(*) FROM map_files WHERE user_id = ?", (user_id,))
        return PersonRecord(
            roles=[Role.from_row(r) for r in roles],
            memberships=[Membership.from_row(r) for r in memberships],
            asked=await self.asked(user_id),
            changes_made=int(changes or 0),
            cached_tz=cached[0] if cached else None,
            cached=cached is not None,
            cached_locale=cached[1] if cached else None,
            language=str(chosen) if chosen else None,
            maps_shared=int(maps or 0),
        )

    async def own_answers(self, keys: Sequence[tuple[int, str]]) -> list[OwnAnswer]:
        """The answers (and comments) stored under these (wave, respondent key) pairs."""
        found = []
        for wave_id, key in keys:
            row = await self.store.fetch_one(
                """SELECT r.score, c.body FROM responses r
                   LEFT JOIN comments c ON c.wave_id = r.wave_id AND c.respondent_key = r.respondent_key
                   WHERE r.wave_id = ? AND r.respondent_key = ?""",
                (wave_id, key),
            )
            if row is not None:
                found.append(OwnAnswer(wave_id, float(row[0]), row[1]))
        return found

    async def forget(
        self,
        user_id: str,
        keys: Sequence[tuple[int, str]],
        threads: Sequence[int] = (),
        neutral_labels: Mapping[str, str] | None = None,
    ) -> Forgotten:
        """Delete every row that names the person, and their answers and comments under `keys`
        (their respondent keys in open waves) and the conversations on their comments (`threads`);
        replace their ID where it says who did something. One transaction. The caller then
        empties the journal (`Store.wipe_journal`)."""

        def forget_all(conn: sqlite3.Connection) -> Forgotten:
            ThreadWrites(conn).forget(threads)
            ThreadWrites(conn).forget_replier(user_id)
            _forget_actions(conn, user_id, neutral_labels or {})
            responses = comments = 0
            for wave_id, key in keys:
                args = (wave_id, key)
                responses += conn.execute(
                    "DELETE FROM responses WHERE wave_id = ? AND respondent_key = ?", args
                ).rowcount
                comments += conn.execute("DELETE FROM comments WHERE wave_id = ? AND respondent_key = ?", args).rowcount
            # Their reminders and closing notices go with the deliveries (ON DELETE CASCADE).
            deliveries = conn.execute("DELETE FROM deliveries WHERE user_id = ?", (user_id,)).rowcount
            conn.execute("DELETE FROM outbox WHERE channel = ?", (user_id,))
            roles = conn.execute("DELETE FROM owners WHERE user_id = ?", (user_id,)).rowcount
            roles += conn.execute("DELETE FROM champions WHERE user_id = ?", (user_id,)).rowcount
            roles += conn.execute("DELETE FROM stage_approvers WHERE user_id = ?", (user_id,)).rowcount
            conn.execute("DELETE FROM map_files WHERE user_id = ?", (user_id,))
            memberships = conn.execute(
                "DELETE FROM cohort_entries WHERE kind = 'user' AND ref = ?", (user_id,)
            ).rowcount
            conn.execute("DELETE FROM slack_users WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM person_languages WHERE user_id = ?", (user_id,))
            # The reasons they typed for their changes are their words too.
            conn.execute("UPDATE stage_transitions SET reason = NULL WHERE actor = ?", (user_id,))
            conn.execute("UPDATE audit_log SET reason = NULL WHERE actor = ?", (user_id,))
            conn.execute("UPDATE approval_requests SET reason = NULL WHERE requested_by = ?", (user_id,))
            # … and so are they where a message (sent or waiting) quotes them.
            conn.execute(
                """UPDATE outbox SET payload = json_set(payload, '$.reason', NULL)
                   WHERE kind IN ('announcement', 'approval_request')
                   AND ? IN (json_extract(payload, '$.actor'), json_extract(payload, '$.requested_by'))""",
                (user_id,),
            )
            for table, column in _ACTOR_COLUMNS:
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (FORGOTTEN, user_id))
            for table, column in _TEXT_COLUMNS:
                conn.execute(
                    f"UPDATE {table} SET {column} = replace({column}, ?, ?) WHERE instr({column}, ?) > 0",
                    (user_id, FORGOTTEN, user_id),
                )
            return Forgotten(deliveries, responses, comments, roles, memberships)

        return await self.store.write(forget_all)


def _forget_actions(conn: sqlite3.Connection, user_id: str, neutral_labels: Mapping[str, str]) -> None:
    """The words of the actions they recorded: in the action, its history entry, the notes that
    told others of it (sent or not) and its check-in's label, which `neutral_labels` replaces."""
    for action_id, body, check_in_id in conn.execute(
        "SELECT id, body, check_in_id FROM actions WHERE created_by = ?", (user_id,)
    ).fetchall():
        said = json.dumps(body, ensure_ascii=False)[1:-1]  # as it stands in a note's JSON
        conn.execute(
            "UPDATE outbox SET payload = replace(payload, ?, ?) WHERE kind = 'action_note' AND instr(payload, ?) > 0",
            (said, FORGOTTEN, said),
        )
        conn.execute("UPDATE actions SET body = ? WHERE id = ?", (FORGOTTEN, action_id))
        if check_in_id is not None:
            # The heatmaps already drawn name the check-in by their words: no Home shows one again.
            conn.execute(
                "DELETE FROM map_files WHERE rollout_id = (SELECT rollout_id FROM touchpoints WHERE id = ?)",
                (check_in_id,),
            )
        if check_in_id is not None and neutral_labels:
            first = next(iter(neutral_labels.values()))
            conn.execute(
                "UPDATE touchpoints SET label = ?, label_variants = ? WHERE id = ?",
                (first, json.dumps(dict(neutral_labels), ensure_ascii=False), check_in_id),
            )
    conn.execute("UPDATE audit_log SET detail = NULL WHERE actor = ? AND action = 'action recorded'", (user_id,))
