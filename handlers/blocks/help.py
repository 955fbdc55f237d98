"""The help answer of `/rollout` and `/pulse`, and the answer to a mistyped command."""

from __future__ import annotations

from handlers.blocks.text import Message, context, escape, section, sections_from_lines
from handlers.catalog import Catalog, Subcommand
from runtime.i18n import Phrase, Texts


def _line(t: Texts, sub: Subcommand) -> str:
    return f"`{escape(sub.usage)}`\n{escape(t.say(sub.summary))} · _{escape(t.say(sub.who))}_"


def build_help(t: Texts, catalog: Catalog) -> Message:
    lines = [_line(t, sub) for sub in catalog.subcommands]
    blocks = [section(f"*{catalog.command}* — {escape(t.say(catalog.intro))}")]
    blocks += sections_from_lines(lines)
    blocks.append(
        context(
            t._(
                "Words in quotes stay together. Mention people with @, user groups with @ and "
                "channels with #; Slack turns them into links."
            )
        )
    )
    text = f"{catalog.command} — " + "; ".join(escape(sub.usage) for sub in catalog.subcommands)
    return Message(text=text, blocks=blocks)


def build_problem(
    t: Texts, problem: Phrase, usage: str | None, catalog: Catalog | None = None, people: tuple[str, ...] = ()
) -> Message:
    """Say what was wrong (naming `people` if given), with the usage line of the subcommand
    (or the whole help)."""
    said = t.say(problem)
    named = " " + ", ".join(f"<@{p}>" for p in people) if people else ""
    blocks = [section(f":warning: {escape(said)}{named}")]
    # A problem often echoes what was typed (“no rollout named …”): escaped in the text too.
    text = escape(said)
    if usage:
        code = f"`{escape(usage)}`"
        blocks.append(section(t._("Usage: {usage}", usage=code)))
        text += " " + t._("Usage: {usage}", usage=escape(usage))
    if catalog is not None:
        help_message = build_help(t, catalog)
        blocks += help_message.blocks
        text = f"{text}\n{help_message.text}"
    return Message(text=text, blocks=blocks)
