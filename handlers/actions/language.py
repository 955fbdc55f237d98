"""The language picker on the Home tab: the choice is kept, and the Home is published again in
the new language (`/pulse language` does the same from the command line)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from handlers.home import HomePublisher
from handlers.ids import Action
from runtime.i18n import N_
from services import Services
from services.errors import BadInput

PICK = re.compile(rf"^{Action.HOME_LANGUAGE.value}_[a-z]+$", re.ASCII)


async def on_language(
    ack: AsyncAck, action: dict[str, Any], body: dict[str, Any], services: Services, home: HomePublisher
) -> None:
    choice = action.get("value")
    if not isinstance(choice, str) or not choice:
        raise BadInput(N_("This button carries no language."))
    user = body["user"]["id"]
    await services.languages.choose(user, choice)  # BadInput for a language the bot does not speak
    await ack()
    home.looked(user)
    home.refresh([user])  # after the acknowledgement, in the language just chosen


def register(app: AsyncApp) -> None:
    app.action(PICK)(on_language)
