"""What is stored about a person, and forgetting them; exports that carry no identities (what
they hold follows the disclosure rule, services.disclosure).

Answers are stored under a respondent key derived from the wave's own key, never a Slack user
ID. While a wave is open, its key lets a person see, change and delete their own answer; once
it closes, the key is destroyed and nobody can tell which answer was whose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, language_of, texts
from services import disclosure
from services.disclosure import Export
from services.errors import NotAllowed
from services.keys import KeyRing
from services.languages import LanguageService
from services.options import Options
from services.rollouts import RolloutService
from services.threads import ThreadService
from storage.people import Forgotten, OwnAnswer, People, PersonRecord

LanguageSource = Literal["chosen", "slack", "default"]


@dataclass(frozen=True)
class Reading:
    """The language a person reads in, and why: their choice (`chosen`), else the locale set on
    them in Slack, else the bot's default (services.languages)."""

    language: str
    chosen: str | None = None
    source: LanguageSource = "default"


def reading(languages: LanguageService, chosen: str | None, slack_locale: str | None) -> Reading:
    """How a person who chose `chosen` and set `slack_locale` in Slack reads."""
    language = languages.resolve(chosen, slack_locale)
    if chosen in LANGUAGES:
        return Reading(language, chosen, "chosen")
    return Reading(language, None, "slack" if language_of(slack_locale) is not None else "default")


DEFAULT_READING = Reading(DEFAULT_LANGUAGE)


@dataclass(frozen=True)
class MyData:
    record: PersonRecord
    own: dict[int, OwnAnswer]  # their answer (and comment) per open wave, seen only by them
    min_group: int
    reading: Reading = DEFAULT_READING  # the language they read in, and why
    min_days_between_surveys: int = 14  # what the reason "asked for NPS in the last N days" says


class PrivacyService:
    def __init__(
        self,
        people: People,
        rollouts: RolloutService,
        keys: KeyRing,
        settings: Options,
        languages: LanguageService,
        threads: ThreadService,
    ) -> None:
        self.people = people
        self.threads = threads
        self.rollouts = rollouts
        self.keys = keys
        self.settings = settings
        self.languages = languages

    async def mydata(self, user: str) -> MyData:
        record = await self.people.record(user)
        keys = await self.keys.respondent_keys(user, [row.wave_id for row in record.asked if row.open])
        own = {a.wave_id: a for a in await self.people.own_answers(sorted(keys.items()))}
        return MyData(
            record,
            own,
            self.settings.pulse_min_group,
            reading(self.languages, record.language, record.cached_locale),
            self.settings.pulse_min_days_between_surveys,
        )

    async def forget(self, user: str) -> Forgotten:
        """Delete everything that names the person and their answers in open waves (answers of
        closed waves are no longer tied to anyone); then empty the journal, so that their ID and
        words are in no byte of the database files."""
        asked = await self.people.asked(user)
        keys = await self.keys.respondent_keys(user, [row.wave_id for row in asked if row.open])
        # Conversations on their comments, found through their sealed links, go with their words.
        threads = await self.threads.threads_of(user)
        # A check-in they asked is labelled by their words: it goes on, asking about "the change".
        neutral = {language: texts(language).say(N_("the change")) for language in LANGUAGES}
        done = await self.people.forget(user, sorted(keys.items()), threads, neutral)
        wiped = await self.people.store.wipe_journal()
        return replace(done, traces_left=not wiped)

    async def export_csv(self, actor: str, slug: str) -> tuple[str, Export]:
        """(file name, export) of a rollout's released answers, for its owners and admins."""
        detail = await self.rollouts.get(slug)
        if not self.rollouts.may_change(detail, actor):
            raise NotAllowed(
                N_(
                    "Only the owners of {slug} or an admin can export its answers. Its owners:",
                    slug=detail.rollout.slug,
                ),
                people=tuple(detail.owners),
            )
        return f"{detail.rollout.slug}-responses.csv", await disclosure.export(self.people.store, detail.rollout.id)
