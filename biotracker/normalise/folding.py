"""Length-preserving text folding, so matches found in folded text map back to the original.

Matching is done on a folded copy of the text (lower case, accents stripped, hyphens and
line breaks as spaces, curly quotes as straight quotes). Every original character folds to
exactly one character, so a span in the folded text is the same span in the original: that
is what lets every extracted value carry evidence without a second alignment pass.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_PUNCT = {
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "`": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "-": " ",
    "\u2010": " ",
    "\u2011": " ",
    "\u2012": " ",
    "\u2013": " ",
    "\u2014": " ",
    "\n": " ",
    "\r": " ",
    "\t": " ",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
}


def _fold_char(ch: str) -> str:
    if ch in _PUNCT:
        return _PUNCT[ch]
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    low = (base or ch).lower()
    if len(low) == 1:
        return low
    # Ligatures and the like (e.g. "ß", "Œ"): keep one character so offsets stay aligned.
    lowered = ch.lower()
    return lowered if len(lowered) == 1 else low[:1] or ch


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    table = {ord(k): v for k, v in _PUNCT.items()}
    for code in range(0x80, 0x2500):
        ch = chr(code)
        folded = _fold_char(ch)
        if folded != ch:
            table[code] = folded
    return table


def fold(text: str) -> str:
    """Return ``text`` folded for matching; ``len(fold(t)) == len(t)`` always holds."""
    out = text.translate(_table()).lower()
    if len(out) == len(text):
        return out
    return "".join(_fold_char(c) for c in text)  # rare: a character outside the table changed length
