"""A rollout from creation to rollback, through signed requests and the stand-in."""

from __future__ import annotations

import json

from handlers.ids import Action
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.conftest import ADMIN, RunningBot
from tests.support import wait_for
from tests.world import World

SLUG = "expense-tool"


async def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every row a /rollout command could change (of the outbox, which rows exist: the sender
    changes their state as it works)."""
    tables = ("rollouts", "stages", "cohort_entries", "owners", "champions", "targets", "audit_log",
              "stage_transitions")  # fmt: skip
    rows = {t: [tuple(r) for r in await store.fetch_all(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables}
    rows["outbox"] = [tuple(r) for r in await store.fetch_all("SELECT id, dedupe_key FROM outbox ORDER BY id")]
    return rows


def dms(standin: SlackStandIn, user: str) -> list[str]:
    return [m.shown_text for m in standin.workspace.dms_to(user)]


def posts(standin: SlackStandIn, channel: str) -> list[str]:
    return [m.shown_text for m in standin.workspace.history(channel) if m.bot_id and m.ephemeral_to is None]


async def set_up(bot: RunningBot, world: World) -> None:
    owner = world.owner
    assert "Created *Expense tool*" in await bot.ask(owner, f'new {SLUG} "Expense tool"')
    assert "now has 4 people" in await bot.ask(
        owner, f"cohort {SLUG} alpha <@{world.direct}|dora> <!subteam^{world.pilots_group}|@pilots>"
    )
    # beta adds a channel: 4 active humans and pilot0 (already counted); the bot and the
    # deactivated account are left out. The owner is not in the channel, so an admin adds it.
    assert "now has 8 people" in await bot.ask(ADMIN, f"cohort {SLUG} beta <#{world.early_channel}|early-adopters>")
    champs = " ".join(f"<@{c}>" for c in world.champions)
    assert "Added" in await bot.ask(owner, f"champions {SLUG} add {champs}")
    assert "will be announced in" in await bot.ask(owner, f"channel {SLUG} <#{world.launch}|launch>")
    for stage, day in (("alpha", "2026-11-02"), ("beta", "2026-11-16"), ("ga", "2026-12-07")):
        assert "is planned to start on" in await bot.ask(owner, f"plan {SLUG} {stage} {day}")
    assert "Added the target `nps ≥ +30`" in await bot.ask(owner, f"target {SLUG} nps >= 30")


async def test_a_rollout_from_creation_to_rollback(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await set_up(bot, world)
    owner, champions = world.owner, world.champions

    # start: every champion DM'd once, the channel posted once
    started = await bot.ask(owner, f"start {SLUG}")
    assert "has started in *alpha*" in started and "Cohort: 4 people" in started
    await wait_for(lambda: all(len(dms(standin, c)) == 1 for c in champions) and len(posts(standin, world.launch)) == 1)
    announcement = dms(standin, champions[0])[0]
    assert "Expense tool has started: alpha" in announcement
    assert "4 people" in announcement and "beta · planned 2026-11-16" in announcement
    assert "What champions should do now" in announcement

    # status shows the stage and the cohort size
    card = await bot.ask(world.stranger, f"status {SLUG}")
    assert "*alpha* → beta → ga" in card and "4 people" in card
    assert "not enough answers yet" in card and "nps ≥ +30" in card

    # a non-owner may not advance; nothing changes
    before = await snapshot(store)
    refused = await bot.ask(world.stranger, f"advance {SLUG}")
    assert "Only the owners of expense-tool or an admin can change it" in refused
    assert f"<@{owner}>" in refused
    assert await snapshot(store) == before

    # the owner's advance is blocked by the NPS gate, which is named
    blocked_reply = await bot.ask(owner, f"advance {SLUG}")
    assert "cannot move into beta yet" in blocked_reply and "`nps ≥ +30` — not enough data yet" in blocked_reply
    assert await snapshot(store) == before

    # Advance anyway → the modal asks why; an empty reason is refused on the field
    dm = standin.workspace.im_with(owner)
    blocked = standin.workspace.history(dm.id, viewer=owner)[-1]
    await bot.slack.click(owner, Action.ADVANCE_ANYWAY.value, message=blocked)
    modal = standin.workspace.top_modal(owner)
    assert modal is not None and modal.payload["title"]["text"] == "Advance anyway"
    empty = await bot.slack.submit(owner, {"reason": "  "})
    assert empty.json["response_action"] == "errors" and "reason" in empty.json["errors"]
    assert await snapshot(store) == before
    await bot.slack.submit(owner, {"reason": "Pilot team is blocked on the old tool"})
    assert standin.workspace.top_modal(owner) is None
    await wait_for(lambda: all(len(dms(standin, c)) == 2 for c in champions), what="the beta announcements")
    moved = dms(standin, champions[1])[1]
    assert "Expense tool: alpha → beta" in moved
    assert "Advanced anyway" in moved and "“Pilot team is blocked on the old tool”" in moved
    assert "8 people" in moved and "ga · planned 2026-12-07" in moved
    await wait_for(lambda: len(posts(standin, world.launch)) == 2)
    # The owner's confirmation goes out after the commit, as the announcements do: in any order.
    await wait_for(
        lambda: "moved alpha → *beta*" in standin.workspace.history(dm.id, viewer=owner)[-1].shown_text,
        what="the owner's confirmation",
    )

    # rollback needs a reason, and takes it
    assert "Give a reason in quotes" in await bot.ask(owner, f"rollback {SLUG}")
    rolled = await bot.ask(owner, f'rollback {SLUG} "Expense export is broken for EU users"')
    assert "rolled back to *alpha*" in rolled
    await wait_for(lambda: all(len(dms(standin, c)) == 3 for c in champions))
    assert "rolled back: beta → alpha" in dms(standin, champions[0])[2]

    # history lists both reasons; the roadmap shows the planned dates
    history = await bot.ask(world.stranger, f"history {SLUG}")
    assert "“Pilot team is blocked on the old tool”" in history and "(gates overridden)" in history
    assert "“Expense export is broken for EU users”" in history
    roadmap = await bot.ask(world.stranger, f"roadmap {SLUG}")
    for day in ("planned 2026-11-02", "planned 2026-11-16", "planned 2026-12-07"):
        assert day in roadmap

    # exactly once: three transitions, two champions and a channel → nine announcements
    await wait_for(lambda: len(posts(standin, world.launch)) == 3, what="the rollback's channel post")
    assert len(standin.calls_to("chat.postMessage", ok=True)) == 9
    assert standin.rejected == []


async def test_gates_that_pass_advance_without_asking(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await set_up(bot, world)
    assert "Replaced" in await bot.ask(world.owner, f"target {SLUG} nps >= -100")
    assert "Added" in await bot.ask(world.owner, f"target {SLUG} responses >= 0 alpha")
    await bot.ask(world.owner, f"start {SLUG}")
    # no answers yet: the NPS gate has not enough data, so it does not pass
    assert "cannot move into beta" in await bot.ask(world.owner, f"advance {SLUG}")
    assert "Removed the nps target" in await bot.ask(world.owner, f"target {SLUG} remove nps")
    moved = await bot.ask(world.owner, f'advance {SLUG} "numbers look fine"')
    assert "moved alpha → *beta*" in moved
    await wait_for(lambda: len(dms(standin, world.champions[0])) == 2)
    assert "Every gate passed" in dms(standin, world.champions[0])[1]
    assert "moved alpha → *beta*" not in await bot.ask(world.owner, f"advance {SLUG}")  # beta has no gate: ga
    assert "complete" in await bot.ask(world.owner, f"advance {SLUG}")
    card = await bot.ask(world.owner, f"status {SLUG}")
    assert "alpha ✓ → beta ✓ → ga ✓" in card and "Complete" in card


async def test_the_status_card_buttons(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await set_up(bot, world)
    await bot.ask(world.owner, f"start {SLUG}")
    await bot.ask(world.owner, f"status {SLUG}")
    dm = standin.workspace.im_with(world.owner)
    card = standin.workspace.history(dm.id, viewer=world.owner)[-1]
    await bot.slack.click(world.owner, Action.ROADMAP.value, message=card)
    await wait_for(lambda: "Roadmap" in standin.workspace.history(dm.id, viewer=world.owner)[-1].shown_text)
    await bot.slack.click(world.owner, Action.ADVANCE.value, message=card)
    await wait_for(
        lambda: "cannot move into beta" in standin.workspace.history(dm.id, viewer=world.owner)[-1].shown_text
    )
    # someone who may not change the rollout sees no Advance button
    await bot.ask(world.stranger, f"status {SLUG}")
    theirs = standin.workspace.history(standin.workspace.im_with(world.stranger).id, viewer=world.stranger)[-1]
    actions = [e["action_id"] for b in theirs.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == [Action.ROADMAP.value]


async def test_status_without_a_slug(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await set_up(bot, world)
    assert "not started" in await bot.ask(world.owner, "status")  # the only rollout, though planned
    await bot.ask(world.owner, 'new second "Second one"')
    assert "Which rollout?" in await bot.ask(world.owner, "status")
    await bot.ask(world.owner, f"start {SLUG}")
    assert "Expense tool" in await bot.ask(world.owner, "status")  # the only active one
    in_channel = await bot.ask(world.owner, "status", channel=world.launch)
    assert "Expense tool" in in_channel


async def test_list_shows_open_rollouts(bot: RunningBot, world: World) -> None:
    assert "No active or planned rollouts" in await bot.ask(world.owner, "list")
    await set_up(bot, world)
    await bot.ask(world.owner, f"start {SLUG}")
    await bot.ask(world.owner, 'new second "Second one"')
    listing = await bot.ask(world.stranger, "list")
    assert "*Expense tool* (`expense-tool`) — alpha · day 1" in listing
    assert "*Second one* (`second`) — 🗓 Planned" in listing


async def test_pause_and_resume(bot: RunningBot, standin: SlackStandIn, world: World) -> None:
    await set_up(bot, world)
    await bot.ask(world.owner, f"start {SLUG}")
    assert "Give a reason" in await bot.ask(world.owner, f"pause {SLUG}")
    assert "is paused" in await bot.ask(world.owner, f'pause {SLUG} "holiday freeze"')
    assert "is paused; resume it" in await bot.ask(world.owner, f"advance {SLUG}")
    assert "resumed in *alpha*" in await bot.ask(world.owner, f"resume {SLUG}")
    assert "is not paused" in await bot.ask(world.owner, f"resume {SLUG}")
    await wait_for(lambda: len(dms(standin, world.champions[0])) == 3)
    assert (
        "is paused" in dms(standin, world.champions[0])[1] and "holiday freeze" in dms(standin, world.champions[0])[1]
    )


async def test_owners_and_the_last_owner(bot: RunningBot, world: World) -> None:
    await set_up(bot, world)
    assert "A rollout needs at least one owner" in await bot.ask(world.owner, f"owners {SLUG} remove <@{world.owner}>")
    assert "Added" in await bot.ask(world.owner, f"owners {SLUG} add <@{world.stranger}>")
    # the new owner may now change it
    assert "vision of `expense-tool` is now" in await bot.ask(world.stranger, f'vision {SLUG} "Claims in a day"')
    assert "Removed" in await bot.ask(world.stranger, f"owners {SLUG} remove <@{world.owner}>")
    assert "Only the owners" in await bot.ask(world.owner, f'vision {SLUG} "Mine again"')


async def test_an_admin_may_change_any_rollout(bot: RunningBot, world: World) -> None:
    await set_up(bot, world)
    assert "vision of `expense-tool` is now" in await bot.ask(ADMIN, f'vision {SLUG} "Admins can"')


async def test_stages_change_only_before_the_start(bot: RunningBot, world: World, store: Store) -> None:
    await set_up(bot, world)
    changed = await bot.ask(world.owner, f"stages {SLUG} alpha,pilot,ga")
    assert "alpha → pilot → ga" in changed
    # alpha kept its cohort and date; beta (and its channel cohort) went
    roadmap = await bot.ask(world.owner, f"roadmap {SLUG}")
    assert "*alpha* · planned 2026-11-02" in roadmap and "*pilot* · planned —" in roadmap
    await bot.ask(world.owner, f"start {SLUG}")
    before = await snapshot(store)
    refused = await bot.ask(world.owner, f"stages {SLUG} a,b")
    assert "has started, so its stages can no longer change" in refused
    assert "Usage: `/rollout stages" in refused
    assert await snapshot(store) == before


def test_announcement_payload_is_rendered_within_limits() -> None:
    from handlers.blocks.announcement import build_announcement
    from runtime.i18n import texts
    from sandbox.blockkit import check_message
    from services.announcements import Announcement
    from storage.models import GateRecord

    gates = [GateRecord(metric=f"csat:tp{i}", op=">=", target=80, value=50, state="fail") for i in range(40)]
    message = build_announcement(
        texts("en"),
        Announcement(
            transition_id=1, rollout_slug="x", title="T" * 150, kind="advance", from_stage="a", to_stage="b",
            actor="U1", reason="r" * 500, gates=gates, overridden=True, cohort_size=10, next_stage="c",
            next_planned=None, audience="channel",
        )
    )  # fmt: skip
    assert check_message(message.text, message.blocks) == []
    assert json.dumps(message.blocks)


async def test_cohort_entries_can_be_removed(bot: RunningBot, world: World) -> None:
    await set_up(bot, world)
    removed = await bot.ask(world.owner, f"cohort {SLUG} alpha remove <!subteam^{world.pilots_group}>")
    assert "Removed" in removed and "now has 1 person" in removed
    again = await bot.ask(world.owner, f"cohort {SLUG} alpha remove <!subteam^{world.pilots_group}>")
    assert "nothing changed: not there" in again


async def test_an_override_reason_over_500_characters_is_refused(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await set_up(bot, world)
    await bot.ask(world.owner, f"start {SLUG}")
    await bot.ask(world.owner, f"advance {SLUG}")
    dm = standin.workspace.im_with(world.owner)
    await bot.slack.click(
        world.owner, Action.ADVANCE_ANYWAY.value, message=standin.workspace.history(dm.id, viewer=world.owner)[-1]
    )
    before = await snapshot(store)
    refused = await bot.slack.submit(world.owner, {"reason": "x" * 501})
    assert refused.json["errors"] == {"reason": "The reason is 501 characters long; keep it to 500."}
    assert await snapshot(store) == before
    await bot.slack.submit(world.owner, {"reason": "x" * 500})
    assert standin.workspace.top_modal(world.owner) is None


async def test_a_rollouts_announcements_go_out_in_its_language(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await set_up(bot, world)
    owner, champions = world.owner, world.champions
    before = await snapshot(store)
    assert "Only the owners of expense-tool" in await bot.ask(world.stranger, f"language {SLUG} sv")
    refused = await bot.ask(owner, f"language {SLUG} de")
    assert "“de” is not a language the bot speaks: use one of en, sv." in refused
    assert "Usage: `/rollout language &lt;slug&gt; en|sv`" in refused
    assert "Missing the rollout and a language" in await bot.ask(owner, f"language {SLUG}")
    assert await snapshot(store) == before

    set_to = await bot.ask(owner, f"language {SLUG} SV")
    assert "Stage changes of `expense-tool` are now announced in Swedish in its channel." in set_to
    [(language,)] = await store.fetch_all("SELECT language FROM rollouts WHERE slug = ?", (SLUG,))
    assert language == "sv"
    assert "set the announcement language: Swedish" in await bot.ask(world.stranger, f"history {SLUG}")

    # The channel reads the rollout's language; a champion reads their own: the one they chose,
    # else the one Slack says they use (en-US in the stand-in).
    await bot.services.languages.choose(champions[0], "sv")
    assert "has started in *alpha*" in await bot.ask(owner, f"start {SLUG}")  # the owner reads English
    await wait_for(lambda: all(len(dms(standin, c)) == 1 for c in champions) and len(posts(standin, world.launch)) == 1)
    [post] = posts(standin, world.launch)
    assert "Expense tool har startat: alpha" in post and "Vad ambassadörerna bör göra nu" in post
    assert "Expense tool har startat: alpha" in dms(standin, champions[0])[0]
    assert "Du får det här som ambassadör för `expense-tool`" in dms(standin, champions[0])[0]
    assert "Expense tool has started: alpha" in dms(standin, champions[1])[0]


async def test_a_champion_nothing_is_known_of_reads_the_rollouts_language(bot: RunningBot, world: World) -> None:
    await set_up(bot, world)
    await bot.ask(world.owner, f"language {SLUG} sv")
    svc = bot.services.rollouts
    detail = await svc.get(SLUG)
    assert svc.language(detail) == "sv"
    assert await svc.reader_language("U0NOBODYKNOWN", "sv") == "sv"
    assert await svc.reader_language(world.champions[1], "sv") == "en"  # Slack's locale, cached
