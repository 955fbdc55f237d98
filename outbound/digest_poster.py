"""Posting digests: each subscription's period exactly once, on schedule, after a restart, or
late after downtime (within a day), with the trend chart when it can be drawn and uploaded.

A run row per (subscription, period) is taken before anything is posted; a digest of several
messages records how many went out, and an interrupted message is looked up in the channel's
history before it is posted again. If the chart cannot be drawn or uploaded, the text digest
still goes out and the failure is logged. A digest and its chart are written in the
subscription's language (none set: PULSE_LANGUAGE).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.chart import Chart
from handlers.blocks.digest import period_label
from handlers.blocks.heatmap import Heatmap
from handlers.blocks.text import Message
from outbound.sender import Failed, Outcome, Retry, Sent, Upload, post_once, upload_once
from runtime.clock import Clock, epoch
from runtime.i18n import DEFAULT_LANGUAGE, Texts, for_operator, texts
from services.cron import Period, latest_fire, parse_cron
from services.digests import DigestContent, DigestService
from services.feedback_map import FeedbackMap, MapService
from services.metrics import Window
from services.models import DigestRun, NewRun, RunStatus, Subscription
from services.queues import DigestRuns

log = logging.getLogger(__name__)

CATCH_UP_WITHIN_SECONDS = 24 * 3600
ATTEMPTS_PER_PART = 5
MAX_WAIT_SECONDS = 30.0

DrawChart = Callable[[Texts, DigestContent], Chart]
RenderDigest = Callable[[Texts, DigestContent], list[Message]]
MAPS_PER_DIGEST = 10  # heatmaps uploaded after the text, one per rollout with a figure to show


@dataclass(frozen=True)
class MapParts:
    """The digest's feedback maps: each rollout's heatmap as a part of its own, after the text."""

    maps: MapService
    draw: Callable[[Texts, FeedbackMap], Heatmap]
    message: Callable[[Texts, FeedbackMap], Message]


@dataclass(frozen=True)
class Attachment:
    """The image a part is uploaded with; its file name is unique to the run and the part."""

    filename: str
    title: str
    png: bytes


def _new_run(
    subscription_id: int | None,
    channel: str,
    period: Period,
    trigger: str,
    now: datetime,
    status: RunStatus = "posting",
) -> NewRun:
    return NewRun(subscription_id, channel, period.start_at, period.end_at, trigger, epoch(now), status)


@dataclass(frozen=True)
class Posted:
    channel: str
    status: str
    parts: int = 0
    chart: str | None = None


class DigestPoster:
    def __init__(
        self,
        digests: DigestService,
        runs: DigestRuns,
        client: AsyncWebClient,
        render: RenderDigest,
        draw: DrawChart,
        clock: Clock,
        *,
        maps: MapParts | None = None,
        retry_scale: float = 1.0,
    ) -> None:
        """`render` makes the messages of a digest, `draw` its trend chart, `maps` its heatmaps
        (the block builders' and the charts', passed in by the wiring as every sender's renderer is)."""
        self.digests = digests
        self.runs = runs
        self.client = client
        self.render = render
        self.clock = clock
        self.draw = draw
        self.maps = maps
        self.retry_scale = retry_scale
        # One digest at a time in this process: a scheduled post and a catch-up never race.
        self._lock = asyncio.Lock()

    # -- when to post ---------------------------------------------------------------------------------

    def _due_end(self, subscription: Subscription, now: datetime) -> datetime | None:
        """The end of the latest period of a subscription that has ended by now."""
        trigger = parse_cron(subscription.cron, ZoneInfo(subscription.timezone))
        end = latest_fire(trigger, now)
        if end is None or epoch(end) < subscription.created_at:
            return None  # nothing has come due since it was subscribed
        return end

    async def post_due(self, subscription_id: int) -> Posted | None:
        """The scheduled job of one subscription: post the period that just ended."""
        subscription = await self.runs.subscription(subscription_id)
        if subscription is None:
            return None
        end = self._due_end(subscription, self.clock.now())
        if end is None:
            return None
        return await self.post_period(subscription, end, "schedule")

    async def catch_up(self) -> list[Posted]:
        """At start and every few minutes: finish interrupted runs, and post a period missed
        while the bot was down if it ended less than a day ago (older ones are skipped, logged)."""
        now = self.clock.now()
        done = []
        subscriptions = await self.runs.subscriptions()
        # A run interrupted long enough for its next period to come due is no longer the latest
        # period: finish it first, by the same one-day rule as a missed period.
        by_id = {s.id: s for s in subscriptions}
        tried: set[int] = set()  # a run that is still waiting on Slack is tried once per pass
        for interrupted in await self.runs.unfinished_scheduled():
            tried.add(interrupted.id)
            subscription = by_id.get(interrupted.subscription_id or 0)
            if subscription is None or epoch(now) - interrupted.period_end > CATCH_UP_WITHIN_SECONDS:
                why = for_operator("unsubscribed") if subscription is None else for_operator("over a day late")
                await self._abandon(interrupted, why)
                continue
            ended = datetime.fromtimestamp(interrupted.period_end, UTC)
            done.append(await self.post_period(subscription, ended, interrupted.trigger))
        for subscription in subscriptions:
            end = self._due_end(subscription, now)
            if end is None:
                continue
            run = await self.runs.run_for(subscription.id, epoch(end))
            if run is not None and (run.status in ("posted", "skipped", "failed") or run.id in tried):
                continue
            if run is None and epoch(now) - epoch(end) > CATCH_UP_WITHIN_SECONDS:
                await self._skip(subscription, end)
                continue
            done.append(await self.post_period(subscription, end, "catch-up" if run is None else run.trigger))
        return done

    async def _abandon(self, run: DigestRun, why: str) -> None:
        """An interrupted run that will not be finished: skipped, with why, instead of half done forever."""
        async with self._lock:  # not while this process is posting it
            note = for_operator(f"interrupted after {run.parts_posted} message(s); {why}")
            if not await self.runs.abandon(run.id, epoch(self.clock.now()), note):
                return
        log.warning(
            "the digest for %s of the period ending %s was interrupted after %d message(s) and is not finished (%s)",
            run.channel_id,
            datetime.fromtimestamp(run.period_end, UTC).isoformat(),
            run.parts_posted,
            why,
        )

    async def _skip(self, subscription: Subscription, end: datetime) -> None:
        period = self.digests.periods(subscription, end)[-1]
        await self.runs.start_run(
            _new_run(subscription.id, subscription.channel_id, period, "catch-up", self.clock.now(), "skipped")
        )
        log.warning(
            "the digest for %s of the period ending %s was missed by more than a day while the bot was down; "
            "it is skipped",
            subscription.channel_id,
            end.isoformat(),
        )

    # -- posting --------------------------------------------------------------------------------------

    async def post_period(self, subscription: Subscription, end: datetime, trigger: str) -> Posted:
        async with self._lock:
            periods = self.digests.periods(subscription, end)
            run, new = await self.runs.start_run(
                _new_run(subscription.id, subscription.channel_id, periods[-1], trigger, self.clock.now())
            )
            if not new and run.status in ("posted", "skipped", "failed"):
                return Posted(subscription.channel_id, run.status, run.parts_posted, run.chart)
            if not new:
                log.info("resuming the digest for %s that was interrupted", subscription.channel_id)
                await self.runs.resume(run.id, epoch(self.clock.now()))
            language = self.digests.language(subscription)
            return await self._post(run, periods, ZoneInfo(subscription.timezone), language, resumed=not new)

    async def post_now(self, channel_id: str | None) -> list[Posted]:
        """`pulse digest --now`: the current digest at once, to one channel or every subscribed one."""
        subscriptions = await self.runs.subscriptions()
        targets: list[tuple[str, Subscription | None]] = [(s.channel_id, s) for s in subscriptions]
        if channel_id:
            targets = [(channel_id, next((s for s in subscriptions if s.channel_id == channel_id), None))]
        posted = []
        for channel, subscription in targets:
            now = self.clock.now()
            tz = ZoneInfo(subscription.timezone) if subscription else self.digests.settings.tz
            language = self.digests.language(subscription)
            async with self._lock:
                # A `digest --now` killed half way is finished, not started again: each of its
                # messages goes out once.
                interrupted = await self.runs.interrupted_now(channel, epoch(now) - CATCH_UP_WITHIN_SECONDS)
                if interrupted is not None:
                    log.info("resuming the digest for %s that was interrupted", channel)
                    await self.runs.resume(interrupted.id, epoch(now))
                    end = datetime.fromtimestamp(interrupted.period_end, UTC)
                    periods = self.digests.current_periods(subscription, end)
                    posted.append(await self._post(interrupted, periods, tz, language, resumed=True))
                    continue
                periods = self.digests.current_periods(subscription, now)
                run, _ = await self.runs.start_run(_new_run(None, channel, periods[-1], "now", now))
                posted.append(await self._post(run, periods, tz, language, resumed=False))
        return posted

    async def _post(
        self, run: DigestRun, periods: list[Period], tz: ZoneInfo, language: str, *, resumed: bool
    ) -> Posted:
        content = await self.digests.compute(periods, tz)
        t = texts(language)
        parts = self.render(t, content)
        text_parts = len(parts)
        maps = await self._maps(content)
        parts += [self.maps.message(t, fmap) for fmap in maps] if self.maps else []
        chart_note = recorded_chart = run.chart
        chart: Chart | None = None
        if run.parts_posted == 0:
            try:
                chart = await asyncio.to_thread(self.draw, t, content)
            except Exception as exc:
                log.exception("the digest chart could not be drawn; the digest goes out without it")
                chart_note = recorded_chart = for_operator(f"not drawn: {exc}")
                await self.runs.chart_outcome(run.id, chart_note)
        for index in range(run.parts_posted, len(parts)):
            # Only the part that was being sent when we stopped may have reached Slack.
            earlier = run.claimed_at if (resumed and index == run.parts_posted) else None
            if index == 0 and chart is not None:
                attachment: Attachment | None = Attachment(
                    t._("rollout-pulse-digest-{run}.png", run=run.id),
                    t._("NPS trend · {period}", period=period_label(t, content)),
                    chart.png,
                )
            elif index >= text_parts:
                attachment = await self._heatmap(t, run, maps[index - text_parts])
            else:
                attachment = None
            outcome, note = await self._send_part(run, index, parts[index], attachment, earlier)
            note = note if index == 0 else None  # what became of the chart; a map's goes to the log
            chart_note = note or chart_note
            if isinstance(outcome, Sent):
                # What became of the chart is recorded with the part, so a resumed run knows it.
                await self.runs.part_posted(run.id, index + 1, outcome.ts, chart=note)
                recorded_chart = note or recorded_chart
                continue
            if isinstance(outcome, Failed):
                log.error("the digest for %s failed: %s", run.channel_id, outcome.error)
                await self.runs.finished(run.id, "failed", epoch(self.clock.now()), outcome.error)
                return Posted(run.channel_id, "failed", index, chart_note)
            log.warning("the digest for %s is waiting: %s; it resumes at the next check", run.channel_id, outcome.error)
            return Posted(run.channel_id, "posting", index, chart_note)
        if chart_note and chart_note != recorded_chart:
            await self.runs.chart_outcome(run.id, chart_note)
        await self.runs.finished(run.id, "posted", epoch(self.clock.now()))
        period = period_label(texts(DEFAULT_LANGUAGE), content)
        log.info("posted the digest of %s to %s in %d message(s)", period, run.channel_id, len(parts))
        return Posted(run.channel_id, "posted", len(parts), chart_note)

    async def _maps(self, content: DigestContent) -> list[FeedbackMap]:
        """The maps of the digest's rollouts that have a figure to show, in the digest's order."""
        if self.maps is None:
            return []
        # The days the digest's text counts, no more: a group released this morning waits for
        # the next digest in its map as in its figures.
        period = content.period
        end_day = Window.of(period.start_at, period.end_at, content.tz, through_end_day=period.up_to_now).end_day
        found = []
        for rollout in content.rollouts:
            fmap = await self.maps.maps.build(rollout.detail, end_day=end_day)
            if any(cell.shown for cell in fmap.cells.values()):
                found.append(fmap)
        return found[:MAPS_PER_DIGEST]

    async def _heatmap(self, t: Texts, run: DigestRun, fmap: FeedbackMap) -> Attachment | None:
        """A rollout's heatmap for its part; None (the part goes as text) if it cannot be drawn."""
        assert self.maps is not None
        slug = fmap.detail.rollout.slug
        try:
            drawn = await asyncio.to_thread(self.maps.draw, t, fmap)
        except Exception:
            log.exception("the feedback map of %s could not be drawn; the digest goes on without it", slug)
            return None
        title = t._("Feedback map: {title}", title=fmap.detail.rollout.title_in(t.language))
        # Named by the rollout, not the part's place: a file found after a restart is this map's.
        return Attachment(f"feedback-map-{slug}-{run.id}.png", title, drawn.png)

    async def _send_part(
        self, run: DigestRun, index: int, message: Message, attachment: Attachment | None, earlier: int | None
    ) -> tuple[Outcome, str | None]:
        """Post one message of a digest, uploaded with its image if it has one; also what became
        of the upload."""
        key = f"digest:{run.id}:{index}"
        outcome: Outcome = Retry(0, for_operator("not tried"), maybe_sent=False)
        note: str | None = None
        file_id = run.file_of(index)

        async def record_file(made: str) -> None:
            nonlocal file_id
            file_id = made
            await self.runs.chart_file(run.id, made, index)

        for attempt in range(ATTEMPTS_PER_PART):
            if attachment is not None:
                upload = Upload(
                    channel=run.channel_id,
                    filename=attachment.filename,
                    title=attachment.title,
                    content=attachment.png,
                    message=message,
                )
                outcome = await upload_once(
                    self.client,
                    upload,
                    earlier_attempt_at=earlier,
                    file_id=file_id,
                    record_file=record_file,
                    now=self.clock.now().timestamp(),
                )
                if isinstance(outcome, Sent):
                    note = "uploaded"
                if isinstance(outcome, Failed):
                    # The image cannot go (no files:write, say): the text still must.
                    log.error("a digest image could not be uploaded (%s); posting its text without it", outcome.error)
                    note = for_operator(f"upload failed: {outcome.error}")
                    attachment = None
                    outcome = Retry(0, outcome.error, maybe_sent=False)
            if attachment is None:
                outcome = await post_once(
                    self.client, channel=run.channel_id, key=key, message=message, earlier_attempt_at=earlier
                )
            if not isinstance(outcome, Retry):
                return outcome, note
            earlier = earlier if not outcome.maybe_sent else (earlier or epoch(self.clock.now()) - 5)
            await asyncio.sleep(min(MAX_WAIT_SECONDS, outcome.wait(attempt)) * self.retry_scale)
        return outcome, note
