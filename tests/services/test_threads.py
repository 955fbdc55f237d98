"""Conversations on anonymous comments, end to end through signed requests, the stand-in and a
controllable clock: a reply reaches the comment's writer after the delay and within their
working hours, naming who replied; nothing the replier's side receives names the writer; the
writer's answer reaches the replier; only the writer can close; and once the conversation has
closed (or expired) the files and the key tie the comment to nobody."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.key_file import key_file_path
from bot.scheduler import close_expired_threads
from bot.settings import Settings
from handlers.ids import Action
from runtime.clock import ManualClock
from sandbox.stand_in import SlackStandIn
from sandbox.workspace import Message
from storage import Store
from tests.conftest import ADMIN, RunningBot, make_settings
from tests.privacy.attacker import found_in_files, tie
from tests.privacy.test_attacker import comment
from tests.services.test_surveys import SLUG, answer, people, surveyed, thanked
from tests.support import wait_for
from tests.world import World

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WORDS = "The export to the ledger drops the VAT line"


@pytest.fixture
def settings(standin: SlackStandIn, tmp_path: Path) -> Settings:
    # Working hours 09–17 on weekdays (the default); every reply waits exactly 90 minutes.
    return make_settings(standin, tmp_path, pulse_reply_delay_minutes="90-90")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


def seen_by(standin: SlackStandIn, user: str, since: int) -> str:
    """Everything the person's side of Slack has received from message `since` of their DM with
    the bot on (ephemeral answers too), and every modal opened for them, as JSON."""
    ws = standin.workspace
    shown = [m.to_api() for m in ws.history(ws.im_with(user).id, viewer=user)[since:]]
    shown += [view.to_api() for view in ws.views.values() if view.user == user]
    return json.dumps(shown)


def last_dm(standin: SlackStandIn, user: str) -> Message | None:
    ws = standin.workspace
    history = [m for m in ws.history(ws.im_with(user).id, viewer=user) if m.ephemeral_to is None]
    return history[-1] if history else None


async def commented_wave(bot: RunningBot, standin: SlackStandIn, world: World, store: Store) -> tuple[list[str], str]:
    """Six people asked, all answer (a group is released), the third comments: (cohort, writer)."""
    cohort = people(standin, 6)
    await surveyed(bot, standin, world, cohort)
    writer = cohort[2]
    # The comment comes with its answer, before the group is complete: released with it.
    for i, user in enumerate(cohort):
        await answer(bot, standin, user, 6 + i % 5)
        await wait_for(lambda user=user: thanked(standin, user), what="the thank-you")  # type: ignore[misc]
        if user == writer:
            await comment(bot, standin, writer, WORDS)
            await wait_for(lambda: store.fetch_value("SELECT count(*) FROM comments"), what="the comment stored")
    return cohort, writer


async def reply_from_results(bot: RunningBot, standin: SlackStandIn, owner: str, choice: str, text: str | None) -> str:
    """The owner opens the results, picks `choice` in the comment's menu (and fills the form):
    the confirmation they read."""
    results = await bot.slack.ask(owner, f"results {SLUG}", command="/pulse")
    assert WORDS in results.shown_text
    before = len(standin.workspace.history(standin.workspace.im_with(owner).id, viewer=owner))
    await bot.slack.click(owner, Action.COMMENT_REPLY.value, message=results, option=choice)
    if text is not None:
        await bot.slack.submit(owner, {"reply": text})
    dm = standin.workspace.im_with(owner).id
    await wait_for(lambda: len(standin.workspace.history(dm, viewer=owner)) > before, what="the confirmation")
    return standin.workspace.history(dm, viewer=owner)[-1].shown_text


async def test_a_reply_reaches_the_writer_after_the_delay_and_their_answer_reaches_the_replier(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock, settings: Settings
) -> None:
    owner = world.owner
    cohort, writer = await commented_wave(bot, standin, world, store)
    before = len(standin.workspace.dms_to(writer))
    # From here on the owner is the replier (before, they named the cohort themselves).
    since = len(standin.workspace.history(standin.workspace.im_with(owner).id, viewer=owner))

    sent = await reply_from_results(bot, standin, owner, "reply", "Fixed it: the VAT line is back in 2.4")
    assert "✉️ Sent. It goes to whoever wrote the comment in 90 to 90 minutes" in sent
    assert "You will not learn who they are." in sent

    # Not before the delay.
    clock.advance(timedelta(minutes=89))
    await bot.bot.sender.drain()
    assert len(standin.workspace.dms_to(writer)) == before
    # The row waiting names no one and says nothing of when it will go beyond the drawn delay.
    row = await store.fetch_one("SELECT channel, payload FROM outbox WHERE kind = 'thread_note'")
    assert row is not None and row[0] == "thread:1" and writer not in row[1]

    clock.advance(timedelta(minutes=2))
    await bot.bot.sender.drain()
    note = last_dm(standin, writer)
    assert note is not None and f"<@{owner}> replied to your comment about *Expense tool*" in note.shown_text
    assert "Fixed it: the VAT line is back in 2.4" in note.shown_text and WORDS not in note.shown_text
    assert "does not know who you are" in note.shown_text
    sent_row = await store.fetch_one(
        "SELECT message_ts, sent_at = created_at, attempts FROM outbox WHERE kind = 'thread_note'"
    )
    assert tuple(sent_row or ()) == (None, 1, 0)  # sent, and no time of its own kept

    # The writer answers back; it reaches the owner after the delay, without the writer's name.
    await bot.slack.click(writer, Action.THREAD_ANSWER.value, message=note)
    await bot.slack.submit(writer, {"reply": "Thanks, I will try the export tomorrow"})
    owner_before = len(standin.workspace.dms_to(owner))
    # Until the answer reaches the owner, nothing on their side shows that it came: not the Home.
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM thread_messages WHERE author IS NULL"))
    assert [r.waiting for r in (await bot.services.home.view(owner)).mine] == [None]
    clock.advance(timedelta(minutes=91))
    await bot.bot.sender.drain()
    await wait_for(lambda: len(standin.workspace.dms_to(owner)) > owner_before, what="the answer back")
    back = last_dm(standin, owner)
    assert back is not None and "Whoever wrote a comment about *Expense tool* answered you:" in back.shown_text
    assert "Thanks, I will try the export tomorrow" in back.shown_text

    # The owner's Home says an answer waits, never what it says.
    home = await bot.services.home.view(owner)
    assert [r.waiting.count for r in home.mine if r.waiting] == [1]

    # Nothing the replier's side received names the writer.
    assert writer not in seen_by(standin, owner, since)

    # Nobody but the writer can close it: not the owner, not another person asked.
    for other in (owner, cohort[0]):
        refused = await bot.slack.click(other, Action.THREAD_CLOSE.value, message=note)
        assert refused.status == 200
    assert await store.fetch_value("SELECT closed_at IS NULL FROM threads") == 1
    await bot.slack.click(writer, Action.THREAD_CLOSE.value, message=note)
    await wait_for(lambda: store.fetch_value("SELECT closed_how FROM threads"), what="the thread closed")
    assert await store.fetch_value("SELECT closed_how FROM threads") == "commenter"
    assert await store.fetch_value("SELECT link FROM threads") is None
    # Closed, it leads nowhere: its messages and notes are gone (their keys stay in the DMs, in Slack).
    assert found_in_files(settings.pulse_db, "Thanks, I will try the export tomorrow") == []
    assert await store.fetch_value("SELECT count(*) FROM thread_messages") == 0

    # The replier hears it closed; a reply now is refused and nothing is queued.
    clock.advance(timedelta(minutes=91))
    await bot.bot.sender.drain()
    assert "has closed the conversation" in (last_dm(standin, owner) or back).shown_text
    queued = await store.fetch_value("SELECT count(*) FROM outbox")
    refused_text = await reply_from_results(bot, standin, owner, "noted", None)
    assert "This conversation has been closed, so nothing was sent." in refused_text
    assert await store.fetch_value("SELECT count(*) FROM outbox") == queued

    # With the thread closed and the wave closed, the files and the key tie the comment to nobody.
    await bot.ask(owner, f"close {SLUG} nps", command="/pulse")
    secret = key_file_path(settings).read_text().strip()
    ties = tie(settings.pulse_db, known_secrets=[secret])
    assert ties.comment_count == 1 and ties.comments == {} and ties.answers == {}
    rows = await store.fetch_all("SELECT * FROM threads UNION ALL SELECT *, 0, 0, 0, 0, 0, 0, 0 FROM thread_messages")
    assert not any(writer in str(value) for row in rows for value in row)


async def test_while_a_thread_is_open_only_the_key_ties_its_comment_and_it_expires_after_30_days(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock, settings: Settings
) -> None:
    _, writer = await commented_wave(bot, standin, world, store)
    sent = await reply_from_results(bot, standin, world.owner, "looking", None)
    assert "✉️ Sent." in sent
    await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")  # the wave's key is destroyed
    secret = key_file_path(settings).read_text().strip()

    # The files alone tie nothing; with the key, the open conversation names its writer (the
    # attacker is real), and nobody else's answer or comment.
    assert tie(settings.pulse_db).comments == {}
    with_key = tie(settings.pulse_db, known_secrets=[secret])
    assert list(with_key.comments.values()) == [writer] and with_key.answers == {}

    # 30 days on, it closes by itself: the link goes, and the message still waiting goes with it.
    clock.advance(timedelta(days=30))
    await close_expired_threads(bot.services)
    assert await store.fetch_value("SELECT closed_how FROM threads") == "expired"
    assert await store.fetch_value("SELECT count(*) FROM outbox WHERE channel = 'thread:1' AND status = 'pending'") == 0
    assert tie(settings.pulse_db, known_secrets=[secret]).comments == {}


async def test_a_reply_waits_for_the_writers_working_hours_without_storing_their_time(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, clock: ManualClock
) -> None:
    _, writer = await commented_wave(bot, standin, world, store)
    standin.workspace.users[writer].tz = "Asia/Tokyo"  # 21:00 there when the reply is sent
    await store.execute("UPDATE slack_users SET tz = 'Asia/Tokyo' WHERE user_id = ?", (writer,))
    before = len(standin.workspace.dms_to(writer))
    await reply_from_results(bot, standin, world.owner, "fixed", "release 2.4")

    clock.advance(timedelta(minutes=90))  # 13:30 UTC, 22:30 in Tokyo
    await bot.bot.sender.drain()
    assert len(standin.workspace.dms_to(writer)) == before
    # Looked at again on the hour, as every waiting message is: nothing of Tokyo in the row.
    row = await store.fetch_one("SELECT next_attempt_at, attempts, claimed_at FROM outbox WHERE kind = 'thread_note'")
    assert row is not None and float(row[0]) % 3600 == 0 and row[1] == 0 and row[2] is None

    clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))  # 09:00 in Tokyo
    await bot.bot.sender.drain()
    note = last_dm(standin, writer)
    assert note is not None and "Fixed in release 2.4." in note.shown_text


async def test_a_forged_reply_menu_is_refused_and_an_admin_who_is_no_owner_gets_none(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store
) -> None:
    await commented_wave(bot, standin, world, store)
    # A forged menu value is refused as not ours, and nothing is queued.
    results = await bot.slack.ask(world.owner, f"results {SLUG}", command="/pulse")
    menu = next(b["accessory"] for b in results.blocks if b.get("accessory", {}).get("type") == "overflow")
    menu["options"][1]["value"] = "noted:AAAA"
    await bot.slack.click(world.owner, Action.COMMENT_REPLY.value, message=results, option="noted")
    dm = standin.workspace.im_with(world.owner).id
    await wait_for(lambda: "not one of ours" in standin.workspace.history(dm, viewer=world.owner)[-1].shown_text)
    assert await store.fetch_value("SELECT count(*) FROM threads") == 0
    # An admin sees the results, but only owners and champions reply: no menu.
    standin.workspace.add_user(ADMIN, "admin")
    shown = await bot.slack.ask(ADMIN, f"results {SLUG}", command="/pulse")
    assert WORDS in shown.shown_text and "overflow" not in json.dumps(shown.blocks)


async def test_a_forgotten_replier_leaves_their_words_nowhere(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings, clock: ManualClock
) -> None:
    await commented_wave(bot, standin, world, store)
    champion = world.champions[0]  # an owner who is the only one cannot be forgotten
    words = "Only this champion would write this reply about the ledger team"
    await reply_from_results(bot, standin, champion, "reply", words)
    clock.advance(timedelta(minutes=91))
    await bot.bot.sender.drain()
    assert found_in_files(settings.pulse_db, words)
    await bot.ask(champion, "forget-me", command="/pulse")
    dm = standin.workspace.im_with(champion)
    await bot.slack.click(
        champion, Action.FORGET_ME.value, message=standin.workspace.history(dm.id, viewer=champion)[-1]
    )
    await wait_for(
        lambda: "Nothing stored names you" in standin.workspace.history(dm.id, viewer=champion)[-1].shown_text
    )
    assert found_in_files(settings.pulse_db, words) == [] and found_in_files(settings.pulse_db, champion) == []
