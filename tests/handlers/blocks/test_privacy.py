"""`/pulse mydata`, `/pulse forget-me` and the export reply, for a person with the most surveys,
the longest titles, labels and comments and many roles: within Slack's limits, and never without
how answers are kept, or the warning and the button of forget-me."""

from __future__ import annotations

from typing import cast

import pytest

from handlers.blocks.privacy import (
    LISTED,
    ROLES_LISTED,
    build_export_done,
    build_forget_confirmation,
    build_forgotten,
    build_mydata,
    how_answers_are_kept,
)
from handlers.blocks.text import Block, escape
from handlers.ids import Action
from runtime.i18n import LANGUAGES, Texts, texts
from services.disclosure import Export, held_back_note
from services.privacy import MyData, Reading
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
EN = texts("en")
SV = texts("sv")


@pytest.fixture(params=LANGUAGES)
def t(request: pytest.FixtureRequest) -> Texts:
    """Every surface at its longest, in each language the bot speaks."""
    return texts(request.param)


def asked(i: int, status: str = "sent", *, is_open: bool = True, answers: int = 10) -> AskedRow:
    return AskedRow(
        delivery_id=i, wave_id=i, rollout_title=TITLE, kind="touchpoint", touchpoint_label=LABEL, scale="csat",
        opened_at=SENT_AT, open=is_open, asked=10, answers=answers, status=status,
        reason="unreachable" if status == "skipped" else None, answered=True, sent_at=SENT_AT,
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


def test_every_surface_at_its_longest_fits_in_every_language(t: Texts) -> None:
    for reading in (Reading(t.language, t.language, "chosen"), Reading(t.language, None, "slack"),
                    Reading(t.language, None, "default")):  # fmt: skip
        assert message_problems(build_mydata(t, MyData(record(50), OWN, 5, reading))) == []
    assert message_problems(build_forget_confirmation(t, record(50, sole_owner=True))) == []
    done = Forgotten(10**6, 10**6, 10**6, roles=10**6, memberships=10**6, traces_left=True)
    assert message_problems(build_forgotten(t, done)) == []
    export = Export(csv="", answers=10**6, comments=10**6)
    assert message_problems(build_export_done(t, f"{SLUG}-responses.csv", export, 1000)) == []


def test_mydata_in_swedish() -> None:
    message = build_mydata(SV, MyData(record(), OWN, 5, Reading("sv", None, "slack"), 14))
    text = shown(message.blocks)
    assert message.text == "Det här sparar Rollout Pulse om dig"
    assert f"{len(ROWS)} enkäter till dig:" in text and f"…och {OLDER} äldre." in text
    assert "inte skickad (en bot eller ett inaktiverat konto)" in text and "du svarade *5*" in text
    assert f"Ditt namn står på {SV.number(10**6)} ändringar i införandenas historik." in text
    assert "Rollout Pulse skriver till dig på svenska, språket som är inställt för dig i Slack" in text
    assert how_answers_are_kept(SV) in text and "*Så sparas dina svar.*" in text
    assert message.blocks[-1]["elements"][0]["text"] == "`/pulse forget-me` raderar allt det här."
    confirm = build_forget_confirmation(SV, record(3, sole_owner=True))
    assert "Det går inte att ångra." in confirm.text
    assert delete_button(confirm.blocks)["text"]["text"] == "Radera mina uppgifter"


def test_mydata_says_which_language_and_why() -> None:
    def said(reading: Reading, locale: str | None = "sv-SE") -> str:
        base = record()
        person = PersonRecord(
            roles=base.roles, memberships=base.memberships, asked=[], changes_made=0, cached_tz=None,
            cached=locale is not None, cached_locale=locale, language=reading.chosen,
        )  # fmt: skip
        return shown(build_mydata(EN, MyData(person, {}, 5, reading)).blocks)

    assert "The language you chose: Swedish." in said(Reading("sv", "sv", "chosen"))
    assert "`/pulse language auto` goes back" in said(Reading("sv", "sv", "chosen"))
    assert "Rollout Pulse writes to you in Swedish, the language set on you in Slack" in said(
        Reading("sv", None, "slack")
    )
    default = said(Reading("en", None, "default"), "fr-FR")
    assert "writes to you in English, its default" in default and "is not one it speaks" in default
    assert "Slack has not told it yours yet" in said(Reading("en", None, "default"), None)


def test_mydata_of_a_person_asked_the_most_fits_and_keeps_how_answers_are_kept() -> None:
    message = build_mydata(EN, MyData(record(), OWN, 5))
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
    assert "Your name is on 1,000,000 changes in rollout histories." in text
    assert f"Your time zone, to ask you only in your working hours: {LONGEST_TZ.key}." in text
    assert "Your language as set in Slack: sv-SE." in text
    assert how_answers_are_kept(EN) in text
    assert message.blocks[-1]["elements"][0]["text"] == "`/pulse forget-me` deletes all of this."


def test_mydata_of_a_person_with_many_roles_fits_and_counts_the_rest() -> None:
    message = build_mydata(EN, MyData(record(50), OWN, 5))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert f"…and {50 + 50 - ROLES_LISTED} more." in text
    assert how_answers_are_kept(EN) in text and f"…and {OLDER} older ones." in text


def delete_button(blocks: list[Block]) -> Block:
    [actions] = [b for b in blocks if b["type"] == "actions"]
    [button] = actions["elements"]
    return cast(Block, button)


def test_forget_me_says_what_it_deletes_and_asks_before_it_does() -> None:
    message = build_forget_confirmation(EN, record(3, sole_owner=True))
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
    message = build_forget_confirmation(EN, record(50, sole_owner=True))
    assert message_problems(message) == []
    text = shown(message.blocks)
    assert "It cannot be undone." in text and f"and {50 - ROLES_LISTED} more" in text


def test_forgotten_says_what_went() -> None:
    message = build_forgotten(EN, Forgotten(10**6, 10**6, 10**6, roles=10**6, memberships=10**6, traces_left=True))
    assert message_problems(message) == []
    assert message.text.startswith(
        "Done: deleted 1,000,000 surveys sent to you, 1,000,000 answers and 1,000,000 comments. "
        "Removed you from 1,000,000 roles and 1,000,000 cohorts. Nothing stored names you any more."
    )
    assert "tried again every minute" in message.text


def test_the_export_reply_names_the_file_and_what_was_held_back() -> None:
    message = build_export_done(EN, f"{SLUG}-responses.csv", Export(csv="", answers=10**6, comments=1), 1000)
    assert message_problems(message) == []
    assert f"Sent you `{SLUG}-responses.csv` (1,000,000 answers and 1 comment)" in message.text
    assert str(held_back_note(1000)) in shown(message.blocks)
