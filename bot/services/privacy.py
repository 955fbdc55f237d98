"""Answers are stored under a respondent key, never a Slack user ID (SPEC §3.6); people can see
what is stored about them and have it deleted; exports carry no identities."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.services.errors import NotAllowed
from bot.services.rollouts import RolloutService
from storage.people import AskedRow, Forgotten, People


def respondent_key(secret: str, wave_id: int, user_id: str) -> str:
    """HMAC-SHA256(secret, "wave_id:user_id"): stable for one person in one wave, so an answer
    can be changed and a person forgotten, but not readable back into a user ID."""
    return hmac.new(secret.encode(), f"{wave_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


EXPORT_HEADER = ("wave", "stage", "survey", "touchpoint", "score", "comment", "answered_on")


class PrivacyService:
    def __init__(self, people: People, rollouts: RolloutService, secret: Callable[[], Awaitable[str]]) -> None:
        self.people = people
        self.rollouts = rollouts
        self._secret = secret  # the survey service's: one source of the key

    async def mydata(self, user: str) -> list[AskedRow]:
        return await self.people.asked(user)

    async def forget(self, user: str) -> Forgotten:
        secret = await self._secret()
        asked = await self.people.asked(user)
        keys = sorted({(row.wave_id, respondent_key(secret, row.wave_id, user)) for row in asked})
        return await self.people.forget(user, keys)

    async def export_csv(self, actor: str, slug: str) -> tuple[str, str]:
        """(file name, CSV text) of a rollout's answers, for its owners and admins."""
        detail = await self.rollouts.get(slug)
        if not self.rollouts.may_change(detail, actor):
            raise NotAllowed(
                f"Only the owners of {detail.rollout.slug} or an admin can export its answers. Its owners:",
                people=tuple(detail.owners),
            )
        return f"{detail.rollout.slug}-responses.csv", await self.csv_of(detail.rollout.id)

    async def csv_of(self, rollout_id: int) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(EXPORT_HEADER)
        for row in await self.people.export_rows(rollout_id):
            day = datetime.fromtimestamp(row.answered_at, UTC).date().isoformat()
            writer.writerow(
                (row.wave, row.stage, row.kind, row.touchpoint or "", f"{row.score:g}", row.comment or "", day)
            )
        return buffer.getvalue()
