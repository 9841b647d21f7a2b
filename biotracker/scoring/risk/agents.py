"""The agents table of the law-enforcement lens: which lists each agent or toxin is on, and on whose authority.

An analyst's first questions about an incident are regulatory ones: is the agent a US select agent
(and Tier 1)? a CDC bioterrorism category? export-controlled by the Australia Group? WOAH-listed?
a WHO R&D Blueprint priority? always notifiable under the IHR? Answers that are not traceable are
useless in an investigation, so every flag carries the key of its source in ``citations.csv``
(title, issuer, list version/date, URL). A blank cell in ``agents.csv`` means *not determined*
(shown as ``null``), never "no": see ``docs/RISK_LENS.md`` for what could not be verified.

Rows are keyed by ``key`` (stable, local) and carry ``agent_id`` in the project-wide extraction
vocabulary (``NCBITaxon:<int>`` for organisms, ``toxin:<name>`` for toxins, blank where no
identifier could be confirmed).
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable
from enum import Enum
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from biotracker.errors import BiotrackerError, ConfigError

DATA_PACKAGE = "biotracker.scoring.risk.data"

#: Flag columns of agents.csv and the column that holds each one's citation key(s).
FLAG_SOURCES: dict[str, str] = {
    "select_agent": "select_agent_source",
    "tier1": "select_agent_source",
    "cdc_category": "cdc_source",
    "australia_group": "australia_group_source",
    "woah_listed": "woah_source",
    "who_priority": "who_source",
    "ihr_always_notifiable": "ihr_source",
}

_ID_CHECKS = frozenset({"brief", "cross-checked", "recalled"})
_ID_PATTERN = re.compile(r"^(NCBITaxon:[1-9][0-9]*|toxin:[a-z0-9_]+)$")


class RiskDataError(ConfigError):
    """A bundled risk-lens data file is malformed: fix the file named in the message (it ships with the code)."""


class UnknownAgentError(BiotrackerError, LookupError):
    """No agent or toxin in the table answers to the name; the message lists the closest names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = (
            f" Did you mean: {', '.join(repr(s) for s in suggestions)}?"
            if suggestions
            else " Run `biotracker agents list` to see every known name."
        )
        super().__init__(f"Unknown agent {name!r}.{hint}")
        self.name = name
        self.suggestions = suggestions


class SelectAgentCategory(str, Enum):
    """Which part of the US Federal Select Agent Program regulates the agent."""

    HHS = "HHS"  # 42 CFR 73.3
    OVERLAP = "OVERLAP"  # 42 CFR 73.4 and 9 CFR 121.4
    USDA = "USDA"  # 9 CFR 121.3 (Veterinary Services)
    PPQ = "PPQ"  # 7 CFR 331.3 (Plant Protection and Quarantine)


class CdcCategory(str, Enum):
    """CDC bioterrorism agent category (Rotz et al. 2002)."""

    A = "A"
    B = "B"
    C = "C"


class Citation(BaseModel):
    """One source list or paper: enough for an analyst to find the exact version we encoded."""

    model_config = ConfigDict(frozen=True)

    key: str
    title: str
    issuer: str
    version: str
    url: str
    note: str = ""


class FlagSource(BaseModel):
    """Where one flag of one agent comes from: citation keys and their list versions."""

    model_config = ConfigDict(frozen=True)

    citations: tuple[str, ...]
    versions: tuple[str, ...]


class Agent(BaseModel):
    """One row of agents.csv. ``None`` on a flag means the membership was not determined."""

    model_config = ConfigDict(frozen=True)

    key: str
    agent_id: str | None
    #: How the NCBITaxon id was checked: "brief" (agreed project-wide), "cross-checked" (matched a
    #: public NCBITaxon-mapped pathogen list), "recalled" (from knowledge, not cross-checked yet).
    agent_id_check: str | None = None
    name: str
    kind: str
    producer_taxon: str | None = None
    synonyms: tuple[str, ...] = ()
    select_agent: SelectAgentCategory | None
    tier1: bool | None
    cdc_category: CdcCategory | None
    australia_group: bool | None
    woah_listed: bool | None
    who_priority: bool | None
    ihr_always_notifiable: bool | None
    eradicated: bool = False
    notes: str = ""
    sources: dict[str, FlagSource] = Field(default_factory=dict)
    citations: tuple[Citation, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every name the agent answers to: its name, synonyms, key and identifier."""
        extra = (self.key, self.agent_id) if self.agent_id else (self.key,)
        return (self.name, *self.synonyms, *extra)

    def to_json_dict(self) -> dict[str, Any]:
        """The shape printed by ``biotracker agents show --json`` (enums as plain strings)."""
        return self.model_dump(mode="json")


def normalise_name(name: str) -> str:
    """Fold case, punctuation and spacing so that 'Foot-and-mouth disease virus' == 'foot and mouth disease virus'."""
    folded = name.casefold().replace("á", "a").replace("í", "i")
    return " ".join(re.sub(r"[^0-9a-z:]+", " ", folded).split())


def _read_csv(filename: str) -> list[dict[str, str]]:
    try:
        text = resources.files(DATA_PACKAGE).joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # pragma: no cover - packaging error
        raise RiskDataError(f"{filename} is missing from {DATA_PACKAGE}; reinstall the package") from exc
    return list(csv.DictReader(text.splitlines()))


def _parse_bool(value: str, where: str) -> bool | None:
    value = value.strip().lower()
    if value == "":
        return None
    if value in ("true", "false"):
        return value == "true"
    raise RiskDataError(f"{where}: expected true, false or blank, got {value!r}")


@lru_cache(maxsize=1)
def load_citations() -> dict[str, Citation]:
    """All sources of the risk lens, by key (citations.csv)."""
    rows = _read_csv("citations.csv")
    out: dict[str, Citation] = {}
    for row in rows:
        citation = Citation(**{k: (v or "") for k, v in row.items()})
        if citation.key in out:
            raise RiskDataError(f"citations.csv: duplicate key {citation.key!r}")
        out[citation.key] = citation
    return out


@lru_cache(maxsize=1)
def load_eradicated() -> dict[str, dict[str, str]]:
    """Agents eradicated worldwide (eradicated_agents.csv), by agents.csv key: any case is unnatural."""
    citations = load_citations()
    rows = _read_csv("eradicated_agents.csv")
    for row in rows:
        if row["citation"] not in citations:
            raise RiskDataError(f"eradicated_agents.csv: unknown citation {row['citation']!r}")
    return {row["key"]: row for row in rows}


def _build_agent(
    row: dict[str, str], line: int, citations: dict[str, Citation], eradicated: set[str]
) -> Agent:
    where = f"agents.csv line {line} ({row.get('key')!r})"
    agent_id = row["agent_id"].strip() or None
    if agent_id and not _ID_PATTERN.match(agent_id):
        raise RiskDataError(f"{where}: agent_id {agent_id!r} is neither NCBITaxon:<int> nor toxin:<name>")
    check = row["agent_id_check"].strip()
    if agent_id and agent_id.startswith("NCBITaxon:") and check not in _ID_CHECKS:
        raise RiskDataError(f"{where}: agent_id_check must be one of {sorted(_ID_CHECKS)}, got {check!r}")
    sources: dict[str, FlagSource] = {}
    used: list[str] = []
    for flag, column in FLAG_SOURCES.items():
        keys = tuple(k.strip() for k in row[column].split(";") if k.strip())
        if not keys:
            raise RiskDataError(f"{where}: {column} is empty; every flag needs a citation key")
        for key in keys:
            if key not in citations:
                raise RiskDataError(
                    f"{where}: {column} names unknown citation {key!r}; add it to citations.csv"
                )
        sources[flag] = FlagSource(citations=keys, versions=tuple(citations[k].version for k in keys))
        used.extend(k for k in keys if k not in used)
    select = row["select_agent"].strip()
    cdc = row["cdc_category"].strip()
    try:
        return Agent(
            key=row["key"],
            agent_id=agent_id,
            agent_id_check=row["agent_id_check"].strip() or None,
            name=row["name"],
            kind=row["kind"],
            producer_taxon=row["producer_taxon"].strip() or None,
            synonyms=tuple(s.strip() for s in row["synonyms"].split("|") if s.strip()),
            select_agent=SelectAgentCategory(select) if select else None,
            tier1=_parse_bool(row["tier1"], where),
            cdc_category=CdcCategory(cdc) if cdc else None,
            australia_group=_parse_bool(row["australia_group"], where),
            woah_listed=_parse_bool(row["woah_listed"], where),
            who_priority=_parse_bool(row["who_priority"], where),
            ihr_always_notifiable=_parse_bool(row["ihr_always_notifiable"], where),
            eradicated=row["key"] in eradicated,
            notes=row["notes"],
            sources=sources,
            citations=tuple(citations[k] for k in used),
        )
    except ValueError as exc:
        raise RiskDataError(f"{where}: {exc}") from exc


class AgentTable:
    """All agents, looked up by any of their names, case- and punctuation-insensitively."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self.agents: tuple[Agent, ...] = tuple(agents)
        self._by_name: dict[str, Agent] = {}
        for agent in self.agents:
            for name in agent.names():
                norm = normalise_name(name)
                other = self._by_name.get(norm)
                if other is not None and other.key != agent.key:
                    raise RiskDataError(
                        f"agents.csv: the name {name!r} belongs to both {other.key!r} and {agent.key!r};"
                        " names must be unique so that a lookup has one answer"
                    )
                self._by_name[norm] = agent

    def __iter__(self):
        return iter(self.agents)

    def __len__(self) -> int:
        return len(self.agents)

    def get(self, name: str) -> Agent | None:
        """The agent answering to ``name`` (name, synonym, key or agent_id), or None."""
        return self._by_name.get(normalise_name(name))

    def lookup(self, name: str) -> Agent:
        """Like :meth:`get` but raises :class:`UnknownAgentError` with the closest names."""
        agent = self.get(name)
        if agent is None:
            raise UnknownAgentError(name, self.suggest(name))
        return agent

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Closest known names, so a typo ('antrax') leads somewhere useful."""
        display = {normalise_name(n): n for a in self.agents for n in (a.name, *a.synonyms)}
        close = difflib.get_close_matches(normalise_name(name), list(display), n=limit, cutoff=0.6)
        return [display[c] for c in close]

    def by_agent_id(self, agent_id: str) -> Agent | None:
        """The row for an extraction-vocabulary identifier (NCBITaxon:… or toxin:…)."""
        for agent in self.agents:
            if agent.agent_id == agent_id:
                return agent
        return None


@lru_cache(maxsize=1)
def load_agents() -> AgentTable:
    """The bundled agents table (agents.csv joined with citations.csv and eradicated_agents.csv)."""
    citations = load_citations()
    eradicated = set(load_eradicated())
    rows = _read_csv("agents.csv")
    keys: set[str] = set()
    ids: set[str] = set()
    agents = []
    for line, row in enumerate(rows, start=2):
        agent = _build_agent(row, line, citations, eradicated)
        if agent.key in keys:
            raise RiskDataError(f"agents.csv line {line}: duplicate key {agent.key!r}")
        if agent.agent_id and agent.agent_id in ids:
            raise RiskDataError(f"agents.csv line {line}: duplicate agent_id {agent.agent_id!r}")
        keys.add(agent.key)
        if agent.agent_id:
            ids.add(agent.agent_id)
        agents.append(agent)
    unknown = set(load_eradicated()) - keys
    if unknown:
        raise RiskDataError(f"eradicated_agents.csv names keys missing from agents.csv: {sorted(unknown)}")
    return AgentTable(agents)


def get_agent(name: str) -> Agent:
    """The one agent answering to ``name``; raises :class:`UnknownAgentError` (with suggestions) otherwise."""
    return load_agents().lookup(name)
