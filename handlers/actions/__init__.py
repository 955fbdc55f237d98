"""Button clicks (block_actions)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.actions import home, language, privacy, rollout, survey, threads


def register(app: AsyncApp) -> None:
    survey.register(app)  # first: the busiest (see handlers.register_all)
    rollout.register(app)
    home.register(app)
    privacy.register(app)
    language.register(app)
    threads.register(app)
