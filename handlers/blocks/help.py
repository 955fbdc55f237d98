"""The help answer of `/rollout` and `/pulse`, and the answer to a mistyped command."""

from __future__ import annotations

from handlers.blocks.text import Message, context, escape, section, sections_from_lines
from handlers.catalog import Catalog, Subcommand


def _line(sub: Subcommand) -> str:
    return f"`{escape(sub.usage)}`\n{escape(sub.summary)} · _{escape(sub.who)}_"


def build_help(catalog: Catalog) -> Message:
    lines = [_line(sub) for sub in catalog.subcommands]
    blocks = [section(f"*{catalog.command}* — {escape(catalog.intro)}")]
    blocks += sections_from_lines(lines)
    blocks.append(
        context(
            "Words in quotes stay together. Mention people with @, user groups with @ and "
            "channels with #; Slack turns them into links."
        )
    )
    text = f"{catalog.command} — " + "; ".join(escape(sub.usage) for sub in catalog.subcommands)
    return Message(text=text, blocks=blocks)


def build_problem(
    problem: str, usage: str | None, catalog: Catalog | None = None, people: tuple[str, ...] = ()
) -> Message:
    """Say what was wrong (naming `people` if given), with the usage line of the subcommand
    (or the whole help)."""
    named = " " + ", ".join(f"<@{p}>" for p in people) if people else ""
    blocks = [section(f":warning: {escape(problem)}{named}")]
    # A problem often echoes what was typed (“no rollout named …”): escaped in the text too.
    text = escape(problem)
    if usage:
        blocks.append(section(f"Usage: `{escape(usage)}`"))
        text = f"{text} Usage: {escape(usage)}"
    if catalog is not None:
        help_message = build_help(catalog)
        blocks += help_message.blocks
        text = f"{text}\n{help_message.text}"
    return Message(text=text, blocks=blocks)
