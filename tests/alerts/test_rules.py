"""Tier rules are data: the first rule that holds sets the tier; bad rule files fail with a clear message."""

import pytest

from biotracker.alerts.rules import load_rules
from biotracker.errors import ConfigError
from biotracker.schema import AlertTier

BASE = {"alarm": False, "novel": False, "signal": False, "select_agent": False, "tier1": False, "cdc_a": False,
        "eradicated": False, "australia_group": False, "law_enforcement": False, "unusual": 0, "intent_cues": 0,
        "lab_cues": 0, "cues": 0, "indicators": 0, "corroboration": 1, "reliability": 0.9, "reports": 1,
        "human": False, "who_priority": False, "ihr_notifiable": False, "no_history": False, "reemergence": False}


def decide(**facts):
    book = load_rules()
    facts = BASE | facts
    facts["signal"] = facts["alarm"] or facts["novel"]
    assert book.triggered(facts), f"no trigger for {facts}"
    rule, holding = book.decide(facts)
    return rule, [r.name for r in holding]


def test_a_tier1_agent_new_to_a_country_is_critical_in_people_and_medium_in_animals():
    rule, holding = decide(novel=True, select_agent=True, tier1=True, human=True)
    assert (rule.tier, rule.name) == (AlertTier.CRITICAL, "tier1-agent-unusual-in-people")
    assert "select-agent-signal-in-people" in holding and "first-occurrence-in-people" in holding
    rule, _ = decide(novel=True, select_agent=True, tier1=True)  # anthrax in cattle
    assert (rule.tier, rule.name) == (AlertTier.MEDIUM, "select-agent-signal")


def test_a_disease_new_in_people_is_high_only_with_a_priority_agent_or_something_else_unusual():
    assert decide(novel=True, human=True)[0].tier is AlertTier.MEDIUM
    assert decide(novel=True, human=True, who_priority=True)[0].name == "priority-agent-new-in-people"
    assert decide(novel=True, human=True, unusual=1)[0].name == "new-in-people-and-unusual"
    assert decide(novel=True)[0].tier is AlertTier.LOW  # new in animals or plants


def test_no_history_and_reemergence_raise_only_low_or_medium_alerts():
    assert decide(no_history=True, human=True, who_priority=True)[0].tier is AlertTier.LOW
    assert decide(reemergence=True, human=True)[0].name == "reemergence-in-people"
    assert decide(reemergence=True)[0].tier is AlertTier.LOW


def test_eradicated_agent_and_controlled_agent_with_intent_are_critical():
    assert decide(eradicated=True)[0].tier is AlertTier.CRITICAL
    assert decide(select_agent=True, intent_cues=1)[0].name == "controlled-agent-with-intent-cue"


def test_law_enforcement_intake_is_high_even_without_a_disease_signal():
    rule, _ = decide(law_enforcement=True)
    assert (rule.tier, rule.name) == (AlertTier.HIGH, "law-enforcement-intake")


def test_a_plain_statistical_alarm_is_medium_and_nothing_without_a_trigger():
    assert decide(alarm=True)[0].tier is AlertTier.MEDIUM
    book = load_rules()
    assert not book.triggered(BASE | {"select_agent": True, "unusual": 1})


def test_thresholds_on_counted_facts():
    assert decide(indicators=10)[0].name == "indicators-highly-probable"
    assert decide(indicators=5)[0].name == "indicators-probable"
    assert decide(unusual=2)[0].name == "several-unusual-flags"


def test_bad_rule_files_say_what_is_wrong(tmp_path):
    bad = tmp_path / "tiers.toml"
    bad.write_text('[[rule]]\nname = "x"\ntier = "urgent"\nwhen = []\n')
    with pytest.raises(ConfigError, match="tier must be one of"):
        load_rules.__wrapped__(bad)
    bad.write_text('[[rule]]\nname = "x"\ntier = "low"\nwhen = ["moon_phase>=3"]\n')
    with pytest.raises(ConfigError, match="moon_phase"):
        load_rules.__wrapped__(bad)


def test_suppression_globs(tmp_path):
    path = tmp_path / "tiers.toml"
    path.write_text('[[rule]]\nname = "any"\ntier = "low"\nwhen = []\n'
                    '[[suppress]]\nseries = "Avian influenza|*|wild birds"\nreason = "seasonal"\n')
    book = load_rules.__wrapped__(path)
    assert book.suppressed("Avian influenza|DEU|wild birds") == "seasonal"
    assert book.suppressed("Avian influenza|DEU|poultry") is None
