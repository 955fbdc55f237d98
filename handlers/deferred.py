"""Work that must call Slack is acknowledged at once and answered through the response_url."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.blocks.text import Message
from handlers.errors import describe
from runtime.background import Background
from runtime.i18n import Texts
from services.errors import DomainError

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[Message]]


def answer_later(
    background: Background,
    respond: AsyncRespond | None,
    work: Work,
    *,
    t: Texts,
    name: str,
    usage: str | None = None,
    replace: bool = False,
) -> None:
    """Run `work` after the acknowledgement; its message goes to `respond` (replacing the clicked
    message when `replace`); a failure is told politely beside it instead, in `t`."""

    async def run() -> None:
        replace_original = replace
        try:
            message = await work()
        except DomainError as err:
            message = describe(err.with_usage(usage) if usage else err, t)
            replace_original = False
        except Exception as exc:
            log.exception("%s failed", name)
            message = describe(exc, t)
            replace_original = False
        if respond is None:
            log.warning("%s finished but there is nowhere to answer: %s", name, message.text)
            return
        try:
            if replace_original:
                await respond(text=message.text, blocks=message.blocks, replace_original=True)
            else:
                await respond(**message.ephemeral(), replace_original=False)
        except Exception as exc:
            log.warning("could not deliver the answer of %s: %s", name, exc)

    background.spawn(run(), name=name)
