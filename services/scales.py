"""The answer scales: what each survey asks and which answers it takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runtime.i18n import N_, Phrase

SurveyScale = Literal["nps", "csat", "ces", "thumbs", "minutes"]


@dataclass(frozen=True)
class Choice:
    label: Phrase  # on the button
    score: float  # what is stored
    said: Phrase  # how "you answered …" reads


def _numbers(low: int, high: int) -> tuple[Choice, ...]:
    # A number reads the same in every language we speak: a phrase the catalog does not hold.
    return tuple(Choice(Phrase(str(i)), float(i), Phrase(str(i))) for i in range(low, high + 1))


CHOICES: dict[SurveyScale, tuple[Choice, ...]] = {
    "nps": _numbers(0, 10),
    "csat": _numbers(1, 5),
    "ces": _numbers(1, 7),
    "thumbs": (Choice(Phrase("👍"), 1.0, Phrase("👍")), Choice(Phrase("👎"), 0.0, Phrase("👎"))),
    # Stored as the midpoint of the bucket (docs/surveys.md: “Questions and scales”).
    "minutes": (
        Choice(Phrase("<5"), 2.5, N_("less than 5 minutes")),
        Choice(Phrase("5–15"), 10.0, N_("5–15 minutes")),
        Choice(Phrase("15–30"), 22.5, N_("15–30 minutes")),
        Choice(Phrase("30–60"), 45.0, N_("30–60 minutes")),
        Choice(Phrase(">60"), 90.0, N_("more than 60 minutes")),
    ),
}

# The words at the two ends of a numeric scale, shown under the buttons.
ENDS: dict[SurveyScale, Phrase | None] = {
    "nps": N_("0 = not at all likely · 10 = extremely likely"),
    "csat": N_("1 = very dissatisfied · 5 = very satisfied"),
    "ces": N_("1 = strongly disagree · 7 = strongly agree"),
    "thumbs": None,
    "minutes": None,
}


def question(scale: SurveyScale, title: str, label: str | None) -> Phrase:
    """The question, in the words of docs/surveys.md, for a rollout `title` and touchpoint `label`
    (as their owners typed them)."""
    subject = label or title
    if scale == "nps":
        return N_("How likely are you to recommend {title} to a colleague?", title=title)
    if scale == "csat":
        return N_("How satisfied were you with {subject}?", subject=subject)
    if scale == "ces":
        return N_("{subject} was easy.", subject=subject)
    if scale == "thumbs":
        return N_("Did {subject} work for you?", subject=subject)
    return N_("About how many minutes did {subject} take?", subject=subject)


def choice_for(scale: SurveyScale, score: float) -> Choice | None:
    return next((c for c in CHOICES[scale] if c.score == score), None)


def parse_score(scale: SurveyScale, text: str) -> float | None:
    """The score a button carried, if it is one of the scale's answers."""
    try:
        score = float(text)
    except ValueError:
        return None
    return score if choice_for(scale, score) is not None else None
