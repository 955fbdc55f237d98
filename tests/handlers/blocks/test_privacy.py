"""`/pulse mydata`, `/pulse forget-me` and the export reply, for a person with the most surveys,
the longest titles, labels and comments and many roles: within Slack's limits, and never without
how answers are kept, or the warning and the button of forget-me."""

from __future__ import annotations

from typing import cast

from handlers.blocks.privacy import (
    HOW_ANSWERS_ARE_KEPT,
    LISTED,
    ROLES_LISTED,
    build_export_done,
    build_forget_confirmation,
    build_forgotten,
    build_mydata,
)
from handlers.blocks.text import Block, escape
from handlers.ids import Action
from services.disclosure import Export, held_back_note
from services.privacy import MyData
from storage.people import AskedRow, Forgotten, Membership, OwnAnswer, PersonRecord, Role
from tests.handlers.blocks.extremes import (
    COMMENT,
    LABEL,
    LONGEST_TZ,
    SLUG,
    STAGE_NAMES,
    TITLE,
    message_problems,
    name,
    shown,
)

SENT_AT = 1_795_000_000  # 18 Nov 2026
OLDER = 15


def asked(i: int, status: str = "sent", *, is_open: bool = True, answers: int = 10) -> AskedRow:
    return AskedRow(
        delivery_id=i, wave_id=i, rollout_title=TITLE, kind="touchpoint", touchpoint_label=LABEL, scale="csat",
        opened_at=SENT_AT, open=is_open, asked=10, answers=answers, status=status,
        reason="a bot or a deactivated account" if status == "skipped" else None, answered=True, sent_at=SENT_AT,
    )  # fmt: skip


# Open surveys answered with the longest comment fill a section each; then every other outcome.
ROWS = [
    *(asked(i) for i in range(LISTED - 5)),
    asked(100, "skipped"),
    asked(101, "failed"),
    asked(102, "pending"),
    asked(103, is_open=False, answers=2),
    asked(104, is_open=False),
    *(asked(200 + i) for i in range(OLDER)),
]
OWN = {i: OwnAnswer(wave_id=i, score=5.0, comment=COMMENT) for i in range(LISTED)}


def roles(count: int, *, sole_owner: bool = False) -> list[Role]:
    return [Role(role=("owner", "champion")[i % 2], slug=name("rollout", i), title=TITLE, sole_owner=sole_owner)
            for i in range(count)]  # fmt: skip


def memberships(count: int) -> list[Membership]:
    return [Membership(slug=name("rollout", i), title=TITLE, stage=STAGE_NAMES[i % 10]) for i in range(count)]


def record(role_count: int = 5, *, sole_owner: bool = False) -> PersonRecord:
    return PersonRecord(
        roles=roles(role_count, sole_owner=sole_owner), memberships=memberships(role_count), asked=ROWS,
        changes_made=10**6, cached_tz=LONGEST_TZ.key, cached=True, cached_locale="sv-SE",
    )  # fmt: skip


def test_mydata_of_a_person_asked_the_most_fits_and_keeps_how_answers_are_kept() -> None:
    message = build_mydata(MyData(record(), OWN, 5))
    assert message_problems(message) == []
    text = shown(message.blocks)
    said = escape(" ".join(COMMENT.split())[:200])
    assert text.count(f"you answered *5*, with the comment “{said}”") == LISTED - 5
    assert f"{len(ROWS)} surveys for you:" in text and f"…and {OLDER} older ones." in text
    assert "not sent (a bot or a deactivated account)" in text and "could not be delivered" in text
    assert "waiting to be sent" in text and "closed with fewer than 5 answers" in text
    assert "answered; no longer tied to you" in text
    assert f"• owner of {escape(TITLE)} (`{name('rollout', 0)}`)" in text
    assert f"• named in the {STAGE_NAMES[1]} cohort of {escape(TITLE)} (`{name('rollout', 1)}`)" in text
    assert "Your name is on 1000000 changes in rollout histories." in text
    assert f"Your time zone, to ask you only in your working hours: {LONGEST_TZ.key}." in text
    assert "Your language as set in Slack: sv-SE." in text
    assert HOW_ANSWERS_ARE_KEPT in text
    assert message.blocks[-1]["elements"][0]["text"] == "`/pulse forget-me` deletes all of this."


def test_mydata_of_a_person_with_many_roles_fits_and_counts_the_rest() -> None:
    message = build_mydata(MyData(record(50), OWN, 5))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert f"…and {50 + 50 - ROLES_LISTED} more." in text
    assert HOW_ANSWERS_ARE_KEPT in text and f"…and {OLDER} older ones." in text


def delete_button(blocks: list[Block]) -> Block:
    [actions] = [b for b in blocks if b["type"] == "actions"]
    [button] = actions["elements"]
    return cast(Block, button)


def test_forget_me_says_what_it_deletes_and_asks_before_it_does() -> None:
    message = build_forget_confirmation(record(3, sole_owner=True))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert f"This deletes the {len(ROWS)} surveys sent to you" in text
    assert f"You will no longer be owner of `{name('rollout', 0)}`, champion of `{name('rollout', 1)}`" in text
    assert f"You are the only owner of `{name('rollout', 0)}`" in text
    assert "You leave 3 cohorts that name you." in text and "It cannot be undone." in text
    button = delete_button(message.blocks)
    assert button["action_id"] == Action.FORGET_ME.value and button["style"] == "danger"
    assert "confirm" in button


def test_forget_me_with_many_roles_still_warns_that_it_cannot_be_undone() -> None:
    message = build_forget_confirmation(record(50, sole_owner=True))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert "It cannot be undone." in text and f"and {50 - ROLES_LISTED} more" in text


def test_forgotten_says_what_went() -> None:
    message = build_forgotten(Forgotten(10**6, 10**6, 10**6, roles=10**6, memberships=10**6, traces_left=True))
    assert message_problems(message) == []
    assert message.text.startswith(
        "Done: deleted 1000000 surveys sent to you, 1000000 answers and 1000000 comments. "
        "Removed you from 1000000 roles and 1000000 cohorts. Nothing stored names you any more."
    )
    assert "tried again every minute" in message.text


def test_the_export_reply_names_the_file_and_what_was_held_back() -> None:
    message = build_export_done(f"{SLUG}-responses.csv", Export(csv="", answers=10**6, comments=1), 1000)
    assert message_problems(message) == []
    assert f"Sent you `{SLUG}-responses.csv` (1000000 answers and 1 comment)" in message.text
    assert held_back_note(1000) in shown(message.blocks)
