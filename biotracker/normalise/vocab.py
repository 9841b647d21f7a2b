"""Loading of the versioned vocabulary files in ``vocab/`` (diseases, hosts, place aliases).

The files are data, not code, so curators can review and extend them without touching the
matcher; see ``vocab/SOURCES.md`` for version and citations. Everything is loaded once per
process on first use (``load_vocabulary``), never at import time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from biotracker.errors import ConfigError

VOCAB_DIR = Path(__file__).with_name("vocab")
LANGUAGES = ("en", "fr", "es", "pt")


@dataclass(frozen=True)
class Concept:
    """A disease, syndrome or intoxication with its agent and all the names reports use for it."""

    key: str
    kind: str  # "disease" | "syndrome"
    parent: str | None
    name: str
    disease_id: str | None
    agent_id: str | None
    agent_name: str | None
    terms: dict[str, tuple[str, ...]]  # language -> synonyms
    note: str = ""

    def all_terms(self) -> list[str]:
        return [t for lang in LANGUAGES for t in self.terms.get(lang, ())]


@dataclass(frozen=True)
class InferredPlace:
    """Countries a report about ``concept`` (in ``region``, in the period) implies without naming."""

    concept: str
    region: str | None
    valid_from: date | None
    valid_to: date | None
    countries: tuple[str, ...]
    basis: str

    def applies(self, published: date | None) -> bool:
        if published is None:
            return self.valid_to is None
        return (self.valid_from is None or published >= self.valid_from) and (
            self.valid_to is None or published <= self.valid_to
        )


@dataclass(frozen=True)
class Vocabulary:
    concepts: dict[str, Concept]
    hosts: dict[str, tuple[str, ...]]  # host class -> terms
    country_aliases: tuple[tuple[str, str], ...]  # (alias, ISO3)
    admin_areas: tuple[tuple[str, str], ...]  # (name, ISO3)
    regions: tuple[str, ...] = ()  # supranational regions ("West Africa"): places with no country
    territories: tuple[tuple[str, str], ...] = ()  # (territory ISO3, sovereign ISO3)
    inferred_places: tuple[InferredPlace, ...] = ()

    def ancestors(self, key: str) -> list[str]:
        """Keys from ``key``'s parent up to the root (used to roll specific finds up)."""
        out: list[str] = []
        seen = {key}
        parent = self.concepts[key].parent
        while parent and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.concepts[parent].parent if parent in self.concepts else None
        return out


def _read_csv(name: str) -> list[dict[str, str]]:
    path = VOCAB_DIR / name
    if not path.exists():
        raise ConfigError(f"vocabulary file {path} is missing: reinstall biotracker or restore it from git")
    with path.open(encoding="utf-8", newline="") as fh:
        return [row for row in csv.DictReader(line for line in fh if not line.startswith("#"))]


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (cell or "").split("|") if t.strip())


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """Read every vocabulary file once and check its internal references."""
    concepts: dict[str, Concept] = {}
    for row in _read_csv("diseases.csv"):
        key = row["key"]
        if key in concepts:
            raise ConfigError(f"diseases.csv: duplicate key {key!r}; keys must be unique")
        if row["kind"] not in ("disease", "syndrome"):
            raise ConfigError(f"diseases.csv: {key!r} has kind {row['kind']!r}; use 'disease' or 'syndrome'")
        concepts[key] = Concept(
            key=key,
            kind=row["kind"],
            parent=row["parent"] or None,
            name=row["name"],
            disease_id=row["disease_id"] or None,
            agent_id=row["agent_id"] or None,
            agent_name=row["agent_name"] or None,
            terms={lang: _split(row.get(lang)) for lang in LANGUAGES},
            note=row.get("note") or "",
        )
    for c in concepts.values():
        if c.parent and c.parent not in concepts:
            raise ConfigError(f"diseases.csv: {c.key!r} names unknown parent {c.parent!r}")
    hosts = {row["host"]: _split(row["terms"]) for row in _read_csv("hosts.csv")}
    aliases = tuple((r["alias"], r["iso3"]) for r in _read_csv("country_aliases.csv"))
    admin = tuple((r["name"], r["iso3"]) for r in _read_csv("admin_areas.csv"))
    regions = tuple(r["name"] for r in _read_csv("regions.csv"))
    territories = tuple((r["territory"], r["sovereign"]) for r in _read_csv("territories.csv"))
    inferred = tuple(
        InferredPlace(
            concept=r["concept"],
            region=r["region"] or None,
            valid_from=date.fromisoformat(r["valid_from"]) if r["valid_from"] else None,
            valid_to=date.fromisoformat(r["valid_to"]) if r["valid_to"] else None,
            countries=_split(r["countries"]),
            basis=r["basis"],
        )
        for r in _read_csv("inferred_places.csv")
    )
    for ip in inferred:
        if ip.concept not in concepts:
            raise ConfigError(f"inferred_places.csv names unknown concept {ip.concept!r}")
    return Vocabulary(
        concepts=concepts,
        hosts=hosts,
        country_aliases=aliases,
        admin_areas=admin,
        regions=regions,
        territories=territories,
        inferred_places=inferred,
    )
