"""Mentions as Slack escapes them with should_escape (and raw IDs), parsed into references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.errors import BadInput

MentionKind = Literal["user", "usergroup", "channel"]

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
    words = {"user": "a person", "usergroup": "a user group", "channel": "a channel"}
    expected = " or ".join(words[k] for k in allowed)
    for token in tokens:
        mention = parse_mention(token)
        if mention is None:
            if token.startswith(("@", "#")):
                raise BadInput(
                    f"I could not recognise {token[:40]}: pick it from Slack's suggestions as you type, "
                    "so that it turns into a link."
                )
            raise BadInput(f"“{token[:40]}” is not {expected}.")
        if mention.kind not in allowed:
            raise BadInput(f"{token[:60]} is {words[mention.kind]}; here I need {expected}.")
        if all((m.kind, m.id) != (mention.kind, mention.id) for m in found):
            found.append(mention)
    return found
