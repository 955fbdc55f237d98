"""Modal submissions (view_submission)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.views import rollout, survey, threads


def register(app: AsyncApp) -> None:
    rollout.register(app)
    survey.register(app)
    threads.register(app)
