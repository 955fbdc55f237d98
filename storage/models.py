"""Rows of the store as typed values. Times are Unix seconds (UTC); dates are calendar dates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator


class RolloutStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


CohortKind = Literal["user", "usergroup", "channel"]
TransitionKind = Literal["start", "advance", "rollback", "complete", "pause", "resume"]
Scale = Literal["csat", "ces", "thumbs", "minutes"]


def _json_text(value: Any) -> Any:
    """Columns holding JSON arrive as text."""
    return json.loads(value) if isinstance(value, str) else value


def variants_json(variants: Mapping[str, str] | None) -> str | None:
    """An owner's text in each language as stored: JSON, or NULL for one text that serves all."""
    return json.dumps(dict(variants), ensure_ascii=False) if variants else None


def variants_of(value: Any) -> Any:
    """An owner's text in each language, as JSON text; none stored is none given."""
    return _json_text(value) or {}


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_row(cls, row: Any) -> Any:
        return cls.model_validate(dict(row))


def in_language(text: str, variants: Mapping[str, str], language: str) -> str:
    """An owner's text as a reader of `language` sees it: its variant in that language (from the
    config file), else as written."""
    return variants.get(language, text)


def in_language_sql(column: str, language: str) -> str:
    """`in_language` in SQL, for a `column` beside its `<column>_variants` and a `language` that is
    an SQL expression."""
    # The language is quoted as one key of the path: a stored value is used as a name, never as path syntax.
    return f"""coalesce(json_extract({column}_variants, '$."' || {language} || '"'), {column})"""


class Titled(_Row):
    """A row with a rollout's title, and the title's variants by language."""

    title: str
    title_variants: dict[str, str] = {}

    _parse_title_variants = field_validator("title_variants", mode="before")(variants_of)

    def title_in(self, language: str) -> str:
        return in_language(self.title, self.title_variants, language)


class Rollout(Titled):
    id: int
    slug: str
    vision: str | None
    status: RolloutStatus
    current_stage_id: int | None
    channel_id: str | None
    auto_nps_after_days: int
    created_by: str
    created_at: int
    updated_at: int
    language: str | None = None  # its channel posts' language; None: PULSE_LANGUAGE
    on_regression: Literal["notify", "pause"] = "notify"  # what a clear regression does
    vision_variants: dict[str, str] = {}

    _parse_vision_variants = field_validator("vision_variants", mode="before")(variants_of)

    def vision_in(self, language: str) -> str | None:
        return in_language(self.vision, self.vision_variants, language) if self.vision else self.vision


class Stage(_Row):
    id: int
    rollout_id: int
    position: int
    name: str
    planned_start: date | None
    entered_at: int | None
    left_at: int | None
    soak_days: int = 0  # it advances by itself once its gates have passed this many days (0: never)
    passing_since: int | None = None  # since when its gates have passed without a break


class ApprovalRequest(_Row):
    """An advance into a stage with approvers, waiting for one of them (or decided)."""

    id: int
    rollout_id: int
    from_stage_id: int
    to_stage_id: int
    requested_by: str
    reason: str | None
    overridden: bool
    status: Literal["waiting", "approved", "withdrawn"]
    decided_by: str | None
    requested_at: int
    decided_at: int | None


class CohortEntry(_Row):
    id: int
    stage_id: int
    kind: CohortKind
    ref: str
    label: str | None


class Target(_Row):
    id: int
    rollout_id: int
    stage_id: int | None
    metric: str
    op: str
    value: float


class Touchpoint(_Row):
    id: int
    rollout_id: int
    key: str
    label: str
    scale: Scale
    label_variants: dict[str, str] = {}

    _parse_variants = field_validator("label_variants", mode="before")(variants_of)

    def label_in(self, language: str) -> str:
        return in_language(self.label, self.label_variants, language)


class GateRecord(BaseModel):
    """A gate as it stood when a transition happened, kept with the transition."""

    metric: str
    op: str
    target: float
    value: float | None
    state: Literal["pass", "fail", "not_enough_data"]
    stage_specific: bool = False


class Transition(_Row):
    id: int
    rollout_id: int
    kind: TransitionKind
    from_stage_id: int | None
    to_stage_id: int | None
    actor: str
    reason: str | None
    gates: list[GateRecord] | None
    overridden: bool
    cohort_size: int | None
    at: int

    _parse_gates = field_validator("gates", mode="before")(_json_text)


class AuditEntry(_Row):
    id: int
    rollout_id: int | None
    actor: str
    action: str
    detail: dict[str, Any] | None
    reason: str | None
    at: int

    _parse_detail = field_validator("detail", mode="before")(_json_text)


class OutboxItem(_Row):
    id: int
    kind: str
    dedupe_key: str
    transition_id: int | None
    delivery_id: int | None
    channel: str
    payload: str
    status: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    error: str | None
    next_attempt_at: float  # Unix seconds, to the millisecond for retries
    message_ts: str | None
    created_at: int
    sent_at: int | None
    claimed_at: int | None
