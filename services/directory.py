"""Who is in the workspace: what the domain needs to know of Slack's people, groups and channels.

The domain depends on this interface only; `outbound.directory` implements it over the Web API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from pydantic import BaseModel

from runtime.i18n import N_
from services.errors import Unavailable
from storage.slack_users import CachedPerson as CachedPerson


class Person(BaseModel):
    id: str
    is_bot: bool = False
    deleted: bool = False
    tz: str | None = None
    locale: str | None = None  # as set in Slack, e.g. "sv-SE"; None if Slack did not say

    @property
    def reachable(self) -> bool:
        """Can be surveyed and announced to: a human with an active account."""
        return not self.is_bot and not self.deleted


class ChannelInfo(BaseModel):
    id: str
    name: str | None
    is_private: bool = False
    is_member: bool = False
    is_im: bool = False


class Directory(Protocol):
    async def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        """The people among `user_ids` who exist (unknown IDs are left out)."""
        ...

    async def person_by_email(self, email: str) -> Person | None:
        """The person with this e-mail address, if any."""
        ...

    async def usergroup_members(self, group_id: str) -> list[str]:
        """Members of a user group; NotFound if there is no such group."""
        ...

    async def channel_members(self, channel_id: str) -> list[str]:
        """Members of a channel; NotFound if the bot cannot see it."""
        ...

    async def channel(self, channel_id: str) -> ChannelInfo:
        """A channel as the bot sees it; NotFound if the bot cannot see it."""
        ...


class PeopleCache(Protocol):
    """Where a directory keeps what Slack said about people (`storage.slack_users.SlackUsers`)."""

    async def fetched_since(self, user_ids: Iterable[str], since: int) -> list[CachedPerson]: ...

    async def remember(self, people: Sequence[CachedPerson], now: int) -> None: ...


class NoDirectory:
    """For commands that run without Slack (export, apply): any lookup says so."""

    def _refuse(self) -> Unavailable:
        return Unavailable(N_("Slack is not used by this command, so people and channels cannot be looked up."))

    async def people(self, user_ids: Iterable[str]) -> dict[str, Person]:
        raise self._refuse()

    async def person_by_email(self, email: str) -> Person | None:
        raise self._refuse()

    async def usergroup_members(self, group_id: str) -> list[str]:
        raise self._refuse()

    async def channel_members(self, channel_id: str) -> list[str]:
        raise self._refuse()

    async def channel(self, channel_id: str) -> ChannelInfo:
        raise self._refuse()
