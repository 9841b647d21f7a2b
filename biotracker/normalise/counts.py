"""Case and death counts from report text, each with the span it came from.

Reports give several numbers (new cases, cumulative totals, figures for one district,
historical totals in a background section). Reports put the event's own figures first, so
the count kept is the first explicit total ("a total of 1,234 cases", "cumulative",
"as of <date> ... N cases") in the title or the opening of the text, else the first count
attached to the words "cases"/"deaths". Singular notifications ("a laboratory-confirmed
case", "a confirmed fatal case", "the patient died") count as 1 when nothing else is given.
Limitations are listed in docs/EXTRACTION.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from biotracker.normalise.numbers import NUMBER, find_words, number_starts, parse_number

_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december|"
           r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 r"hundred|thousand|million")
#: Words allowed between a number and "cases"/"deaths": qualifiers, disease names, parentheses.
_FILLER = (
    r"(?:(?!(?:days?|weeks?|months?|years?|districts?|provinces?|countries|regions?|states?|counties|"
    r"villages?|zones?|contacts?|samples?|specimens?|hospitals?|facilities|camps?|sites?|in|of|from|and|or|"
    r"with|among|out|per|were|was|have|has|had|are|is|been|cases?|deaths?|including|whom|them|that|which|"
    r"who|the|this|these|those|patients?|" + _MONTHS + "|" + _NUMBER_WORDS + r")\b)"
    r"[A-Za-z][\w\-/]*\.?(?:\s*\([^)]{1,20}\))?\s+){0,3}?"
)
_CASE_NOUN = r"(?:cases?|infections?|patients|people\s+(?:were\s+)?(?:infected|ill|sick)|persons\s+infected|illnesses)"
_DEATH_NOUN = r"(?:deaths?|fatalities|deceased|fatal\s+cases?|died|have\s+died|had\s+died|people\s+died|persons\s+died)"
_REVERSE = r"(?:\s+(?:\w+\s+){0,5}?(?:to|is|was|are|were|of|at|reached|stands\s+at|rose\s+to|now|:)\s+|:\s*)"

#: Patterns are tried only at anchors (number starts, cue words), never scanned over the whole
#: text: that keeps long reports fast (see benchmarks/extract.py).
CASES_FORWARD = re.compile(rf"(?P<num>{NUMBER})\s+{_FILLER}{_CASE_NOUN}\b", re.IGNORECASE)
CASES_REVERSE = re.compile(rf"(?:number|total|tally)\s+of\s+{_FILLER}cases{_REVERSE}(?P<num>\b{NUMBER})\b",
                           re.IGNORECASE)
DEATHS_FORWARD = re.compile(
    rf"(?P<num>{NUMBER})\s+{_FILLER}(?:(?:of\s+(?:whom|them|these)|people|persons|patients|children|cases)\s+"
    rf"(?:have\s+|had\s+)?)?{_DEATH_NOUN}\b", re.IGNORECASE)
DEATHS_REVERSE = re.compile(
    rf"(?:death\s+toll|(?:number|total)\s+of\s+{_FILLER}deaths){_REVERSE}(?P<num>\b{NUMBER})\b"
    rf"|(?:killed|killing|claimed\s+the\s+lives\s+of)\s+(?P<num3>\b{NUMBER})\b", re.IGNORECASE)
_REVERSE_CUES = ("number of", "total of", "tally of", "death toll", "killed", "killing",
                 "claimed the lives")
SINGLE_CASE_RE = re.compile(
    r"\b(?:an?|one|the\s+first|first)\s+(?:[\w\-]+\s+){0,4}?case\b(?!s)", re.IGNORECASE)
SINGLE_DEATH_RE = re.compile(
    r"\b(?:(?:an?|one|its\s+first|the\s+first|first)\s+(?:[\w\-]+\s+){0,3}?fatal\s+(?:[\w\-]+\s+){0,2}?case\b"
    r"|(?:the|this)\s+(?:patient|case|child|man|woman|boy|girl)\b[^.]{0,100}?\b(?:died|passed\s+away)\b)",
    re.IGNORECASE)
NO_DEATHS_RE = re.compile(r"\bno\s+(?:\w+\s+)?deaths?\s+(?:have\s+been|has\s+been|were|was)\s+reported\b", re.IGNORECASE)
_TOTAL_CUE = re.compile(r"(total|cumulative|overall|in\s+all|to\s+date|as\s+of|bringing)", re.IGNORECASE)
_NOT_EVENT_CUE = re.compile(r"(new|additional|weekly|per\s+(?:day|week|month)|capacity|treatment\s+of|enough\s+for|"
                            r"adequate\s+for|supplies|doses)\W*$", re.IGNORECASE)
_YEARLIKE = range(1950, 2036)
#: Only the opening of a long text is read for totals: background sections come later.
OPENING_CHARS = 1500


@dataclass(frozen=True)
class Count:
    value: int
    field: str
    start: int
    end: int
    text: str
    is_total: bool


def _matches(forward: re.Pattern[str], reverse: re.Pattern[str], text: str,
             starts: list[int], cues: list[int]) -> list[re.Match[str]]:
    out = [m for pos in starts if (m := forward.match(text, pos))]
    out += [m for pos in cues if (m := reverse.match(text, pos))]
    return out


def _candidates(matches: list[re.Match[str]], text: str, field: str, fatal_excluded: bool) -> list[Count]:
    out: list[Count] = []
    for m in matches:
        group = next(g for g in ("num", "num3") if g in m.groupdict() and m.group(g))
        raw = m.group(group)
        value = parse_number(raw)
        if value is None:
            continue
        phrase = m.group(0)
        if fatal_excluded and re.search(r"fatal\s+cases?", phrase, re.IGNORECASE) and not re.search(
                r"non[\s-]fatal", phrase, re.IGNORECASE):
            continue
        if value in _YEARLIKE and raw.isdigit() and not re.search(r"total\s+of\s+$", text[max(0, m.start() - 12):m.start()]):
            continue  # "in 2019 cases rose" is a year, "a total of 2019 cases" is not
        before = text[max(0, m.start() - 80):m.start()]
        sentence_start = max(before.rfind(". "), before.rfind("\n"))
        before = before[sentence_start + 1:] if sentence_start >= 0 else before
        if _NOT_EVENT_CUE.search(before) or re.match(rf"{NUMBER}\s+(?:new|additional)\b", phrase, re.IGNORECASE):
            continue
        is_total = bool(_TOTAL_CUE.search(before) or _TOTAL_CUE.search(phrase))
        out.append(Count(value, field, m.start(), m.end(), phrase, is_total))
    return out


def _pick(cands: list[Count], single: Count | None) -> Count | None:
    """In order: the first total in the title or opening, the first count there, a singular
    notification there ("a confirmed case"), then the first total or count anywhere."""
    ordered = sorted(cands, key=lambda c: (c.field != "title", c.start))
    opening = [c for c in ordered if c.field == "title" or c.start < OPENING_CHARS]
    first_in_opening = sorted(opening + ([single] if single else []), key=lambda c: (c.field != "title", c.start))
    for pool in ([c for c in opening if c.is_total], first_in_opening, [c for c in ordered if c.is_total], ordered):
        if pool:
            return pool[0]
    return None


def _single(pattern: re.Pattern[str], title: str, text: str) -> Count | None:
    for field, value in (("title", title), ("text", text[:OPENING_CHARS])):
        m = pattern.search(value)
        if m:
            return Count(1, field, m.start(), m.end(), m.group(0), False)
    return None


def extract_counts(title: str, text: str) -> tuple[Count | None, Count | None]:
    """(cases, deaths) for a report; either may be None when the report gives no number."""
    cases: list[Count] = []
    deaths: list[Count] = []
    for field, value in (("title", title), ("text", text)):
        if value:
            lowered = value.lower()
            starts = number_starts(value, lowered)
            if not starts:
                continue
            cues = sorted(set(find_words(lowered, _REVERSE_CUES)))
            cases += _candidates(_matches(CASES_FORWARD, CASES_REVERSE, value, starts, cues), value, field, True)
            deaths += _candidates(_matches(DEATHS_FORWARD, DEATHS_REVERSE, value, starts, cues), value, field, False)
    case = _pick(cases, _single(SINGLE_CASE_RE, title, text))
    death = _pick(deaths, _single(SINGLE_DEATH_RE, title, text))
    if death is None and case is not None:
        for field, value in (("title", title), ("text", text[:OPENING_CHARS])):
            m = NO_DEATHS_RE.search(value)
            if m:
                death = Count(0, field, m.start(), m.end(), m.group(0), False)
                break
    return case, death
