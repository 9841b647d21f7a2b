"""Numbers as reports write them: "1,234", "1 234", "2.5 million", "twenty-three",
"one hundred and five". Used by the case and death counters.
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))

#: A number in digits (with thousands separators or a decimal and a scale word) or in words.
NUMBER = (
    r"(?:\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?!\d)|\d+(?:\.\d+)?(?:\s(?:million|thousand))?|"
    rf"(?:(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}))*))"
)
NUMBER_RE = re.compile(rf"\b{NUMBER}\b", re.IGNORECASE)
_NUMBER_AT = re.compile(NUMBER, re.IGNORECASE)


def parse_number(text: str) -> int | None:
    """Integer value of a NUMBER match, or None if it is not a number."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(million|thousand)?", t)
    if m:
        value = float(m.group(1)) * (_SCALES[m.group(2)] if m.group(2) else 1)
        return int(round(value))
    digits = re.sub(r"[,\u00a0\u202f ]", "", t)
    if digits.isdigit():
        return int(digits)
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", t):
        if word == "and" or not word:
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in ("thousand", "million"):
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


_DIGIT_START = re.compile(r"(?<![\w.,])\d")
NUMBER_WORDS = tuple(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))


def find_words(lowered: str, words: tuple[str, ...]) -> list[int]:
    """Start offsets of whole-word occurrences of ``words`` in already lower-cased text.

    ``str.find`` per word runs in C and beats a regex alternation of words by an order of
    magnitude on long texts; it is how the counters and date finder locate their anchors.
    """
    out: list[int] = []
    n = len(lowered)
    for w in words:
        i = lowered.find(w)
        while i != -1:
            end = i + len(w)
            if (i == 0 or not lowered[i - 1].isalnum()) and (end >= n or not lowered[end].isalnum()):
                out.append(i)
            i = lowered.find(w, end)
    return out


def number_starts(text: str, lowered: str | None = None) -> list[int]:
    """Offsets where a number (digits or an English number word) may start, in order."""
    lowered = text.lower() if lowered is None else lowered
    candidates = sorted({m.start() for m in _DIGIT_START.finditer(text)} | set(find_words(lowered, NUMBER_WORDS)))
    out: list[int] = []
    covered = -1
    for pos in candidates:
        if pos < covered:
            continue  # inside "3 000" or "twenty-three": part of the number already found
        m = _NUMBER_AT.match(text, pos)
        if m:
            out.append(pos)
            covered = m.end()
    return out
