"""Button clicks (block_actions)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.actions import home, privacy, rollout, survey


def register(app: AsyncApp) -> None:
    rollout.register(app)
    survey.register(app)
    home.register(app)
    privacy.register(app)
