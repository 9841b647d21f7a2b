"""The vocabulary files are versioned data: these checks keep them well-formed and broad."""

from __future__ import annotations

import csv
import re
import sys

from biotracker.normalise.extract import extract
from biotracker.normalise.vocab import VOCAB_DIR, load_vocabulary

from tests.conftest import FIXTURES

ID_PATTERN = re.compile(r"^(DOID:\d+|ICD10:[A-Z]\d\d(\.\d+)?|ICD11:[0-9A-Z.]+)$")


def test_concepts_are_many_identified_and_consistent() -> None:
    vocab = load_vocabulary()
    assert len(vocab.concepts) >= 300
    for c in vocab.concepts.values():
        assert c.disease_id is None or ID_PATTERN.match(c.disease_id), c.key
        assert c.agent_id is None or re.match(r"^NCBITaxon:\d+$", c.agent_id), c.key
        assert c.terms["en"] or c.key == "toxicity", c.key
    assert {c.kind for c in vocab.concepts.values()} == {"disease", "syndrome"}


def test_reference_identifiers_agreed_project_wide() -> None:
    c = load_vocabulary().concepts
    assert c["anthrax"].agent_id == "NCBITaxon:1392"
    assert c["h5n1"].agent_id == "NCBITaxon:102793"
    assert c["smallpox"].agent_id == "NCBITaxon:10255"


def test_at_least_sixty_concepts_have_french_spanish_and_portuguese_names() -> None:
    multilingual = [c for c in load_vocabulary().concepts.values() if all(c.terms[lang] for lang in ("fr", "es", "pt"))]
    assert len(multilingual) >= 60


def test_the_cghss_crosswalk_covers_every_label_of_the_labelled_corpus() -> None:
    with (VOCAB_DIR / "cghss_crosswalk.csv").open(encoding="utf-8") as fh:
        crosswalk = {r["label"]: r["concept"] for r in csv.DictReader(l for l in fh if not l.startswith("#"))}
    concepts = load_vocabulary().concepts
    assert all(target in concepts for target in crosswalk.values())
    with (FIXTURES / "extraction" / "cghss_DONdatabase_dev.csv").open(encoding="utf-8") as fh:
        labels = {row["DiseaseLevel1"] for row in csv.DictReader(fh)}
    assert labels - set(crosswalk) == set()


def test_labels_missing_from_the_crosswalk_are_read_by_the_extractor() -> None:
    sys.path.insert(0, str(FIXTURES.parents[1] / "benchmarks"))
    from extraction_cghss import gold_concepts, load_crosswalk

    used: set[str] = set()
    assert gold_concepts("Yaws", load_crosswalk(), used) == {"yaws"}
    assert gold_concepts("Syndromic: neurological", load_crosswalk(), used) == {"neuro_syndrome"}
    assert used == {"Yaws"}
    assert [d.key for d in extract("Yaws").diseases] == ["yaws"]


def test_the_cghss_benchmark_scores_micro_averaged_over_real_rows(tmp_path) -> None:
    """Three real DONs: a multi-country update whose headline names no country (5 rows), a
    plain one, and one whose headline says only "Influenza" where the coders wrote Influenza A."""
    sys.path.insert(0, str(FIXTURES.parents[1] / "benchmarks"))
    from extraction_cghss import score_cghss

    wanted = {"DON-1996-01-22-a", "DON-2001-09-25-b", "DON-2002-08-13-a"}
    source = FIXTURES / "extraction" / "cghss_DONdatabase_dev.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["DONid"] in wanted]
        fields = reader.fieldnames
    labels = tmp_path / "labels.csv"
    with labels.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    result = score_cghss(labels, n_errors=0)
    assert result["n"] == 3
    gold_cholera_countries = len({r["ISO"] for r in rows if r["DONid"] == "DON-1996-01-22-a"})
    assert result["country"] == {"precision": 1.0, "recall": round(2 / (2 + gold_cholera_countries), 4),
                                 "f1": result["country"]["f1"], "tp": 2, "fp": 0, "fn": gold_cholera_countries}
    assert (result["disease"]["tp"], result["disease"]["fp"], result["disease"]["fn"]) == (2, 1, 1)
