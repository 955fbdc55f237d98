"""The domain: rollouts, surveys, metrics, digests. Plain async code over the store; no Slack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.settings import Settings
from runtime.clock import Clock, SystemClock
from services.digests import DigestService
from services.directory import Directory
from services.home import HomeService
from services.keys import KeyRing, KeySetup
from services.privacy import PrivacyService
from services.rollouts import RolloutService
from services.surveys import SurveyService
from storage import Store
from storage.people import People
from storage.seen_events import SeenEvents


@dataclass
class Services:
    """Everything a handler may call, built once per app."""

    settings: Settings
    store: Store
    directory: Directory
    clock: Clock = field(default_factory=SystemClock)
    # The master key, checked before the store was opened (bot.key_file); None: found the same
    # way when first needed.
    key_setup: KeySetup | None = None
    keys: KeyRing = field(init=False)
    seen_events: SeenEvents = field(init=False)
    rollouts: RolloutService = field(init=False)
    surveys: SurveyService = field(init=False)
    digests: DigestService = field(init=False)
    privacy: PrivacyService = field(init=False)
    home: HomeService = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyRing(self.store, self._key_setup)
        self.seen_events = SeenEvents(self.store)
        self.rollouts = RolloutService(self.store, self.settings, self.clock)
        self.surveys = SurveyService(self.store, self.settings, self.clock, self.rollouts, self.keys)
        self.digests = DigestService(self.store, self.settings, self.clock, self.rollouts)
        self.privacy = PrivacyService(People(self.store), self.rollouts, self.keys, self.settings)
        self.home = HomeService(self.settings, self.clock, self.rollouts, self.surveys)

    def _key_setup(self) -> KeySetup:
        if self.key_setup is None:
            from bot.key_file import prepare_master_key  # reads the key file: only when not given

            self.key_setup = prepare_master_key(self.settings)
        return self.key_setup

    def on_queued(self, *, outbox: Callable[[], None], deliveries: Callable[[], None]) -> None:
        """Tell the senders when something was queued for them."""
        self.rollouts.on_outbox = outbox
        self.surveys.on_outbox = outbox
        self.surveys.on_deliveries = deliveries
