"""Turns the text of a slash command into a subcommand call and its answer into an ack."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.help import build_help, build_problem
from handlers.blocks.text import Message
from handlers.catalog import Catalog
from handlers.deferred import Work, answer_later
from runtime.background import Background
from runtime.i18n import N_, Phrase, Texts
from services import Services
from services.errors import BadInput, DomainError

log = logging.getLogger(__name__)

# Slack clients on phones and Macs turn straight quotes into curly ones.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


def split_args(text: str) -> list[str]:
    """Split like a shell: quotes group words."""
    try:
        return shlex.split(text.translate(_QUOTES))
    except ValueError:
        raise BadInput(N_('A quote is not closed: put the closing " after the quoted words.')) from None


@dataclass
class CommandCall:
    """One subcommand as typed by one person, with what its implementation may use."""

    catalog: Catalog
    name: str
    args: list[str]
    user_id: str
    channel_id: str
    trigger_id: str | None
    texts: Texts  # the caller's language: what the answer is written in
    services: Services
    client: AsyncWebClient
    respond: AsyncRespond | None
    background: Background

    @property
    def usage(self) -> str:
        return self.catalog.usage(self.name)

    def need(self, least: int, what: Phrase) -> list[str]:
        """The arguments, if there are at least `least` of them; else say what is missing."""
        if len(self.args) < least:
            raise BadInput(N_("Missing {what}.", what=what))
        return self.args


@dataclass
class Deferred:
    """An answer that needs Slack calls: acknowledged at once, delivered via the response_url."""

    work: Work
    name: str


Answer = Message | Deferred
Subcommand = Callable[[CommandCall], Awaitable[Answer]]


class CommandRouter:
    """Routes `/<command> <subcommand> …` to the function registered for the subcommand."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._routes: dict[str, Subcommand] = {}

    def on(self, name: str) -> Callable[[Subcommand], Subcommand]:
        if self.catalog.get(name) is None:
            raise KeyError(f"{name} is not a subcommand of {self.catalog.command}")

        def register(fn: Subcommand) -> Subcommand:
            self._routes[name] = fn
            return fn

        return register

    async def answer(self, command: dict[str, Any], texts: Texts, **deps: Any) -> Answer:
        text = str(command.get("text", ""))
        try:
            words = split_args(text)
        except BadInput as err:
            # The subcommand is still the first word: show its usage line with the problem.
            raise err.with_usage(self.catalog.usage(text.split(maxsplit=1)[0].lower())) from None
        if not words or words[0].lower() in ("help", "-h", "--help"):
            return build_help(texts, self.catalog)
        name = words[0].lower()
        sub = self.catalog.get(name)
        if sub is None:
            shown = name if len(name) <= 40 else name[:40] + "…"
            return build_problem(texts, N_("Unknown subcommand “{name}”.", name=shown), None, self.catalog)
        fn = self._routes.get(name)
        if fn is None:
            return build_problem(texts, N_("“{name}” is not available in this version yet.", name=name), sub.usage)
        call = CommandCall(
            catalog=self.catalog,
            name=name,
            args=words[1:],
            user_id=str(command["user_id"]),
            channel_id=str(command["channel_id"]),
            trigger_id=command.get("trigger_id"),
            texts=texts,
            **deps,
        )
        try:
            return await fn(call)
        except DomainError as err:
            raise err.with_usage(sub.usage) from None

    def register(self, app: AsyncApp) -> None:
        async def on_command(
            ack: AsyncAck,
            command: dict[str, Any],
            services: Services,
            client: AsyncWebClient,
            respond: AsyncRespond | None,
            background: Background,
            texts: Texts,
        ) -> None:
            answer = await self.answer(
                command, texts, services=services, client=client, respond=respond, background=background
            )
            if isinstance(answer, Deferred):
                await ack()
                name = str(command.get("text", "")).split(maxsplit=1)[0]
                answer_later(
                    background,
                    respond,
                    answer.work,
                    t=texts,
                    name=f"{self.catalog.command} {answer.name}",
                    usage=self.catalog.usage(name.lower()),
                )
            else:
                await ack(**answer.ephemeral())

        app.command(self.catalog.command)(on_command)
