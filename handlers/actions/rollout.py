"""Buttons of the status card and of a blocked advance: Advance, Roadmap, Advance anyway."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.rollouts import build_advanced, build_moved, build_override_modal, build_roadmap
from handlers.blocks.text import Message
from handlers.deferred import answer_later
from handlers.ids import Action, row_id
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services
from services.errors import BadInput, Conflict


def _value(action: dict[str, Any]) -> str:
    value = action.get("value")
    if not isinstance(value, str) or not value:
        raise BadInput(N_("This button carries no rollout; open the status card again."))
    return value


async def on_advance(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    respond: AsyncRespond | None,
    background: Background,
    texts: Texts,
) -> None:
    slug = _value(action)
    user = body["user"]["id"]
    await ack()

    async def run() -> Message:
        return build_advanced(texts, await services.rollouts.advance(user, slug, services.directory))

    answer_later(background, respond, run, t=texts, name="advance button")


async def on_approve(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    respond: AsyncRespond | None,
    background: Background,
    texts: Texts,
) -> None:
    """An approver's Approve in their DM: the advance that waited is made (others are refused)."""
    try:
        request_id = row_id(action.get("value"))
    except ValueError:
        raise BadInput(N_("This button is out of date; ask an owner to advance again.")) from None
    user = body["user"]["id"]
    await ack()

    async def run() -> Message:
        return build_moved(texts, await services.rollouts.approve(user, request_id, services.directory))

    answer_later(background, respond, run, t=texts, name="approve button")


async def on_roadmap(
    ack: AsyncAck,
    action: dict[str, Any],
    services: Services,
    respond: AsyncRespond | None,
    background: Background,
    texts: Texts,
) -> None:
    slug = _value(action)
    await ack()

    async def run() -> Message:
        detail = await services.rollouts.get(slug)
        return build_roadmap(texts, detail, services.rollouts.today(), services.settings.tz)

    answer_later(background, respond, run, t=texts, name="roadmap button")


async def on_advance_anyway(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    services: Services,
    client: AsyncWebClient,
    texts: Texts,
) -> None:
    """Open the modal that asks why; nothing changes until it is submitted."""
    try:
        target = json.loads(_value(action))
        rollout_id, stage_id = row_id(target["rollout"]), row_id(target["stage"])
    except (ValueError, KeyError, TypeError):
        raise BadInput(N_("This button is out of date; run /rollout advance again.")) from None
    user = body["user"]["id"]
    detail = await services.rollouts.by_id(rollout_id)
    if detail is None:
        raise BadInput(N_("That rollout no longer exists."))
    services.rollouts.require_owner(detail, user)
    if detail.rollout.current_stage_id != stage_id or detail.rollout.status != "active":
        slug = detail.rollout.slug
        command = f"/rollout status {slug}"
        raise Conflict(N_("{slug} has moved on since; run {command} again.", slug=slug, command=command))
    stage = detail.current
    assert stage is not None
    metadata = json.dumps({"rollout": rollout_id, "stage": stage_id, "response_url": body.get("response_url")})
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str):
        raise BadInput(N_("Slack sent this click without a way to open the form; click Advance anyway again."))
    await client.views_open(
        trigger_id=trigger_id,
        view=build_override_modal(texts, detail.rollout.title_in(texts.language), stage.name, metadata),
    )
    await ack()


def register(app: AsyncApp) -> None:
    app.action(Action.ADVANCE.value)(on_advance)
    app.action(Action.ROADMAP.value)(on_roadmap)
    app.action(Action.ADVANCE_ANYWAY.value)(on_advance_anyway)
    app.action(Action.APPROVE.value)(on_approve)
