"""Nothing the bot posts pings or links from what a person typed.

A rollout whose title, vision, touchpoint label, reasons and comments hold every kind of Slack
markup goes through every surface there is, driven by signed requests through the stand-in; then
every payload the stand-in received, top-level text and every mrkdwn object in blocks and views,
is searched for markup left live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.markup_check import live_markup
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.support import survey_of, wait_for, wait_for_surveys
from tests.world import World

SLUG = "evil-tool"
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EVIL_URL = "http://evil.example"
# Every kind of markup a person could type, in 125 characters (a title holds 150).
HOSTILE = f"<!here> <!channel> <!everyone> <@UEVIL1> <#CEVIL1> <!subteam^SEVIL> <{EVIL_URL}|click> {EVIL_URL} @here"
# Markup that pings or links when sent as it is typed.
LIVE = ("<!here", "<!channel", "<!everyone", "<!subteam^SEVIL", "<@UEVIL", "<#CEVIL", "<http://evil")
# Plain text Slack links or parses where it has not been told to leave text alone (verbatim).
BARE = (EVIL_URL, "@here")


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    # Groups of three show results, so that the comments are shown in results and the digest.
    return make_settings(standin, tmp_path, pulse_quiet_hours="off", pulse_min_group=3)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def cohort_of(world: World) -> list[str]:
    return [*world.pilots, *world.early, world.direct]


def last_dm(standin: SlackStandIn, user: str) -> Message:
    return standin.workspace.history(standin.workspace.im_with(user).id, viewer=user)[-1]


async def set_up(bot: RunningBot, world: World) -> None:
    """The hostile rollout, started: its title, vision and touchpoint label are HOSTILE."""
    owner = world.owner
    champions = " ".join(f"<@{c}>" for c in world.champions)
    steps = [
        ("/rollout", f'new {SLUG} "{HOSTILE}"', "Created"),
        ("/rollout", f"vision {SLUG} {HOSTILE}", "vision"),
        (
            "/rollout",
            f"cohort {SLUG} alpha <!subteam^{world.pilots_group}|pilots> "
            + " ".join(f"<@{u}>" for u in [*world.early, world.direct]),
            "now has",
        ),
        ("/rollout", f"champions {SLUG} add {champions}", "Added"),
        ("/rollout", f"channel {SLUG} <#{world.launch}|launch>", "will be announced"),
        ("/rollout", f"target {SLUG} nps >= 30", "Added the target"),
        ("/pulse", f'touchpoint {SLUG} onboarding "{HOSTILE}" csat', "Touchpoint"),
        ("/rollout", f"start {SLUG}", "has started"),
    ]
    for command, text, expected in steps:
        answer = await bot.ask(owner, text, command=command)
        assert expected in answer, (text, answer)


async def refusals(bot: RunningBot, world: World) -> None:
    """Mistyped commands whose answers name what was typed (“no rollout named …”)."""
    typed = [
        ("/rollout", HOSTILE),
        ("/rollout", f'status "{HOSTILE}"'),
        ("/rollout", f"plan {SLUG} <!here> 2026-12-01"),
        ("/rollout", f"stages {SLUG} alpha,<!here>"),
        ("/rollout", f"champions {SLUG} add <@UEVIL1>"),
        ("/rollout", f"champions {SLUG} <!here> <@UEVIL1>"),
        ("/rollout", f"cohort {SLUG} alpha <!subteam^SEVIL|evil>"),
        ("/rollout", f"cohort {SLUG} <!channel> <@{world.direct}>"),
        ("/rollout", f"channel {SLUG} <#CEVIL1|evil>"),
        ("/rollout", f"target {SLUG} <!everyone> >= 3"),
        ("/rollout", f'rollback {SLUG} "{HOSTILE}" extra'),
        ("/pulse", HOSTILE),
        ("/pulse", f"send {SLUG} <!here>"),
        ("/pulse", f"ask {SLUG} <!here> <@{world.pilots[0]}>"),
        ("/pulse", f'results "{HOSTILE}"'),
        ("/pulse", f"close {SLUG} <!here>"),
        ("/pulse", f"trigger {SLUG} <!here> on-join <#{world.launch}|launch>"),
    ]
    for command, text in typed:
        await bot.ask(world.owner, text, command=command)


async def answer_and_comment(bot: RunningBot, standin: SlackStandIn, users: list[str]) -> None:
    """Each person answers the NPS survey and comments HOSTILE on it."""
    for user in users:
        survey = survey_of(standin, user)
        assert survey is not None
        await bot.slack.click(user, f"{Action.SURVEY_ANSWER.value}_8", message=survey)
        await wait_for(lambda u=user: "Thanks — you answered" in last_dm(standin, u).shown_text)  # type: ignore[misc]
        await bot.slack.click(user, Action.SURVEY_COMMENT.value, message=last_dm(standin, user))
        assert standin.workspace.top_modal(user) is not None
        saved = await bot.slack.submit(user, {"comment": HOSTILE})
        assert saved.status == 200 and standin.workspace.top_modal(user) is None


async def advance_anyway(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    """The NPS gate fails; the owner advances anyway, with HOSTILE as the reason."""
    blocked = await bot.slack.ask(world.owner, f"advance {SLUG}")
    assert "cannot move into" in blocked.shown_text
    await bot.slack.click(world.owner, Action.ADVANCE_ANYWAY.value, message=blocked)
    assert standin.workspace.top_modal(world.owner) is not None
    await bot.slack.submit(world.owner, {"reason": HOSTILE})
    await wait_for(lambda: "moved" in last_dm(standin, world.owner).shown_text, what="the advance")


async def homes(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    """The Home tab of someone asked, of the owner (and its Status button), of an admin."""
    for user in (world.pilots[1], world.owner, ADMIN):
        await bot.slack.open_home(user)
        await wait_for(lambda u=user: standin.workspace.home_of(u) is not None, what=f"the Home of {user}")  # type: ignore[misc]
    home = standin.workspace.home_of(world.owner)
    assert home is not None
    before = len(standin.workspace.dms_to(world.owner))
    await bot.slack.click(world.owner, Action.HOME_STATUS.value, view=home)
    await wait_for(lambda: len(standin.workspace.dms_to(world.owner)) > before, what="the status card DM")


async def test_nothing_the_bot_posts_pings_or_links_from_what_people_typed(
    bot: RunningBot, standin: SlackStandIn, world: World, clock: ManualClock
) -> None:
    owner, cohort = world.owner, cohort_of(world)
    await set_up(bot, world)
    await refusals(bot, world)

    # surveys: NPS to the cohort, a touchpoint with the hostile label, answers and comments
    await bot.ask(owner, f"send {SLUG} nps", command="/pulse")
    await wait_for_surveys(standin, cohort)
    await answer_and_comment(bot, standin, cohort[:5])
    await bot.ask(owner, f"ask {SLUG} onboarding <@{world.pilots[1]}>", command="/pulse")
    await wait_for(lambda: len(standin.workspace.dms_to(world.pilots[1])) >= 2, what="the touchpoint survey")

    # the read-only surfaces
    for text, command in [
        (f"status {SLUG}", "/rollout"),
        (f"roadmap {SLUG}", "/rollout"),
        ("list", "/rollout"),
        (f"results {SLUG}", "/pulse"),
        ("mydata", "/pulse"),
    ]:
        await bot.ask(owner, text, command=command)
    await bot.ask(cohort[0], "mydata", command="/pulse")
    await homes(bot, standin, world)

    # stage changes with hostile reasons: announcements to the champions and the channel
    await bot.ask(owner, f'pause {SLUG} "{HOSTILE}"')
    await bot.ask(owner, f"resume {SLUG}")
    await advance_anyway(bot, standin, world)
    await bot.ask(owner, f'rollback {SLUG} "{HOSTILE}"')
    await bot.ask(owner, f"history {SLUG}")

    # a day and more later: the reminders, the digest (preview and post), the close
    clock.advance(timedelta(hours=49))
    assert await bot.services.surveys.queue_reminders() > 0
    await bot.ask(ADMIN, "digest", command="/pulse")
    assert await bot.bot.digests.post_now(world.launch)
    await bot.ask(owner, f"close {SLUG}", command="/pulse")
    await bot.bot.sender.drain()

    # every surface was reached, with what people typed in it
    sent = standin.sent_payloads()
    methods = {where.split(" #")[0] for where, _ in sent}
    assert {"chat.postMessage", "chat.update", "views.open", "views.publish", "response_url", "reply"} <= methods
    assert any("!here" in str(payload.get("text")) for where, payload in sent if "postMessage" in where)
    assert standin.rejected == []
    # the bot's own mentions still work: the actor of an announcement, the channel on the card
    posted = [str(c.params) for c in standin.calls_to("chat.postMessage")]
    assert any(f"<@{owner}>" in p for p in posted) and any(f"<#{world.launch}>" in p for p in posted)

    assert live_markup(sent, live=LIVE, bare=BARE) == []


def test_the_check_finds_live_markup_and_unsafe_bare_text() -> None:
    """The check itself: live markup anywhere, bare URLs only where Slack would link them."""
    safe = {
        "text": "&lt;!here&gt; http://evil.example",  # shown in notifications only: there are blocks
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "<!here> http://evil.example"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "http://evil.example", "verbatim": True}},
        ],
    }
    assert live_markup([("safe", safe)], live=LIVE, bare=BARE) == []
    unsafe: list[tuple[str, dict[str, Any]]] = [
        ("text", {"text": "<!here> now"}),
        ("bare text", {"text": "see http://evil.example"}),
        ("block", {"blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "<@UEVIL1>"}]}]}),
        ("not verbatim", {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "@here"}}]}),
        (
            "view",
            {"type": "home", "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "<#CEVIL1>"}]}]},
        ),
        ("form", {"text": "x", "blocks": '[{"type": "section", "text": {"type": "mrkdwn", "text": "<!channel>"}}]'}),
        ("attachment", {"attachments": [{"fallback": "<!everyone>"}]}),
    ]
    for name, payload in unsafe:
        assert live_markup([(name, payload)], live=LIVE, bare=BARE), name
