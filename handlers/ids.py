"""Every action_id, callback_id and block_id, shared by views, handlers and tests."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    ROLLOUT = "/rollout"
    PULSE = "/pulse"


class Action(StrEnum):
    """action_id of buttons (answer buttons add _<index>, since ids must differ within a block)."""

    ADVANCE = "rollout_advance"
    ROADMAP = "rollout_roadmap"
    ADVANCE_ANYWAY = "rollout_advance_anyway"
    SURVEY_ANSWER = "survey_answer"
    SURVEY_CHANGE = "survey_change"
    SURVEY_COMMENT = "survey_comment"
    FORGET_ME = "privacy_forget_me"
    HOME_STATUS = "home_status"


class Callback(StrEnum):
    """callback_id of modals."""

    ADVANCE_ANYWAY = "rollout_advance_anyway_modal"
    SURVEY_COMMENT = "survey_comment_modal"


class Block(StrEnum):
    """block_id of blocks the handlers read back."""

    SURVEY_ANSWERS = "survey_answers"
    SURVEY_THANKS = "survey_thanks"
    COMMENT = "comment"
    REASON = "reason"
