"""Case and death counts from report text, each with the span it came from.

Reports give several numbers (new cases, cumulative totals, figures for one district,
historical totals in a background section). Reports put the event's own figures first, so
the count kept is the first explicit total ("a total of 1,234 cases", "cumulative",
"as of <date> ... N cases") in the title or the opening of the text, else the first count
attached to the words "cases"/"deaths". Singular notifications ("a laboratory-confirmed
case", "a confirmed fatal case", "the patient died") count as 1 when nothing else is given.

English and French/Spanish/Portuguese each have their own patterns (``ENGLISH``,
``ROMANCE``): a language's number words only count next to that language's nouns, and the
Romance patterns run only on text that contains one of their nouns. Limitations are listed in
docs/EXTRACTION.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from biotracker.normalise.numbers import NUMBER, ROMANCE_NUMBER, find_words, number_starts, parse_number
from biotracker.schema.models import MAX_COUNT

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million"
)
#: Words allowed between a number and "cases"/"deaths": qualifiers, disease names, parentheses.
_FILLER = (
    r"(?:(?!(?:days?|weeks?|months?|years?|districts?|provinces?|countries|regions?|states?|counties|"
    r"villages?|zones?|contacts?|samples?|specimens?|hospitals?|facilities|camps?|sites?|in|of|from|and|or|"
    r"with|among|out|per|were|was|have|has|had|are|is|been|cases?|deaths?|including|whom|them|that|which|"
    r"who|the|this|these|those|patients?|" + _MONTHS + "|" + _NUMBER_WORDS + r")\b)"
    r"[A-Za-z][\w\-/]*\.?(?:\s*\([^)]{1,20}\))?\s+){0,3}?"
)
_CASE_NOUN = (
    r"(?:cases?|infections?|patients|people\s+(?:were\s+)?(?:infected|ill|sick)|persons\s+infected|illnesses)"
)
_DEATH_NOUN = (
    r"(?:deaths?|fatalities|deceased|fatal\s+cases?|died|have\s+died|had\s+died|people\s+died|persons\s+died)"
)
_REVERSE = r"(?:\s+(?:\w+\s+){0,5}?(?:to|is|was|are|were|of|at|reached|stands\s+at|rose\s+to|now|:)\s+|:\s*)"

# French, Spanish and Portuguese. Adjectives mostly follow the noun ("13 cas confirmés",
# "3 casos confirmados"), so only a few words may stand between the number and the noun.
_R_BEFORE_NOUN = (
    r"(?:(?:nouveaux|nouvelles|nuevos|nuevas|novos|novas|autres|otros|otras|outros|outras)"
    r"\s+)?"
)
_R_CASE_NOUN = (
    r"(?:cas|casos|infections|infecciones|infecções|contagios|contágios|"
    r"(?:personnes|personas|pessoas)\s+(?:(?:ont|sont|han|se\s+han|foram|estão|están)\s+)?"
    r"(?:été\s+)?(?:infectées|contaminées|malades|infectadas|infectados|contagiadas|enfermas|"
    r"dado\s+positivo|testées\s+positives|positivas))"
)
_R_DEATH_NOUN = (
    r"(?:décès|morts|décédés|décédées|mortels|mortelles|muertes|muertos|fallecidos|fallecidas|"
    r"fallecimientos|defunciones|óbitos|obitos|mortes|falecimentos|"
    r"(?:personnes|personas|pessoas|patients|pacientes|cas|casos)\s+"
    r"(?:(?:sont|ont|han|foram)\s+)?(?:décédées?|décédés|mortes?|morts|fallecido|fallecieron|"
    r"murieron|muerto|morreram|faleceram))"
)
_R_VERB = (
    r"(?:est|était|sont|étaient|es|era|fue|son|eran|é|foi|são|s['’]élève\s+à|s['’]élevait\s+à|atteint|"
    r"asciende\s+a|ascendió\s+a|alcanza|chegou\s+a|passe\s+à|pasó\s+a|:)"
)
#: Nouns whose presence switches the Romance patterns on (a cheap gate for English text).
_ROMANCE_GATE = (
    "cas",
    "casos",
    "décès",
    "morts",
    "muertes",
    "muertos",
    "fallecidos",
    "fallecidas",
    "fallecimientos",
    "defunciones",
    "óbitos",
    "obitos",
    "mortes",
    "personnes",
    "personas",
    "pessoas",
    "infecciones",
    "infecções",
    "contagios",
    "mortels",
)


@dataclass(frozen=True)
class Language:
    """One language family's counting patterns; see ``ENGLISH`` and ``ROMANCE``."""

    name: str
    romance_numbers: bool
    cases_forward: re.Pattern[str]
    cases_reverse: re.Pattern[str]
    deaths_forward: re.Pattern[str]
    deaths_reverse: re.Pattern[str]
    reverse_cues: tuple[str, ...]
    #: Before the number (same sentence): the figure is a total / is not the event's count.
    total_before: re.Pattern[str]
    not_event_before: re.Pattern[str]
    #: The phrase itself is an increment: "3 new cases", "3 nouveaux cas".
    increment: re.Pattern[str]
    #: Right after the phrase: "03 cas supplémentaires" (an increment), "27 540 cas ... au total".
    not_event_after: re.Pattern[str] | None = None
    total_after: re.Pattern[str] | None = None
    gate: tuple[str, ...] = ()


ENGLISH = Language(
    name="en",
    romance_numbers=False,
    cases_forward=re.compile(rf"(?P<num>{NUMBER})\s+{_FILLER}{_CASE_NOUN}\b", re.IGNORECASE),
    cases_reverse=re.compile(
        rf"(?:number|total|tally)\s+of\s+{_FILLER}cases{_REVERSE}(?P<num>\b{NUMBER})\b", re.IGNORECASE
    ),
    deaths_forward=re.compile(
        rf"(?P<num>{NUMBER})\s+{_FILLER}(?:(?:of\s+(?:whom|them|these)|people|persons|patients|children|cases)\s+"
        rf"(?:have\s+|had\s+)?)?{_DEATH_NOUN}\b",
        re.IGNORECASE,
    ),
    deaths_reverse=re.compile(
        rf"(?:death\s+toll|(?:number|total)\s+of\s+{_FILLER}deaths){_REVERSE}(?P<num>\b{NUMBER})\b"
        rf"|(?:killed|killing|claimed\s+the\s+lives\s+of)\s+(?P<num3>\b{NUMBER})\b",
        re.IGNORECASE,
    ),
    reverse_cues=(
        "number of",
        "total of",
        "tally of",
        "death toll",
        "killed",
        "killing",
        "claimed the lives",
    ),
    total_before=re.compile(r"(total|cumulative|overall|in\s+all|to\s+date|as\s+of|bringing)", re.IGNORECASE),
    not_event_before=re.compile(
        r"(new|additional|weekly|per\s+(?:day|week|month)|capacity|treatment\s+of|"
        r"enough\s+for|adequate\s+for|supplies|doses)\W*$",
        re.IGNORECASE,
    ),
    increment=re.compile(rf"{NUMBER}\s+(?:new|additional)\b", re.IGNORECASE),
)

ROMANCE = Language(
    name="fr/es/pt",
    romance_numbers=True,
    cases_forward=re.compile(
        rf"(?P<num>{ROMANCE_NUMBER})\s+{_R_BEFORE_NOUN}{_R_CASE_NOUN}(?!\w)", re.IGNORECASE
    ),
    cases_reverse=re.compile(
        rf"(?:nombre|número|numero|total|cumul)\s+(?:total\s+|cumulé\s+|acumulado\s+)?(?:de\s+|des\s+)?"
        rf"(?:cas|casos)\b[^.;]{{0,120}}?{_R_VERB}\s*(?:de\s+|à\s+|a\s+)?(?P<num>{ROMANCE_NUMBER})",
        re.IGNORECASE,
    ),
    deaths_forward=re.compile(
        rf"(?P<num>{ROMANCE_NUMBER})\s+{_R_BEFORE_NOUN}{_R_DEATH_NOUN}(?!\w)", re.IGNORECASE
    ),
    deaths_reverse=re.compile(
        rf"(?:nombre|número|numero|total|bilan)\s+(?:total\s+)?(?:de\s+|des\s+)?(?:décès|morts|muertes|"
        rf"fallecidos|defunciones|óbitos|mortes)\b[^.;]{{0,80}}?{_R_VERB}\s*(?:de\s+|à\s+|a\s+)?"
        rf"(?P<num>{ROMANCE_NUMBER})",
        re.IGNORECASE,
    ),
    reverse_cues=("nombre", "número", "numero", "total", "cumul", "bilan"),
    total_before=re.compile(
        r"(total|cumul|acumulad|à\s+ce\s+jour|hasta\s+la\s+fecha|até\s+o\s+momento|"
        r"(?:^|\W)(?:au|al|hasta\s+el|até)\s+\d{1,2}(?:er)?\s)",
        re.IGNORECASE,
    ),
    not_event_before=re.compile(
        r"(nouveaux|nouvelles|nuevos|nuevas|novos|novas|par\s+semaine|por\s+semana|"
        r"doses|dosis)\W*$",
        re.IGNORECASE,
    ),
    increment=re.compile(
        rf"{ROMANCE_NUMBER}\s+(?:nouveaux|nouvelles|nuevos|nuevas|novos|novas)\b", re.IGNORECASE
    ),
    not_event_after=re.compile(
        r"^\s+(?:\w+\s+){0,1}(?:supplémentaires|additionnels|adicionales|adicionais|"
        r"nouveaux|nuevos|novos)\b",
        re.IGNORECASE,
    ),
    total_after=re.compile(
        r"\b(?:au\s+total|en\s+total|no\s+total|en\s+tout|cumulés|acumulados)\b", re.IGNORECASE
    ),
    gate=_ROMANCE_GATE,
)
LANGUAGES = (ENGLISH, ROMANCE)

SINGLE_CASE_RE = re.compile(
    r"\b(?:an?|one|the\s+first|first)\s+(?:[\w\-]+\s+){0,4}?case\b(?!s)"
    r"|\b(?:un|une|uno|una|um|uma|le\s+premier|el\s+primer|o\s+primeiro)\s+(?:[\w\-]+\s+){0,2}?(?:cas|caso)\b(?!s)",
    re.IGNORECASE,
)
SINGLE_DEATH_RE = re.compile(
    r"\b(?:(?:an?|one|its\s+first|the\s+first|first)\s+(?:[\w\-]+\s+){0,3}?fatal\s+(?:[\w\-]+\s+){0,2}?case\b"
    r"|(?:the|this)\s+(?:patient|case|child|man|woman|boy|girl)\b[^.]{0,100}?\b(?:died|passed\s+away)\b"
    r"|(?:le|la|el|o|a)\s+(?:patient|patiente|paciente|malade|enfant|niño|niña|homme|femme|hombre|mujer|criança)\b"
    r"[^.]{0,100}?\b(?:est\s+décédée?|est\s+morte?|falleció|murió|morreu|faleceu))",
    re.IGNORECASE,
)
NO_DEATHS_RE = re.compile(
    r"\bno\s+(?:\w+\s+)?deaths?\s+(?:have\s+been|has\s+been|were|was)\s+reported\b"
    r"|\b(?:aucun\s+décès|sans\s+décès|ningún\s+fallecimiento|ninguna\s+muerte|nenhum\s+óbito|"
    r"no\s+se\s+(?:han\s+)?(?:registrado|notificado|reportado)\s+(?:muertes|fallecimientos|defunciones))\b",
    re.IGNORECASE,
)
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


def _signed(text: str, start: int) -> bool:
    """A minus sign right before the number ("-500"), not a range ("10-500") or a word ("COVID-19")."""
    before = text[max(0, start - 2) : start]
    return before[-1:] in ("-", "\u2212") and not before[:-1].isalnum()


def _matches(
    forward: re.Pattern[str], reverse: re.Pattern[str], text: str, starts: list[int], cues: list[int]
) -> list[re.Match[str]]:
    out = [m for pos in starts if (m := forward.match(text, pos))]
    out += [m for pos in cues if (m := reverse.match(text, pos))]
    return out


def _candidates(
    lang: Language, matches: list[re.Match[str]], text: str, field: str, fatal_excluded: bool
) -> list[Count]:
    out: list[Count] = []
    for m in matches:
        group = next(g for g in ("num", "num3") if g in m.groupdict() and m.group(g))
        raw = m.group(group)
        value = parse_number(raw)
        if value is None or value > MAX_COUNT or _signed(text, m.start(group)):
            continue  # "-500 cases" is not 500 cases; a count over MAX_COUNT is not a case count
        phrase = m.group(0)
        if (
            fatal_excluded
            and re.search(r"fatal\s+cases?", phrase, re.IGNORECASE)
            and not re.search(r"non[\s-]fatal", phrase, re.IGNORECASE)
        ):
            continue
        if (
            value in _YEARLIKE
            and raw.isdigit()
            and not re.search(r"total\s+(?:of|de)\s+$", text[max(0, m.start() - 12) : m.start()])
        ):
            continue  # "in 2019 cases rose" is a year, "a total of 2019 cases" is not
        before = text[max(0, m.start() - 80) : m.start()]
        sentence_start = max(before.rfind(". "), before.rfind("\n"))
        before = before[sentence_start + 1 :] if sentence_start >= 0 else before
        after = text[m.end() : m.end() + 40]
        if (
            lang.not_event_before.search(before)
            or lang.increment.match(phrase)
            or (lang.not_event_after and lang.not_event_after.match(after))
        ):
            continue
        is_total = bool(
            lang.total_before.search(before)
            or lang.total_before.search(phrase)
            or (lang.total_after and lang.total_after.search(after))
        )
        out.append(Count(value, field, m.start(), m.end(), phrase, is_total))
    return out


def _pick(cands: list[Count], single: Count | None) -> Count | None:
    """In order: the first total in the title or opening, the first count there, a singular
    notification there ("a confirmed case"), then the first total or count anywhere."""
    ordered = sorted(cands, key=lambda c: (c.field != "title", c.start))
    opening = [c for c in ordered if c.field == "title" or c.start < OPENING_CHARS]
    first_in_opening = sorted(
        opening + ([single] if single else []), key=lambda c: (c.field != "title", c.start)
    )
    for pool in (
        [c for c in opening if c.is_total],
        first_in_opening,
        [c for c in ordered if c.is_total],
        ordered,
    ):
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
        if not value:
            continue
        lowered = value.lower()
        for lang in LANGUAGES:
            if lang.gate and not find_words(lowered, lang.gate):
                continue
            starts = number_starts(value, lowered, romance=lang.romance_numbers)
            if not starts:
                continue
            cues = sorted(set(find_words(lowered, lang.reverse_cues)))
            cases += _candidates(
                lang,
                _matches(lang.cases_forward, lang.cases_reverse, value, starts, cues),
                value,
                field,
                True,
            )
            deaths += _candidates(
                lang,
                _matches(lang.deaths_forward, lang.deaths_reverse, value, starts, cues),
                value,
                field,
                False,
            )
    case = _pick(cases, _single(SINGLE_CASE_RE, title, text))
    death = _pick(deaths, _single(SINGLE_DEATH_RE, title, text))
    if death is None and case is not None:
        for field, value in (("title", title), ("text", text[:OPENING_CHARS])):
            m = NO_DEATHS_RE.search(value)
            if m:
                death = Count(0, field, m.start(), m.end(), m.group(0), False)
                break
    return case, death
