"""The domain: rollouts, surveys, metrics, digests. Plain async code over the store; no Slack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.clock import Clock, SystemClock
from services.actions import ActionService
from services.digests import DigestService
from services.directory import Directory
from services.feedback_map import MapService
from services.home import HomeService
from services.keys import KeyRing, KeySetup
from services.languages import LanguageService
from services.options import Options
from services.privacy import PrivacyService
from services.rollouts import RolloutService
from services.surveys import SurveyService
from services.threads import ThreadService
from services.watch import RegressionWatch
from storage import Store
from storage.people import People
from storage.seen_events import SeenEvents


@dataclass
class Services:
    """Everything a handler may call, built once per app."""

    settings: Options
    store: Store
    directory: Directory
    # The master key, checked before the store was opened, or how to find it when first needed
    # (the wiring reads the key file: `bot.key_file.prepare_master_key`).
    key_setup: KeySetup | Callable[[], KeySetup]
    clock: Clock = field(default_factory=SystemClock)
    keys: KeyRing = field(init=False)
    seen_events: SeenEvents = field(init=False)
    rollouts: RolloutService = field(init=False)
    surveys: SurveyService = field(init=False)
    digests: DigestService = field(init=False)
    privacy: PrivacyService = field(init=False)
    home: HomeService = field(init=False)
    languages: LanguageService = field(init=False)
    threads: ThreadService = field(init=False)
    actions: ActionService = field(init=False)
    watch: RegressionWatch = field(init=False)
    maps: MapService = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyRing(self.store, self._key_setup)
        self.languages = LanguageService(self.store, self.settings)
        self.seen_events = SeenEvents(self.store)
        self.rollouts = RolloutService(self.store, self.settings, self.clock)
        self.surveys = SurveyService(self.store, self.settings, self.clock, self.rollouts, self.keys, self.languages)
        self.digests = DigestService(self.store, self.settings, self.clock, self.rollouts)
        self.threads = ThreadService(self.store, self.settings, self.clock, self.rollouts, self.keys, self.languages)
        self.actions = ActionService(self.store, self.settings, self.clock, self.rollouts, self.surveys, self.languages)
        self.privacy = PrivacyService(
            People(self.store), self.rollouts, self.keys, self.settings, self.languages, self.threads
        )
        self.maps = MapService(self.store, self.settings, self.clock, self.rollouts)
        self.watch = RegressionWatch(self.store, self.settings, self.clock, self.rollouts)
        self.home = HomeService(
            self.settings, self.clock, self.rollouts, self.surveys, self.languages, self.threads, self.maps
        )

    def _key_setup(self) -> KeySetup:
        if not isinstance(self.key_setup, KeySetup):
            self.key_setup = self.key_setup()
        return self.key_setup

    def on_queued(self, *, outbox: Callable[[], None], deliveries: Callable[[], None]) -> None:
        """Tell the senders when something was queued for them."""
        self.rollouts.on_outbox = outbox
        self.surveys.on_outbox = outbox
        self.surveys.on_deliveries = deliveries
        self.threads.on_outbox = outbox
        self.actions.on_outbox = outbox
        self.watch.on_outbox = outbox
