"""Themes in comments, found here and offline: the key phrases people repeat, shared across the
cells of the feedback map so that one theme reads the same wherever it comes up.

scikit-learn's CountVectorizer finds the words and two-word phrases (English and Swedish stop
words left out) and its TF-IDF weighs them: a phrase many comments of one cell repeat, and few
cells share, ranks first. No model is downloaded and nothing leaves the machine.

A theme is shown only when at least `min_group` comments of its cell carry it, as a figure is
shown only for a group; with it goes a quote, the comment closest to what the others with that
phrase say.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import TypeVar

import numpy as np

from runtime.i18n import for_operator

K = TypeVar("K", bound=Hashable)

# Swedish function words (and a few that say nothing in feedback), for the comments people write
# in Swedish; English ones are scikit-learn's.
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
    # Imported here: scikit-learn takes about a second to import, and only the map needs it.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfTransformer

    keys = [key for key, comments in cells.items() if comments]
    texts = [text for key in keys for text in cells[key]]
    found: dict[K, list[Theme]] = {key: [] for key in cells}
    if not texts:
        return found
    skip = ENGLISH_STOP_WORDS | SWEDISH_STOP_WORDS
    vectorizer = CountVectorizer(analyzer=partial(_phrases, skip=skip), binary=True, min_df=MIN_MENTIONS)
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # no phrase is said twice anywhere
        return found
    phrases = vectorizer.get_feature_names_out()
    # Cells are the documents of the IDF: a phrase every cell shares tells a cell apart less.
    rows = [len(cells[key]) for key in keys]
    bounds = np.cumsum([0, *rows])
    per_cell = np.vstack([np.asarray(counts[bounds[i] : bounds[i + 1]].sum(axis=0)).ravel() for i in range(len(keys))])
    weights = TfidfTransformer(sublinear_tf=True).fit_transform(per_cell).toarray()
    for i, key in enumerate(keys):
        block = counts[bounds[i] : bounds[i + 1]].tocsc()
        groups: list[_Group] = []
        for column in np.argsort(-weights[i], kind="stable")[:CANDIDATES]:
            if weights[i, column] <= 0 or per_cell[i, column] < MIN_MENTIONS:
                continue
            # The comments carrying the phrase: the column's rows, read from the CSC arrays.
            carrying = frozenset(block.indices[block.indptr[column] : block.indptr[column + 1]].tolist())
            phrase = str(phrases[column])
            home = next((g for g in groups if g.takes(carrying)), None)
            if home is not None:
                home.add(phrase, carrying)
            elif len(groups) < most:
                groups.append(_Group(phrase, set(carrying)))
        # A theme fewer than a group of comments carry is not shown at all: its count would be a
        # figure that one more comment could move.
        found[key] = [
            Theme(g.label, len(g.carrying), _representative(block, sorted(g.carrying), cells[key]))
            for g in groups
            if len(g.carrying) >= min_group
        ]
    return found


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


def _representative(block: object, carrying: list[int], comments: Sequence[str]) -> str:
    """The comment whose phrases are most like those of all the comments that carry the theme."""
    matrix = block[carrying].toarray().astype(float)  # type: ignore[index]  # scipy has no types
    centre = matrix.mean(axis=0)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(centre) or 1.0)
    similarity = matrix @ centre / np.where(norms == 0, 1.0, norms)
    return _tidy(comments[carrying[int(np.argmax(similarity))]])


def _phrases(comment: str, *, skip: frozenset[str]) -> list[str]:
    """A comment's words and two-word phrases, stop words left out (as CountVectorizer's own
    analyzer with `ngram_range=(1, 2)` does, at two thirds of its cost: the map's time is
    spent here)."""
    words = [word for word in _WORD.findall(comment.lower()) if word not in skip]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def _tidy(comment: str) -> str:
    return re.sub(r"\s+", " ", comment).strip()
