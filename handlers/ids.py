"""Every action_id, callback_id and block_id, shared by views, handlers and tests."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    ROLLOUT = "/rollout"
    PULSE = "/pulse"


class Action(StrEnum):
    """action_id of buttons."""

    ADVANCE = "rollout_advance"
    ROADMAP = "rollout_roadmap"
    ADVANCE_ANYWAY = "rollout_advance_anyway"


class Callback(StrEnum):
    """callback_id of modals."""

    ADVANCE_ANYWAY = "rollout_advance_anyway_modal"
