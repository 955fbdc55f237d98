"""Every action_id, callback_id and block_id, shared by views, handlers and tests."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    ROLLOUT = "/rollout"
    PULSE = "/pulse"
