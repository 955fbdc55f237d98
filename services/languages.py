"""Whose language a text is written in.

A person reads in the language they chose (`/pulse language`, also on the Home tab); else in
the one set on them in Slack, when it is one the bot speaks; else in the bot's default
(PULSE_LANGUAGE). A post to a channel is in its rollout's or its subscription's language, else
the default. A survey stays in the language it was sent in; what answers a click on it (the
thank-you) follows the person's choice of now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runtime.i18n import LANGUAGES, N_, language_of
from services.errors import BadInput
from services.options import Options
from storage.db import Store
from storage.languages import Languages
from storage.writes import write

AUTO = "auto"  # the choice that clears a choice: Slack's locale again


class LanguageService:
    def __init__(self, store: Store, settings: Options) -> None:
        self.store = store
        self.languages = Languages(store)
        self.settings = settings

    def resolve(self, chosen: str | None, slack_locale: str | None) -> str:
        """The language of someone who chose `chosen` and set `slack_locale` in Slack."""
        if chosen in LANGUAGES:
            return chosen
        return language_of(slack_locale) or self.settings.pulse_language

    async def of(self, user_id: str) -> str:
        """The language `user_id` reads in now (from what is stored: no call to Slack)."""
        spoken = await self.languages.of(user_id)
        return self.resolve(spoken.chosen, spoken.slack_locale)

    async def chosen(self, user_ids: Iterable[str]) -> dict[str, str]:
        return await self.languages.chosen(user_ids)

    def for_people(self, chosen: Mapping[str, str], locales: Mapping[str, str | None]) -> dict[str, str]:
        """Each person's language, from their choices and the locales Slack gave for them."""
        return {user: self.resolve(chosen.get(user), locale) for user, locale in locales.items()}

    def channel(self, language: str | None) -> str:
        """The language of a post to a channel set to `language` (None: the default)."""
        return language if language in LANGUAGES else self.settings.pulse_language

    async def choose(self, user_id: str, choice: str) -> str | None:
        """Keep a person's choice: a language code, or `auto` to read in Slack's language again.
        Returns the language chosen (None for auto)."""
        code = parse_language(choice, allow_auto=True)
        language = None if code == AUTO else code
        await write(self.store, lambda writes: writes.languages.choose(user_id, language))
        return language


def parse_language(text: str, *, allow_auto: bool = False) -> str:
    """A language code the bot speaks (or `auto`), from what someone typed; BadInput otherwise."""
    code = text.strip().lower()
    if code in LANGUAGES or (allow_auto and code == AUTO):
        return code
    choices = ", ".join([*LANGUAGES, *([AUTO] if allow_auto else [])])
    raise BadInput(N_("“{code}” is not a language the bot speaks: use one of {choices}.", code=text, choices=choices))
