"""Dictionary matching with one Aho-Corasick automaton over every vocabulary at once.

One automaton for diseases, places and hosts (rather than one per vocabulary) matters for
accuracy, not only speed: overlapping candidates are resolved leftmost-longest across all
vocabularies, so "Crimean-Congo haemorrhagic fever" is a disease and not the Congo, "Marburg
virus" is not the German town, "Papua New Guinea" is not Guinea and "Nigeria" is not Niger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from biotracker.normalise.folding import fold


@dataclass(frozen=True)
class Entry:
    """What a dictionary term means: ``category`` (disease/country/admin/city/host) and ``ref``.

    ``case`` constrains the original (unfolded) text: ``"any"``; ``"capitalised"`` (first letter
    upper case, used for place names such as "Turkey" vs "turkey"; a term the dictionary itself
    writes in lower case, such as "occupied Palestinian territory", also matches as written); ``"not_lower"`` (acronyms
    such as "EVD", "Hib" that are ordinary words or noise in lower case); ``"exact"``.
    """

    category: str
    ref: str
    term: str
    case: str = "any"
    iso3: str | None = None


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    entries: tuple[Entry, ...]


def _case_ok(entry: Entry, original: str) -> bool:
    if entry.case == "any":
        return True
    if entry.case == "capitalised":
        return original[:1].isupper() or original[:1].isdigit() or original == entry.term
    if entry.case == "not_lower":
        return not original.islower()
    return original == entry.term


class TermMatcher:
    """Finds non-overlapping, word-bounded dictionary terms in a text (leftmost-longest)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        grouped: dict[str, list[Entry]] = {}
        for e in entries:
            key = fold(e.term).strip()
            if key:
                grouped.setdefault(key, []).append(e)
        self._automaton = ahocorasick.Automaton()
        for key, group in grouped.items():
            self._automaton.add_word(key, (len(key), tuple(dict.fromkeys(group))))
        self._automaton.make_automaton()
        self.size = len(grouped)

    def find(self, text: str, folded: str | None = None) -> list[Hit]:
        """All accepted hits in ``text``, ordered by start offset."""
        if not text:
            return []
        folded = fold(text) if folded is None else folded
        n = len(folded)
        candidates: list[Hit] = []
        for end_idx, (length, entries) in self._automaton.iter(folded):
            start = end_idx - length + 1
            end = end_idx + 1
            if start > 0 and folded[start - 1].isalnum():
                continue
            if end < n and folded[end].isalnum():
                continue
            original = text[start:end]
            kept = tuple(e for e in entries if _case_ok(e, original))
            if kept:
                candidates.append(Hit(start, end, kept))
        if not candidates:
            return []
        candidates.sort(key=lambda h: (h.start - h.end, h.start))
        taken: list[Hit] = []
        occupied = bytearray(n)
        for h in candidates:
            if any(occupied[h.start : h.end]):
                continue
            occupied[h.start : h.end] = b"\x01" * (h.end - h.start)
            taken.append(h)
        taken.sort(key=lambda h: h.start)
        return taken
