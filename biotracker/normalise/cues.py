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

import ahocorasick

from biotracker.errors import ConfigError
from biotracker.normalise.folding import fold

try:  # the regex parser, to find the literals a pattern cannot match without (used to skip work)
    # typeshed ships no stubs for the private re._constants / re._parser modules.
    from re import _constants as _sre  # type: ignore[attr-defined]  # Python >= 3.11
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _sre
    import sre_parse as _sre_parse

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
KINDS = ("cue", "exclude", "veto", "negation", "negation_after")
#: Categories a negation does not cancel: "no breach at the lab" still names a laboratory.
UNNEGATED = frozenset({"laboratory"})
ANY_LANGUAGE = "*"
#: How far back (characters, within the clause) a negation word still negates a cue.
NEGATION_WINDOW = 60
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]\u2014]| - ")


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
        return {
            "category": self.category,
            "field": self.field,
            "span": list(self.span),
            "text": self.text,
            "sentence": self.sentence,
            "language": self.language,
            "rule": self.rule,
        }


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
class _Alternative:
    """One top-level alternative of a cue row, with the literals a match of it must contain.

    ``requires`` is a conjunction of literal sets: a sentence can hold a match only if, for every
    set, one of its literals occurs in it. Finding those literals is one Aho-Corasick pass over the
    folded text; the regex then runs only on the few sentences that qualify. That is what keeps
    long, laboratory-heavy WHO DON texts cheap (see benchmarks/cues.py for the figures).
    """

    row: _Row
    regex: re.Pattern[str]
    requires: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class _Compiled:
    alternatives: tuple[_Alternative, ...]
    excludes: dict[str, re.Pattern[str]]  # category ("*" = all) -> pattern
    vetoes: dict[str, re.Pattern[str]]
    negation: re.Pattern[str] | None
    negation_after: re.Pattern[str] | None
    triggers: ahocorasick.Automaton | None  # literal -> ((alternative index, requirement index), ...)
    ungated: tuple[int, ...]  # alternatives with no usable literal: searched everywhere


_SPACE = re.compile(r" ([?*+])?")


def _to_regex(pattern: str) -> str:
    """A space in a lexicon pattern stands for any run of whitespace (folded text keeps double spaces);
    an optional space (" ?", " *") for any run or none."""
    return _SPACE.sub(lambda m: r"\s*" if m.group(1) in ("?", "*") else r"\s+", pattern)


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
        row = _Row(
            number,
            record["category"].strip(),
            record["language"].strip(),
            record["kind"].strip(),
            record["pattern"],
            (record["note"] or "").strip(),
        )
        if row.kind not in KINDS:
            raise ConfigError(f"{path}:{number}: kind {row.kind!r} is not one of {', '.join(KINDS)}")
        if row.category not in CATEGORIES and row.category != ANY_LANGUAGE:
            raise ConfigError(
                f"{path}:{number}: unknown category {row.category!r}; use one of {', '.join(CATEGORIES)}"
            )
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


@lru_cache(maxsize=64)
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


_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}
#: Literals shorter than this are too common to narrow the search and are ignored.
MIN_TRIGGER = 3
#: At most this many literal sets gate an alternative: more would cost scanning time, not save it.
MAX_REQUIREMENTS = 2


def _split_alternatives(pattern: str) -> list[str]:
    """Split a pattern at its top-level ``|`` (outside groups and character classes)."""
    parts: list[str] = []
    current: list[str] = []
    depth, in_class, escaped = 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _minimal(literals: frozenset[str]) -> frozenset[str]:
    """Drop literals that contain another one: finding "lab" already covers "labs"."""
    return frozenset(x for x in literals if not any(y != x and y in x for y in literals))


def _best(items) -> frozenset[str] | None:
    """The most selective single literal set that every match of ``items`` contains."""
    found = [r for r in _conjunction(items)]
    if not found:
        return None
    return max(found, key=lambda r: (min(map(len, r)), -len(r)))


def _conjunction(items) -> list[frozenset[str]]:
    """Literal sets that every match contains, one set per mandatory part of the sequence."""
    required: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= MIN_TRIGGER:
            required.append(frozenset({"".join(run)}))
        run.clear()

    for op, av in items:
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is _sre.SUBPATTERN:
            required.extend(_conjunction(av[-1]))
        elif op is _sre.BRANCH:
            branches = [_best(b) for b in av[1]]
            known = [b for b in branches if b is not None]
            if len(known) == len(branches):
                required.append(frozenset[str]().union(*known))
        elif op in _REPEATS and av[0] >= 1:
            required.extend(_conjunction(av[2]))
    flush()
    return [_minimal(r) for r in required if min(map(len, r)) >= MIN_TRIGGER]


def _selective(sets: list[frozenset[str]]) -> tuple[frozenset[str], ...]:
    """The few most selective literal sets (longest shortest literal first, then fewest literals)."""
    ranked = sorted(set(sets), key=lambda r: (min(map(len, r)), -len(r), sorted(r)), reverse=True)
    chosen = ranked[:1] + [r for r in ranked[1:MAX_REQUIREMENTS] if min(map(len, r)) > 5]
    return tuple(chosen)


def trigger_literals(pattern: str) -> list[list[frozenset[str]]]:
    """Per top-level alternative of ``pattern``, the literal sets gating it (each must occur; for tests)."""
    return [
        list(_selective(_conjunction(_sre_parse.parse(_to_regex(p))))) for p in _split_alternatives(pattern)
    ]


def _union(rows: list[_Row]) -> re.Pattern[str] | None:
    if not rows:
        return None
    return re.compile("|".join(f"(?:{_to_regex(r.pattern)})" for r in rows))


@lru_cache(maxsize=16)
def _compiled(languages: tuple[str, ...] | None) -> _Compiled:
    rows = [r for r in load_lexicon()[1] if languages is None or r.language in languages]
    alternatives: list[_Alternative] = []
    index: dict[str, list[tuple[int, int]]] = {}
    ungated: list[int] = []
    for row in rows:
        if row.kind != "cue":
            continue
        for piece in _split_alternatives(row.pattern):
            regex = re.compile(_to_regex(piece))
            requires = _selective(_conjunction(_sre_parse.parse(_to_regex(piece))))
            number = len(alternatives)
            alternatives.append(_Alternative(row, regex, requires))
            if not requires:
                ungated.append(number)
            for position, literals in enumerate(requires):
                for literal in literals:
                    index.setdefault(literal, []).append((number, position))
    automaton = None
    if index:
        automaton = ahocorasick.Automaton()
        for literal, targets in index.items():
            automaton.add_word(literal, (len(literal), tuple(targets)))
        automaton.make_automaton()
    excludes = {
        c: p
        for c in (*CATEGORIES, ANY_LANGUAGE)
        if (p := _union([r for r in rows if r.kind == "exclude" and r.category == c]))
    }
    vetoes = {
        c: p
        for c in (*CATEGORIES, ANY_LANGUAGE)
        if (p := _union([r for r in rows if r.kind == "veto" and r.category == c]))
    }
    return _Compiled(
        tuple(alternatives),
        excludes,
        vetoes,
        _union([r for r in rows if r.kind == "negation"]),
        _union([r for r in rows if r.kind == "negation_after"]),
        automaton,
        tuple(ungated),
    )


@lru_cache(maxsize=1)
def _ascii_table() -> dict[int, str]:
    """``fold`` restricted to ASCII, as a table ``str.translate`` can run at C speed."""
    return {c: fold(chr(c)) for c in range(128) if fold(chr(c)) != chr(c).lower()}


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return fold(ch)


def fold_for_cues(text: str) -> str:
    """``folding.fold(text)``, faster on mostly-ASCII text (most reports): same result, same length.

    ``fold`` maps every character on its own, so the few non-ASCII characters (accents, curly
    quotes, dashes) are folded one by one and the ASCII rest goes through a table ``str.translate``
    runs at C speed. Text that does not fold to ASCII (Greek, CJK) takes the general path.
    """
    if not text.isascii():
        text_ascii = _NON_ASCII.sub(lambda m: _fold_char(m.group()), text)
        if not text_ascii.isascii():
            return fold(text)
        text = text_ascii
    return text.translate(_ascii_table()).lower()


_BOUNDARY_CHARS = re.compile("[.!?\u3002\n]")
_CLOSERS = "\"')]\u00bb\u201d"


def _sentence_bounds(text: str) -> list[int]:
    """Start offsets of sentences (always begins with 0).

    A sentence ends after [.!?] (and any closing quotes or brackets) followed by whitespace, at a
    blank line, or before a bulleted line. Written as a scan over candidate characters rather than
    one regex because this runs on every report and the regex form was the slowest step.
    """
    starts = [0]
    n = len(text)
    for m in _BOUNDARY_CHARS.finditer(text):
        i = m.end()
        if m.group() == "\n":
            j = i
            while j < n and text[j] in " \t\r":
                j += 1
            if j < n and (text[j] == "\n" or text[j] in "-*\u2022"):
                while j < n and text[j].isspace():
                    j += 1
                if j > starts[-1] and j < n:
                    starts.append(j if text[j - 1].isspace() else i)
            continue
        while i < n and text[i] in _CLOSERS:
            i += 1
        if i < n and text[i].isspace():
            while i < n and text[i].isspace():
                i += 1
            if i > starts[-1] and i < n:
                starts.append(i)
    return starts


def _sentence_at(text: str, starts: list[int], position: int) -> tuple[int, int]:
    i = bisect.bisect_right(starts, position) - 1
    end = starts[i + 1] if i + 1 < len(starts) else len(text)
    return starts[i], end


def _negated(folded: str, start: int, end: int, compiled: _Compiled) -> bool:
    """A negation word in the same clause just before the cue, or a retraction just after it."""
    if compiled.negation is not None:
        window = folded[max(0, start - NEGATION_WINDOW) : start]
        breaks = list(_CLAUSE_BREAK.finditer(window))
        if breaks:
            window = window[breaks[-1].end() :]
        if compiled.negation.search(window):
            return True
    if compiled.negation_after is not None:
        window = folded[end : end + NEGATION_WINDOW]
        cut = _CLAUSE_BREAK.search(window)
        if cut:
            window = window[: cut.start()]
        return compiled.negation_after.search(window) is not None
    return False


def _spans(pattern: re.Pattern[str] | None, folded: str) -> list[tuple[int, int]]:
    return [] if pattern is None else [m.span() for m in pattern.finditer(folded)]


def _candidates(folded: str, starts: list[int], compiled: _Compiled) -> list[tuple[int, int, int]]:
    """(alternative, start, end) windows to search: sentences holding all of an alternative's literals."""
    windows = [(a, 0, len(folded)) for a in compiled.ungated]
    if compiled.triggers is None:
        return windows
    hits: set[tuple[int, int, tuple[tuple[int, int], ...]]] = set()
    for end, (length, targets) in compiled.triggers.iter(folded):
        hits.add((bisect.bisect_right(starts, end + 1 - length) - 1, id(targets), targets))
    seen: dict[tuple[int, int], set[int]] = {}  # (alternative, sentence) -> requirement indexes found
    for sentence, _, targets in hits:
        for alternative, position in targets:
            seen.setdefault((alternative, sentence), set()).add(position)
    for (alternative, sentence), found in seen.items():
        if len(found) == len(compiled.alternatives[alternative].requires):
            end = starts[sentence + 1] if sentence + 1 < len(starts) else len(folded)
            windows.append((alternative, starts[sentence], end))
    return windows


def _field_cues(name: str, original: str, compiled: _Compiled) -> list[Cue]:
    if not original:
        return []
    folded = fold_for_cues(original)
    starts = _sentence_bounds(original)
    matches: dict[str, list[tuple[int, int, _Row]]] = {}
    for alternative, lo, hi in _candidates(folded, starts, compiled):
        alt = compiled.alternatives[alternative]
        for m in alt.regex.finditer(folded, lo, hi):
            if m.end() > m.start():
                matches.setdefault(alt.row.category, []).append((m.start(), m.end(), alt.row))
    found: list[Cue] = []
    for category, spans in matches.items():
        excluded = _spans(compiled.excludes.get(category), folded) + _spans(
            compiled.excludes.get(ANY_LANGUAGE), folded
        )
        vetoes = [
            p for p in (compiled.vetoes.get(category), compiled.vetoes.get(ANY_LANGUAGE)) if p is not None
        ]
        kept_end = -1
        for start, end, row in sorted(spans, key=lambda x: (x[0], -x[1], x[2].line)):
            if start < kept_end:  # overlaps a cue of this category already kept (leftmost-longest wins)
                continue
            if any(s < end and start < e for s, e in excluded):
                continue
            s_start, s_end = _sentence_at(original, starts, start)
            if any(v.search(folded, s_start, s_end) for v in vetoes):
                continue
            if category not in UNNEGATED and _negated(folded, start, end, compiled):
                continue
            kept_end = end
            found.append(
                Cue(
                    category,
                    name,
                    (start, end),
                    original[start:end],
                    original[s_start:s_end].strip(),
                    row.language,
                    row.rule,
                )
            )
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
