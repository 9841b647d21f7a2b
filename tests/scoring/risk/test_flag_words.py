"""One agent-flag renderer: every output says an agent's flags in the same words.

Reproduces issue 13 §2 ("agent flags rendered into words three times"): the digest said "select
agent (OVERLAP), Tier 1", the alert reasons (and so CAP, STIX, JSON, email) "US select agent
(OVERLAP, Tier 1)" and the risk indicators "US select agent (OVERLAP), Tier 1".
"""

from __future__ import annotations

import re
from pathlib import Path

from biotracker.alerts.derive import _agent_reason
from biotracker.outputs.digest import agent_flags
from biotracker.scoring.lens import agent_flags as lens_flags
from biotracker.scoring.risk.agents import load_agents
from biotracker.scoring.risk.flag_words import TIER_RULE_FLAGS, AgentFlag, agent_flag_words
from biotracker.scoring.risk.indicators import _agent_context

PACKAGE = Path(__file__).resolve().parents[3] / "biotracker"


def test_the_words_for_a_select_agent_and_an_eradicated_one():
    agents = load_agents()
    anthrax = agents.get("anthrax")
    assert agent_flag_words(anthrax)[:2] == ["US select agent (OVERLAP), Tier 1", "CDC bioterrorism category A"]
    smallpox = agents.get("smallpox")
    assert "eradicated worldwide" in agent_flag_words(smallpox)
    assert agent_flag_words(None) == [] and agent_flag_words({}) == []


def test_every_output_uses_the_same_words():
    for agent in load_agents():
        words = agent_flag_words(agent)
        stored = lens_flags(agent)  # what incident_assessments.agent_flags holds
        assert agent_flag_words(stored) == words, agent.name
        reason = _agent_reason(agent.name, stored)
        rule_words = agent_flag_words(agent, include=TIER_RULE_FLAGS)
        assert reason == (f"agent {agent.name}: " + "; ".join(rule_words) if rule_words else None)
        assert set(_agent_context(agent)) <= set(words)
    digest = agent_flags("anthrax")
    assert digest and all(line.split(": ", 1)[1] in agent_flag_words(load_agents().get("anthrax")) for line in digest)


def test_no_module_renders_flags_itself():
    pattern = re.compile(r"select agent \(\{|bioterrorism category \{|\"Australia Group export")
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*")
        if p.suffix in (".py", ".j2") and p.name != "flag_words.py" and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_flag_names_are_defined_once_and_match_the_stored_keys():
    assert {f.value for f in AgentFlag} <= set(lens_flags(load_agents().get("anthrax")))
