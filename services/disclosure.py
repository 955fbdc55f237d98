"""The disclosure rule: what of people's answers any surface may show.

One rule for every figure, comment and export:

- Answers reach figures only in groups. Each survey of a stage (its NPS, or one touchpoint,
  across all the waves that asked it) pools its answers; they wait until PULSE_MIN_GROUP of
  them have arrived, from waves sent to at least PULSE_MIN_GROUP people between them, and are
  then released together (storage.disclosure). A figure is computed from released groups only.
- So a figure is shown only for at least PULSE_MIN_GROUP respondents, moves only when a whole
  new group has been released, and shows n as of its groups; and any two figures, on any two
  surfaces (a stage beside the rollout, a period beside all time, a touchpoint beside its
  stage), differ by whole groups: never by fewer than PULSE_MIN_GROUP answers.
- A comment is shown once its answer's group is released, dated by that group's week, in
  random order, without its wave.
- The export holds released answers only, dated by their group's week, in random order,
  without waves, with every cell that a spreadsheet would run as a formula neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from runtime.i18n import N_, Phrase
from storage import disclosure as released
from storage.db import Store
from storage.disclosure import ReleasedComment

# OWASP's CSV-injection rule: a cell a spreadsheet would read as a formula (or whose leading
# tab or carriage return it would strip to reach one) is prefixed with a quote, read as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The export's columns, in the language of whoever asked for it (`Export.csv_for`); the
# command line's export keeps them in English.
EXPORT_HEADER = (N_("stage"), N_("survey"), N_("touchpoint"), N_("score"), N_("comment"), N_("week"))


def held_back_note(min_group: int) -> Phrase:
    """Why answers may be missing from an export (and from every figure), said the same way by
    the Slack reply and the command line (`str()` of it is the English)."""
    return N_(
        "Answers still waiting for their group are not in it: an answer is released once {min} answers "
        "to the same survey in the same stage, from at least {min} people, have arrived. How many wait is "
        "not said, as that count would tell when someone answered.",
        min=min_group,
    )


def week_of(day: str) -> str:
    """The Monday (YYYY-MM-DD) of the week a day falls in: the finest date any answer is shown with."""
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


async def stage_comments(store: Store, stage_id: int, limit: int) -> list[ReleasedComment]:
    return await released.Disclosures(store).released_comments(column="stage_id", value=stage_id, limit=limit)


async def period_comments(
    store: Store, rollout_id: int, *, first_day: str | None, end_day: str | None, limit: int
) -> list[ReleasedComment]:
    """Comments released in the period [first_day, end_day)."""
    return await released.Disclosures(store).released_comments(
        column="rollout_id", value=rollout_id, limit=limit, first_day=first_day, end_day=end_day
    )


@dataclass(frozen=True)
class Export:
    csv: str  # with the header in English
    answers: int  # released answers (rows with a score)
    comments: int  # released comments (rows with a comment)
    rows: tuple[tuple[str, ...], ...] = ()

    def csv_for(self, say: Callable[[Phrase], str]) -> str:
        """The CSV with its header said in the reader's language (`say` is their `Texts.say`)."""
        return csv_text([say(column) for column in EXPORT_HEADER], self.rows)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue()


async def export(store: Store, rollout_id: int) -> Export:
    """The rollout's released answers and comments as CSV. How many answers are held back is
    not said: that count moves with every answer, and would tell when someone answered."""
    rows = await released.Disclosures(store).released_rows(rollout_id)
    cells = tuple(
        (
            r.stage,
            r.kind,
            r.touchpoint or "",
            "" if r.score is None else f"{r.score:g}",
            r.comment or "",
            week_of(r.released_on),
        )
        for r in rows
    )
    comments = sum(1 for r in rows if r.comment is not None)
    text = csv_text([str(column) for column in EXPORT_HEADER], cells)
    return Export(text, len(rows) - comments, comments, cells)
