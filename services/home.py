"""What a person's App Home shows (docs/app-home.md): their open surveys, the rollouts they own or
champion, and for admins an overview of every open rollout."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.clock import Clock
from services.feedback_map import MapService
from services.languages import LanguageService
from services.metrics import StageMetrics
from services.options import Options
from services.privacy import DEFAULT_READING, Reading, reading
from services.rollouts import RolloutService
from services.surveys import SurveyService, SurveyView
from services.threads import ThreadService
from storage.map_files import MapFile
from storage.models import RolloutStatus
from storage.rollouts import RolloutDetail
from storage.threads import Waiting


@dataclass(frozen=True)
class HomeRollout:
    detail: RolloutDetail
    roles: tuple[str, ...]  # "owner", "champion" (handlers.blocks.home says them)
    metrics: StageMetrics | None
    waiting: Waiting | None = None  # its conversations whose writer waits for a reply (owners, champions)
    map_file: MapFile | None = None  # the heatmap last shared in the owner's DM (owners only)


@dataclass(frozen=True)
class HomeView:
    user: str
    surveys: list[SurveyView] = field(default_factory=list)
    mine: list[HomeRollout] = field(default_factory=list)
    overview: list[HomeRollout] | None = None  # admins only
    min_group: int = 5
    reading: Reading = DEFAULT_READING  # the language the Home is written in, and why


class HomeService:
    def __init__(
        self,
        settings: Options,
        clock: Clock,
        rollouts: RolloutService,
        surveys: SurveyService,
        languages: LanguageService,
        threads: ThreadService,
        maps: MapService,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.surveys = surveys
        self.languages = languages
        self.threads = threads
        self.maps = maps

    async def view(self, user: str) -> HomeView:
        surveys = []
        for delivery in await self.surveys.unanswered_for(user):
            wave = await self.surveys.surveys.wave(delivery.wave_id)
            if wave is not None:
                surveys.append(await self.surveys.view_of(wave, delivery))
        open_rollouts = await self.rollouts.open_rollouts()
        waiting = await self.threads.waiting([d.rollout.id for d in open_rollouts])
        map_files = await self.maps.files.of(user)
        mine = []
        overview: list[HomeRollout] | None = [] if self.settings.is_admin(user) else None
        for detail in open_rollouts:
            roles = tuple(role for role, people in (("owner", detail.owners), ("champion", detail.champions))
                          if user in people)  # fmt: skip
            if not roles and overview is None:
                continue
            metrics = None
            if detail.current is not None and detail.rollout.status != RolloutStatus.PLANNED:
                metrics = await self.rollouts.metrics_of(detail, detail.current)
            map_file = map_files.get(detail.rollout.id) if "owner" in roles else None
            item = HomeRollout(detail, roles, metrics, waiting.get(detail.rollout.id) if roles else None, map_file)
            if roles:
                mine.append(item)
            if overview is not None:
                overview.append(item)
        spoken = await self.languages.languages.of(user)
        read = reading(self.languages, spoken.chosen, spoken.slack_locale)
        return HomeView(user, surveys, mine, overview, self.settings.pulse_min_group, read)
