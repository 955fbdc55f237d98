"""The Directory over Slack's Web API: people (cached in the store), user groups, channels."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from runtime.clock import Clock, epoch
from runtime.i18n import N_
from services.directory import CachedPerson, ChannelInfo, PeopleCache, Person
from services.errors import NotFound, Unavailable

log = logging.getLogger(__name__)

# People's time zone and account state change rarely; a day-old answer is good enough.
PEOPLE_TTL_SECONDS = 24 * 3600
# Above this many unknown people, one paginated users.list beats one users.info each.
BULK_LOOKUP_THRESHOLD = 50
LOOKUP_CONCURRENCY = 8


def _unavailable(exc: Exception) -> Unavailable:
    log.warning("Slack call failed: %s", exc)
    return Unavailable(N_("Slack did not answer just now, so nothing was changed. Please try again in a minute."))


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, cache: PeopleCache, clock: Clock) -> None:
        self.client = client
        self.cache = cache
        self.clock = clock

    async def _call(self, method: str, **params: Any) -> Any:
        try:
            return await self.client.api_call(method, http_verb="GET", params=params)
        except SlackApiError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _unavailable(exc) from exc

    # -- people -------------------------------------------------------------------------------------

    async def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        wanted = set(user_ids)
        if not wanted:
            return {}
        known = await self._cached(wanted)
        missing = wanted - known.keys()
        if len(missing) > BULK_LOOKUP_THRESHOLD:
            await self._refresh_everyone()
            known = await self._cached(wanted)
        elif missing:
            gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

            async def one(user_id: str) -> Person | None:
                async with gate:
                    return await self._lookup(user_id)

            found = [p for p in await asyncio.gather(*(one(u) for u in sorted(missing))) if p is not None]
            await self._remember(found)
            known.update({p.id: p for p in found})
        return known

    async def _lookup(self, user_id: str) -> Person | None:
        try:
            response = await self._call("users.info", user=user_id, include_locale="true")
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "users_not_found"):
                return None
            raise _unavailable(exc) from exc
        return _person(response["user"])

    async def _refresh_everyone(self) -> None:
        cursor: str | None = None
        people: list[Person] = []
        while True:
            try:
                page = await self._call("users.list", limit=200, cursor=cursor or "", include_locale="true")
            except SlackApiError as exc:
                raise _unavailable(exc) from exc
            people += [_person(member) for member in page.get("members", [])]
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        await self._remember(people)

    async def _cached(self, user_ids: set[str]) -> dict[str, Person]:
        rows = await self.cache.fetched_since(user_ids, epoch(self.clock.now()) - PEOPLE_TTL_SECONDS)
        return {
            row.user_id: Person(id=row.user_id, tz=row.tz, is_bot=row.is_bot, deleted=row.deleted, locale=row.locale)
            for row in rows
        }

    async def _remember(self, people: list[Person]) -> None:
        await self.cache.remember(
            [CachedPerson(p.id, p.tz, p.is_bot, p.deleted, p.locale) for p in people], epoch(self.clock.now())
        )

    async def person_by_email(self, email: str) -> Person | None:
        try:
            response = await self._call("users.lookupByEmail", email=email)
        except SlackApiError as exc:
            if exc.response.get("error") in ("users_not_found", "user_not_found"):
                return None
            raise _unavailable(exc) from exc
        person = _person(response["user"])
        await self._remember([person])
        return person

    # -- groups and channels --------------------------------------------------------------------------

    async def usergroup_members(self, group_id: str) -> list[str]:
        try:
            response = await self._call("usergroups.users.list", usergroup=group_id)
        except SlackApiError as exc:
            if exc.response.get("error") in ("no_such_subteam", "subteam_not_found"):
                raise NotFound(N_("There is no user group {group} in this workspace.", group=group_id)) from None
            raise _unavailable(exc) from exc
        return list(response.get("users", []))

    async def channel_members(self, channel_id: str) -> list[str]:
        members: list[str] = []
        cursor: str | None = None
        while True:
            try:
                page = await self._call("conversations.members", channel=channel_id, limit=1000, cursor=cursor or "")
            except SlackApiError as exc:
                raise self._channel_error(exc, channel_id) from None
            members += page.get("members", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return members

    async def channel(self, channel_id: str) -> ChannelInfo:
        try:
            response = await self._call("conversations.info", channel=channel_id)
        except SlackApiError as exc:
            raise self._channel_error(exc, channel_id) from None
        data = response["channel"]
        return ChannelInfo(
            id=data["id"],
            name=data.get("name"),
            is_private=bool(data.get("is_private")),
            is_member=bool(data.get("is_member")),
            is_im=bool(data.get("is_im")),
        )

    @staticmethod
    def _channel_error(exc: SlackApiError, channel_id: str) -> Exception:
        if exc.response.get("error") in (
            "channel_not_found",
            "not_in_channel",
            "method_not_supported_for_channel_type",
        ):
            return NotFound(
                N_(
                    "I cannot see the channel {channel}: it does not exist, or it is private and I am not in it.",
                    channel=channel_id,
                )
            )
        return _unavailable(exc)


def _person(user: dict[str, Any]) -> Person:
    return Person(
        id=user["id"],
        is_bot=bool(user.get("is_bot")) or user.get("id") == "USLACKBOT",
        deleted=bool(user.get("deleted")),
        tz=user.get("tz"),
        locale=user.get("locale") if isinstance(user.get("locale"), str) else None,
    )
