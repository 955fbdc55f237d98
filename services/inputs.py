"""Checks on values people type (slugs, stage names, dates, targets), shared by the slash
commands and the config file. Each failure is a BadInput that says what was wrong."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date

from runtime.i18n import N_
from services.errors import BadInput
from services.metrics import OPERATOR_SPELLINGS, VALUE_RANGES, MetricName, parse_metric

# \Z, not $: $ also matches before a final line break, which a quoted word may end with.
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}\Z")
STAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}\Z")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)  # ASCII: \d alone takes ٢٠٢٦ and ２０２６ too
DEFAULT_STAGES = ("alpha", "beta", "ga")
MAX_STAGES = 10
TITLE_MAX = 150
VISION_MAX = 2000
REASON_MAX = 500


def slug(text: str) -> str:
    if not SLUG.match(text):
        raise BadInput(
            N_(
                "“{name}” is not a valid rollout name: use 2–40 lower-case letters, digits and dashes, "
                "starting with a letter or digit (e.g. expense-tool).",
                name=_short(text),
            )
        )
    return text


# Characters that take up room but show nothing, beyond the control, format, separator and
# mark categories (a title of combining marks or variation selectors alone shows nothing too).
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Bidirectional embedding, override and isolate controls: they can make what follows read
# backwards in a channel's history, and nobody types them on purpose.
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def _dropped(c: str) -> bool:
    """Control characters other than white space, lone surrogates (SQLite cannot store them)
    and bidirectional controls."""
    category = unicodedata.category(c)
    return (category == "Cc" and not c.isspace()) or category == "Cs" or c in _BIDI_CONTROLS


def _shows(c: str) -> bool:
    """Whether a character is seen. Unassigned ones count as seen: they are most likely emoji
    newer than this Python's Unicode tables."""
    category = unicodedata.category(c)
    return category == "Cn" or (category[0] not in "CZM" and c not in _BLANK)


def free_text(text: str) -> str:
    """A line someone typed, as we keep it: dropped characters gone, white space runs as one
    space; empty if nothing would show."""
    text = " ".join("".join(c for c in text if not _dropped(c)).split())
    return text if any(map(_shows, text)) else ""


def multiline_text(text: str) -> str:
    """Like free_text, but line breaks and spacing inside are kept (a comment)."""
    text = "".join(c for c in text if not _dropped(c)).strip()
    return text if any(map(_shows, text)) else ""


def title(text: str) -> str:
    text = free_text(text)
    if not text:
        raise BadInput(N_("The title is empty."))
    if len(text) > TITLE_MAX:
        raise BadInput(
            N_("The title is {length} characters long; keep it to {most}.", length=len(text), most=TITLE_MAX)
        )
    return text


def stage_names(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise BadInput(N_("Name at least one stage, e.g. stages alpha,beta,ga."))
    if len(names) > MAX_STAGES:
        raise BadInput(N_("{n} stages is too many; use at most {most}.", n=len(names), most=MAX_STAGES))
    for name in names:
        if not STAGE_NAME.match(name):
            raise BadInput(
                N_("“{name}” is not a valid stage name: use lower-case letters, digits and dashes.", name=_short(name))
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadInput(N_("Stage names must differ: {names} appears twice.", names=", ".join(duplicates)))
    return names


def day(text: str) -> date:
    if not DAY.match(text):
        raise BadInput(N_("“{text}” is not a date: write it as YYYY-MM-DD, e.g. 2026-12-01.", text=_short(text)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(N_("{text} is not a real date.", text=text)) from None


def vision(text: str) -> str:
    text = free_text(text)
    if not text:
        raise BadInput(N_("The vision is empty."))
    if len(text) > VISION_MAX:
        raise BadInput(
            N_("The vision is {length} characters long; keep it to {most}.", length=len(text), most=VISION_MAX)
        )
    return text


def reason(text: str | None, *, required: bool) -> str | None:
    text = free_text(text or "")
    if not text:
        if required:
            raise BadInput(N_("Give a reason in quotes."))
        return None
    if len(text) > REASON_MAX:
        raise BadInput(
            N_("The reason is {length} characters long; keep it to {most}.", length=len(text), most=REASON_MAX)
        )
    return text


def metric(text: str) -> MetricName:
    name = parse_metric(text)
    if name is None:
        raise BadInput(
            N_(
                "“{text}” is not a metric. Use nps, response_rate, responses, or "
                "csat:<touchpoint>, ces:<touchpoint>, thumbs:<touchpoint>, minutes:<touchpoint>.",
                text=_short(text),
            )
        )
    return name


def op(text: str) -> str:
    found = OPERATOR_SPELLINGS.get(text.strip())
    if found is None:
        raise BadInput(N_("“{text}” is not a comparison: use >=, >, <=, < or ==.", text=_short(text)))
    return found


def target_value(name: MetricName, text: str) -> float:
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw.rstrip("%").replace(",", "."))
    except ValueError:
        raise BadInput(N_("“{text}” is not a number.", text=_short(text))) from None
    if not math.isfinite(value):  # nan, inf, -inf
        raise BadInput(N_("“{text}” is not a number.", text=_short(text)))
    if percent and name.family == "response_rate":
        value /= 100
    low, high, reads = VALUE_RANGES[name.family]
    if not low <= value <= high:
        raise BadInput(N_("{metric} takes {reads}; {value} is out of range.", metric=str(name), reads=reads, value=raw))
    return value


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
