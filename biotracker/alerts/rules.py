"""Tier rules as data (``tiers.toml``): facts about a series-week in, tier and reasons out."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from biotracker.errors import ConfigError
from biotracker.incidents.series import split_series_key
from biotracker.schema import AlertTier
from biotracker.scoring.unusual import Flag, concerns_humans

RULES_FILE = Path(__file__).with_name("tiers.toml")
_CONDITION = re.compile(r"^(?P<fact>[a-z_0-9]+)(?:>=(?P<n>\d+(?:\.\d+)?))?$")
FACTS = {
    "alarm",
    "novel",
    "signal",
    "select_agent",
    "tier1",
    "cdc_a",
    "eradicated",
    "australia_group",
    "law_enforcement",
    "unusual",
    "intent_cues",
    "lab_cues",
    "cues",
    "indicators",
    "corroboration",
    "reliability",
    "reports",
    "human",
    "who_priority",
    "ihr_notifiable",
} | {flag.value for flag in Flag}


def context_facts(
    series_key: str, assessments: Iterable[dict[str, Any]], hosts: dict[str, Counter]
) -> dict[str, bool]:
    """Facts about who and what a series-week concerns: whether it is about people
    (``concerns_humans``), whether the agent is a WHO R&D Blueprint priority or one of the IHR
    Annex 2 diseases always notifiable, and each unusualness flag by name (``Flag``) as a boolean,
    so a rule can name one (``no_history``, ``reemergence``, ``non_endemic`` ...)."""
    disease, _country, host = split_series_key(series_key)
    rows = list(assessments)
    agents = [r.get("agent_flags") or {} for r in rows]
    named = {f["flag"] for r in rows for f in r.get("unusual") or []}
    return {
        "human": concerns_humans(disease, host, hosts),
        "who_priority": any(f.get("who_priority") for f in agents),
        "ihr_notifiable": any(f.get("ihr_always_notifiable") for f in agents),
    } | {flag.value: flag.value in named for flag in Flag}


@dataclass(frozen=True)
class Condition:
    fact: str
    minimum: float | None

    def holds(self, facts: dict[str, Any]) -> bool:
        value = facts.get(self.fact) or 0
        return value >= self.minimum if self.minimum is not None else bool(value)

    def __str__(self) -> str:
        return self.fact if self.minimum is None else f"{self.fact}>={self.minimum:g}"


@dataclass(frozen=True)
class Rule:
    name: str
    tier: AlertTier
    when: tuple[Condition, ...]
    text: str

    def holds(self, facts: dict[str, Any]) -> bool:
        return all(c.holds(facts) for c in self.when)


@dataclass(frozen=True)
class RuleBook:
    rules: tuple[Rule, ...]
    triggers: tuple[Condition, ...]
    cooldown_weeks: int
    suppress: tuple[tuple[str, str], ...]

    def triggered(self, facts: dict[str, Any]) -> bool:
        return any(c.holds(facts) for c in self.triggers)

    def suppressed(self, series_key: str) -> str | None:
        return next(
            (reason for pattern, reason in self.suppress if fnmatch.fnmatchcase(series_key, pattern)), None
        )

    def decide(self, facts: dict[str, Any]) -> tuple[Rule, list[Rule]]:
        """(the rule that sets the tier, every rule that holds), in file order."""
        holding = [r for r in self.rules if r.holds(facts)]
        if not holding:
            raise ConfigError(
                f"no tier rule holds for {facts}; end {RULES_FILE} with a rule whose `when` is empty"
            )
        return holding[0], holding


def _condition(text: str, where: str) -> Condition:
    match = _CONDITION.match(text.strip())
    if not match or match["fact"] not in FACTS:
        raise ConfigError(
            f"{where}: condition {text!r} is not 'fact' or 'fact>=N' with a fact among {sorted(FACTS)}"
        )
    return Condition(match["fact"], float(match["n"]) if match["n"] else None)


@cache
def load_rules(path: Path = RULES_FILE) -> RuleBook:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the tier rules {path}: {exc}") from exc
    rules = []
    for i, entry in enumerate(doc.get("rule", []), start=1):
        where = f"{path.name} rule {i} ({entry.get('name')})"
        try:
            tier = AlertTier(entry["tier"])
        except (KeyError, ValueError):
            raise ConfigError(f"{where}: tier must be one of {[t.value for t in AlertTier]}") from None
        rules.append(
            Rule(
                entry["name"],
                tier,
                tuple(_condition(c, where) for c in entry.get("when", [])),
                entry.get("text", entry["name"]),
            )
        )
    return RuleBook(
        rules=tuple(rules),
        triggers=tuple(_condition(c, f"{path.name} triggers") for c in doc.get("triggers", [])),
        cooldown_weeks=int(doc.get("cooldown_weeks", 4)),
        suppress=tuple((s["series"], s.get("reason", "")) for s in doc.get("suppress", [])),
    )
