"""The attacker on the files the real bot wrote: a backup copy alone, the files and the key after
the waves closed, and the files after forget-me. Each test also shows the attack working where
it must (with the key while a wave is open; the ID and words in the files before forget-me)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.key_file import key_file_path
from bot.settings import Settings
from handlers.ids import Action
from sandbox.stand_in import SlackStandIn
from storage import Store
from tests.bot.test_settings import _env
from tests.conftest import RunningBot
from tests.privacy.attacker import found_in_files, stored_values, tie
from tests.services.test_surveys import SLUG, answer, people, started_with, surveyed, thanked
from tests.support import survey_of, wait_for
from tests.world import World


async def comment(bot: RunningBot, standin: SlackStandIn, user: str, text: str) -> None:
    thanks = [m for m in standin.workspace.dms_to(user) if "Thanks" in m.shown_text][-1]
    await bot.slack.click(user, Action.SURVEY_COMMENT.value, message=thanks)
    await bot.slack.submit(user, {"comment": text})


async def forgets(bot: RunningBot, standin: SlackStandIn, user: str) -> None:
    """They ask to be forgotten, confirm, and are told it is done."""
    await bot.ask(user, "forget-me", command="/pulse")
    dm = standin.workspace.im_with(user).id
    prompt = [m for m in standin.workspace.history(dm, viewer=user) if m.blocks and "forget" in str(m.blocks)][-1]
    await bot.slack.click(user, Action.FORGET_ME.value, message=prompt)
    await wait_for(
        lambda: any(
            "Nothing stored names you any more" in m.shown_text for m in standin.workspace.history(dm, viewer=user)
        ),
        what="forget-me done",
    )


async def wave_of_twenty(bot: RunningBot, standin: SlackStandIn, world: World, store: Store) -> list[str]:
    """The issue's wave: 20 people asked, 15 answer, 5 of them comment."""
    cohort = people(standin, 20)
    await surveyed(bot, standin, world, cohort)
    for i, user in enumerate(cohort[:15]):
        await answer(bot, standin, user, i % 11)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort[:15]), what="15 thank-yous")
    for user in cohort[:5]:
        await comment(bot, standin, user, f"Words of {user}: the receipts page is slow")
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM comments"), what="comments stored")
    assert await store.fetch_value("SELECT count(*) FROM responses") == 15
    assert await store.fetch_value("SELECT count(*) FROM comments") == 5
    return cohort


def pulse_backup(settings: Settings, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "backup", str(target)],
        env=_env(PULSE_DB=str(settings.pulse_db)),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_backup_copy_alone_ties_no_answer_while_the_waves_are_open(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings, tmp_path: Path
) -> None:
    await wave_of_twenty(bot, standin, world, store)
    copy = tmp_path / "stolen" / "backup.db"
    copy.parent.mkdir()
    done = pulse_backup(settings, copy)
    assert done.returncode == 0, done.stderr
    assert "the key file" in done.stdout and "not in the backup" in done.stdout

    alone = tie(copy)
    assert (alone.answer_count, alone.comment_count) == (15, 5)
    assert alone.answers == {} and alone.comments == {}
    # Nothing in the copy is the key: neither the key file's text nor its bytes.
    secret = key_file_path(settings).read_text().strip()
    assert found_in_files(copy, secret) == [] and found_in_files(copy, bytes.fromhex(secret)) == []
    # With the master key, while the wave is open, every answer can be found (as mydata and
    # forget-me must): the attacker is real, and what the product says about it is true.
    with_key = tie(copy, known_secrets=[secret])
    assert len(with_key.answers) == 15 and len(with_key.comments) == 5


async def test_after_the_waves_close_the_files_and_the_key_tie_no_answer(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings
) -> None:
    cohort = await wave_of_twenty(bot, standin, world, store)
    secret = key_file_path(settings).read_text().strip()
    wrapped = [bytes(r[0]) for r in await store.fetch_all("SELECT wrapped FROM wave_keys")]
    assert len(wrapped) == 1

    closed = await bot.ask(world.owner, f"close {SLUG} nps", command="/pulse")
    assert "Closed the NPS survey of `expense-tool` (1 wave, at least 5 answers kept)" in closed
    await bot.bot.sender.drain()
    # Everyone's survey now says it closed, and a late click stores nothing.
    assert all("This survey has closed" in standin.workspace.dms_to(u)[0].shown_text for u in cohort)
    late = survey_of(standin, cohort[19])
    assert late is None or "closed" in late.shown_text
    assert await store.fetch_value("SELECT count(*) FROM responses") == 15

    ties = tie(settings.pulse_db, known_secrets=[secret])
    assert (ties.answer_count, ties.comment_count) == (15, 5)
    assert ties.answers == {} and ties.comments == {}
    # The destroyed key is in no byte of the files, not even an older copy of its page.
    assert all(found_in_files(settings.pulse_db, blob) == [] for blob in wrapped)
    assert "Your answer can no longer be tied to you" in standin.workspace.dms_to(cohort[0])[0].shown_text
    again = await bot.ask(world.owner, f"close {SLUG}", command="/pulse")
    assert "no open wave of the NPS survey in alpha: nothing to close" in again


async def test_forget_me_leaves_the_persons_id_and_words_in_no_byte_of_the_files(
    bot: RunningBot, standin: SlackStandIn, world: World, store: Store, settings: Settings
) -> None:
    cohort = people(standin, 6)
    leaving = cohort[0]
    standin.workspace.users[leaving].locale = "sv-SE"  # cached from Slack with their time zone
    await started_with(bot, world, cohort)
    # They chose a language, then changed their mind: the choice is stored, in a row of its own.
    await bot.ask(leaving, "language sv", command="/pulse")
    await bot.ask(leaving, "language en", command="/pulse")
    assert await store.fetch_value("SELECT language FROM person_languages WHERE user_id = ?", (leaving,)) == "en"
    assert await store.fetch_value("SELECT locale FROM slack_users WHERE user_id = ?", (leaving,)) == "sv-SE"
    # They are also a champion and an owner (added by the owner: the history names them).
    await bot.ask(world.owner, f"champions {SLUG} add <@{leaving}>")
    await bot.ask(world.owner, f"owners {SLUG} add <@{leaving}>")
    await bot.ask(leaving, f'pause {SLUG} "my own reason to wait"')
    await bot.ask(leaving, f"resume {SLUG}")
    # … and an approver of beta, who asked for the advance into it with words of their own, which
    # went to the other approver in a DM (queued in the outbox) and into the history.
    await bot.ask(world.owner, f"approvers {SLUG} beta <@{leaving}> <@{world.owner}>")
    await bot.ask(leaving, f'advance {SLUG} "my own reason to move on"')
    await bot.bot.sender.drain()
    assert await store.fetch_value("SELECT count(*) FROM outbox WHERE kind = 'approval_request'") == 2
    await bot.ask(world.owner, f"send {SLUG} nps", command="/pulse")
    await wait_for(lambda: all(survey_of(standin, u) is not None for u in cohort), what="every survey DM")
    for user in cohort:
        await answer(bot, standin, user, 9)
    await wait_for(lambda: all(thanked(standin, u) for u in cohort))
    words = "Only I would write this sentence about the receipts page"
    await comment(bot, standin, leaving, words)
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM comments"), what="the comment stored")
    # As an owner they had the feedback map shared in their DM: their Home shows that file.
    await bot.slack.command(leaving, f"map {SLUG}", command="/pulse")
    await wait_for(lambda: store.fetch_value("SELECT count(*) FROM map_files WHERE user_id = ?", (leaving,)))
    assert "Which feedback map was last shared in your DM" in await bot.ask(leaving, "mydata", command="/pulse")
    # Before: the ID and the words are in the files (so the search below can find them).
    assert found_in_files(settings.pulse_db, leaving) and found_in_files(settings.pulse_db, words)

    confirm = await bot.ask(leaving, "forget-me", command="/pulse")
    assert (
        "You will no longer be approver of a stage of `expense-tool`, champion of `expense-tool`, owner of "
        "`expense-tool`" in confirm
    )
    assert "Answers in surveys that have closed are already tied to nobody" in confirm
    dm = standin.workspace.im_with(leaving)
    prompt = standin.workspace.history(dm.id, viewer=leaving)[-1]
    await bot.slack.click(leaving, Action.FORGET_ME.value, message=prompt)
    await wait_for(
        lambda: "Nothing stored names you any more" in standin.workspace.history(dm.id, viewer=leaving)[-1].shown_text
    )

    assert found_in_files(settings.pulse_db, leaving) == []
    assert found_in_files(settings.pulse_db, words) == []
    for table in ("person_languages", "slack_users", "map_files"):
        assert await store.fetch_value(f"SELECT count(*) FROM {table} WHERE user_id = ?", (leaving,)) == 0
    assert not any(leaving in str(v) for v in stored_values(settings.pulse_db))
    assert await store.fetch_value("SELECT count(*) FROM responses") == 5
    history = await bot.ask(world.owner, f"history {SLUG}")
    assert "a person who asked to be forgotten" in history and leaving not in history
    assert "my own reason" not in history
    assert found_in_files(settings.pulse_db, "my own reason to move on") == []
    assert await store.fetch_value("SELECT user_id FROM stage_approvers") == world.owner
    # The rollout still works for everyone else.
    assert "Expense tool" in await bot.ask(world.owner, f"status {SLUG}")
