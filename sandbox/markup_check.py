"""What in a payload the app sent Slack would ping or link: for tests that feed the bot hostile text.

Slack reads markup in two places of what an app sends: the top-level `text` (and legacy
attachments) of a message, and every mrkdwn text object in blocks and views. In both, `<!here>`,
`<@U…>`, `<#C…>`, `<!subteam^…>` and `<url|label>` are live unless their `<` is sent as `&lt;`;
mrkdwn text objects that are not `verbatim` also turn bare URLs into links and parse some plain
@-mentions. plain_text objects are shown as they are written and never ping or link, so they
are not looked at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# Fields of a legacy attachment that Slack formats (mrkdwn_in) or shows in notifications.
_ATTACHMENT_TEXTS = ("text", "pretext", "fallback", "title", "footer", "author_name")
# Parameters that carry JSON (as JSON text when sent as a form or query string).
_JSON_FIELDS = ("blocks", "attachments", "view")


@dataclass(frozen=True)
class Markup:
    """One piece of text Slack parses for markup, and where it is."""

    where: str
    text: str
    # Slack's own pass (bare URLs into links, some @-mentions parsed) is skipped for it.
    verbatim: bool
    # A message's top-level text while the message has blocks: shown in notifications only.
    notification_only: bool = False


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _objects(node: Any, where: str) -> Iterator[Markup]:
    """Every mrkdwn text object under `node`, blocks and views alike."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _objects(item, f"{where}[{i}]")
    elif isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield Markup(where, node["text"], verbatim=node.get("verbatim") is True)
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from _objects(value, f"{where}.{key}")


def _attachments(attachments: Any, where: str) -> Iterator[Markup]:
    for i, attachment in enumerate(attachments if isinstance(attachments, list) else []):
        if not isinstance(attachment, dict):
            continue
        for key in _ATTACHMENT_TEXTS:
            if isinstance(attachment.get(key), str):
                yield Markup(f"{where}.attachments[{i}].{key}", attachment[key], verbatim=False)
        for j, item in enumerate(attachment.get("fields") or []):
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                yield Markup(f"{where}.attachments[{i}].fields[{j}]", item["value"], verbatim=False)
        yield from _objects(attachment.get("blocks"), f"{where}.attachments[{i}].blocks")


def markup_in(payload: dict[str, Any], where: str = "payload") -> Iterator[Markup]:
    """Every text Slack parses for markup in one payload: a chat.* call, a response_url body, a
    command's acknowledgement, a view, or a file share's comment."""
    fields = {key: _json(payload.get(key)) for key in _JSON_FIELDS}
    blocks = fields["blocks"]
    for key in ("text", "initial_comment"):
        if isinstance(payload.get(key), str):
            yield Markup(f"{where}.{key}", payload[key], verbatim=False, notification_only=bool(blocks))
    yield from _objects(blocks, f"{where}.blocks")
    yield from _attachments(fields["attachments"], where)
    yield from _objects(fields["view"], f"{where}.view")
    if payload.get("type") in ("modal", "home"):  # a view itself
        yield from _objects(payload.get("blocks"), f"{where}.blocks")


def live_markup(
    payloads: Iterable[tuple[str, dict[str, Any]]], *, live: Iterable[str], bare: Iterable[str] = ()
) -> list[str]:
    """Where the payloads hold one of the `live` sequences unescaped (say `<!here`, `<@UEVIL`),
    or a `bare` string (a URL or a plain @here someone typed) where Slack would link or parse it:
    in a mrkdwn object that is not verbatim, or in top-level text that is the message itself."""
    live, bare = tuple(live), tuple(bare)
    found: list[str] = []
    for source, payload in payloads:
        for markup in markup_in(payload, source):
            found.extend(
                f"{markup.where}: live {sequence!r} in {markup.text[:200]!r}"
                for sequence in live
                if sequence in markup.text
            )
            if markup.verbatim or markup.notification_only:
                continue
            found.extend(
                f"{markup.where}: {word!r} would be linked or parsed in {markup.text[:200]!r}"
                for word in bare
                if word in markup.text
            )
    return found
