"""Every action_id, callback_id and block_id, shared by views, handlers and tests; and the row ids
that buttons and forms carry through Slack and back."""

from __future__ import annotations

import re
from enum import StrEnum

# ASCII digits only (str.isdigit() also takes "²", which int() refuses), and few enough of them
# for SQLite's 64-bit integers.
_ROW_ID = re.compile(r"[0-9]{1,18}")


def row_id(value: object) -> int:
    """A database row id as a button's value or a form's metadata brings it back from Slack, where
    anyone could have changed it; ValueError for anything that cannot be one."""
    if isinstance(value, str) and _ROW_ID.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    raise ValueError(f"not a row id: {str(value)[:40]!r}")


class Command(StrEnum):
    ROLLOUT = "/rollout"
    PULSE = "/pulse"


class Action(StrEnum):
    """action_id of buttons (answer buttons add _<index>, since ids must differ within a block)."""

    ADVANCE = "rollout_advance"
    ROADMAP = "rollout_roadmap"
    ADVANCE_ANYWAY = "rollout_advance_anyway"
    APPROVE = "rollout_approve"  # an approver's DM: the advance that waits for them
    SURVEY_ANSWER = "survey_answer"
    SURVEY_CHANGE = "survey_change"
    SURVEY_COMMENT = "survey_comment"
    FORGET_ME = "privacy_forget_me"
    HOME_STATUS = "home_status"
    HOME_LANGUAGE = "home_language"  # + _<code>: the language picker on the Home tab
    COMMENT_REPLY = "comment_reply"  # the menu beside a comment, or beside a thread's answer
    THREAD_ANSWER = "thread_answer"  # the writer answers back
    THREAD_CLOSE = "thread_close"  # the writer closes the conversation


class Callback(StrEnum):
    """callback_id of modals."""

    ADVANCE_ANYWAY = "rollout_advance_anyway_modal"
    SURVEY_COMMENT = "survey_comment_modal"
    THREAD_REPLY = "thread_reply_modal"
    THREAD_ANSWER = "thread_answer_modal"


class Block(StrEnum):
    """block_id of blocks the handlers read back."""

    SURVEY_ANSWERS = "survey_answers"
    SURVEY_THANKS = "survey_thanks"
    COMMENT = "comment"
    REASON = "reason"
    REPLY = "reply"
