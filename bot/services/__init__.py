"""The domain: rollouts, surveys, metrics, digests. Plain async code over the store; no Slack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.services.digests import DigestService
from bot.services.directory import Directory
from bot.services.home import HomeService
from bot.services.privacy import PrivacyService
from bot.services.rollouts import RolloutService
from bot.services.surveys import SurveyService
from bot.settings import Settings
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
    seen_events: SeenEvents = field(init=False)
    rollouts: RolloutService = field(init=False)
    surveys: SurveyService = field(init=False)
    digests: DigestService = field(init=False)
    privacy: PrivacyService = field(init=False)
    home: HomeService = field(init=False)

    def __post_init__(self) -> None:
        self.seen_events = SeenEvents(self.store)
        self.rollouts = RolloutService(self.store, self.settings, self.clock)
        self.surveys = SurveyService(self.store, self.settings, self.clock, self.rollouts)
        self.digests = DigestService(self.store, self.settings, self.clock, self.rollouts)
        self.privacy = PrivacyService(People(self.store), self.rollouts, self.surveys.secret)
        self.home = HomeService(self.settings, self.clock, self.rollouts, self.surveys)

    def on_queued(self, *, outbox: Callable[[], None], deliveries: Callable[[], None]) -> None:
        """Tell the senders when something was queued for them."""
        self.rollouts.on_outbox = outbox
        self.surveys.on_outbox = outbox
        self.surveys.on_deliveries = deliveries
