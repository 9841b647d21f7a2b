"""The agents table: known list memberships, names, identifiers and provenance of every flag."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from biotracker.errors import BiotrackerError, ConfigError
from biotracker.scoring.risk.agents import (
    DATA_PACKAGE,
    FLAG_SOURCES,
    AgentTable,
    CdcCategory,
    RiskDataError,
    SelectAgentCategory,
    UnknownAgentError,
    _build_agent,
    get_agent,
    load_agents,
    load_citations,
    load_eradicated,
    normalise_name,
)


def _rows() -> list[dict[str, str]]:
    text = resources.files(DATA_PACKAGE).joinpath("agents.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


# --- memberships the issue names -------------------------------------------------------------


def test_bacillus_anthracis_is_overlap_tier1_cdc_a_and_australia_group():
    agent = get_agent("Bacillus anthracis")
    assert agent.agent_id == "NCBITaxon:1392"
    assert agent.select_agent is SelectAgentCategory.OVERLAP
    assert agent.tier1 is True
    assert agent.cdc_category is CdcCategory.A
    assert agent.australia_group is True


def test_ricin_is_an_hhs_toxin_in_cdc_category_b_with_its_producer_apart():
    agent = get_agent("ricin")
    assert agent.kind == "toxin"
    assert agent.agent_id == "toxin:ricin"
    assert agent.producer_taxon == "NCBITaxon:3988"
    assert agent.select_agent is SelectAgentCategory.HHS
    assert agent.tier1 is False
    assert agent.cdc_category is CdcCategory.B


def test_foot_and_mouth_disease_virus_is_usda_and_woah_listed():
    agent = get_agent("foot-and-mouth disease virus")
    assert agent.agent_id == "NCBITaxon:12110"
    assert agent.select_agent is SelectAgentCategory.USDA
    assert agent.woah_listed is True
    assert agent.tier1 is True


def test_variola_is_tier1_cdc_a_eradicated_and_always_notifiable():
    agent = get_agent("variola")
    assert agent.agent_id == "NCBITaxon:10255"
    assert agent.tier1 is True
    assert agent.cdc_category is CdcCategory.A
    assert agent.eradicated is True
    assert agent.ihr_always_notifiable is True


def test_brucella_left_the_select_agent_list_in_2025_but_stays_cdc_b_and_australia_group():
    agent = get_agent("Brucella abortus")
    assert agent.select_agent is None
    assert agent.cdc_category is CdcCategory.B
    assert agent.australia_group is True
    assert "2024" in agent.notes


def test_tier1_is_exactly_the_published_tier1_set():
    """42 CFR 73.3(f)/73.4(f), 9 CFR 121.3(f)/121.4(f): 14 Tier 1 entries, here 13 rows (variola major and
    minor share one row, BoNT and its producers are two rows)."""
    tier1 = {a.key for a in load_agents() if a.tier1}
    assert tier1 == {
        "bacillus_anthracis", "bacillus_cereus_biovar_anthracis", "yersinia_pestis", "francisella_tularensis",
        "burkholderia_mallei", "burkholderia_pseudomallei", "clostridium_botulinum", "toxin_botulinum_neurotoxin",
        "ebolavirus", "marburg_virus", "variola_virus", "foot_and_mouth_disease_virus", "rinderpest_virus",
    }


def test_only_select_agents_can_be_tier1():
    for agent in load_agents():
        if agent.tier1:
            assert agent.select_agent is not None, agent.key


def test_cdc_category_a_is_the_rotz_2002_list():
    category_a = {a.key for a in load_agents() if a.cdc_category is CdcCategory.A}
    assert {"bacillus_anthracis", "yersinia_pestis", "francisella_tularensis", "variola_virus",
            "toxin_botulinum_neurotoxin", "ebolavirus", "marburg_virus", "lassa_virus", "machupo_virus"} <= category_a
    assert "ricin" not in category_a and "toxin_ricin" not in category_a


def test_ihr_always_notifiable_rows_are_the_four_annex2_diseases():
    keys = {a.key for a in load_agents() if a.ihr_always_notifiable}
    assert keys == {"variola_virus", "wild_poliovirus", "human_influenza_new_subtype", "sars_cov"}


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("anthrax", "bacillus_anthracis"),
        ("ANTHRAX", "bacillus_anthracis"),
        ("Bacillus anthracis", "bacillus_anthracis"),
        ("bacillus  anthracis", "bacillus_anthracis"),
        ("NCBITaxon:1392", "bacillus_anthracis"),
        ("ricin", "toxin_ricin"),
        ("foot-and-mouth disease virus", "foot_and_mouth_disease_virus"),
        ("Foot and mouth disease virus", "foot_and_mouth_disease_virus"),
        ("FMDV", "foot_and_mouth_disease_virus"),
        ("fmdv", "foot_and_mouth_disease_virus"),
        ("variola", "variola_virus"),
        ("smallpox", "variola_virus"),
        ("Smallpox", "variola_virus"),
        ("botulism", "toxin_botulinum_neurotoxin"),
        ("COVID-19", "sars_cov_2"),
    ],
)
def test_lookup_accepts_common_names_and_synonyms_case_insensitively(name, key):
    assert get_agent(name).key == key


def test_unknown_name_raises_a_biotracker_error_listing_close_matches():
    with pytest.raises(UnknownAgentError) as info:
        get_agent("antrax")
    assert isinstance(info.value, BiotrackerError)
    assert "anthrax" in info.value.suggestions
    assert "anthrax" in str(info.value)


def test_a_name_shared_by_two_agents_is_rejected_when_the_table_is_built():
    a = load_agents().lookup("anthrax")
    b = load_agents().lookup("plague").model_copy(update={"synonyms": ("anthrax",)})
    with pytest.raises(RiskDataError, match="anthrax"):
        AgentTable([a, b])


def test_normalise_name_folds_case_punctuation_and_spacing():
    assert normalise_name("Foot-and-Mouth  Disease") == normalise_name("foot and mouth disease")


# --- identifiers and provenance ---------------------------------------------------------------


def test_identifiers_are_ncbitaxon_or_toxin_and_unique():
    ids = [a.agent_id for a in load_agents() if a.agent_id]
    assert len(ids) == len(set(ids))
    for agent in load_agents():
        if agent.kind == "toxin":
            assert agent.agent_id and agent.agent_id.startswith("toxin:"), agent.key
        elif agent.agent_id:
            assert agent.agent_id.startswith("NCBITaxon:"), agent.key


def test_every_blank_identifier_is_explained_in_the_notes():
    for agent in load_agents():
        if agent.agent_id is None:
            assert agent.notes, f"{agent.key}: blank agent_id needs a note saying why"


def test_every_flag_of_every_agent_has_a_citation_with_a_version():
    citations = load_citations()
    for agent in load_agents():
        assert set(agent.sources) == set(FLAG_SOURCES), agent.key
        for flag, source in agent.sources.items():
            assert source.citations, (agent.key, flag)
            for key, version in zip(source.citations, source.versions):
                assert citations[key].version == version and version
                assert citations[key].url.startswith("https://")


def test_every_citation_key_used_in_the_csv_exists():
    citations = load_citations()
    for row in _rows():
        for column in set(FLAG_SOURCES.values()):
            for key in row[column].split(";"):
                assert key in citations, (row["key"], column, key)


def test_a_row_citing_an_unknown_source_is_rejected():
    row = dict(_rows()[0], cdc_source="no_such_source")
    with pytest.raises(RiskDataError, match="no_such_source"):
        _build_agent(row, 2, load_citations(), set())


def test_a_malformed_identifier_is_rejected():
    row = dict(_rows()[0], agent_id="taxon 1392")
    with pytest.raises(RiskDataError, match="taxon 1392"):
        _build_agent(row, 2, load_citations(), set())


def test_risk_data_errors_are_config_errors():
    assert issubclass(RiskDataError, ConfigError)


def test_eradicated_agents_are_smallpox_and_rinderpest_with_citations():
    eradicated = load_eradicated()
    assert set(eradicated) == {"variola_virus", "rinderpest_virus"}
    assert {a.key for a in load_agents() if a.eradicated} == set(eradicated)
    assert eradicated["variola_virus"]["declared"] == "1980-05-08"


def test_json_shape_has_the_fields_the_cli_promises():
    data = get_agent("anthrax").to_json_dict()
    for field in ("name", "agent_id", "select_agent", "tier1", "cdc_category", "australia_group",
                  "woah_listed", "who_priority", "ihr_always_notifiable", "citations"):
        assert field in data
    assert data["select_agent"] == "OVERLAP"
    assert data["cdc_category"] == "A"
    assert {c["key"] for c in data["citations"]} >= {"cfr42_73", "cdc_rotz2002", "ag_hapt_2023"}


def test_every_taxon_id_says_how_it_was_checked():
    for agent in load_agents():
        if agent.agent_id and agent.agent_id.startswith("NCBITaxon:"):
            assert agent.agent_id_check in {"brief", "cross-checked", "recalled"}, agent.key
    assert get_agent("anthrax").agent_id_check == "brief"
    assert get_agent("SARS").agent_id == "NCBITaxon:227859"  # the 2003 virus, not the species that holds SARS-CoV-2
