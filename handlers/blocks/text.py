"""Small Block Kit building pieces shared by every surface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]

SECTION_TEXT_LIMIT = 3000


def escape(text: str) -> str:
    """What a person typed, made safe for any mrkdwn the bot sends: a block's text objects and a
    message's top-level `text` alike. Slack reads only &, < and > as control characters, so
    escaped, `<!here>`, `<@U…>`, `<#C…>`, `<!subteam^…>` and `<url|label>` show as typed and
    never ping or link. The one escaping function of every surface."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object, always verbatim: Slack's own pass over a non-verbatim text turns
    bare URLs and domain names a person typed into links, link-ifies channel names and parses
    some @-mentions. The bot's own mentions and links are written out as <@U…>, <#C…> and
    <url|label>, which verbatim text still renders."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def _fitting(text: str) -> str:
    # What people typed is shown back (escaped, so up to five times as long): Slack refuses the
    # whole message for a text over its limit (3000 in sections and context elements alike), so
    # a longer text is cut instead.
    return text if len(text) <= SECTION_TEXT_LIMIT else text[: SECTION_TEXT_LIMIT - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(_fitting(text))}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(_fitting(text))]}


HEADER_TEXT_LIMIT = 150
# Where a header's title goes: a character nobody can type into a stage name or a title.
TITLE_SLOT = "\x00"


def header(template: str, title: str) -> Block:
    """A header block of `template` with `title` in its TITLE_SLOT; the title is shortened (with
    …) so that the rest of the template, which names the stage, stays whole."""
    room = HEADER_TEXT_LIMIT - len(template.replace(TITLE_SLOT, ""))
    if len(title) > room:
        title = title[: max(room - 1, 0)] + "…"
    return {"type": "header", "text": plain(template.replace(TITLE_SLOT, title)[:HEADER_TEXT_LIMIT])}


def sections_from_lines(lines: list[str], limit: int = SECTION_TEXT_LIMIT, *, sep: str = "\n") -> list[Block]:
    """Pack lines (or, with `sep`, items of one running text) into as few section blocks as
    Slack's text limit allows; only an item longer than the limit is cut."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines:
        candidate = f"{chunk}{sep}{line}" if chunk else line
        if len(candidate) > limit and chunk:
            blocks.append(section(chunk))
            chunk = line[:limit]
        else:
            chunk = candidate[:limit]
    if chunk:
        blocks.append(section(chunk))
    return blocks


@dataclass
class Message:
    """A message for any surface: fallback text (notifications, screen readers) and blocks.

    `text` is mrkdwn as much as the blocks are (Slack parses mentions and links in it), so what
    a person typed goes into it through `escape` too. With blocks, Slack shows `text` only in
    notifications, so a bare URL in it is never a link in the message."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def ephemeral(self) -> dict[str, Any]:
        """The body of an acknowledgement or response_url post seen only by the caller."""
        body: dict[str, Any] = {"response_type": "ephemeral", "text": self.text}
        if self.blocks:
            body["blocks"] = self.blocks
        return body
