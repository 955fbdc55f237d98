"""The answer scales: what each survey asks and which answers it takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SurveyScale = Literal["nps", "csat", "ces", "thumbs", "minutes"]


@dataclass(frozen=True)
class Choice:
    label: str  # on the button
    score: float  # what is stored
    said: str  # how "you answered …" reads


def _numbers(low: int, high: int) -> tuple[Choice, ...]:
    return tuple(Choice(str(i), float(i), str(i)) for i in range(low, high + 1))


CHOICES: dict[SurveyScale, tuple[Choice, ...]] = {
    "nps": _numbers(0, 10),
    "csat": _numbers(1, 5),
    "ces": _numbers(1, 7),
    "thumbs": (Choice("👍", 1.0, "👍"), Choice("👎", 0.0, "👎")),
    # Stored as the midpoint of the bucket (docs/surveys.md: “Questions and scales”).
    "minutes": (
        Choice("<5", 2.5, "less than 5 minutes"),
        Choice("5–15", 10.0, "5–15 minutes"),
        Choice("15–30", 22.5, "15–30 minutes"),
        Choice("30–60", 45.0, "30–60 minutes"),
        Choice(">60", 90.0, "more than 60 minutes"),
    ),
}

# The words at the two ends of a numeric scale, shown under the buttons.
ENDS: dict[SurveyScale, str] = {
    "nps": "0 = not at all likely · 10 = extremely likely",
    "csat": "1 = very dissatisfied · 5 = very satisfied",
    "ces": "1 = strongly disagree · 7 = strongly agree",
    "thumbs": "",
    "minutes": "",
}


def question(scale: SurveyScale, title: str, label: str | None) -> str:
    """The question, in the words of docs/surveys.md, for a rollout `title` and touchpoint `label`."""
    subject = label or title
    if scale == "nps":
        return f"How likely are you to recommend {title} to a colleague?"
    if scale == "csat":
        return f"How satisfied were you with {subject}?"
    if scale == "ces":
        return f"{subject} was easy."
    if scale == "thumbs":
        return f"Did {subject} work for you?"
    return f"About how many minutes did {subject} take?"


def choice_for(scale: SurveyScale, score: float) -> Choice | None:
    return next((c for c in CHOICES[scale] if c.score == score), None)


def parse_score(scale: SurveyScale, text: str) -> float | None:
    """The score a button carried, if it is one of the scale's answers."""
    try:
        score = float(text)
    except ValueError:
        return None
    return score if choice_for(scale, score) is not None else None
