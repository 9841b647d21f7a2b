"""Intent and accident cues: the words in a report that suggest a lab accident, theft or a deliberate act.

Police analysts do not read every outbreak report; they need the few that mention a laboratory
escape, a theft, a ricin arrest, a white-powder letter or a cluster confined to one workplace.
``find_cues`` marks those phrases, each with its span in the title or text and the sentence it
sits in, so the digest can show *why* a report was flagged and the analyst can judge the sense.

The lexicon is data (``vocab/cues.csv``, versioned, with sources): regular expressions per
category and language, applied to folded text (``folding.fold`` keeps offsets, so spans point
into the original). Precision comes from three kinds of rows besides the cues themselves:
``exclude`` (irrelevant senses overlapping a cue: "cardiac arrest", "insurance claims"),
``veto`` (a cue is dropped when its sentence is about something else: drug seizures) and
``negation`` ("no evidence of theft"). Cue patterns are also written narrowly on purpose:
"laboratory-confirmed" and "sent to the reference laboratory" are everyday WHO DON wording and
match no pattern. Accuracy on the labelled set is printed by ``benchmarks/cues.py``.

Pure: no I/O after the lexicon is loaded (once per process, lazily), no clock, no randomness.
"""

from __future__ import annotations

import bisect
import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from biotracker.errors import ConfigError
from biotracker.normalise.folding import fold

LEXICON_PATH = Path(__file__).with_name("vocab") / "cues.csv"

CATEGORIES = (
    "laboratory",
    "lab_acquired_infection",
    "escape_release",
    "theft_diversion",
    "smuggling_seizure",
    "arrest",
    "toxin_production",
    "suspicious_powder_hoax",
    "claim_threat",
    "confined_cluster",
    "agroterrorism",
)
KINDS = ("cue", "exclude", "veto", "negation")
ANY_LANGUAGE = "*"
#: How far back (characters, within the clause) a negation word still negates a cue.
NEGATION_WINDOW = 60
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]\u2014]| - ")
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002])[\"')\]\u00bb\u201d]*\s+|\n\s*\n|\n(?=\s*[-*\u2022])")


@dataclass(frozen=True)
class Cue:
    """One intent or accident cue with its evidence."""

    category: str
    field: str  # "title" | "text"
    span: tuple[int, int]  # [start, end) in the original field string
    text: str  # the matched phrase, as written in the report
    sentence: str  # the sentence containing it, for the analyst
    language: str  # language of the lexicon row that matched ("en", "fr", ...; "*" = any)
    rule: str = ""  # lexicon row id, "<line>:<category>:<language>", to trace a cue to its pattern

    def as_dict(self) -> dict:
        return {"category": self.category, "field": self.field, "span": list(self.span), "text": self.text,
                "sentence": self.sentence, "language": self.language, "rule": self.rule}


@dataclass(frozen=True)
class _Row:
    line: int
    category: str
    language: str
    kind: str
    pattern: str
    note: str

    @property
    def rule(self) -> str:
        return f"{self.line}:{self.category}:{self.language}"


@dataclass(frozen=True)
class _Compiled:
    """Regexes for one language selection: per category a single alternation of its cue rows."""

    cues: dict[str, tuple[re.Pattern[str], dict[str, _Row]]]
    excludes: dict[str, re.Pattern[str]]  # category ("*" = all) -> pattern
    vetoes: dict[str, re.Pattern[str]]
    negation: re.Pattern[str] | None


def _to_regex(pattern: str) -> str:
    # A space in a lexicon pattern stands for any run of whitespace (folded text keeps double spaces).
    return pattern.replace(" ", r"\s+")


@lru_cache(maxsize=1)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[str, tuple[_Row, ...]]:
    """Read and validate ``cues.csv``: returns (version, rows). Bad rows raise ``ConfigError``."""
    version = ""
    rows: list[_Row] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the cue lexicon {path}: {exc}; reinstall the package") from exc
    body: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            found = re.match(r"#\s*version:\s*(\S+)", line)
            if found:
                version = found.group(1)
            continue
        if line.strip():
            body.append((number, line))
    reader = csv.DictReader((line for _, line in body))
    expected = ["category", "language", "kind", "pattern", "note"]
    if reader.fieldnames != expected:
        raise ConfigError(f"{path}: header must be {','.join(expected)}, found {reader.fieldnames}")
    for (number, _), record in zip(body[1:], reader):
        row = _Row(number, record["category"].strip(), record["language"].strip(), record["kind"].strip(),
                   record["pattern"], (record["note"] or "").strip())
        if row.kind not in KINDS:
            raise ConfigError(f"{path}:{number}: kind {row.kind!r} is not one of {', '.join(KINDS)}")
        if row.category not in CATEGORIES and row.category != ANY_LANGUAGE:
            raise ConfigError(f"{path}:{number}: unknown category {row.category!r}; use one of {', '.join(CATEGORIES)}")
        if row.kind == "cue" and row.category == ANY_LANGUAGE:
            raise ConfigError(f"{path}:{number}: a cue row needs a category")
        try:
            compiled = re.compile(_to_regex(row.pattern))
        except re.error as exc:
            raise ConfigError(f"{path}:{number}: bad regular expression ({exc}): {row.pattern}") from exc
        if compiled.groupindex:
            raise ConfigError(f"{path}:{number}: patterns must not define named groups")
        rows.append(row)
    if not version:
        raise ConfigError(f"{path}: missing '# version: ...' header line")
    return version, tuple(rows)


def lexicon_version() -> str:
    return load_lexicon()[0]


def _languages_for(language: str | None) -> tuple[str, ...] | None:
    """Rows to use: the declared language plus language-independent ones; None means every row.

    A declared language without rows of its own (say "de") falls back to every row rather than
    to the handful of language-independent ones.
    """
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if not any(r.language == code for r in load_lexicon()[1]):
        return None
    return (code, ANY_LANGUAGE)


def _union(rows: list[_Row]) -> re.Pattern[str] | None:
    if not rows:
        return None
    return re.compile("|".join(f"(?:{_to_regex(r.pattern)})" for r in rows))


@lru_cache(maxsize=16)
def _compiled(languages: tuple[str, ...] | None) -> _Compiled:
    rows = [r for r in load_lexicon()[1] if languages is None or r.language in languages]
    cues: dict[str, tuple[re.Pattern[str], dict[str, _Row]]] = {}
    for category in CATEGORIES:
        members = [r for r in rows if r.kind == "cue" and r.category == category]
        if members:
            names = {f"r{r.line}": r for r in members}
            regex = re.compile("|".join(f"(?P<r{r.line}>{_to_regex(r.pattern)})" for r in members))
            cues[category] = (regex, names)
    excludes = {c: p for c in (*CATEGORIES, ANY_LANGUAGE)
                if (p := _union([r for r in rows if r.kind == "exclude" and r.category == c]))}
    vetoes = {c: p for c in (*CATEGORIES, ANY_LANGUAGE)
              if (p := _union([r for r in rows if r.kind == "veto" and r.category == c]))}
    return _Compiled(cues, excludes, vetoes, _union([r for r in rows if r.kind == "negation"]))


def _sentence_bounds(text: str) -> list[int]:
    """Start offsets of sentences (always begins with 0)."""
    return [0, *(m.end() for m in _SENTENCE_END.finditer(text))]


def _sentence_at(text: str, starts: list[int], position: int) -> tuple[int, int]:
    i = bisect.bisect_right(starts, position) - 1
    end = starts[i + 1] if i + 1 < len(starts) else len(text)
    return starts[i], end


def _negated(folded: str, start: int, negation: re.Pattern[str] | None) -> bool:
    if negation is None:
        return False
    window_start = max(0, start - NEGATION_WINDOW)
    window = folded[window_start:start]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    if breaks:
        window = window[breaks[-1].end():]
    return negation.search(window) is not None


def _spans(pattern: re.Pattern[str] | None, folded: str) -> list[tuple[int, int]]:
    return [] if pattern is None else [m.span() for m in pattern.finditer(folded)]


def _field_cues(name: str, original: str, compiled: _Compiled) -> list[Cue]:
    if not original:
        return []
    folded = fold(original)
    starts: list[int] | None = None
    found: list[Cue] = []
    for category, (regex, rows) in compiled.cues.items():
        matches = [m for m in regex.finditer(folded) if m.end() > m.start()]
        if not matches:
            continue
        starts = starts if starts is not None else _sentence_bounds(original)
        excluded = _spans(compiled.excludes.get(category), folded) + _spans(compiled.excludes.get(ANY_LANGUAGE), folded)
        vetoes = [p for p in (compiled.vetoes.get(category), compiled.vetoes.get(ANY_LANGUAGE)) if p is not None]
        for m in matches:
            start, end = m.span()
            if any(s < end and start < e for s, e in excluded):
                continue
            s_start, s_end = _sentence_at(original, starts, start)
            if any(v.search(folded, s_start, s_end) for v in vetoes):
                continue
            if _negated(folded, start, compiled.negation):
                continue
            row = rows[m.lastgroup] if m.lastgroup else None
            found.append(Cue(category, name, (start, end), original[start:end], original[s_start:s_end].strip(),
                             row.language if row else "", row.rule if row else ""))
    return found


def find_cues(title: str, text: str = "", language: str | None = None) -> list[Cue]:
    """Intent and accident cues in a report's title and text, in reading order.

    ``language`` (ISO 639-1, e.g. "fr") restricts matching to that language's lexicon rows plus
    the language-independent ones; leave it None when unknown to use every language. Each cue
    carries its span in the *original* field string, so ``field_string[span[0]:span[1]] == cue.text``.
    """
    compiled = _compiled(_languages_for(language))
    cues = _field_cues("title", title or "", compiled) + _field_cues("text", text or "", compiled)
    return sorted(cues, key=lambda c: (c.field != "title", c.span[0], CATEGORIES.index(c.category)))


def cue_categories(cues: list[Cue]) -> list[str]:
    """The distinct categories of ``cues`` in the canonical order (for summaries and scoring)."""
    present = {c.category for c in cues}
    return [c for c in CATEGORIES if c in present]
