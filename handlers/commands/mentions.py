"""Mentions as Slack escapes them with should_escape (and raw IDs), parsed into references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from runtime.i18n import N_, Phrase
from services.errors import BadInput

MentionKind = Literal["user", "usergroup", "channel"]

WORDS: dict[str, Phrase] = {"user": N_("a person"), "usergroup": N_("a user group"), "channel": N_("a channel")}

_ESCAPED = (
    (re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|([^>]*))?>$"), "user"),
    (re.compile(r"^<#([CGD][A-Z0-9]{2,})(?:\|([^>]*))?>$"), "channel"),
    (re.compile(r"^<!subteam\^(S[A-Z0-9]{2,})(?:\|([^>]*))?>$"), "usergroup"),
)
_RAW = (
    (re.compile(r"^([UW][A-Z0-9]{2,})$"), "user"),
    (re.compile(r"^([CG][A-Z0-9]{2,})$"), "channel"),
    (re.compile(r"^(S[A-Z0-9]{2,})$"), "usergroup"),
)


@dataclass(frozen=True)
class Mention:
    kind: MentionKind
    id: str
    label: str | None = None


def parse_mention(token: str) -> Mention | None:
    for pattern, kind in _ESCAPED:
        match = pattern.match(token)
        if match:
            label = (match.group(2) or "").lstrip("@") or None
            return Mention(kind, match.group(1), label)  # type: ignore[arg-type]
    for pattern, kind in _RAW:
        match = pattern.match(token)
        if match:
            return Mention(kind, match.group(1))  # type: ignore[arg-type]
    return None


def mentions(tokens: list[str], *, allowed: tuple[MentionKind, ...]) -> list[Mention]:
    """Every token as a mention of an allowed kind, or a BadInput naming the first that is not."""
    found: list[Mention] = []
    expected = _any_of([WORDS[k] for k in allowed])
    for token in tokens:
        mention = parse_mention(token)
        if mention is None:
            if token.startswith(("@", "#")):
                raise BadInput(
                    N_(
                        "I could not recognise {token}: pick it from Slack's suggestions as you type, "
                        "so that it turns into a link.",
                        token=token[:40],
                    )
                )
            raise BadInput(N_("“{token}” is not {expected}.", token=token[:40], expected=expected))
        if mention.kind not in allowed:
            raise BadInput(
                N_(
                    "{token} is {kind}; here I need {expected}.",
                    token=token[:60],
                    kind=WORDS[mention.kind],
                    expected=expected,
                )
            )
        if all((m.kind, m.id) != (mention.kind, mention.id) for m in found):
            found.append(mention)
    return found


def _any_of(words: list[Phrase]) -> Phrase:
    """“a person”, “a person or a channel”, “a person, a user group or a channel”."""
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return N_("{first} or {second}", first=words[0], second=words[1])
    return N_("{first}, {second} or {third}", first=words[0], second=words[1], third=words[2])
