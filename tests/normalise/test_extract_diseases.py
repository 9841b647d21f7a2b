"""Specification of disease, agent, syndrome and host extraction, with evidence."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from biotracker.normalise.extract import extract

from tests.conftest import FIXTURES

WHO_PAYLOAD = FIXTURES / "extraction" / "who_api_diseaseoutbreaknews_page1.json"


def keys(title: str, text: str = "") -> list[str]:
    return [d.key for d in extract(title, text).diseases]


@pytest.mark.parametrize(
    ("title", "key", "disease_id", "agent_id"),
    [
        ("Human infection with avian influenza A(H7N9) virus - China", "h7n9", "ICD10:J09", "NCBITaxon:333278"),
        ("Avian Influenza A(H5N1) - Cambodia", "h5n1", "ICD10:J09", "NCBITaxon:102793"),
        ("2001 - Anthrax in the United States", "anthrax", "DOID:7427", "NCBITaxon:1392"),
        ("Smallpox vaccine stocks reviewed", "smallpox", "DOID:8736", "NCBITaxon:10255"),
        ("Marburg virus disease – Rwanda", "marburg", "DOID:4327", "NCBITaxon:11269"),
        ("Middle East respiratory syndrome coronavirus (MERS-CoV) - Oman", "mers", "DOID:0080642", "NCBITaxon:1335626"),
        ("Circulating vaccine-derived poliovirus type 2 - Democratic Republic of the Congo", "cvdpv", "DOID:4953",
         "NCBITaxon:138950"),
        ("Ricin letters sent to officials", "ricin", "ICD10:T62.2", "NCBITaxon:3988"),
    ],
)
def test_diseases_carry_disease_and_agent_identifiers(title: str, key: str, disease_id: str, agent_id: str) -> None:
    """Expected ids are the Disease Ontology's (HumanDO.tsv) and NCBI Taxonomy's, as agreed project-wide."""
    [d] = extract(title).diseases
    assert (d.key, d.id, d.agent_id) == (key, disease_id, agent_id)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Avian influenza A(H5N1)", ["h5n1"]),
        ("bird flu outbreak", ["avian_influenza"]),
        ("HPAI H5N1 in poultry", ["h5n1"]),
        ("Grippe aviaire H5N1 en France", ["h5n1"]),
        ("Fiebre amarilla en Brasil", ["yellow_fever"]),
        ("Surto de sarampo em Angola", ["measles"]),
        ("Choléra au Cameroun", ["cholera"]),
    ],
)
def test_common_report_spellings_in_four_languages(title: str, expected: list[str]) -> None:
    assert keys(title) == expected


def test_the_most_specific_concept_of_a_lineage_is_kept() -> None:
    assert keys("Influenza A(H5N1): avian influenza in humans, an influenza update") == ["h5n1"]


def test_a_named_disease_explains_its_syndrome() -> None:
    assert keys("Viral haemorrhagic fever/Marburg in the Democratic Republic of the Congo") == ["marburg"]


def test_syndromes_are_their_own_class() -> None:
    [d] = extract("Suspected acute haemorrhagic fever syndrome in the Republic of the Congo - Update 2").diseases
    assert (d.key, d.kind) == ("hf_syndrome", "syndrome")
    [m] = extract("1998 - Meningitis in Democratic Republic of the Congo").diseases
    assert (m.key, m.kind) == ("meningitis", "syndrome")


def test_disease_names_that_contain_places_are_diseases_not_places() -> None:
    ex = extract("Crimean-Congo haemorrhagic fever (CCHF) in Mauritania")
    assert [d.key for d in ex.diseases] == ["cchf"] and ex.countries == ("MRT",)
    mers = extract("Middle East respiratory syndrome coronavirus (MERS-CoV) - update")
    assert [p.role for p in mers.places] == ["inferred"]  # "Middle East" is not read as a place


def test_misspelt_disease_names_are_found_by_the_fuzzy_pass_and_flagged() -> None:
    [d] = extract("2001 - Meningooccal disease in Angola - Update 2").diseases
    assert d.key == "meningococcal" and d.fuzzy
    assert d.evidence.text == "Meningooccal disease"
    [e] = extract("2000 - Eboal haemorrhagic fever in Uganda - Update 23").diseases
    assert e.key == "ebola" and e.fuzzy


def test_known_words_do_not_drift_to_a_neighbouring_disease() -> None:
    assert keys("Acute respiratory syndrome in China") == ["resp_syndrome"]  # not SARS
    assert keys("1997 - Influenza vaccine for 1997-1998 season") == ["influenza"]  # "vaccine" is not vaccinia


def test_acronyms_must_be_written_as_acronyms() -> None:
    assert keys("MERS case reported") == ["mers"]
    assert keys("the afternoon mers into evening") == []


def test_hosts_are_reported_with_evidence() -> None:
    ex = extract("Avian influenza A(H5N1) in dairy cattle and wild birds", "Farm workers and chickens were tested.")
    assert [h.host for h in ex.hosts] == ["cattle", "wild birds", "human", "poultry"]
    assert ex.hosts[0].evidence.text == "dairy cattle"


def test_every_evidence_span_is_the_text_it_claims_on_real_who_reports() -> None:
    sys.path.insert(0, str(FIXTURES.parents[1] / "benchmarks"))
    from extraction_cghss import who_report

    items = json.loads(WHO_PAYLOAD.read_text(encoding="utf-8"))["value"]
    checked = 0
    for item in items:
        title, text, published = who_report(item)
        ex = extract(title, text, published)
        source = {"title": title, "text": text}
        evidence = [d.evidence for d in ex.diseases] + [p.evidence for p in ex.places] + \
                   [h.evidence for h in ex.hosts] + [d.evidence for d in ex.event_dates] + \
                   [c.evidence for c in (ex.cases, ex.deaths) if c]
        for ev in evidence:
            start, end = ev.span
            assert source[ev.field][start:end] == ev.text
            checked += 1
        assert ex.diseases, f"no disease found in {title!r}"
    assert checked > 500


def test_extraction_is_deterministic_and_json_matches_the_cli_contract() -> None:
    first = extract("Cholera - Haiti", "A total of 1,200 suspected cases including 35 deaths.").to_json("r1")
    assert first == extract("Cholera - Haiti", "A total of 1,200 suspected cases including 35 deaths.").to_json("r1")
    assert first["id"] == "r1" and first["countries"] == ["HTI"]
    assert (first["cases"], first["deaths"]) == (1200, 35)
    assert set(first["diseases"][0]) >= {"name", "id", "agent_id", "evidence"}
    assert first["diseases"][0]["evidence"] == {"field": "title", "span": [0, 7], "text": "Cholera"}


def test_importing_the_extractor_loads_no_vocabulary() -> None:
    code = ("import biotracker.normalise.extract as e, biotracker.normalise.vocab as v;"
            "print(e._resources.cache_info().currsize, v.load_vocabulary.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
