"""Themes in comments, found here and offline: the key phrases people repeat, shared across the
cells of the feedback map so that one theme reads the same wherever it comes up.

The words and two-word phrases of each comment (English and Swedish stop words left out) that at
least two comments say are weighed by TF-IDF with the cells as documents: a phrase many comments
of one cell repeat, and few cells share, ranks first. No model is downloaded and nothing leaves
the machine.

This is what scikit-learn's CountVectorizer (binary, min_df=2, features in alphabetical order)
and TfidfTransformer (sublinear tf, smoothed idf) computed for us before, written out: a map's
cells hold a few thousand short comments at most, and importing scikit-learn with SciPy cost the
bot about 50 MB of resident memory and a second at the first map, for a few lines of counting.

A theme is shown only when at least `min_group` comments of its cell carry it, as a figure is
shown only for a group; with it goes a quote, the comment closest to what the others with that
phrase say.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import TypeVar

from runtime.i18n import for_operator

K = TypeVar("K", bound=Hashable)

# English function words: the list scikit-learn ships (from the Glasgow Information Retrieval
# Group's stop word list, BSD licence), as our themes have always used it.
_ENGLISH = for_operator("""
a about above across after afterwards again against all almost alone along already also although
always am among amongst amoungst amount an and another any anyhow anyone anything anyway
anywhere are around as at back be became because become becomes becoming been before beforehand
behind being below beside besides between beyond bill both bottom but by call can cannot cant co
con could couldnt cry de describe detail do done down due during each eg eight either eleven
else elsewhere empty enough etc even ever every everyone everything everywhere except few
fifteen fifty fill find fire first five for former formerly forty found four from front full
further get give go had has hasnt have he hence her here hereafter hereby herein hereupon hers
herself him himself his how however hundred i ie if in inc indeed interest into is it its itself
keep last latter latterly least less ltd made many may me meanwhile might mill mine more
moreover most mostly move much must my myself name namely neither never nevertheless next nine
no nobody none noone nor not nothing now nowhere of off often on once one only onto or other
others otherwise our ours ourselves out over own part per perhaps please put rather re same see
seem seemed seeming seems serious several she should show side since sincere six sixty so some
somehow someone something sometime sometimes somewhere still such system take ten than that the
their them themselves then thence there thereafter thereby therefore therein thereupon these
they thick thin third this those though three through throughout thru thus to together too top
toward towards twelve twenty two un under until up upon us very via was we well were what
whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
whether which while whither who whoever whole whom whose why will with within without would yet
you your yours yourself yourselves
""")  # words to skip, never shown
# Swedish function words (and a few that say nothing in feedback), for the comments people write
# in Swedish.
_SWEDISH = for_operator("""
alla allt att av blev bli blir blivit de dem den denna deras dess dessa det detta dig din dina
ditt du där då efter ej eller en er era ert ett från för ha hade han hans har henne hennes hon
honom hur här i icke ingen inom inte jag ju kan kunde man med mellan men mig min mina mitt mot
mycket ni nu när någon något några och om oss på samma sedan sig sin sina sitta själv skulle
som så sådan sådana sådant till under upp ut utan vad var vara varför varit varje vars vart
vem vi vid vilka vilkas vilken vilket vår våra vårt än är åt över också bara mer mest ganska
lite väldigt hela helt får fick göra gör gjorde kommer kom går gick ska vill
""")  # words to skip, never shown
SWEDISH_STOP_WORDS = frozenset(_SWEDISH.split())
STOP_WORDS = frozenset(_ENGLISH.split()) | SWEDISH_STOP_WORDS
# Words of three letters or more (any script's letters), so that numbers and "ok" make no theme.
TOKEN = r"(?u)\b[^\W\d_]{3,}\b"
_WORD = re.compile(TOKEN)
MOST_THEMES = 3
MIN_MENTIONS = 2  # a theme is something said more than once
CANDIDATES = 40  # a cell's weightiest phrases looked at: enough to fill its themes and their groups


@dataclass(frozen=True)
class Theme:
    phrase: str
    count: int  # comments of the cell that carry it
    quote: str | None  # one of them


def themes_by_cell(
    cells: Mapping[K, Sequence[str]], *, min_group: int, most: int = MOST_THEMES
) -> dict[K, list[Theme]]:
    """Each cell's top themes, from phrases found across every cell."""
    keys = [key for key, comments in cells.items() if comments]
    found: dict[K, list[Theme]] = {key: [] for key in cells}
    said = {key: [frozenset(_phrases(text, skip=STOP_WORDS)) for text in cells[key]] for key in keys}
    mentions = Counter(phrase for key in keys for phrases in said[key] for phrase in phrases)
    known = {phrase for phrase, comments in mentions.items() if comments >= MIN_MENTIONS}
    # Each cell's comments (by their place in the cell) carrying each phrase said twice anywhere.
    carriers = {key: _carriers(said[key], known) for key in keys}
    # Cells are the documents of the IDF: a phrase every cell shares tells a cell apart less.
    cells_saying = Counter(phrase for key in keys for phrase in carriers[key])
    for key in keys:
        groups: list[_Group] = []
        for phrase in _weightiest(carriers[key], cells_saying, len(keys)):
            carrying = frozenset(carriers[key][phrase])
            home = next((g for g in groups if g.takes(carrying)), None)
            if home is not None:
                home.add(phrase, carrying)
            elif len(groups) < most:
                groups.append(_Group(phrase, set(carrying)))
        # A theme fewer than a group of comments carry is not shown at all: its count would be a
        # figure that one more comment could move.
        found[key] = [
            Theme(g.label, len(g.carrying), _representative(sorted(g.carrying), said[key], known, cells[key]))
            for g in groups
            if len(g.carrying) >= min_group
        ]
    return found


def _carriers(said: Sequence[frozenset[str]], known: set[str]) -> dict[str, list[int]]:
    carriers: dict[str, list[int]] = {}
    for row, phrases in enumerate(said):
        for phrase in phrases & known:
            carriers.setdefault(phrase, []).append(row)
    return carriers


def _weightiest(carriers: Mapping[str, list[int]], cells_saying: Mapping[str, int], cells: int) -> list[str]:
    """Of the cell's CANDIDATES weightiest phrases (ties in alphabetical order), those said in at
    least two of its comments, weightiest first. Weighed by sublinear TF-IDF: 1 + ln(comments)
    times 1 + ln((1 + cells) / (1 + cells saying it)). Only the order within a cell is used, so
    the weights are not normalised."""
    weight = {
        phrase: (1 + math.log(len(rows))) * (1 + math.log((1 + cells) / (1 + cells_saying[phrase])))
        for phrase, rows in carriers.items()
    }
    ranked = sorted(weight, key=lambda phrase: (-weight[phrase], phrase))[:CANDIDATES]
    return [phrase for phrase in ranked if len(carriers[phrase]) >= MIN_MENTIONS]


class _Group:
    """Phrases said in mostly the same comments ("receipts", "page", "receipts page", "slow"):
    one theme, named by its longest phrase."""

    SAME = 0.5  # the Jaccard overlap of their comments from which two phrases are one theme

    def __init__(self, phrase: str, carrying: set[int]) -> None:
        self.phrases = [phrase]
        self.carrying = carrying
        self.first = frozenset(carrying)

    def takes(self, carrying: frozenset[int]) -> bool:
        return len(carrying & self.first) / len(carrying | self.first) >= self.SAME

    def add(self, phrase: str, carrying: frozenset[int]) -> None:
        self.phrases.append(phrase)
        self.carrying |= carrying

    @property
    def label(self) -> str:
        """Its longest phrase, the weightiest of those ("receipts page" over "page slow" if heavier)."""
        return max(self.phrases, key=lambda p: len(p.split()))


def _representative(
    carrying: list[int], said: Sequence[frozenset[str]], known: set[str], comments: Sequence[str]
) -> str:
    """The comment whose phrases are most like those of all the comments that carry the theme:
    the highest cosine between its phrases and their sum (the first such comment on a tie,
    compared exactly)."""
    phrases = {row: said[row] & known for row in carrying}
    centre = Counter(phrase for row in carrying for phrase in phrases[row])

    def likeness(row: int) -> Fraction:  # the cosine squared, up to the centre's constant norm
        return Fraction(sum(centre[p] for p in phrases[row]) ** 2, max(1, len(phrases[row])))

    best = max(carrying, key=lambda row: (likeness(row), -row))
    return _tidy(comments[best])


def _phrases(comment: str, *, skip: frozenset[str]) -> list[str]:
    """A comment's words and two-word phrases, stop words left out (as CountVectorizer's own
    analyzer with `ngram_range=(1, 2)` does): the map's time is spent here."""
    words = [word for word in _WORD.findall(comment.lower()) if word not in skip]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def _tidy(comment: str) -> str:
    return re.sub(r"\s+", " ", comment).strip()
