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
