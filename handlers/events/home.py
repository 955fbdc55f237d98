"""app_home_opened: publish the person's Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.home import HomePublisher


async def on_home_opened(event: dict[str, Any], home: HomePublisher) -> None:
    user = event.get("user")
    if isinstance(user, str) and event.get("tab", "home") == "home":
        home.looked(user)
        home.refresh([user])  # after the acknowledgement


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(on_home_opened)
