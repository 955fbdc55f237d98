"""What a stage change tells champions and the announcement channel (docs/rollouts.md: “Announcements”)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from storage.models import GateRecord, TransitionKind

Audience = Literal["champion", "channel"]

WHAT_TO_DO: dict[TransitionKind, str] = {
    "start": "Tell your team the rollout has started, who is in the first cohort, and where to ask for "
    "help. Their feedback arrives as short surveys in Slack.",
    "advance": "Welcome the people joining in this stage: show them the basics, point them to the "
    "champions, and collect what trips them up.",
    "rollback": "Let your team know the rollout stepped back and why. Gather what went wrong so the "
    "next attempt fixes it.",
    "complete": "Thank your team: the rollout is complete. Surveys keep measuring how it works for everyone.",
    "pause": "Surveys are on hold while the rollout is paused. Keep helping people who already use it.",
    "resume": "The rollout is moving again and surveys resume. Remind your team where to ask for help.",
}


class Announcement(BaseModel):
    """The facts of one transition, stored in the outbox and rendered when sent."""

    transition_id: int
    rollout_slug: str
    title: str
    kind: TransitionKind
    from_stage: str | None
    to_stage: str | None
    actor: str
    reason: str | None
    gates: list[GateRecord] | None
    overridden: bool
    cohort_size: int | None
    next_stage: str | None
    next_planned: date | None
    audience: Audience

    @property
    def what_to_do(self) -> str:
        return WHAT_TO_DO[self.kind]
