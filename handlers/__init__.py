"""Slack in, Slack out: parse the payload, call a service, render, reply."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, views


def register_all(app: AsyncApp) -> None:
    # Bolt tries listeners in the order they were registered: survey clicks, by far the most
    # frequent request, come first.
    actions.register(app)
    commands.register(app)
    views.register(app)
    events.register(app)
