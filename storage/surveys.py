"""Touchpoints, triggers, waves, deliveries, responses and comments.

Deliveries (who was asked) and responses (what was answered, under a respondent key) are written
and read separately; nothing here joins the two. An answer is written alone: no row naming the
person changes in the same commit (which the -wal file would keep side by side). Whether a
person has answered an open wave is found through their respondent key; `deliveries.answered`
is set for the whole wave at once when it closes, for `/pulse mydata`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import field_validator

from storage.db import Store, chunks
from storage.keys import KeyWrites
from storage.models import Scale, Titled, Touchpoint, _Row, in_language, in_language_sql, variants_json, variants_of
from storage.outbox import REMINDER_PREFIX

DeliveryStatus = Literal["pending", "sending", "sent", "failed", "skipped"]
WaveKind = Literal["nps", "touchpoint"]


class Wave(_Row):
    id: int
    rollout_id: int
    stage_id: int
    kind: WaveKind
    touchpoint_id: int | None
    origin: str
    opened_by: str | None
    opened_at: int
    closes_at: int
    closed_at: int | None
    asked: int  # the people it was sent to (queued), not those skipped

    def is_open(self, now: int) -> bool:
        return self.closed_at is None and now < self.closes_at


class Delivery(_Row):
    id: int
    wave_id: int
    user_id: str
    status: DeliveryStatus
    reason: str | None
    not_before: float  # Unix seconds, to the millisecond for retries
    attempts: int
    dm_channel: str | None
    message_ts: str | None
    answered: bool
    created_at: int
    sent_at: int | None
    claimed_at: int | None
    tz: str | None
    language: str | None = None  # what the survey was (or is to be) sent in


class DueDelivery(Delivery):
    """A delivery with what its survey message shows."""

    rollout_slug: str
    rollout_title: str
    kind: WaveKind
    touchpoint_key: str | None
    touchpoint_label: str | None
    scale: Scale | None
    closes_at: int
    asked: int


# What a delivery's survey shows, in the language the survey was sent in.
_SHOWN = f"""{in_language_sql("r.title", "d.language")} AS rollout_title,
    {in_language_sql("t.label", "d.language")} AS touchpoint_label"""

# The wave's columns beside a delivery's, named apart (wave_id, wave_kind …).
_WAVE_COLUMNS = ", ".join(f"w.{name} AS wave_{name}" for name in Wave.model_fields)


@dataclass(frozen=True)
class ClickedSurvey:
    wave: Wave
    delivery: Delivery
    rollout_title: str
    scale: Scale | None  # None: NPS
    touchpoint_label: str | None


_CLICKED_SQL = f"""SELECT d.*, {_WAVE_COLUMNS}, {_SHOWN}, t.scale
    FROM deliveries d JOIN waves w ON w.id = d.wave_id JOIN rollouts r ON r.id = w.rollout_id
    LEFT JOIN touchpoints t ON t.id = w.touchpoint_id WHERE d.id = ?"""


def _clicked_from(row: sqlite3.Row | None) -> ClickedSurvey | None:
    if row is None:
        return None
    values = dict(row)
    return ClickedSurvey(
        wave=Wave.model_validate({name: values[f"wave_{name}"] for name in Wave.model_fields}),
        delivery=Delivery.model_validate(values),
        rollout_title=str(values["rollout_title"]),
        scale=values["scale"],
        touchpoint_label=values["touchpoint_label"],
    )


class Question(Titled):
    """What a survey asks, besides its wave: the rollout's title, and the touchpoint's scale and
    label (None for NPS), each with its variants by language."""

    scale: Scale | None
    label: str | None
    label_variants: dict[str, str]

    _parse_variants = field_validator("label_variants", mode="before")(variants_of)

    def label_in(self, language: str) -> str | None:
        return None if self.label is None else in_language(self.label, self.label_variants, language)


@dataclass(frozen=True)
class SurveyMessage:
    delivery_id: int
    channel: str
    ts: str
    user_id: str
    language: str | None = None


class NewDelivery:
    __slots__ = ("language", "not_before", "reason", "status", "tz", "user_id")

    def __init__(
        self,
        user_id: str,
        status: DeliveryStatus,
        *,
        reason: str | None,
        not_before: int,
        tz: str | None,
        language: str | None = None,
    ):
        self.user_id = user_id
        self.status = status
        self.reason = reason
        self.not_before = not_before
        self.tz = tz
        self.language = language


class Surveys:
    """Reads."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- touchpoints and triggers -----------------------------------------------------------------

    async def touchpoint(self, rollout_id: int, key: str) -> Touchpoint | None:
        row = await self.store.fetch_one(
            "SELECT * FROM touchpoints WHERE rollout_id = ? AND key = ?", (rollout_id, key)
        )
        return Touchpoint.from_row(row) if row else None

    async def touchpoint_answers(self, touchpoint_id: int) -> int:
        return int(
            await self.store.fetch_value("SELECT count(*) FROM responses WHERE touchpoint_id = ?", (touchpoint_id,))
        )

    async def trigger_channels(self, touchpoint_id: int) -> list[str]:
        rows = await self.store.fetch_all(
            "SELECT channel_id FROM triggers WHERE touchpoint_id = ? AND kind = 'on-join' ORDER BY id",
            (touchpoint_id,),
        )
        return [str(r[0]) for r in rows]

    async def triggers_on_join(self, channel_id: str) -> list[tuple[int, int]]:
        """(rollout id, touchpoint id) of every on-join trigger watching a channel."""
        rows = await self.store.fetch_all(
            """SELECT t.rollout_id, t.id FROM triggers g JOIN touchpoints t ON t.id = g.touchpoint_id
               WHERE g.kind = 'on-join' AND g.channel_id = ? ORDER BY g.id""",
            (channel_id,),
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    # -- waves ------------------------------------------------------------------------------------

    async def wave(self, wave_id: int) -> Wave | None:
        row = await self.store.fetch_one("SELECT * FROM waves WHERE id = ?", (wave_id,))
        return Wave.from_row(row) if row else None

    async def waves_due_to_close(self, now: int) -> list[Wave]:
        rows = await self.store.fetch_all(
            "SELECT * FROM waves WHERE closed_at IS NULL AND closes_at <= ? ORDER BY id", (now,)
        )
        return [Wave.from_row(r) for r in rows]

    async def open_waves_of(self, stage_id: int, kind: WaveKind, touchpoint_id: int | None) -> list[Wave]:
        """The stage's waves of one survey that have not closed yet."""
        rows = await self.store.fetch_all(
            """SELECT * FROM waves WHERE stage_id = ? AND kind = ? AND touchpoint_id IS ? AND closed_at IS NULL
               ORDER BY id""",
            (stage_id, kind, touchpoint_id),
        )
        return [Wave.from_row(r) for r in rows]

    async def clicked(self, delivery_id: int) -> ClickedSurvey | None:
        """The delivery a click names, with its wave and what its message shows, in one read."""
        return _clicked_from(await self.store.fetch_one(_CLICKED_SQL, (delivery_id,)))

    async def question(self, wave_id: int) -> Question:
        """What a survey message needs besides the wave, in every language it has."""
        row = await self.store.fetch_one(
            """SELECT r.title, r.title_variants, t.scale, t.label, t.label_variants
               FROM waves w JOIN rollouts r ON r.id = w.rollout_id
               LEFT JOIN touchpoints t ON t.id = w.touchpoint_id WHERE w.id = ?""",
            (wave_id,),
        )
        assert row is not None, f"wave {wave_id} has no rollout"
        return Question.model_validate(dict(row))

    async def has_wave_since(self, stage_id: int, origin: str, since: int) -> bool:
        found = await self.store.fetch_value(
            "SELECT 1 FROM waves WHERE stage_id = ? AND origin = ? AND opened_at >= ? LIMIT 1",
            (stage_id, origin, since),
        )
        return found is not None

    # -- deliveries -------------------------------------------------------------------------------

    async def delivery(self, delivery_id: int) -> Delivery | None:
        row = await self.store.fetch_one("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))
        return Delivery.from_row(row) if row else None

    async def last_asked(
        self, user_ids: Sequence[str], *, kind: WaveKind, since: int, touchpoint_id: int | None = None
    ) -> dict[str, int]:
        """When each person was last asked (a survey queued or sent, not skipped or failed)."""
        found: dict[str, int] = {}
        extra = " AND w.touchpoint_id = ?" if touchpoint_id is not None else ""
        for chunk in chunks(sorted(set(user_ids))):
            marks = ",".join("?" * len(chunk))
            params: list[object] = [kind, since, *chunk]
            if touchpoint_id is not None:
                params.append(touchpoint_id)
            rows = await self.store.fetch_all(
                f"""SELECT d.user_id, max(d.created_at) FROM deliveries d JOIN waves w ON w.id = d.wave_id
                    WHERE w.kind = ? AND d.status IN ('pending', 'sending', 'sent') AND d.created_at >= ?
                    AND d.user_id IN ({marks}){extra} GROUP BY d.user_id""",
                params,
            )
            found.update({str(r[0]): int(r[1]) for r in rows})
        return found

    async def open_for(self, user_id: str, now: int) -> list[Delivery]:
        """Surveys a person has received in waves still open (answered or not)."""
        rows = await self.store.fetch_all(
            """SELECT d.* FROM deliveries d JOIN waves w ON w.id = d.wave_id
               WHERE d.user_id = ? AND d.status = 'sent'
                 AND w.closed_at IS NULL AND w.closes_at > ? ORDER BY w.closes_at, d.id""",
            (user_id, now),
        )
        return [Delivery.from_row(r) for r in rows]

    async def to_remind(self, sent_before: int, now: int) -> list[Delivery]:
        """Sent before `sent_before`, in an open wave, and not reminded yet (answered or not:
        the caller asks the respondent keys)."""
        rows = await self.store.fetch_all(
            """SELECT d.* FROM deliveries d JOIN waves w ON w.id = d.wave_id
               WHERE d.status = 'sent' AND d.sent_at <= ?
                 AND w.closed_at IS NULL AND w.closes_at > ?
                 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = ? || d.id)
               ORDER BY d.id""",
            (sent_before, now, REMINDER_PREFIX),
        )
        return [Delivery.from_row(r) for r in rows]

    async def survey_messages(self, wave_id: int) -> list[SurveyMessage]:
        """Every message of a wave in people's DMs: the surveys and the reminders."""
        rows = await self.store.fetch_all(
            """SELECT id, dm_channel, message_ts, user_id, language FROM deliveries
               WHERE wave_id = ? AND status = 'sent' AND message_ts IS NOT NULL
               UNION ALL
               SELECT d.id, d.dm_channel, o.message_ts, d.user_id, d.language
               FROM outbox o JOIN deliveries d ON d.id = o.delivery_id
               WHERE d.wave_id = ? AND o.kind = 'reminder' AND o.status = 'sent' AND d.dm_channel IS NOT NULL
               ORDER BY 1""",
            (wave_id, wave_id),
        )
        return [SurveyMessage(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows]

    async def sent_in(self, wave_id: int) -> list[Delivery]:
        rows = await self.store.fetch_all("SELECT * FROM deliveries WHERE wave_id = ? AND status = 'sent'", (wave_id,))
        return [Delivery.from_row(r) for r in rows]

    async def answered_keys(self, wave_id: int, keys: Sequence[str]) -> set[str]:
        """Which of these respondent keys have an answer in the wave."""
        found: set[str] = set()
        for chunk in chunks(sorted(set(keys))):
            rows = await self.store.fetch_all(
                f"""SELECT respondent_key FROM responses WHERE wave_id = ?
                    AND respondent_key IN ({",".join("?" * len(chunk))})""",
                (wave_id, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return found

    async def counts(self, wave_id: int) -> dict[str, int]:
        rows = await self.store.fetch_all(
            "SELECT status, count(*) FROM deliveries WHERE wave_id = ? GROUP BY status", (wave_id,)
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # -- responses and comments -------------------------------------------------------------------

    async def answer(self, wave_id: int, respondent_key: str) -> float | None:
        value = await self.store.fetch_value(
            "SELECT score FROM responses WHERE wave_id = ? AND respondent_key = ?", (wave_id, respondent_key)
        )
        return float(value) if value is not None else None

    async def comment(self, wave_id: int, respondent_key: str) -> str | None:
        value = await self.store.fetch_value(
            "SELECT body FROM comments WHERE wave_id = ? AND respondent_key = ?", (wave_id, respondent_key)
        )
        return str(value) if value is not None else None


# -- writes ---------------------------------------------------------------------------------------


class WaveClosed(Exception):
    """The wave closed before the answer could be written; nothing was."""


class SurveyWrites:
    """Changes to waves, deliveries, answers and comments, made inside one write job
    (`storage.writes`): what a click reads is read in the transaction that then writes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def clicked_survey(self, delivery_id: int) -> ClickedSurvey | None:
        """`Surveys.clicked`, read in the transaction that then writes."""
        return _clicked_from(self.conn.execute(_CLICKED_SQL, (delivery_id,)).fetchone())

    def upsert_touchpoint(
        self,
        *,
        rollout_id: int,
        key: str,
        label: str,
        scale: str,
        now: int,
        label_variants: Mapping[str, str] | None = None,
    ) -> None:
        """Define a touchpoint, or change the label (and its variants by language: none given, none
        kept) and scale of an existing one."""
        self.conn.execute(
            """INSERT INTO touchpoints (rollout_id, key, label, label_variants, scale, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (rollout_id, key) DO UPDATE SET label = excluded.label,
               label_variants = excluded.label_variants, scale = excluded.scale, updated_at = excluded.updated_at""",
            (rollout_id, key, label, variants_json(label_variants), scale, now, now),
        )

    def add_trigger(self, *, touchpoint_id: int, channel_id: str, actor: str, now: int) -> bool:
        cur = self.conn.execute(
            """INSERT OR IGNORE INTO triggers (touchpoint_id, kind, channel_id, created_by, created_at)
               VALUES (?, 'on-join', ?, ?, ?)""",
            (touchpoint_id, channel_id, actor, now),
        )
        return cur.rowcount == 1

    def remove_trigger(self, *, touchpoint_id: int, channel_id: str) -> bool:
        cur = self.conn.execute(
            "DELETE FROM triggers WHERE touchpoint_id = ? AND kind = 'on-join' AND channel_id = ?",
            (touchpoint_id, channel_id),
        )
        return cur.rowcount > 0

    def insert_wave(
        self,
        *,
        rollout_id: int,
        stage_id: int,
        kind: WaveKind,
        touchpoint_id: int | None,
        origin: str,
        opened_by: str | None,
        opened_at: int,
        closes_at: int,
        asked: int,
    ) -> int:
        cur = self.conn.execute(
            """INSERT INTO waves
               (rollout_id, stage_id, kind, touchpoint_id, origin, opened_by, opened_at, closes_at, asked)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (rollout_id, stage_id, kind, touchpoint_id, origin, opened_by, opened_at, closes_at, asked),
        )
        return int(cur.lastrowid or 0)

    def insert_deliveries(self, wave_id: int, deliveries: Sequence[NewDelivery], now: int) -> dict[str, int]:
        """One row per person (unique per wave and person); returns the id of each person's row."""
        self.conn.executemany(
            """INSERT OR IGNORE INTO deliveries (wave_id, user_id, status, reason, not_before, tz, language, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [(wave_id, d.user_id, d.status, d.reason, d.not_before, d.tz, d.language, now) for d in deliveries],
        )
        rows = (self.conn.execute("SELECT user_id, id FROM deliveries WHERE wave_id = ?", (wave_id,))).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def _require_open(self, wave_id: int, now: int) -> None:
        # Checked inside the writing transaction, so a wave closing meanwhile cannot take an answer.
        row = self.conn.execute("SELECT closed_at, closes_at FROM waves WHERE id = ?", (wave_id,)).fetchone()
        if row is None or row[0] is not None or row[1] <= now:
            raise WaveClosed(wave_id)

    def record_answer(self, *, wave: Wave, respondent_key: str, score: float, day: str) -> bool:
        """Within a `Store.write` job that has checked the wave is open: the person's answer in
        this wave (a second answer replaces the first), dated by the day only; nothing else is
        written. True if they have also left a comment (the thank-you message says so)."""
        self.conn.execute(
            """INSERT INTO responses
               (wave_id, rollout_id, stage_id, kind, touchpoint_id, respondent_key, score, answered_on)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (wave_id, respondent_key) DO UPDATE SET score = excluded.score,
               answered_on = excluded.answered_on""",
            (wave.id, wave.rollout_id, wave.stage_id, wave.kind, wave.touchpoint_id, respondent_key, score, day),
        )
        commented = self.conn.execute(
            "SELECT 1 FROM comments WHERE wave_id = ? AND respondent_key = ?", (wave.id, respondent_key)
        ).fetchone()
        return commented is not None

    def record_comment(self, *, wave: Wave, respondent_key: str, body: str, now: int, day: str) -> None:
        """A `Store.write` job: the person's comment in this wave (a second replaces the first; the
        caller has checked that the first has not been released with a group)."""
        self._require_open(wave.id, now)
        self.conn.execute(
            """INSERT INTO comments (wave_id, rollout_id, stage_id, respondent_key, body, created_on)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (wave_id, respondent_key)
               DO UPDATE SET body = excluded.body, created_on = excluded.created_on""",
            (wave.id, wave.rollout_id, wave.stage_id, respondent_key, body, day),
        )

    def respondent_keys_of(self, wave_id: int) -> list[str]:
        """The keys the wave's answers are stored under."""
        rows = self.conn.execute("SELECT respondent_key FROM responses WHERE wave_id = ?", (wave_id,)).fetchall()
        return [str(r[0]) for r in rows]

    def close_wave(self, wave_id: int, now: int, answered: Sequence[int]) -> int:
        """Close a wave and destroy its key; `answered` (delivery ids, found while the key still
        existed) are marked answered, all in this one commit; deliveries still waiting are skipped.
        Returns how many were skipped."""
        self.conn.execute("UPDATE waves SET closed_at = ? WHERE id = ? AND closed_at IS NULL", (now, wave_id))
        KeyWrites(self.conn).destroy_wave_key(wave_id)
        self.conn.executemany("UPDATE deliveries SET answered = 1 WHERE id = ?", [(d,) for d in answered])
        cur = self.conn.execute(
            """UPDATE deliveries SET status = 'skipped', reason = 'the survey closed before it could be sent'
               WHERE wave_id = ? AND status = 'pending'""",
            (wave_id,),
        )
        return cur.rowcount


class DeliveryQueue:
    """The sender's side of deliveries: claim, and record what Slack said."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def due(self, now: float, limit: int) -> list[DueDelivery]:
        """Deliveries to send now: pending (or interrupted), in an open wave of an active rollout.
        Those tried before come first: queued behind a whole fresh wave, the ones Slack refused
        would all be retried at its end, each perhaps more than once, and the wave would take
        seconds longer than the rate limit needs."""
        rows = await self.store.fetch_all(
            f"""SELECT d.*, r.slug AS rollout_slug, {_SHOWN}, w.kind, w.closes_at, w.asked,
                      t.key AS touchpoint_key, t.scale
               FROM deliveries d
               JOIN waves w ON w.id = d.wave_id
               JOIN rollouts r ON r.id = w.rollout_id
               LEFT JOIN touchpoints t ON t.id = w.touchpoint_id
               WHERE d.status IN ('pending', 'sending') AND d.not_before <= ?
                 AND w.closed_at IS NULL AND w.closes_at > ? AND r.status = 'active'
               ORDER BY d.attempts > 0 DESC, d.not_before, d.id LIMIT ?""",
            (now, now, limit),
        )
        return [DueDelivery.from_row(r) for r in rows]

    async def next_due_at(self, now: float) -> float | None:
        value = await self.store.fetch_value(
            """SELECT min(d.not_before) FROM deliveries d JOIN waves w ON w.id = d.wave_id
               JOIN rollouts r ON r.id = w.rollout_id
               WHERE d.status IN ('pending', 'sending') AND w.closed_at IS NULL AND w.closes_at > ?
                 AND r.status = 'active'""",
            (now,),
        )
        return float(value) if value is not None else None

    async def recover(self) -> int:
        return await self.store.execute(
            "UPDATE deliveries SET not_before = 0 WHERE status = 'sending' AND not_before > 0"
        )

    async def claim(self, delivery_id: int, now: float, lease: int) -> Delivery | None:
        """Take a due delivery; the returned row is as it was (status 'sending' = outcome unknown)."""

        def take(conn: sqlite3.Connection) -> Delivery | None:
            row = conn.execute(
                "SELECT * FROM deliveries WHERE id = ? AND status IN ('pending', 'sending') AND not_before <= ?",
                (delivery_id, now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                """UPDATE deliveries SET status = 'sending', attempts = attempts + 1,
                   claimed_at = ifnull(CASE WHEN status = 'sending' THEN claimed_at END, ?), not_before = ?
                   WHERE id = ?""",
                (int(now), now + lease, delivery_id),
            )
            before: Delivery = Delivery.from_row(row)  # the writer's rows are sqlite3.Row too
            return before

        return await self.store.write(take)

    async def sent(self, delivery_id: int, channel: str, ts: str, now: int) -> None:
        await self.store.execute(
            """UPDATE deliveries SET status = 'sent', dm_channel = ?, message_ts = ?, sent_at = ?, reason = NULL
               WHERE id = ?""",
            (channel, ts, now, delivery_id),
        )

    async def retry(self, delivery_id: int, at: float, error: str, *, maybe_sent: bool) -> None:
        status = "sending" if maybe_sent else "pending"
        await self.store.execute(
            """UPDATE deliveries SET status = ?, not_before = ?, reason = ?,
               claimed_at = CASE WHEN ? = 'pending' THEN NULL ELSE claimed_at END WHERE id = ?""",
            (status, at, error, status, delivery_id),
        )

    async def hold(self, delivery_id: int, until: int) -> None:
        """Outside the person's window after all: back to pending until it opens."""
        await self.store.execute(
            "UPDATE deliveries SET status = 'pending', not_before = ?, claimed_at = NULL WHERE id = ?",
            (until, delivery_id),
        )

    async def failed(self, delivery_id: int, error: str) -> None:
        await self.store.execute(
            "UPDATE deliveries SET status = 'failed', reason = ? WHERE id = ?", (error, delivery_id)
        )
