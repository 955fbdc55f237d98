"""The one error handler: a domain error becomes a polite answer, anything else is logged.

Slack never sees a 5xx from here: a person gets told what went wrong, ephemerally.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from handlers.blocks.help import build_problem
from handlers.blocks.text import Message
from handlers.middleware import retry_later
from runtime.i18n import N_, Phrase, Texts, texts
from services.errors import DomainError, StorageError, storage_problem

log = logging.getLogger(__name__)

SORRY = N_("Sorry — something went wrong on our side. It has been logged; please try again in a minute.")
BUSY = N_("The database is busy right now, so nothing was saved. Please try again in a few seconds.")
FULL = N_(
    "Nothing could be saved: the bot cannot write to its database (its disk may be full). Please try again later."
)
# A form is opened with the click's trigger_id, which Slack honours for 3 seconds and once.
FORM_TOO_LATE = N_("Slack would not open the form: the click took too long to reach us. Please click the button again.")
_TRIGGER_REFUSALS = frozenset({"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"})


def _form_refused(error: Exception) -> bool:
    """True if Slack refused to open a modal because the click's trigger_id no longer works."""
    return isinstance(error, SlackApiError) and error.response.get("error") in _TRIGGER_REFUSALS


def _apology(error: Exception) -> Phrase:
    if _form_refused(error):
        return FORM_TOO_LATE
    problem = storage_problem(error)
    if problem is None:
        return SORRY
    return BUSY if problem[0] == "busy" else FULL


def describe(error: Exception, t: Texts) -> Message:
    if isinstance(error, DomainError):
        return build_problem(t, error.message, error.usage, people=error.people)
    return Message(text=f":warning: {t.say(_apology(error))}", blocks=[])


def texts_of(context: AsyncBoltContext) -> Texts:
    """The language of the person the request came from (set by the middleware, which may not
    have run when the error came early)."""
    found = context.get("texts")
    if isinstance(found, Texts):
        return found
    settings = context.get("settings")
    return texts(getattr(settings, "pulse_language", None))


def _first_input_block(body: dict[str, Any]) -> str | None:
    view = body.get("view")
    blocks = view.get("blocks") if isinstance(view, dict) else None
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") == "input" and isinstance(block.get("block_id"), str):
            return str(block["block_id"])
    return None


async def handle_error(
    error: Exception, body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext
) -> BoltResponse:
    if not isinstance(error, DomainError):
        kind = body.get("command") or body.get("type") if isinstance(body, dict) else None
        problem = storage_problem(error)
        if problem is not None:
            level = logging.WARNING if problem[0] == "busy" else logging.ERROR
            log.log(
                level,
                "a Slack request (%s) could not be stored; the person was asked to try again: %s",
                kind,
                problem[1],
            )
        elif _form_refused(error):
            log.warning("Slack refused to open a form for %s: %s (the person was asked to click again)", kind, error)
        else:
            log.error("unexpected error while handling %s", kind, exc_info=error)
    t = texts_of(context)
    message = describe(error, t)
    if not isinstance(body, dict):
        return BoltResponse(status=200, body="")
    if body.get("type") == "event_callback" and storage_problem(error) is not None:
        # Nobody to tell: Slack is to send the event again, and the retry must not be taken
        # for a repeat of an event already handled.
        services = context.get("services")
        try:
            if services is not None:
                await services.seen_events.forget(str(body.get("event_id")))
        except StorageError as exc:
            log.error("event %s failed and could not be forgotten either, so it is lost: %s", body.get("event_id"), exc)
        return retry_later()
    if "command" in body:
        return BoltResponse(status=200, body=message.ephemeral())
    if body.get("type") == "view_submission":
        field = error.field if isinstance(error, DomainError) else None
        field = field or _first_input_block(body)
        if field:
            shown = t.say(error.message if isinstance(error, DomainError) else _apology(error))
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {field: shown}})
    if respond is not None and body.get("response_url"):
        try:
            await respond(**message.ephemeral(), replace_original=False)
        except Exception as exc:  # a failed apology must not hide the original error
            log.warning("could not tell the person about an error: %s", exc)
    return BoltResponse(status=200, body="")


def install(app: AsyncApp) -> None:
    app.error(handle_error)
