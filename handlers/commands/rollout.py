"""`/rollout`: rollouts, stages, cohorts, champions, gates (SPEC §3.1)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.commands.catalog import ROLLOUT
from handlers.commands.router import CommandRouter

router = CommandRouter(ROLLOUT)


def register(app: AsyncApp) -> None:
    router.register(app)
