"""Fuzzy fallback for misspelt names ("Meningooccal", "Janpanese encephalitis", "Phillipines").

Runs only where the exact matcher found nothing of the kind wanted, and only over short
word n-grams of a title, because fuzzy matching is two orders of magnitude slower than the
automaton and misfires on ordinary words when applied to whole texts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from biotracker.normalise.folding import fold

_TOKEN_RE = re.compile(r"[^\W\d_][\w'.]*", re.UNICODE)


@dataclass(frozen=True)
class FuzzyHit:
    ref: str
    start: int
    end: int
    score: float


class FuzzyMatcher:
    """Best fuzzy dictionary hit among the word n-grams of a short text."""

    def __init__(
        self, terms: dict[str, str], min_len: int, cutoff: float, known_words: frozenset[str] = frozenset()
    ) -> None:
        self._refs = {fold(t).strip(): ref for t, ref in terms.items() if len(t) >= min_len}
        self._known = known_words
        self._choices = list(self._refs)
        self._min_len = min_len
        self._cutoff = cutoff
        self._by_length: dict[int, list[str]] = {}

    def _candidates(self, length: int) -> list[str]:
        """Choices whose length allows a ratio of at least the cutoff (in their original order).

        fuzz.ratio is at most 200·min(L, M)/(L + M), so a term of length M can reach cutoff c only if
        L·c/(200 − c) ≤ M ≤ L·(200 − c)/c. Skipping the others gives the same answers, several times faster.
        """
        if length not in self._by_length:
            c = self._cutoff
            low, high = math.floor(length * c / (200 - c)), math.ceil(length * (200 - c) / c)
            self._by_length[length] = [t for t in self._choices if low <= len(t) <= high]
        return self._by_length[length]

    def best(
        self, text: str, blocked: list[tuple[int, int]], max_words: int = 4, capitalised_only: bool = False
    ) -> FuzzyHit | None:
        """Best hit over n-grams that avoid ``blocked`` spans and contain an unknown word.

        Requiring a word outside the vocabulary and the common-word list keeps the fuzzy pass
        for real misspellings: "Acute respiratory syndrome" (all known words) is not allowed
        to drift to "severe acute respiratory syndrome".
        """
        folded = fold(text)
        tokens = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(folded)]
        unknown = [folded[s:e] not in self._known and len(folded[s:e]) >= 4 for s, e in tokens]
        best: FuzzyHit | None = None
        for i in range(len(tokens)):
            if capitalised_only and not text[tokens[i][0]].isupper():
                continue
            for j in range(i, min(i + max_words, len(tokens))):
                start, end = tokens[i][0], tokens[j][1]
                if any(s < end and start < e for s, e in blocked):
                    break
                if end - start < self._min_len or not any(unknown[i : j + 1]):
                    continue
                found = process.extractOne(
                    folded[start:end],
                    self._candidates(end - start),
                    scorer=fuzz.ratio,
                    score_cutoff=self._cutoff,
                )
                if found and (best is None or found[1] > best.score):
                    best = FuzzyHit(self._refs[found[0]], start, end, found[1])
        return best
