"""Conversations on anonymous comments (docs/closing-the-loop.md).

An owner or champion replies to a comment shown to them; the reply reaches whoever wrote it by
DM, naming who replied, while the replier never learns who wrote. The writer may answer back
(their answer reaches the replier, still anonymous) and only the writer can close the thread.

How the writer stays unknown:
- The Reply button carries the comment's place (wave and respondent key) sealed under the master
  key: Slack and the replier see an opaque token.
- The writer is found once, when the first reply comes, through the wave's key (so only while
  the wave is open, and only in a wave sent to at least PULSE_MIN_GROUP people); the thread keeps
  their user ID sealed under the master key, and deletes it when the thread closes: by the
  writer, after THREAD_DAYS, or by forget-me.
- Messages to the writer are queued to the thread's address, never to a user ID, go after a
  random delay (PULSE_REPLY_DELAY_MINUTES) and within the writer's working hours; a message
  waiting for those hours is looked at again on the hour, like every other, and a sent one keeps
  no time, so the rows say nothing of the writer's time zone. The writer's answers reach the
  replier after the same kind of delay, so their arrival cannot be matched to someone being online.
"""

from __future__ import annotations

import base64
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from runtime.clock import Clock, epoch
from runtime.i18n import N_, Phrase, for_operator
from services.errors import BadInput, Conflict, NotAllowed
from services.keys import KeyRing, MasterKey, respondent_key
from services.languages import LanguageService
from services.options import Options
from services.quiet_hours import next_send_time, zone
from services.rollouts import RolloutService
from storage.db import Store, day_of
from storage.disclosure import ReleasedComment
from storage.models import OutboxItem
from storage.rollouts import RolloutDetail
from storage.slack_users import SlackUsers
from storage.surveys import Surveys
from storage.threads import (
    Thread,
    ThreadKind,
    Threads,
    Waiting,
    note_key,
    thread_address,
    thread_of_address,
)
from storage.writes import Writes, write

THREAD_DAYS = 30
COMMENT_REPLIED = for_operator("comment replied")  # the audit code: who replied, never to whom
REPLY_MAX = 3000
EXCERPT = 200  # of the comment, quoted in each message of its thread

Acknowledgement = Literal["noted", "looking", "fixed"]
ACKNOWLEDGEMENTS: dict[str, Phrase] = {
    "noted": N_("Thanks, noted."),
    "looking": N_("We're looking into it."),
}
# The reply button of a comment, and of a thread in the replier's DM: what each choice does.
Choice = Literal["reply", "noted", "looking", "fixed"]
CHOICES: tuple[Choice, ...] = ("reply", "noted", "looking", "fixed")


def unreachable(min_group: int) -> Phrase:
    # One answer for every reason, so that it tells nothing about the comment's wave.
    return N_(
        "Whoever wrote this can no longer be reached. Once the survey it answered has closed, nothing "
        "ties a comment to its writer, and a survey sent to fewer than {min} people is never replied to "
        "(a reply could give its writer away).",
        min=min_group,
    )


NOT_OURS = N_("This button is not one of ours, so nothing was sent.")


class ThreadNote(BaseModel):
    """One message of a thread as the outbox keeps it until it goes."""

    thread_id: int
    message_id: int
    kind: ThreadKind | Literal["closed"]
    body: str | None
    replier: str  # who replied (named to the writer), or whom the writer's answer goes to
    rollout_slug: str
    rollout_title: str
    title_variants: dict[str, str] = {}
    comment: str  # the comment it is about, shortened
    closes_on: str  # the day the thread closes by itself
    min_group: int
    to_writer: bool
    language: str | None = None  # the reader's: set when it goes


@dataclass(frozen=True)
class Later:
    """Not now: the writer is outside their working hours; look again at `at`."""

    at: float


@dataclass(frozen=True)
class Gone:
    """The thread closed (or was forgotten) before its message could go."""

    reason: str


Addressed = OutboxItem | Later | Gone


@dataclass(frozen=True)
class Sent:
    """What a reply did: queued for the writer, who will read it after `delay_minutes` at least."""

    thread_id: int
    kind: ThreadKind
    delay_minutes: tuple[int, int]


def seal_comment(master: MasterKey, wave_id: int, key: str) -> str:
    """The comment's place, sealed: what its Reply button carries (under 150 characters, which an
    overflow menu's value allows)."""
    sealed = master.seal("comment", struct.pack(">Q", wave_id) + bytes.fromhex(key))
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_comment(master: MasterKey, token: str) -> tuple[int, str] | None:
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    opened = master.open("comment", sealed)
    if opened is None or len(opened) != 40:
        return None
    return struct.unpack(">Q", opened[:8])[0], opened[8:].hex()


def link_label(thread_id: int) -> str:
    """What a thread's sealed link is bound to: it opens for that thread only."""
    return f"thread:{thread_id}"


def next_hour(now: float) -> float:
    """The next full hour: when every message waiting for working hours is looked at again."""
    return (int(now) // 3600 + 1) * 3600.0


class ThreadService:
    def __init__(
        self,
        store: Store,
        settings: Options,
        clock: Clock,
        rollouts: RolloutService,
        keys: KeyRing,
        languages: LanguageService,
        rng: Callable[[int, int], int] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.rollouts = rollouts
        self.keys = keys
        self.languages = languages
        self.threads = Threads(store)
        self.surveys = Surveys(store)
        self.people = SlackUsers(store)
        # Delays are drawn from the operating system's randomness: a guessable delay could be undone.
        self._draw = rng or random.SystemRandom().randint
        self.on_outbox: Callable[[], None] = lambda: None

    def _now(self) -> int:
        return epoch(self.clock.now())

    def _day(self, at: int) -> str:
        return day_of(at, self.settings.tz)

    # -- what a replier sees ------------------------------------------------------------------------

    async def repliable(
        self, comments: Sequence[ReleasedComment], detail: RolloutDetail, reader: str
    ) -> list[ReleasedComment]:
        """The comments with the sealed reference their Reply button carries, for a reader who may
        reply (an owner or champion). Every comment gets one, reachable or not: which ones could be
        replied to would tell which came from a wave still open."""
        if not (reader in detail.owners or reader in detail.champions):
            return list(comments)
        master = await self.keys.master()
        return [replace(c, ref=seal_comment(master, c.wave_id, c.respondent_key)) for c in comments]

    async def waiting(self, rollout_ids: Sequence[int]) -> dict[int, Waiting]:
        return await self.threads.waiting(rollout_ids)

    # -- replying -----------------------------------------------------------------------------------

    def _may_reply(self, detail: RolloutDetail, user: str) -> None:
        if user in detail.owners or user in detail.champions:
            return
        raise NotAllowed(
            N_("Only the owners and champions of {slug} can reply to its comments.", slug=detail.rollout.slug),
            people=tuple(detail.owners),
        )

    async def reply_to_comment(self, actor: str, token: str, choice: str, text: str | None) -> Sent:
        """A reply (or a one-click acknowledgement) to the comment a Reply button names: the
        thread is opened on the first one, its writer found through the wave's key."""
        kind, body = self._message(choice, text)
        master = await self.keys.master()
        place = open_comment(master, token)
        if place is None:
            raise BadInput(NOT_OURS)
        wave_id, comment_key = place
        existing = await self.threads.of_comment(wave_id, comment_key)
        if existing is not None:
            return await self._reply(actor, existing, kind, body)
        if await self.threads.replies_closed(wave_id, comment_key):
            raise Conflict(N_("This conversation has been closed, so nothing was sent."))
        wave = await self.surveys.wave(wave_id)
        if wave is None:
            raise BadInput(NOT_OURS)
        detail = await self.rollouts.by_id(wave.rollout_id)
        if detail is None:
            raise BadInput(NOT_OURS)
        self._may_reply(detail, actor)
        writer = await self._writer(wave_id, comment_key, wave.asked)
        now = self._now()

        def open_thread(writes: Writes) -> int:
            thread_id = writes.threads.open(
                rollout_id=detail.rollout.id,
                stage_id=wave.stage_id,
                wave_id=wave_id,
                comment_key=comment_key,
                replier=actor,
                now=now,
                expires_at=now + THREAD_DAYS * 86400,
                seal=lambda thread_id: master.seal(link_label(thread_id), writer.encode()),
            )
            self._queue(writes, thread_id, detail, actor, kind, body, now)
            return thread_id

        thread_id = await write(self.store, open_thread)
        self.on_outbox()
        return Sent(thread_id, kind, self.settings.pulse_reply_delay_minutes)

    async def reply_in_thread(self, actor: str, thread_id: int, choice: str, text: str | None) -> Sent:
        """A reply from the replier's DM, to a thread already open."""
        kind, body = self._message(choice, text)
        thread = await self.threads.get(thread_id)
        if thread is None:
            raise BadInput(NOT_OURS)
        return await self._reply(actor, thread, kind, body)

    async def _reply(self, actor: str, thread: Thread, kind: ThreadKind, body: str | None) -> Sent:
        detail = await self.rollouts.by_id(thread.rollout_id)
        if detail is None:
            raise BadInput(NOT_OURS)
        self._may_reply(detail, actor)
        if not thread.open:
            raise Conflict(N_("This conversation has been closed, so nothing was sent."))
        now = self._now()

        def reply(writes: Writes) -> None:
            if not writes.threads.is_open(thread.id):
                raise Conflict(N_("This conversation has been closed, so nothing was sent."))
            self._queue(writes, thread.id, detail, actor, kind, body, now)

        await write(self.store, reply)
        self.on_outbox()
        return Sent(thread.id, kind, self.settings.pulse_reply_delay_minutes)

    def _message(self, choice: str, text: str | None) -> tuple[ThreadKind, str | None]:
        if choice not in CHOICES:
            raise BadInput(NOT_OURS)
        if choice in ACKNOWLEDGEMENTS:
            return choice, None
        body = " ".join((text or "").split()) if choice == "fixed" else (text or "").strip()
        if not body:
            what = N_("Say what it was fixed in.") if choice == "fixed" else N_("Write a reply, or close this window.")
            raise BadInput(what, field="reply")
        if len(body) > REPLY_MAX:
            raise BadInput(
                N_("The reply is {length} characters long; keep it to {max}.", length=len(body), max=REPLY_MAX),
                field="reply",
            )
        return choice, body

    async def _writer(self, wave_id: int, comment_key: str, asked: int) -> str:
        """Who wrote the comment: found among the people the wave asked, through its key."""
        refusal = Conflict(unreachable(self.settings.pulse_min_group))
        if asked < self.settings.pulse_min_group:
            raise refusal
        wave_key = await self.keys.wave_key(wave_id)
        if wave_key is None:
            raise refusal
        for user in await self.keys.keys.asked_in(wave_id):
            if respondent_key(wave_key, user) == comment_key:
                return user
        raise refusal  # they asked to be forgotten meanwhile

    def _queue(
        self,
        writes: Writes,
        thread_id: int,
        detail: RolloutDetail,
        replier: str,
        kind: ThreadKind,
        body: str | None,
        now: int,
    ) -> None:
        message_id = writes.threads.add_message(
            thread_id=thread_id, author=replier, kind=kind, body=body, day=self._day(now)
        )
        writes.threads.replied(thread_id, replier)
        note = self._note(writes, thread_id, message_id, detail, replier, kind, body, to_writer=True)
        # Who replied, never to whom.
        writes.rollouts.write_audit(rollout_id=detail.rollout.id, actor=replier, action=COMMENT_REPLIED, now=now)
        writes.outbox.enqueue(
            kind="thread_note",
            dedupe_key=note_key(thread_id, message_id),
            channel=thread_address(thread_id),
            payload=note.model_dump_json(),
            now=now,
            not_before=now + self._delay(),
        )

    def _note(
        self,
        writes: Writes,
        thread_id: int,
        message_id: int,
        detail: RolloutDetail,
        replier: str,
        kind: ThreadKind | Literal["closed"],
        body: str | None,
        *,
        to_writer: bool,
    ) -> ThreadNote:
        comment, expires_at = writes.threads.about(thread_id)
        return ThreadNote(
            thread_id=thread_id,
            message_id=message_id,
            kind=kind,
            body=body,
            replier=replier,
            rollout_slug=detail.rollout.slug,
            rollout_title=detail.rollout.title,
            title_variants=detail.rollout.title_variants,
            comment=" ".join((comment or "").split())[:EXCERPT],
            closes_on=self._day(expires_at),
            min_group=self.settings.pulse_min_group,
            to_writer=to_writer,
        )

    def _delay(self) -> int:
        low, high = self.settings.pulse_reply_delay_minutes
        return self._draw(low, high) * 60 if high else 0

    # -- the writer's side --------------------------------------------------------------------------

    async def _own(self, user: str, thread_id: int) -> tuple[Thread, RolloutDetail]:
        """The thread, if `user` wrote its comment; the same refusal for any other thread, so that
        nobody learns which threads exist."""
        thread = await self.threads.get(thread_id)
        master = await self.keys.master()
        opened = (
            master.open(link_label(thread.id), thread.link) if thread is not None and thread.link is not None else None
        )
        if thread is None or opened != user.encode():
            raise Conflict(N_("This conversation is closed, or it is not yours."))
        detail = await self.rollouts.by_id(thread.rollout_id)
        if detail is None:
            raise Conflict(N_("This conversation is closed, or it is not yours."))
        return thread, detail

    async def answer_back(self, user: str, thread_id: int, text: str | None) -> None:
        """The writer's answer: it reaches the last replier, after a delay, without their name."""
        thread, detail = await self._own(user, thread_id)
        _, body = self._message("reply", text)
        now = self._now()
        replier_tz = await self._tz(thread.replier)
        language = await self.languages.of(thread.replier)

        def answer(writes: Writes) -> None:
            if not writes.threads.is_open(thread.id):
                raise Conflict(N_("This conversation is closed, or it is not yours."))
            message_id = writes.threads.add_message(
                thread_id=thread.id, author=None, kind="answer", body=body, day=self._day(now)
            )
            writes.threads.answered(thread.id, self._day(now))
            note = self._note(writes, thread.id, message_id, detail, thread.replier, "answer", body, to_writer=False)
            self._to_replier(writes, note.model_copy(update={"language": language}), replier_tz, now)

        await write(self.store, answer)
        self.on_outbox()

    async def close(self, user: str, thread_id: int) -> None:
        """Only the writer closes: the link goes, and the replier hears that it closed."""
        thread, detail = await self._own(user, thread_id)
        now = self._now()
        replier_tz = await self._tz(thread.replier)
        language = await self.languages.of(thread.replier)

        def close(writes: Writes) -> None:
            note = self._note(writes, thread.id, 0, detail, thread.replier, "closed", None, to_writer=False)
            # The notice does not quote the comment: a closed conversation leads to no comment.
            note = note.model_copy(update={"comment": ""})
            if writes.threads.close(thread.id, "commenter", now):
                self._to_replier(writes, note.model_copy(update={"language": language}), replier_tz, now)

        await write(self.store, close)
        self.on_outbox()
        await self.store.wipe_journal()

    def _to_replier(self, writes: Writes, note: ThreadNote, tz: str | None, now: int) -> None:
        """Queue a message to the replier (`note.replier`); message 0 is the closing notice."""
        # The replier's working hours are no secret; the delay hides when the writer acted.
        at = datetime.fromtimestamp(now + self._delay(), UTC)
        go = next_send_time(at, zone(tz, self.settings.tz), self.settings.pulse_quiet_hours)
        # Dated when it is to go, not when the writer acted.
        writes.outbox.enqueue(
            kind="thread_note",
            dedupe_key=note_key(note.thread_id, note.message_id),
            channel=note.replier,
            payload=note.model_dump_json(),
            now=int(go.timestamp()),
            not_before=int(go.timestamp()),
        )

    async def _tz(self, user: str) -> str | None:
        return await self.people.tz_of(user)

    # -- sending ------------------------------------------------------------------------------------

    async def address(self, item: OutboxItem) -> Addressed:
        """The outbox row of a message to a thread's writer, addressed to them now; Later when it
        is outside their working hours, Gone when the thread closed meanwhile."""
        thread_id = thread_of_address(item.channel)
        if thread_id is None:
            return item
        thread = await self.threads.get(thread_id)
        if thread is None or thread.link is None:
            return Gone(for_operator("the conversation closed before this message could go"))
        master = await self.keys.master()
        opened = master.open(link_label(thread.id), thread.link)
        if opened is None:
            return Gone(for_operator("the conversation's link does not open with this key"))
        writer = opened.decode()
        now = self.clock.now()
        tz = zone(await self._tz(writer), self.settings.tz)
        if next_send_time(now, tz, self.settings.pulse_quiet_hours) > now:
            return Later(next_hour(now.timestamp()))
        note = ThreadNote.model_validate_json(item.payload)
        language = await self.languages.of(writer)
        return item.model_copy(
            update={"channel": writer, "payload": note.model_copy(update={"language": language}).model_dump_json()}
        )

    # -- expiry and forgetting ----------------------------------------------------------------------

    async def close_expired(self) -> int:
        """Close the threads past THREAD_DAYS: from then on they name nobody."""
        now = self._now()
        expired = await self.threads.expired(now)
        if not expired:
            return 0

        def close_all(writes: Writes) -> int:
            return sum(writes.threads.close(thread_id, "expired", now) for thread_id in expired)

        closed = await write(self.store, close_all)
        await self.store.wipe_journal()
        return closed

    async def threads_of(self, user: str) -> list[int]:
        """The open threads on comments `user` wrote: what forget-me deletes."""
        master = await self.keys.master()
        return [
            thread_id
            for thread_id, link in await self.threads.open_links()
            if master.open(link_label(thread_id), link) == user.encode()
        ]
