"""Case and death counts from report text, each with the span it came from.

Reports give several numbers (new cases, cumulative totals, numbers for one district);
the count we keep is the one a reader would quote as the size of the event: an explicit
total ("a total of 1,234 cases", "cumulative") wins; otherwise the largest count attached to
the words "cases"/"deaths" in the title, then in the text. Counts in a neighbouring-country
aside are not distinguished: that is a known limitation (see docs/EXTRACTION.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from biotracker.normalise.numbers import NUMBER, parse_number

_Q = r"(?:(?:new|additional|total|cumulative|confirmed|laboratory[\s-]confirmed|lab[\s-]confirmed|suspected|probable|" \
     r"reported|human|fatal|non[\s-]fatal|symptomatic|autochthonous|imported|locally[\s-]acquired|related|" \
     r"clinical|possible|notified|severe|associated|secondary|primary|of|the|which|these)[\s,]+){0,5}"
_CASE_NOUN = r"(?:cases?|infections?|patients|people\s+(?:were\s+)?(?:infected|ill|sick)|persons\s+infected|illnesses)"
_DEATH_NOUN = r"(?:deaths?|fatalities|deceased|fatal\s+cases?|died|have\s+died|had\s+died|people\s+died|persons\s+died)"

_REVERSE = r"(?:\s+(?:\w+\s+){0,3}?(?:to|is|was|are|were|of|at|reached|stands\s+at|rose\s+to|now|:)\s+|:\s*)"
CASES_RE = re.compile(
    rf"(?P<num>\b{NUMBER})\s+{_Q}{_CASE_NOUN}\b"
    rf"|(?:number|total|tally)\s+of\s+{_Q}cases{_REVERSE}(?P<num2>\b{NUMBER})\b",
    re.IGNORECASE,
)
DEATHS_RE = re.compile(
    rf"(?P<num>\b{NUMBER})\s+{_Q}(?:(?:of\s+(?:whom|them|these)|people|persons|patients|children|cases)\s+(?:have\s+|had\s+)?)?{_DEATH_NOUN}\b"
    rf"|(?:death\s+toll|(?:number|total)\s+of\s+{_Q}deaths){_REVERSE}(?P<num2>\b{NUMBER})\b"
    rf"|(?:killed|killing|claimed\s+the\s+lives\s+of)\s+(?P<num3>\b{NUMBER})\b",
    re.IGNORECASE,
)
_TOTAL_CUE = re.compile(r"(total|cumulative|overall|in\s+all|since\s+the\s+(?:start|beginning)|to\s+date)", re.IGNORECASE)
_YEARLIKE = range(1900, 2101)


@dataclass(frozen=True)
class Count:
    value: int
    field: str
    start: int
    end: int
    text: str
    is_total: bool


def _candidates(pattern: re.Pattern[str], text: str, field: str, fatal_excluded: bool) -> list[Count]:
    out: list[Count] = []
    for m in pattern.finditer(text):
        group = next(g for g in ("num", "num2", "num3") if g in m.groupdict() and m.group(g))
        raw = m.group(group)
        value = parse_number(raw)
        if value is None:
            continue
        phrase = m.group(0)
        if fatal_excluded and re.search(r"fatal\s+cases?", phrase, re.IGNORECASE) and not re.search(r"non[\s-]fatal", phrase, re.IGNORECASE):
            continue
        if value in _YEARLIKE and raw.isdigit() and len(raw) == 4:
            continue  # "2019 cases" is almost always a year
        before = text[max(0, m.start() - 60):m.start()]
        is_total = bool(_TOTAL_CUE.search(before) or _TOTAL_CUE.search(phrase))
        out.append(Count(value, field, m.start(), m.end(), phrase, is_total))
    return out


def _pick(cands: list[Count]) -> Count | None:
    if not cands:
        return None
    totals = [c for c in cands if c.is_total]
    pool = totals or [c for c in cands if c.field == "title"] or cands
    return max(pool, key=lambda c: (c.value, -c.start))


def extract_counts(title: str, text: str) -> tuple[Count | None, Count | None]:
    """(cases, deaths) for a report; either may be None when the report gives no number."""
    cases: list[Count] = []
    deaths: list[Count] = []
    for field, value in (("title", title), ("text", text)):
        if value:
            cases += _candidates(CASES_RE, value, field, fatal_excluded=True)
            deaths += _candidates(DEATHS_RE, value, field, fatal_excluded=False)
    return _pick(cases), _pick(deaths)
