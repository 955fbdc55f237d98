"""Slash commands."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.commands import pulse, rollout


def register(app: AsyncApp) -> None:
    rollout.register(app)
    pulse.register(app)
