"""Events from Slack (each handled once per event_id by the middleware)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.events import home, membership


def register(app: AsyncApp) -> None:
    membership.register(app)
    home.register(app)
