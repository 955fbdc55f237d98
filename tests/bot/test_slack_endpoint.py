"""Signed requests into the bot over real HTTP (docs/reliability.md): help, refusals, events once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp

from handlers.catalog import PULSE, ROLLOUT
from runtime.i18n import N_
from sandbox.stand_in import SlackStandIn
from services.errors import BadInput
from tests.conftest import ADMIN, RunningBot
from tests.support import wait_for


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
async def test_rollout_help_lists_every_subcommand_with_its_usage(bot: RunningBot, text: str) -> None:
    reply = await bot.slack.command(ADMIN, text, command="/rollout")
    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    shown = reply.shown_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    for sub in ROLLOUT.subcommands:
        assert sub.usage in shown, sub.name


async def test_pulse_help_lists_every_subcommand(bot: RunningBot) -> None:
    reply = await bot.slack.command(ADMIN, "", command="/pulse")
    shown = reply.shown_text.replace("&lt;", "<").replace("&gt;", ">")
    for sub in PULSE.subcommands:
        assert sub.usage in shown, sub.name


async def test_help_is_shown_only_to_the_caller_and_fits_slack(bot: RunningBot, standin: SlackStandIn) -> None:
    await bot.slack.command(ADMIN, "help")
    dm = standin.workspace.im_with(ADMIN)
    [message] = standin.workspace.history(dm.id, viewer=ADMIN)
    assert message.ephemeral_to == ADMIN
    assert standin.workspace.history(dm.id, viewer="U0SOMEONE") == []
    assert standin.rejected == []


async def test_an_unknown_subcommand_says_so_and_shows_the_help(bot: RunningBot) -> None:
    reply = await bot.slack.command(ADMIN, "frobnicate now", command="/rollout")
    assert reply.status == 200
    assert "Unknown subcommand “frobnicate”" in reply.shown_text
    assert "/rollout new" in reply.shown_text


async def test_an_unclosed_quote_is_explained(bot: RunningBot) -> None:
    reply = await bot.slack.command(ADMIN, 'new tool "Unclosed title', command="/rollout")
    assert "A quote is not closed" in reply.shown_text


async def test_a_command_mentioning_the_word_payload_reaches_the_bot(bot: RunningBot) -> None:
    # Bolt alone parses any form containing "payload" as an interactive payload and drops it.
    reply = await bot.slack.command(ADMIN, "payload-tool", command="/rollout")
    assert reply.status == 200
    assert "Unknown subcommand “payload-tool”" in reply.shown_text


def _form(text: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(
        {"command": "/rollout", "text": text, "user_id": ADMIN, "channel_id": "C1", "team_id": "T1"}
    ).encode()


async def test_forged_stale_and_unsigned_requests_get_401(bot: RunningBot, standin: SlackStandIn) -> None:
    body = _form("help")
    unsigned = await bot.transport.post_raw(body, signed=False)
    stale = await bot.transport.post_raw(body, timestamp=int(time.time()) - 6 * 60)
    future = await bot.transport.post_raw(body, timestamp=int(time.time()) + 6 * 60)
    forged = await bot.transport.post_raw(body, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    other_secret = await bot.transport.post_raw(
        body,
        headers={
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "ab" * 32,
        },
    )
    junk_timestamp = await bot.transport.post_raw(body, headers={"X-Slack-Request-Timestamp": "soon"})
    for reply in (unsigned, stale, future, forged, other_secret, junk_timestamp):
        assert reply.status == 401
    # nothing reached Bolt: it never needed to ask Slack who it is
    assert standin.calls_to("auth.test") == []


async def test_a_slightly_old_timestamp_is_still_accepted(bot: RunningBot) -> None:
    reply = await bot.transport.post_raw(_form("help"), timestamp=int(time.time()) - 4 * 60)
    assert reply.status == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
        (b'payload={"type":"block_actions"}', "application/x-www-form-urlencoded"),
        (
            b'payload={"type":"block_actions","user":{"id":"U1"},"actions":"x"}',
            "application/x-www-form-urlencoded",
        ),
        (
            b'payload={"type":"block_actions","user":7,"actions":[{"action_id":"a"}]}',
            "application/x-www-form-urlencoded",
        ),
        (
            b'payload={"type":"view_submission","user":{"id":"U1"},"view":[]}',
            "application/x-www-form-urlencoded",
        ),
        (b'payload={"type":"no_such_type"}', "application/x-www-form-urlencoded"),
        (b'{"type":"event_callback","event":"x","event_id":"Ev1"}', "application/json"),
        (
            b'{"type":"event_callback","event":{"type":"x"},"event_id":"Ev1","authorizations":[3]}',
            "application/json",
        ),
        (b'{"type":"mystery"}', "application/json"),
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b"command=%2Frollout", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
        (b'{"type":"url_verification"}', "application/json"),
        (b"[[[[[[[[[[[[[[" * 20000, "application/json"),
    ],
)
async def test_malformed_bodies_get_4xx_not_5xx(bot: RunningBot, body: bytes, content_type: str) -> None:
    reply = await bot.transport.post_raw(body, content_type)
    assert 400 <= reply.status < 500, (reply.status, reply.text)


async def test_a_body_over_one_megabyte_is_refused(bot: RunningBot) -> None:
    reply = await bot.transport.post_raw(_form("x" * (1024 * 1024 + 1)))
    assert reply.status == 413


async def test_url_verification_answers_the_challenge(bot: RunningBot) -> None:
    reply = await bot.transport.post_raw(
        json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode(),
        "application/json",
    )
    assert reply.status == 200 and reply.json == {"challenge": "c-123"}


async def test_an_event_retried_by_slack_is_handled_once(bot: RunningBot, standin: SlackStandIn) -> None:
    seen: list[str] = []

    async def on_join(event: dict[str, Any]) -> None:
        seen.append(event["user"])

    bot.app.event("reaction_added")(on_join)
    channel = standin.workspace.add_channel("launch", [ADMIN])
    body = bot.slack.event_body({"type": "reaction_added", "user": ADMIN, "channel": channel.id})
    first = await bot.slack.event(body)
    retries = [await bot.slack.event(body, retry_num=n) for n in (1, 2)]
    assert first.status == 200 and all(r.status == 200 for r in retries)
    assert seen == [ADMIN]
    other = bot.slack.event_body({"type": "reaction_added", "user": ADMIN, "channel": channel.id})
    await bot.slack.event(other)
    assert seen == [ADMIN, ADMIN]


async def test_healthz_answers_while_the_database_does(bot: RunningBot) -> None:
    session = await bot.transport.session()
    health_url = bot.url.replace("/slack/events", "/healthz")
    async with session.get(health_url) as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}
    await bot.services.store.close()
    async with session.get(health_url) as response:
        assert response.status == 503


def _add_failing_command(app: AsyncApp, error: Exception) -> None:
    async def boom(ack: Any) -> None:
        raise error

    app.command("/boom")(boom)


async def test_a_domain_error_becomes_a_polite_ephemeral_answer(bot: RunningBot) -> None:
    _add_failing_command(
        bot.app, BadInput(N_("That date does not exist."), usage="/rollout plan <slug> <stage> <date>")
    )
    reply = await bot.slack.command(ADMIN, "", command="/boom")
    assert reply.status == 200
    assert reply.json["response_type"] == "ephemeral"
    assert "That date does not exist." in reply.shown_text
    assert "Usage: `/rollout plan &lt;slug&gt; &lt;stage&gt; &lt;date&gt;`" in reply.shown_text


async def test_an_unexpected_error_is_logged_and_answered_politely(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    _add_failing_command(bot.app, RuntimeError("database exploded at 0xdeadbeef"))
    reply = await bot.slack.command(ADMIN, "", command="/boom")
    assert reply.status == 200
    assert "something went wrong on our side" in reply.shown_text
    assert "0xdeadbeef" not in reply.text and "Traceback" not in reply.text
    assert any("database exploded" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


async def test_an_error_after_a_click_is_told_through_the_response_url(bot: RunningBot, standin: SlackStandIn) -> None:
    async def fail(ack: Any) -> None:
        raise BadInput(N_("This survey has closed."))

    bot.app.action("broken_button")(fail)
    dm = standin.workspace.im_with(ADMIN)
    await bot.app.client.chat_postMessage(
        channel=ADMIN,
        text="t",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "broken_button",
                        "text": {"type": "plain_text", "text": "Go"},
                    }
                ],
            }
        ],
    )
    [message] = standin.workspace.history(dm.id)
    reply = await bot.slack.click(ADMIN, "broken_button", message=message)
    assert reply.status == 200
    await wait_for(lambda: len(standin.workspace.history(dm.id, viewer=ADMIN)) == 2, what="the ephemeral answer")
    answer = standin.workspace.history(dm.id, viewer=ADMIN)[-1]
    assert answer.ephemeral_to == ADMIN and "This survey has closed." in answer.text


async def test_a_modal_opens_shows_field_errors_and_closes_on_success(bot: RunningBot, standin: SlackStandIn) -> None:
    reasons: list[str] = []
    modal = {
        "type": "modal",
        "callback_id": "why",
        "title": {"type": "plain_text", "text": "Advance anyway"},
        "submit": {"type": "plain_text", "text": "Advance"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 500},
            }
        ],
    }

    async def open_modal(ack: Any, body: dict[str, Any], client: Any) -> None:
        await client.views_open(trigger_id=body["trigger_id"], view=modal)
        await ack()

    async def submit(ack: Any, view: dict[str, Any]) -> None:
        value = view["state"]["values"]["reason"]["value"]["value"] or ""
        if not value.strip():
            raise BadInput(N_("Give a reason."), field="reason")
        reasons.append(value)
        await ack()

    bot.app.command("/modal")(open_modal)
    bot.app.view("why")(submit)
    await bot.slack.command(ADMIN, "", command="/modal")
    opened = standin.workspace.top_modal(ADMIN)
    assert opened is not None and opened.payload["callback_id"] == "why"
    refused = await bot.slack.submit(ADMIN, {"reason": "   "})
    assert refused.json == {"response_action": "errors", "errors": {"reason": "Give a reason."}}
    assert standin.workspace.top_modal(ADMIN) is opened and opened.errors == {"reason": "Give a reason."}
    accepted = await bot.slack.submit(ADMIN, {"reason": "pilot went well"})
    assert accepted.status == 200
    assert reasons == ["pilot went well"]
    assert standin.workspace.top_modal(ADMIN) is None
