"""member_joined_channel: people joining a channel with an on-join trigger get its survey."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from runtime.background import Background
from services import Services
from services.errors import until_stored

log = logging.getLogger(__name__)


async def on_member_joined(event: dict[str, Any], services: Services, background: Background) -> None:
    user, channel = event.get("user"), event.get("channel")
    if not isinstance(user, str) or not isinstance(channel, str):
        return

    async def survey() -> None:
        # The event is acknowledged and recorded as handled: waiting out a locked or full
        # database here is what keeps the join from going unsurveyed (a wave is one transaction,
        # so trying again is safe).
        reports = await until_stored(
            lambda: services.surveys.on_join(user, channel, services.directory), what=f"the on-join survey of {user}"
        )
        for report in reports:
            log.info("%s joined %s: %d queued, skipped %s", user, channel, report.queued, report.skipped)

    # Events are acknowledged at once; resolving the person and queueing happens after.
    background.spawn(survey(), name="on-join survey")


def register(app: AsyncApp) -> None:
    app.event("member_joined_channel")(on_member_joined)
