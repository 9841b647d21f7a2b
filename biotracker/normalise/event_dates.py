"""Dates of events named in report text ("on 3 May 2024", "since 12 March", "in June 2023"), in
English and in French, Spanish and Portuguese ("le 13 octobre 2020", "du 1er janvier",
"el 2 de diciembre de 2019", "em 14 de março de 2020").

Dates without a year take the year of publication, or the previous year when that would put
the event more than three months after publication (a date just after publication is a plan,
not an event, and is dropped): reports describe the recent past. Only dates that are not
after publication are kept, so a "vaccination campaign planned for 1 June" in a report
published in May is not mistaken for the onset of the outbreak.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from biotracker.normalise.numbers import find_words

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
#: French, Spanish and Portuguese month names (accents optional where reports drop them).
_ROMANCE_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("janvier", "enero", "janeiro"),
            ("février", "fevrier", "febrero", "fevereiro"),
            ("mars", "marzo", "março"),
            ("avril", "abril"),
            ("mai", "mayo", "maio"),
            ("juin", "junio", "junho"),
            ("juillet", "julio", "julho"),
            ("août", "aout", "agosto"),
            ("septembre", "septiembre", "setiembre", "setembro"),
            ("octobre", "octubre", "outubro"),
            ("novembre", "noviembre", "novembro"),
            ("décembre", "decembre", "diciembre", "dezembro"),
        ],
        start=1,
    )
    for m in names
}
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_RMON = "|".join(sorted(_ROMANCE_MONTHS, key=len, reverse=True))
_DATE_RE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MON})\.?(?:,?\s+(?P<y1>(?:19|20)\d{{2}}))?"
    rf"|(?P<m2>{_MON})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>(?:19|20)\d{{2}}))?"
    rf"|(?P<m3>{_MON})\.?\s+(?P<y3>(?:19|20)\d{{2}})"
    rf"|(?P<iso>(?:19|20)\d{{2}}-\d{{2}}-\d{{2}})"
    rf"|(?P<d4>\d{{1,2}})(?:er|º|°)?\s+(?:de\s+)?(?P<m4>{_RMON})(?:\s+(?:de\s+)?(?P<y4>(?:19|20)\d{{2}}))?"
    rf"|(?P<m5>{_RMON})\s+(?:de\s+)?(?P<y5>(?:19|20)\d{{2}}))(?!\w)",
    re.IGNORECASE,
)


#: The pattern is tried only where a day/year number or a month name starts (fast on long texts).
_DAY_OR_YEAR = re.compile(r"(?<![\w.,:/-])\d")
_MONTH_WORDS = tuple(sorted([*_MONTHS, *_ROMANCE_MONTHS], key=len, reverse=True))


@dataclass(frozen=True)
class EventDate:
    date: dt.date
    precision: str  # "day" | "month"
    field: str
    start: int
    end: int
    text: str


def _resolve(year: str | None, month: int, day: int, published: dt.date | None) -> dt.date | None:
    try:
        if year:
            return dt.date(int(year), month, day)
        if published is None:
            return None
        guess = dt.date(published.year, month, day)
        if guess <= published:
            return guess
        if (guess - published).days <= 92:
            return None  # a date just after publication is a plan ("campaign on 1 June"), not an event
        return dt.date(published.year - 1, month, day)
    except ValueError:
        return None


def extract_event_dates(field: str, text: str, published: dt.date | None) -> list[EventDate]:
    """Dates mentioned in ``text``, in order of appearance, none later than ``published``."""
    out: list[EventDate] = []
    if not text:
        return out
    lowered = text.lower()
    anchors = sorted(
        {m.start() for m in _DAY_OR_YEAR.finditer(text)} | set(find_words(lowered, _MONTH_WORDS))
    )
    last_end = -1
    for pos in anchors:
        if pos < last_end:
            continue
        m = _DATE_RE.match(text, pos)
        if not m:
            continue
        last_end = m.end()
        g = m.groupdict()
        value: dt.date | None
        if g["iso"]:
            try:
                value, precision = dt.date.fromisoformat(g["iso"]), "day"
            except ValueError:
                continue
        elif g["m3"] or g["m5"]:
            month = _MONTHS[g["m3"].lower()] if g["m3"] else _ROMANCE_MONTHS[g["m5"].lower()]
            value, precision = _resolve(g["y3"] or g["y5"], month, 1, published), "month"
        elif g["d4"]:
            value = _resolve(g["y4"], _ROMANCE_MONTHS[g["m4"].lower()], int(g["d4"]), published)
            precision = "day"
        else:
            day, mon, year = (g["d1"], g["m1"], g["y1"]) if g["d1"] else (g["d2"], g["m2"], g["y2"])
            if g["m2"] and g["m2"].lower() == "may" and not year:
                continue  # "may 3" is too often the verb
            value, precision = _resolve(year, _MONTHS[mon.lower()], int(day), published), "day"
        if value is None or (published is not None and value > published):
            continue
        out.append(EventDate(value, precision, field, m.start(), m.end(), m.group(0)))
    return out
