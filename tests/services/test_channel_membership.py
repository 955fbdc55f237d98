"""Only a channel's members may add it to a rollout (admins: any channel the bot is in), and a
refusal tells nothing about the channel: not whether it exists, whether it is private, its name,
nor its size. Signed requests against the stand-in, which hides private channels as Slack does."""

from __future__ import annotations

from runtime.i18n import texts
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import BOT_USER_ID
from services.rollouts import NOT_A_MEMBER as NOT_A_MEMBER_PHRASE
from storage import Store
from tests.conftest import ADMIN, RunningBot
from tests.services.test_rollout_flow import SLUG, posts, snapshot
from tests.services.test_surveys import started_with
from tests.world import World

SECRET_SIZE = 7  # people in the private channel, the bot aside
SECRET_NAME = "merger-talks"
NOT_A_MEMBER = texts("en").say(NOT_A_MEMBER_PHRASE)


def private_channel(standin: SlackStandIn, name: str, *, also: list[str], bot: bool = True) -> str:
    ws = standin.workspace
    people = [ws.add_user(f"U0{name.upper()[:6]}{i}", f"{name}{i}").id for i in range(SECRET_SIZE)]
    return ws.add_channel(name, [*people, *also, *([BOT_USER_ID] if bot else [])], is_private=True).id


def tells_nothing(answer: str) -> bool:
    return SECRET_NAME not in answer and str(SECRET_SIZE) not in answer and "people" not in answer


async def test_a_non_members_private_channel_is_refused_without_its_size(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    assert "Created" in await bot.ask(world.owner, f'new {SLUG} "Expense tool"')
    secret = private_channel(standin, SECRET_NAME, also=[])  # the bot is in it, the owner is not
    before = await snapshot(store)

    cohort = await bot.ask(world.owner, f"cohort {SLUG} alpha <#{secret}|{SECRET_NAME}>")
    announce = await bot.ask(world.owner, f"channel {SLUG} <#{secret}|{SECRET_NAME}>")
    assert NOT_A_MEMBER in cohort and NOT_A_MEMBER in announce
    assert tells_nothing(cohort) and tells_nothing(announce)

    # Word for word what a channel that does not exist, a private one the bot is not in, and a
    # public one the owner is not in get: the answer cannot tell them apart.
    unseen = private_channel(standin, "unseen", also=[], bot=False)
    public = standin.workspace.add_channel("elsewhere", [world.direct, BOT_USER_ID]).id
    for other in ("C0NOPE", unseen, public):
        assert await bot.ask(world.owner, f"cohort {SLUG} alpha <#{other}|{SECRET_NAME}>") == cohort
        assert await bot.ask(world.owner, f"channel {SLUG} <#{other}|{SECRET_NAME}>") == announce
    assert await snapshot(store) == before

    # nothing is ever announced there
    assert "has started" in await bot.ask(world.owner, f"start {SLUG}")
    await bot.bot.background.settle(5)
    assert posts(standin, secret) == []


async def test_a_non_member_cannot_ask_or_trigger_on_a_channel(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await started_with(bot, world, [world.direct])
    await bot.ask(world.owner, f'touchpoint {SLUG} onboarding "Onboarding session" csat', command="/pulse")
    secret = private_channel(standin, SECRET_NAME, also=[])
    for text in (f"ask {SLUG} onboarding <#{secret}|x>", f"trigger {SLUG} onboarding on-join <#{secret}|x>"):
        answer = await bot.ask(world.owner, text, command="/pulse")
        assert NOT_A_MEMBER in answer and tells_nothing(answer)
    assert await store.fetch_value("SELECT count(*) FROM waves WHERE touchpoint_id IS NOT NULL") == 0
    assert await store.fetch_value("SELECT count(*) FROM triggers") == 0


async def test_members_add_their_channels_and_admins_any_the_bot_is_in(
    bot: RunningBot, standin: SlackStandIn, world: World
) -> None:
    assert "Created" in await bot.ask(world.owner, f'new {SLUG} "Expense tool"')
    mine = private_channel(standin, SECRET_NAME, also=[world.owner])
    added = await bot.ask(world.owner, f"cohort {SLUG} alpha <#{mine}|{SECRET_NAME}>")
    assert f"now has {SECRET_SIZE + 1} people" in added
    assert "will be announced in" in await bot.ask(world.owner, f"channel {SLUG} <#{mine}|{SECRET_NAME}>")

    # a private channel the owner is in but the bot is not: the same refusal, with the fix
    uninvited = private_channel(standin, "uninvited", also=[world.owner], bot=False)
    assert NOT_A_MEMBER in await bot.ask(world.owner, f"cohort {SLUG} beta <#{uninvited}|uninvited>")

    # an admin needs no membership, only the bot's
    theirs = private_channel(standin, "theirs", also=[])
    assert f"now has {2 * SECRET_SIZE + 1} people" in await bot.ask(ADMIN, f"cohort {SLUG} beta <#{theirs}|theirs>")
    assert "will be announced in" in await bot.ask(ADMIN, f"channel {SLUG} <#{theirs}|theirs>")
    assert "I cannot see the channel" in await bot.ask(ADMIN, f"cohort {SLUG} beta <#{uninvited}|uninvited>")
