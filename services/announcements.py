"""What a stage change tells champions and the announcement channel (docs/rollouts.md: “Announcements”)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from runtime.i18n import N_, Phrase
from storage.models import GateRecord, TransitionKind

Audience = Literal["champion", "channel"]

WHAT_TO_DO: dict[TransitionKind, Phrase] = {
    "start": N_(
        "Tell your team the rollout has started, who is in the first cohort, and where to ask for "
        "help. Their feedback arrives as short surveys in Slack."
    ),
    "advance": N_(
        "Welcome the people joining in this stage: show them the basics, point them to the "
        "champions, and collect what trips them up."
    ),
    "rollback": N_(
        "Let your team know the rollout stepped back and why. Gather what went wrong so the next attempt fixes it."
    ),
    "complete": N_("Thank your team: the rollout is complete. Surveys keep measuring how it works for everyone."),
    "pause": N_("Surveys are on hold while the rollout is paused. Keep helping people who already use it."),
    "resume": N_("The rollout is moving again and surveys resume. Remind your team where to ask for help."),
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
    # What it is written in: the champion's own language, or the rollout's for its channel,
    # fixed when it is queued. Rows queued before languages existed have none: English.
    language: str | None = None
    approved_by: str | None = None  # the approver whose click made this advance

    @property
    def what_to_do(self) -> Phrase:
        return WHAT_TO_DO[self.kind]


class LateStage(BaseModel):
    """An owner's reminder that a stage runs past the next one's planned start (sent once)."""

    rollout_slug: str
    title: str  # in the owner's language
    stage: str
    next_stage: str
    planned: date
    language: str


class Figures(BaseModel):
    """A stage's headline figures as they stood, for a message that shows them later."""

    min_group: int
    respondents: int
    nps: float | None  # None: withheld below the minimum group
    nps_margin: float | None
    asked: int
    answered: int


class ApprovalNote(BaseModel):
    """An approver's DM: an advance into their stage waits for them (one per approver)."""

    request_id: int
    rollout_slug: str
    title: str  # in the approver's language
    from_stage: str
    to_stage: str
    requested_by: str  # a user ID, or "soak" for an automatic advance
    reason: str | None
    overridden: bool
    gates: list[GateRecord]
    figures: Figures
    language: str


AlertKind = Literal["gate", "nps_drop"]


class RegressionAlert(BaseModel):
    """What an owner or champion is told when a stage in progress goes clearly wrong."""

    rollout_slug: str
    title: str  # in the reader's language
    stage: str
    kind: AlertKind
    metric: str  # the gate's metric ("nps" for a drop)
    op: str | None  # the gate's target; None for a drop
    target: float | None
    value: float
    low: float  # the 95% interval of `value`
    high: float
    previous: float | None  # the trend: the figure of the seven days before the last seven
    previous_low: float | None = None
    previous_high: float | None = None
    latest: float | None = None  # … and of the last seven days (None: withheld)
    comments: int = 0  # comments released in the stage in the last seven days
    paused: bool = False  # the rollout was paused because of it
    language: str
