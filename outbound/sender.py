"""Posting to Slack exactly once, and the task that drains the outbox.

Each post carries a key in its message metadata. A post whose outcome is unknown (the process
died mid-call, the call timed out, Slack answered 5xx) is looked up in the channel's history by
that key before it is tried again, so a retry never doubles a message. History is read page by
page back to the earlier attempt: Slack may answer fewer messages than asked for with more to come.

An upload is shared in its channel a moment after Slack answers files.completeUploadExternal
(slackapi/bolt-js#2115: "in many cases the API response does not yet have complete 'shares'"),
so the bot asks files.info (or history) until the share shows, and only then has a `ts`. The
file's ID is handed to the caller to keep before the upload is completed: after a crash, a file
that exists but is not shared yet is waited for, not uploaded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from handlers.blocks.outbox import OutboxMessage
from handlers.blocks.text import Message
from runtime.clock import Clock, epoch
from services.errors import storage_problem, until_stored
from services.models import OutboxItem
from services.queues import OutboxQueue
from services.threads import Addressed, Gone, Later

log = logging.getLogger(__name__)

METADATA_EVENT = "rollout_pulse_post"
# Slack refusing for going too fast: 429 `ratelimited` (any method, with Retry-After) or 200
# `rate_limited` ("Application has posted too many messages": an error of chat.postMessage and
# chat.update). Nothing was done; try again after Retry-After, or a second (Slack's pace for posts).
RATE_LIMITED = {"ratelimited", "rate_limited"}
# Errors Slack documents as a passing trouble on its side: worth another try. internal_error and
# fatal_error: "It's possible some aspect of the operation succeeded" (so: maybe sent);
# service_unavailable: "The service is temporarily unavailable"; request_timeout: "the POST data
# was either missing or truncated"; team_added_to_org / org_login_required: the workspace is
# migrating to an Enterprise Grid and is "intermittently unavailable until the transition is
# complete" (docs.slack.dev, the errors of every Web API method).
TRANSIENT_ERRORS = {
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
    "org_login_required",
}
# Give up on a message Slack keeps refusing for a day (a long outage): mark it failed, say why.
GIVE_UP_AFTER_SECONDS = 24 * 3600
MAX_BACKOFF_SECONDS = 300
SEND_TIMEOUT_SECONDS = 10
# History pages read back to an earlier attempt at most (of up to 200 messages each, or fewer).
MAX_HISTORY_PAGES = 50
# How long one upload attempt waits for Slack to share the file (usually a second or two), and
# the pauses between looks (files.info is Tier 4: 100 a minute).
SHARE_WAIT_SECONDS = 30.0
SHARE_POLLS = (0.1, 0.2, 0.4, 0.8, 1.6)
SHARE_POLL_MAX = 2.0
# A file still existing unshared this long after its attempt was never completed: upload anew.
UNSHARED_GIVE_UP_SECONDS = 600


def backoff(attempts: int) -> float:
    """Seconds before the next try after the `attempts`-th failure: 0.5, 0.5, 1, 2, 4 … up to
    five minutes, with a little jitter so that retries do not arrive together. Slack's 5xx are
    mostly brief, so the first retries come quickly, from half a second as slack-sdk's own retry
    handler does: the DMs of a wave that fail two or three times in a row each wait that long
    again, and the last of them sets how long the whole wave takes."""
    return min(float(MAX_BACKOFF_SECONDS), 0.5 * 2.0 ** max(0, attempts - 2)) * random.uniform(1.0, 1.2)


@dataclass(frozen=True)
class Sent:
    channel: str
    ts: str
    found_in_history: bool = False


@dataclass(frozen=True)
class Retry:
    after: int
    error: str
    maybe_sent: bool

    @property
    def rate_limited(self) -> bool:
        return self.error in RATE_LIMITED

    def wait(self, attempts: int) -> float:
        """Seconds before trying again after `attempts` earlier failures: what Slack asked for
        after a rate limit (the pacer keeps the pace), otherwise the backoff, or longer if Slack said."""
        if self.rate_limited:
            return float(self.after)
        return max(float(self.after), backoff(attempts))


@dataclass(frozen=True)
class Failed:
    error: str


Outcome = Sent | Retry | Failed


def create_sender_client(token: str, base_url: str) -> AsyncWebClient:
    """A client that never retries by itself: every retry must go through the history check."""
    return AsyncWebClient(token=token, base_url=base_url, timeout=SEND_TIMEOUT_SECONDS, retry_handlers=[])


async def _find_in_history(
    client: AsyncWebClient, channel: str, since: int, what: str, matches: Callable[[dict[str, Any]], bool]
) -> Sent | None:
    """The bot's message in `channel` since `since` that `matches`, if an earlier attempt made it:
    every page of history back to then, following Slack's cursors. A channel may be a user ID:
    the bot's DM with that person."""
    try:
        if channel[:1] in ("U", "W"):
            opened = await client.conversations_open(users=channel)
            channel = opened["channel"]["id"]
        cursor: str | None = None
        for _ in range(MAX_HISTORY_PAGES):
            page = await client.conversations_history(
                channel=channel, oldest=str(max(0, since - 60)), include_all_metadata=True, limit=200, cursor=cursor
            )
            messages: list[dict[str, Any]] = page.get("messages", [])
            for message in messages:
                if matches(message):
                    return Sent(channel, str(message["ts"]), found_in_history=True)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or cursor is None:
                return None
    except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        # Without history we cannot tell; sending again risks a duplicate, not a loss.
        log.warning("could not check %s for an earlier %s: %s", channel, what, exc)
        return None
    log.warning("could not check %s for an earlier %s: more than %d pages of history", channel, what, MAX_HISTORY_PAGES)
    return None


async def find_posted(client: AsyncWebClient, channel: str, key: str, since: int) -> Sent | None:
    """The message with this key in its metadata, if an earlier attempt did post it."""

    def keyed(message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        return bool(
            metadata.get("event_type") == METADATA_EVENT and (metadata.get("event_payload") or {}).get("key") == key
        )

    return await _find_in_history(client, channel, since, f"post of {key}", keyed)


async def post_once(
    client: AsyncWebClient,
    *,
    channel: str,
    key: str,
    message: Message,
    earlier_attempt_at: int | None,
    **extra: Any,
) -> Outcome:
    """Post `message` unless an earlier attempt (begun at `earlier_attempt_at`) already did."""
    if earlier_attempt_at is not None:
        found = await find_posted(client, channel, key, earlier_attempt_at)
        if found is not None:
            return found
    response = await attempt(
        client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks or None,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
            unfurl_links=False,
            unfurl_media=False,
            **extra,
        )
    )
    if not isinstance(response, AsyncSlackResponse):
        return response
    return Sent(str(response["channel"]), str(response["ts"]))


async def find_uploaded(client: AsyncWebClient, channel: str, filename: str, since: int) -> Sent | None:
    """The message sharing a file of this name, if an earlier attempt did upload it."""

    def sharing(message: dict[str, Any]) -> bool:
        return any(f.get("name") == filename for f in message.get("files") or [])

    return await _find_in_history(client, channel, since, f"upload of {filename}", sharing)


RecordFile = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Upload:
    """A file to share in a channel with `message` as its text. The file name is unique to the
    upload: it is what the channel's history is searched for after an uncertain attempt."""

    channel: str
    filename: str
    title: str
    content: bytes
    message: Message


async def upload_once(
    client: AsyncWebClient,
    upload: Upload,
    *,
    earlier_attempt_at: int | None,
    file_id: str | None,
    record_file: RecordFile,
    now: float,
) -> Outcome:
    """Share a file in a channel with `message` as its text, unless an earlier attempt did; the
    file name, unique to the upload, is what history is searched for. `file_id` is the file the
    latest attempt made (kept through `record_file` before it was completed). Sent only once the
    share is seen, with its ts."""
    if earlier_attempt_at is not None:
        found = await find_uploaded(client, upload.channel, upload.filename, earlier_attempt_at)
        if found is not None:
            return found
        if file_id is not None:
            earlier = await _earlier_upload(client, upload.channel, upload.filename, file_id, earlier_attempt_at, now)
            if earlier is not None:
                return earlier
    return await _upload(client, upload, record_file)


async def _earlier_upload(
    client: AsyncWebClient, channel: str, filename: str, file_id: str, since: int, now: float
) -> Outcome | None:
    """What became of the earlier attempt's file: its share (waited for while Slack has the file
    but has not shared it yet), a Retry while that lasts, or None when it is to be uploaded anew."""
    state = await _share_of(client, channel, filename, file_id, since)
    if state == "gone":
        return None  # never completed: no share can come
    if isinstance(state, Sent):
        return state
    shared = await _wait_for_share(client, channel, filename, file_id, since)
    if shared is not None:
        return shared
    if now - since > UNSHARED_GIVE_UP_SECONDS:
        log.warning("the upload of %s was never shared in %s; uploading it again", filename, channel)
        return None
    return Retry(after=0, error=f"Slack has not shared {filename} yet", maybe_sent=True)


async def _upload(client: AsyncWebClient, upload: Upload, record_file: RecordFile) -> Outcome:
    """files_upload_v2's three steps, with the file's ID kept before the upload is completed."""
    channel, filename, content = upload.channel, upload.filename, upload.content
    started = int(time.time())
    url = await attempt(client.files_getUploadURLExternal(filename=filename, length=len(content)))
    if not isinstance(url, AsyncSlackResponse):
        return _not_shared(url)
    file_id = str(url["file_id"])
    await record_file(file_id)
    sent = await _send_bytes(client, str(url["upload_url"]), content)
    if sent is not None:
        return sent
    completed = await attempt(
        client.files_completeUploadExternal(
            files=[{"id": file_id, "title": upload.title}],
            channel_id=channel,
            # Slack ignores blocks when initial_comment is given: the blocks carry the message.
            blocks=json.dumps(upload.message.blocks),
        )
    )
    if not isinstance(completed, AsyncSlackResponse):
        return completed
    files: list[dict[str, Any]] = completed.get("files") or []
    ts = _first_share_ts((files[0] if files else {}).get("shares") or {}, channel)
    if ts:
        return Sent(channel, ts)
    shared = await _wait_for_share(client, channel, filename, file_id, started)
    return shared or Retry(after=0, error=f"Slack has not shared {filename} yet", maybe_sent=True)


async def _send_bytes(client: AsyncWebClient, url: str, content: bytes) -> Retry | None:
    """Step two, the file's bytes to Slack's upload URL: None when done. Nothing is shared yet."""
    try:
        result = await client._upload_file(
            url=url, data=content, logger=log, timeout=client.timeout, proxy=client.proxy, ssl=client.ssl
        )
    except (aiohttp.ClientError, TimeoutError, OSError, SlackClientError) as exc:
        return Retry(after=5, error=f"upload: {type(exc).__name__}: {exc}", maybe_sent=False)
    if result.status != 200:
        return Retry(after=5, error=f"upload: HTTP {result.status}", maybe_sent=False)
    return None


def _not_shared(outcome: Retry | Failed) -> Retry | Failed:
    """A failure before the upload was completed: whatever happened, nothing was shared."""
    return Retry(outcome.after, outcome.error, maybe_sent=False) if isinstance(outcome, Retry) else outcome


ShareState = Sent | Literal["unshared", "gone", "unknown"]


async def _share_of(client: AsyncWebClient, channel: str, filename: str, file_id: str, since: int) -> ShareState:
    """The file's share in `channel` as files.info tells it (or, if files.info cannot be read,
    as history does): Sent with its ts, "unshared" yet, "gone" (never completed), or "unknown"."""
    try:
        info = await client.files_info(file=file_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("file_not_found", "file_deleted"):
            return "gone"
        info = None  # e.g. missing_scope without files:read: history still shows the share
    except (aiohttp.ClientError, TimeoutError, OSError, SlackClientError):
        info = None
    if info is not None:
        if (info.get("file") or {}).get("name") not in (None, filename):
            return "gone"  # the file recorded is another upload's: this one was never made
        ts = _first_share_ts((info.get("file") or {}).get("shares") or {}, channel)
        return Sent(channel, ts, found_in_history=True) if ts else "unshared"
    found = await find_uploaded(client, channel, filename, since)
    return found or "unknown"


async def _wait_for_share(client: AsyncWebClient, channel: str, filename: str, file_id: str, since: int) -> Sent | None:
    """The share of a completed upload once Slack has made it, looked for with growing pauses
    for up to SHARE_WAIT_SECONDS; None if it has not shown by then."""
    deadline = time.monotonic() + SHARE_WAIT_SECONDS
    pauses = iter(SHARE_POLLS)
    while time.monotonic() < deadline:
        await asyncio.sleep(next(pauses, SHARE_POLL_MAX))
        state = await _share_of(client, channel, filename, file_id, since)
        if isinstance(state, Sent):
            return state
    return None


def _first_share_ts(shares: dict[str, Any], channel: str) -> str | None:
    for visibility in ("public", "private"):
        for share in (shares.get(visibility) or {}).get(channel) or []:
            if share.get("ts"):
                return str(share["ts"])
    return None


async def attempt(call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse | Retry | Failed:
    """Slack's answer to `call`, or what its failure means for trying again: a refusal as
    classify_error reads it; a connection never made as nothing sent; a connection lost or
    timed out as maybe sent (the caller looks in history before it tries again)."""
    try:
        return await call
    except SlackApiError as exc:
        return classify_error(exc)
    except aiohttp.ClientConnectorError as exc:
        return Retry(after=5, error=f"cannot connect: {exc}", maybe_sent=False)
    except (aiohttp.ClientError, TimeoutError, OSError, SlackClientError) as exc:
        return Retry(after=5, error=f"{type(exc).__name__}: {exc}", maybe_sent=True)


def classify_error(exc: SlackApiError) -> Retry | Failed:
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"HTTP {status}")
    if status == 429:
        return Retry(after=max(1, _retry_after(exc)), error="ratelimited", maybe_sent=False)
    if error in RATE_LIMITED:
        # 200 `rate_limited`: refused, not done; Slack says when only if it sends Retry-After.
        return Retry(after=max(1, _retry_after(exc)), error=error, maybe_sent=False)
    if status >= 500 or error in TRANSIENT_ERRORS:
        # The backoff decides how long, unless Slack said.
        return Retry(after=_retry_after(exc), error=error, maybe_sent=True)
    return Failed(error)


def _retry_after(exc: SlackApiError) -> int:
    """Slack's Retry-After in whole seconds; 0 when it gave none (or none that reads)."""
    headers = exc.response.headers
    try:
        return max(0, int(float(headers.get("Retry-After") or headers.get("retry-after") or 0)))
    except ValueError:
        return 0


class Drainer:
    """A loop that sends whatever is due, wakes when told something was queued, and otherwise
    looks again when the next item falls due (or after `idle_seconds`)."""

    def __init__(self, clock: Clock, *, concurrency: int, idle_seconds: float, retry_scale: float) -> None:
        self.clock = clock
        self.concurrency = concurrency
        self.idle_seconds = idle_seconds
        # Multiplies every wait before a retry; tests set 0 to retry at once.
        self.retry_scale = retry_scale
        self._wake = asyncio.Event()
        self._stopping = False

    name = "sender"

    # What a concrete sender provides.
    async def recover(self) -> None:
        raise NotImplementedError

    async def due(self, now: float) -> Sequence[object]:
        raise NotImplementedError

    async def next_due_at(self, now: float) -> float | None:
        raise NotImplementedError

    async def send(self, item: Any) -> None:
        raise NotImplementedError

    # The loop.
    def kick(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        recovered = False
        failures = 0
        while not self._stopping:
            try:
                if not recovered:
                    await self.recover()
                    recovered = True
                await self.drain()
            except Exception as exc:
                # Work stays queued; look again soon, but not in a tight loop (a full disk fails
                # every write at once).
                failures += 1
                pause = min(self.idle_seconds, 0.5 * 2 ** (failures - 1))
                problem = storage_problem(exc)
                if problem is not None:
                    log.error(
                        "the %s cannot write to the database: %s; it tries again in %g s", self.name, problem[1], pause
                    )
                else:
                    log.exception("the %s hit an error; it tries again in %g s", self.name, pause)
                self._wake.clear()
                await self._wait(pause)
                continue
            failures = 0
            await self._sleep()

    async def _sleep(self) -> None:
        self._wake.clear()
        wait = self.idle_seconds
        now = self.clock.now().timestamp()
        next_due = await self.next_due_at(now)
        if next_due is not None:
            wait = min(wait, max(0.0, next_due - now))
        await self._wait(wait)

    async def _wait(self, seconds: float) -> None:
        """Up to `seconds`, or until something is queued (since the wake-up was last cleared)."""
        if seconds > 0 and not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def record(self, write: Callable[[], Awaitable[None]], what: str) -> None:
        """Record what Slack did, waiting out a database that is locked or full for a while:
        unrecorded, a message that went out would wait for its claim to lapse and be looked up."""
        await until_stored(write, f"{what} ({self.name})", max_pause=self.idle_seconds, give_up=lambda: self._stopping)

    async def drain(self) -> int:
        """Send everything due now; return how many items were handled."""
        handled = 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: object) -> None:
            async with gate:
                await self.send(item)

        while not self._stopping:
            due = await self.due(self.clock.now().timestamp())
            if not due:
                return handled
            await asyncio.gather(*(one(item) for item in due))
            handled += len(due)
        return handled

    def retry_at(self, outcome: Retry, attempts: int) -> float:
        """When to try again: to the millisecond, so a retry comes as soon as Slack allows and
        never sooner (a whole-second schedule made each retry wait up to a second longer, and
        the last DMs of a wave, those retried most, set how long the wave takes)."""
        return self.clock.now().timestamp() + max(0.0, outcome.wait(attempts) * self.retry_scale)


Render = Callable[[OutboxItem], OutboxMessage]
# Who a row goes to, when its address is not a channel or user (a thread's writer): the row as
# addressed now, Later, or Gone.
Address = Callable[[OutboxItem], Awaitable[Addressed]]


async def update_message(client: AsyncWebClient, *, channel: str, ts: str, message: Message) -> Outcome:
    """chat.update is idempotent, so a retry needs no history check."""
    response = await attempt(
        client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks or None)
    )
    if isinstance(response, Retry):
        return Retry(response.after, response.error, maybe_sent=False)
    return response if isinstance(response, Failed) else Sent(channel, ts)


class OutboxSender(Drainer):
    """Drains the outbox: announcements, reminders and closing notices, each exactly once."""

    name = "outbox sender"

    def __init__(
        self,
        outbox: OutboxQueue,
        client: AsyncWebClient,
        render: Render,
        clock: Clock,
        *,
        concurrency: int = 4,
        idle_seconds: float = 5.0,
        retry_scale: float = 1.0,
        address: Address | None = None,
    ) -> None:
        super().__init__(clock, concurrency=concurrency, idle_seconds=idle_seconds, retry_scale=retry_scale)
        self.outbox = outbox
        self.client = client
        self.render = render
        self.address = address

    async def recover(self) -> None:
        recovered = await self.outbox.recover()
        if recovered:
            log.info("%d announcements were being sent when the bot stopped; checking and resuming", recovered)

    async def due(self, now: float) -> Sequence[OutboxItem]:
        return await self.outbox.due(now)

    async def next_due_at(self, now: float) -> float | None:
        return await self.outbox.next_due_at()

    async def send(self, item: OutboxItem) -> None:
        before = await self.outbox.claim(item.id, self.clock.now().timestamp())
        if before is None:
            return  # taken or finished meanwhile
        earlier = before.claimed_at if before.status == "sending" else None
        if self.address is not None:
            # A thread's writer is known only now, and only here: never to the row or the log.
            addressed = await self.address(before)
            if isinstance(addressed, Later):
                maybe = earlier is not None  # an earlier try may have posted: the next one checks first
                await self.record(
                    lambda: self.outbox.later(item.id, addressed.at, maybe_sent=maybe), f"the wait of {item.dedupe_key}"
                )
                return
            if isinstance(addressed, Gone):
                await self.record(
                    lambda: self.outbox.failed(item.id, addressed.reason), f"the end of {item.dedupe_key}"
                )
                return
            before = addressed
        try:
            rendered = self.render(before)
        except Exception as exc:
            log.exception("could not render outbox row %s", item.id)
            await self.outbox.failed(item.id, f"could not render: {exc}")
            return
        if rendered.update_ts is not None:
            outcome = await update_message(
                self.client, channel=before.channel, ts=rendered.update_ts, message=rendered.message
            )
        else:
            outcome = await post_once(
                self.client,
                channel=before.channel,
                key=before.dedupe_key,
                message=rendered.message,
                earlier_attempt_at=earlier,
            )
        now = epoch(self.clock.now())
        what = f"the outcome of {item.dedupe_key}"
        if isinstance(outcome, Sent):
            await self.record(lambda: self.outbox.sent(item.id, outcome.ts, now), what)
        elif isinstance(outcome, Failed):
            log.warning("%s to %s failed: %s", item.dedupe_key, item.channel, outcome.error)
            await self.record(lambda: self.outbox.failed(item.id, outcome.error), what)
        elif now - before.created_at > GIVE_UP_AFTER_SECONDS:
            error = f"gave up after a day of errors; the last was {outcome.error}"
            await self.record(lambda: self.outbox.failed(item.id, error), what)
        else:
            at = self.retry_at(outcome, before.attempts)
            await self.record(
                lambda: self.outbox.retry(item.id, at, outcome.error, maybe_sent=outcome.maybe_sent), what
            )
