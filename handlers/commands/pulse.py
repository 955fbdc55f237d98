"""`/pulse`: surveys, results, digests, privacy (SPEC §3.1)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.catalog import PULSE
from handlers.commands.router import CommandRouter

router = CommandRouter(PULSE)


def register(app: AsyncApp) -> None:
    router.register(app)
