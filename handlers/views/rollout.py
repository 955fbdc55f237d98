"""The “Advance anyway” modal: a required reason, then the advance with the override recorded."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.blocks.rollouts import build_advanced
from handlers.blocks.text import Message
from handlers.deferred import answer_later
from handlers.ids import Callback, row_id
from runtime.background import Background
from runtime.i18n import N_, Texts
from services import Services, inputs
from services.errors import BadInput, Conflict
from services.rollouts import Blocked

REASON_BLOCK = "reason"


def _reason(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    entered = ((values.get(REASON_BLOCK) or {}).get("value") or {}).get("value")
    try:
        reason = inputs.reason(entered if isinstance(entered, str) else None, required=True)
    except BadInput as err:
        raise BadInput(err.message, field=REASON_BLOCK) from None
    assert reason is not None
    return reason


async def on_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    services: Services,
    background: Background,
    texts: Texts,
) -> None:
    reason = _reason(view)
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        rollout_id, stage_id = row_id(meta["rollout"]), row_id(meta["stage"])
    except (ValueError, KeyError, TypeError):
        raise BadInput(N_("This form is out of date; run /rollout advance again."), field=REASON_BLOCK) from None
    user = body["user"]["id"]
    svc = services.rollouts
    detail = await svc.rollouts.load_by_id(rollout_id)
    if detail is None:
        raise BadInput(N_("That rollout no longer exists."), field=REASON_BLOCK)
    svc.require_owner(detail, user)  # a refusal shows on the reason field
    if detail.rollout.current_stage_id != stage_id or detail.rollout.status != "active":
        raise Conflict(
            N_("{slug} has moved on since; nothing was changed.", slug=detail.rollout.slug), field=REASON_BLOCK
        )
    await ack()
    response_url = meta.get("response_url")
    respond = AsyncRespond(response_url=response_url) if isinstance(response_url, str) and response_url else None

    async def run() -> Message:
        outcome = await svc.advance(
            user, detail.rollout.slug, services.directory, override=reason, expected_stage_id=stage_id
        )
        assert not isinstance(outcome, Blocked)
        return build_advanced(texts, outcome)

    answer_later(background, respond, run, t=texts, name="advance anyway")


def register(app: AsyncApp) -> None:
    app.view(Callback.ADVANCE_ANYWAY.value)(on_submit)
