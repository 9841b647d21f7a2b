"""The extractor: one report's title and text in, diseases, places, hosts, counts and dates out,
every value with the evidence (field and character span) it was read from.

Design: one Aho-Corasick pass per field over every vocabulary (``matcher``), a fuzzy pass over
the title only when the exact pass found nothing (``fuzzy``), then small rules that decide
what is the subject of the report and what is mentioned in passing. The vocabularies are
built once per process on first call (``_resources``), so importing this module is cheap.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import lru_cache
from typing import Any

from biotracker.normalise.counts import Count, extract_counts
from biotracker.normalise.event_dates import extract_event_dates
from biotracker.normalise.folding import fold
from biotracker.normalise.fuzzy import FuzzyMatcher
from biotracker.normalise.geo import place_entries
from biotracker.normalise.matcher import Entry, Hit, TermMatcher
from biotracker.normalise.numbers import find_words
from biotracker.normalise.vocab import Concept, Vocabulary, load_vocabulary

#: Short purely alphabetic synonyms that are real words, so may be matched in lower case.
_LOWERCASE_OK = {"flu", "mpox", "zika", "yaws", "kuru", "lyme", "pian", "peste", "lepra"}
#: Words just before a place that make it a place named in passing, not where the event is.
_PASSING_CUE = re.compile(
    r"\b(?:travel(?:l)?ed\s+(?:to|from)|travel\s+(?:to|from)|returned\s+from|returning\s+from|"
    r"imported\s+from|arriv(?:ed|ing)\s+from|visit(?:ed|ing)|flight\s+from|originat\w+\s+(?:in|from)|"
    r"neighbouring|neighboring|bordering|border\s+with|supported\s+by|funded\s+by|"
    r"in\s+collaboration\s+with|regional\s+office|government\s+of|embassy|"
    r"exported\s+to|linked\s+to\s+(?:an?\s+)?outbreak\s+in|citizen\s+of|national\s+of|resident\s+of)",
    re.IGNORECASE,
)
_CUE_FIRST_WORDS = (
    "travelled",
    "traveled",
    "travel",
    "returned",
    "returning",
    "imported",
    "arrived",
    "arriving",
    "visited",
    "visiting",
    "flight",
    "originated",
    "originating",
    "neighbouring",
    "neighboring",
    "bordering",
    "border",
    "supported",
    "funded",
    "in",
    "regional",
    "government",
    "embassy",
    "exported",
    "linked",
    "citizen",
    "national",
    "resident",
)
#: WHO titles: "Lassa fever - Sweden (ex-Liberia)" = imported from Liberia.
_EX_CUE = re.compile(r"\bex\s*[-\u2013]?\s*$", re.IGNORECASE)
#: How far (characters, within one clause) a cue reaches forward to the place it qualifies.
CUE_REACH = 40
#: Frequent words of report titles; a word outside these and the vocabularies may be a misspelling.
_COMMON_WORDS = (
    "update",
    "updates",
    "situation",
    "outbreak",
    "outbreaks",
    "suspected",
    "confirmed",
    "human",
    "humans",
    "infection",
    "infections",
    "case",
    "cases",
    "death",
    "deaths",
    "disease",
    "diseases",
    "virus",
    "viruses",
    "with",
    "from",
    "into",
    "over",
    "after",
    "before",
    "during",
    "among",
    "about",
    "report",
    "reports",
    "reported",
    "first",
    "new",
    "novel",
    "global",
    "international",
    "spread",
    "risk",
    "world",
    "health",
    "organization",
    "organisation",
    "province",
    "state",
    "region",
    "district",
    "city",
    "north",
    "south",
    "east",
    "west",
    "northern",
    "southern",
    "eastern",
    "western",
    "central",
    "multi",
    "country",
    "countries",
    "summary",
    "epidemic",
    "cluster",
    "clusters",
    "imported",
    "travel",
    "recommendations",
    "continues",
    "local",
    "transmission",
    "vaccine",
    "vaccination",
    "campaign",
    "this",
    "that",
    "there",
    "their",
    "more",
    "than",
    "areas",
    "area",
    "data",
    "research",
    "status",
    "change",
    "changes",
    "end",
    "declared",
)
_US_CONTEXT = re.compile(
    r"\b(United States|USA|U\.S\.|US|CDC|county|Atlanta|Alabama|Florida|"
    r"Tennessee|Carolina|Texas)\b"
)
_GEORGIA_COUNTRY_CONTEXT = re.compile(r"\b(Tbilisi|Caucasus|Armenia|Azerbaijan|Abkhazia|Adjara)\b")


@dataclass(frozen=True)
class Evidence:
    """Where a value was read: ``field`` ("title" | "text"), ``span`` [start, end), ``text``."""

    field: str
    span: tuple[int, int]
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "span": list(self.span), "text": self.text}


@dataclass(frozen=True)
class DiseaseFinding:
    key: str
    name: str
    id: str | None
    agent_id: str | None
    agent_name: str | None
    kind: str  # "disease" | "syndrome"
    evidence: Evidence
    mentions: int = 1
    fuzzy: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "kind": self.kind,
            "key": self.key,
            "mentions": self.mentions,
            "fuzzy": self.fuzzy,
            "evidence": self.evidence.to_json(),
        }


@dataclass(frozen=True)
class PlaceFinding:
    """A place mention and whether it is the subject of the report or named in passing."""

    iso3: str | None  # None for a region ("West Africa")
    admin_area: str | None  # admin area, city or region name; None for a country mention
    kind: str  # "country" | "admin" | "city" | "region"
    role: str  # "subject" | "passing" | "region"
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "iso3": self.iso3,
            "admin_area": self.admin_area,
            "kind": self.kind,
            "role": self.role,
            "evidence": self.evidence.to_json(),
        }


@dataclass(frozen=True)
class HostFinding:
    host: str
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "evidence": self.evidence.to_json()}


@dataclass(frozen=True)
class CountFinding:
    value: int
    evidence: Evidence
    is_total: bool

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "is_total": self.is_total, "evidence": self.evidence.to_json()}


@dataclass(frozen=True)
class DateFinding:
    date: dt.date
    precision: str
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "precision": self.precision,
            "evidence": self.evidence.to_json(),
        }


@dataclass(frozen=True)
class Extraction:
    diseases: tuple[DiseaseFinding, ...] = ()
    #: countries the text names as its subject (what a report asserts)
    countries: tuple[str, ...] = ()
    places: tuple[PlaceFinding, ...] = ()
    hosts: tuple[HostFinding, ...] = ()
    cases: CountFinding | None = None
    deaths: CountFinding | None = None
    event_dates: tuple[DateFinding, ...] = dc_field(default_factory=tuple)
    #: countries implied (inferred_places.csv) when the text names none: kept apart and marked,
    #: never the report's country, so an inferred place alone cannot make a series or an alert
    inferred_countries: tuple[str, ...] = ()

    def to_json(self, report_id: str | None = None) -> dict[str, Any]:
        """The CLI output object (contract in docs/EXTRACTION.md), plus the evidence behind it."""
        return {
            "id": report_id,
            "diseases": [d.to_json() for d in self.diseases],
            "countries": list(self.countries),
            "inferred_countries": list(self.inferred_countries),
            "cases": self.cases.value if self.cases else None,
            "deaths": self.deaths.value if self.deaths else None,
            "cases_evidence": self.cases.to_json()["evidence"] if self.cases else None,
            "deaths_evidence": self.deaths.to_json()["evidence"] if self.deaths else None,
            "hosts": [h.to_json() for h in self.hosts],
            "places": [p.to_json() for p in self.places],
            "event_dates": [d.to_json() for d in self.event_dates],
        }


@dataclass(frozen=True)
class _Resources:
    vocab: Vocabulary
    matcher: TermMatcher
    fuzzy_diseases: FuzzyMatcher
    fuzzy_countries: FuzzyMatcher


def _disease_case(term: str) -> str:
    letters = term.replace(" ", "")
    if letters.isalpha() and len(letters) <= 4 and term.lower() not in _LOWERCASE_OK:
        return "not_lower"
    return "any"


@lru_cache(maxsize=1)
def _resources() -> _Resources:
    vocab = load_vocabulary()
    entries: list[Entry] = []
    disease_terms: dict[str, str] = {}
    for c in vocab.concepts.values():
        for term in c.all_terms():
            entries.append(Entry("disease", c.key, term, _disease_case(term)))
            disease_terms.setdefault(term, c.key)
    for host, terms in vocab.hosts.items():
        for term in terms:
            entries.append(Entry("host", host, term))
    places = place_entries()
    entries.extend(places)
    country_terms = {e.term: e.ref for e in places if e.category == "country"}
    known = frozenset(_COMMON_WORDS) | frozenset(
        w for e in entries for w in re.findall(r"[^\W\d_][\w'.]*", fold(e.term))
    )
    return _Resources(
        vocab=vocab,
        matcher=TermMatcher(entries),
        fuzzy_diseases=FuzzyMatcher(disease_terms, min_len=7, cutoff=88, known_words=known),
        fuzzy_countries=FuzzyMatcher(country_terms, min_len=6, cutoff=90, known_words=known),
    )


def warm_up() -> None:
    """Build the vocabularies now (e.g. before timing), instead of on the first report."""
    _resources()


def _evidence(field: str, text: str, start: int, end: int) -> Evidence:
    return Evidence(field, (start, end), text[start:end])


def _select_diseases(found: dict[str, list[tuple[Evidence, bool]]], vocab: Vocabulary) -> list[str]:
    """Keep the most specific concepts and drop body-text asides.

    A concept is dropped when a more specific one of the same lineage was found ("influenza"
    when "H5N1" is there); syndromes are dropped when a named disease explains them, unless
    the title itself names the syndrome; text-only concepts are kept when the title names no
    disease, or when they are mentioned at least twice.
    """
    keys = list(found)
    ancestors = {k: set(vocab.ancestors(k)) for k in keys}
    keep = [k for k in keys if not any(k in ancestors[o] for o in keys if o != k)]
    in_title = {k for k in keep if any(ev.field == "title" for ev, _ in found[k])}
    if in_title:
        keep = [k for k in keep if k in in_title or len(found[k]) >= 2]
    has_disease = any(vocab.concepts[k].kind == "disease" for k in keep)
    if has_disease:
        keep = [
            k
            for k in keep
            if vocab.concepts[k].kind == "disease" or (k in in_title and not _generic_syndrome(k, vocab))
        ]
    return keep


def _generic_syndrome(key: str, vocab: Vocabulary) -> bool:
    """Syndromic classes ("acute haemorrhagic fever syndrome", "meningitis") that a named disease
    explains, as opposed to named syndromes with their own standing (Guillain-Barré, HUS)."""
    c = vocab.concepts[key]
    return c.kind == "syndrome" and (
        c.name.startswith("acute ")
        or key in ("neuro_syndrome", "unknown_disease")
        or "neuro_syndrome" in vocab.ancestors(key)
    )


def _cue_ends(value: str) -> list[int]:
    """End offsets of passing cues, tried only where a cue's first word occurs (fast on long texts)."""
    starts = sorted(find_words(value.lower(), _CUE_FIRST_WORDS))
    return [m.end() for pos in starts if (m := _PASSING_CUE.match(value, pos))]


def _is_passing(value: str, start: int, cue_ends: list[int]) -> bool:
    """True when a cue ("travelled to", "imported from", "ex-") ends within CUE_REACH characters
    before ``start`` with no clause break (. ; :) in between."""
    i = bisect.bisect_right(cue_ends, start) - 1
    if (
        i >= 0
        and start - cue_ends[i] <= CUE_REACH
        and not any(c in ".;:" for c in value[cue_ends[i] : start])
    ):
        return True
    return bool(_EX_CUE.search(value, max(0, start - 8), start))


def _georgia(entries: tuple[Entry, ...], title: str, text: str) -> Entry:
    """Resolve "Georgia": the US state when the report reads as American, else the country."""
    country = next(e for e in entries if e.category == "country")
    state = next((e for e in entries if e.category == "admin"), None)
    whole = f"{title}\n{text}"
    if state and _US_CONTEXT.search(whole) and not _GEORGIA_COUNTRY_CONTEXT.search(whole):
        return state
    return country


def extract(title: str, text: str = "", published: dt.date | None = None) -> Extraction:
    """Extract diseases, places, hosts, counts and dates from one report (pure function)."""
    res = _resources()
    vocab = res.vocab
    title = title or ""
    text = text or ""
    fields = (("title", title), ("text", text))
    hits: dict[str, list[Hit]] = {}
    for name, value in fields:
        hits[name] = res.matcher.find(value, fold(value)) if value else []

    # cue phrases are found once per field; a place is "passing" when one ends shortly before it
    cue_ends = {name: _cue_ends(value) if hits[name] else [] for name, value in fields}
    diseases: dict[str, list[tuple[Evidence, bool]]] = {}
    places: list[tuple[PlaceFinding, float, int]] = []
    hosts: dict[str, Evidence] = {}
    for name, value in fields:
        for h in hits[name]:
            ev = _evidence(name, value, h.start, h.end)
            cats = {e.category for e in h.entries}
            if "disease" in cats:
                for e in h.entries:
                    if e.category == "disease":
                        diseases.setdefault(e.ref, []).append((ev, False))
                continue
            if "host" in cats:
                hosts.setdefault(next(e.ref for e in h.entries if e.category == "host"), ev)
                continue
            entry = h.entries[0]
            if len({(e.category, e.iso3) for e in h.entries}) > 1 and any(
                e.category == "country" for e in h.entries
            ):
                entry = (
                    _georgia(h.entries, title, text)
                    if fold(ev.text) == "georgia"
                    else next(e for e in h.entries if e.category == "country")
                )
            if entry.category == "region":
                places.append(
                    (
                        PlaceFinding(None, entry.ref, "region", "region", ev),
                        0.0,
                        (0 if name == "title" else 1_000_000) + h.start,
                    )
                )
                continue
            if not entry.iso3:
                continue
            passing = _is_passing(value, h.start, cue_ends[name])
            weight = (3.0 if name == "title" else 1.0) * {"country": 1.0, "admin": 0.8, "city": 0.6}[
                entry.category
            ]
            if name == "text" and h.start > 600:
                weight *= 0.6
            if passing:
                weight *= 0.2
            admin = None if entry.category == "country" else entry.ref
            places.append(
                (
                    PlaceFinding(entry.iso3, admin, entry.category, "passing" if passing else "subject", ev),
                    weight,
                    (0 if name == "title" else 1_000_000) + h.start,
                )
            )

    title_has_disease = any(
        ev.field == "title" and vocab.concepts[k].kind == "disease"
        for k, evs in diseases.items()
        for ev, _ in evs
    )
    if not title_has_disease and title:
        blocked = [(h.start, h.end) for h in hits["title"] if all(e.category != "disease" for e in h.entries)]
        fz = res.fuzzy_diseases.best(title, blocked)
        if fz and (vocab.concepts[fz.ref].kind == "disease" or not diseases):
            for key in list(diseases):  # a fuzzy disease explains title syndromes it overlaps
                diseases[key] = [
                    (ev, f)
                    for ev, f in diseases[key]
                    if not (ev.field == "title" and ev.span[0] < fz.end and fz.start < ev.span[1])
                ]
                if not diseases[key]:
                    del diseases[key]
            diseases.setdefault(fz.ref, []).insert(0, (_evidence("title", title, fz.start, fz.end), True))
    if title:
        blocked = [(h.start, h.end) for h in hits["title"]]
        fz = res.fuzzy_countries.best(title, blocked, max_words=3, capitalised_only=True)
        if fz:
            places.append(
                (
                    PlaceFinding(
                        fz.ref, None, "country", "subject", _evidence("title", title, fz.start, fz.end)
                    ),
                    3.0,
                    fz.start,
                )
            )

    disease_out = []
    for key in _select_diseases(diseases, vocab):
        c: Concept = vocab.concepts[key]
        first_ev, is_fuzzy = diseases[key][0]
        disease_out.append(
            DiseaseFinding(
                key,
                c.name,
                c.disease_id,
                c.agent_id,
                c.agent_name,
                c.kind,
                first_ev,
                len(diseases[key]),
                is_fuzzy,
            )
        )
    disease_out.sort(key=lambda d: (d.evidence.field != "title", -d.mentions, d.evidence.span[0]))

    score: dict[str, float] = {}
    first: dict[str, int] = {}
    subject: set[str] = set()
    for p, weight, order in places:
        if p.iso3 is None:
            continue
        score[p.iso3] = score.get(p.iso3, 0.0) + weight
        first[p.iso3] = min(first.get(p.iso3, order), order)
        if p.role == "subject":
            subject.add(p.iso3)
    for territory, sovereign in vocab.territories:  # "Dengue - France - Réunion" is about Réunion
        if territory in subject and sovereign in subject:
            subject.discard(sovereign)
    countries = tuple(sorted(subject, key=lambda iso: (-score[iso], first[iso])))
    inferred: list[PlaceFinding] = []
    if not countries:
        inferred = _infer_places(vocab, diseases, [p for p, _, _ in places if p.kind == "region"], published)

    cases, deaths = extract_counts(title, text)
    dates: list[DateFinding] = []
    for name, value in fields:
        for d in extract_event_dates(name, value, published):
            dates.append(DateFinding(d.date, d.precision, Evidence(name, (d.start, d.end), d.text)))

    return Extraction(
        diseases=tuple(disease_out),
        countries=countries,
        places=tuple(p for p, _, _ in sorted(places, key=lambda x: x[2])) + tuple(inferred),
        hosts=tuple(
            HostFinding(h, ev)
            for h, ev in sorted(hosts.items(), key=lambda kv: (kv[1].field != "title", kv[1].span[0]))
        ),
        cases=_count(cases),
        deaths=_count(deaths),
        event_dates=tuple(dates),
        inferred_countries=tuple(dict.fromkeys(p.iso3 for p in inferred if p.iso3)),
    )


def _infer_places(
    vocab: Vocabulary,
    diseases: dict[str, list[tuple[Evidence, bool]]],
    regions: list[PlaceFinding],
    published: dt.date | None,
) -> list[PlaceFinding]:
    """Countries implied by a disease (and region) when the report names none (inferred_places.csv).

    Inferred places carry role "inferred" and, as evidence, the mention they were inferred from.
    """
    out: list[PlaceFinding] = []
    for rule in vocab.inferred_places:
        lineage = [k for k in diseases if k == rule.concept or rule.concept in vocab.ancestors(k)]
        if not lineage or not rule.applies(published):
            continue
        if rule.region:
            region = next((r for r in regions if fold(r.admin_area or "") == fold(rule.region)), None)
            if region is None:
                continue
            evidence = region.evidence
        else:
            if regions:
                continue  # a region was named: do not pin the report to one country
            evidence = diseases[lineage[0]][0][0]
        out.extend(PlaceFinding(iso, None, "country", "inferred", evidence) for iso in rule.countries)
    return out


def _count(c: Count | None) -> CountFinding | None:
    if c is None:
        return None
    return CountFinding(c.value, Evidence(c.field, (c.start, c.end), c.text), c.is_total)
