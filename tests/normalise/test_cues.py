"""Intent and accident cues: what an analyst sees flagged, with evidence, and what must stay quiet.

Every sentence here is copied from a real public report in tests/fixtures/cues/labelled.jsonl
(sources there); accuracy over the whole set is measured by benchmarks/cues.py, not asserted here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from biotracker.errors import ConfigError
from biotracker.normalise import cues as cues_module
from biotracker.normalise.cues import (
    CATEGORIES,
    Cue,
    cue_categories,
    find_cues,
    fold_for_cues,
    lexicon_version,
    load_lexicon,
    trigger_literals,
)
from biotracker.normalise.folding import fold

from tests.conftest import FIXTURES

LABELLED = FIXTURES / "cues" / "labelled.jsonl"


def categories(title: str, text: str = "", language: str | None = None) -> list[str]:
    return cue_categories(find_cues(title, text, language))


def labelled_items() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- positives, one or more per category and language ---------------------------------------------

@pytest.mark.parametrize(("language", "title", "text", "expected"), [
    ("en", "SARS case in laboratory worker in Taiwan, China",
     "Public health experts in Taipei have reported to the World Health Organization that a 44-year-old male "
     "laboratory worker has been infected with SARS.", {"laboratory", "lab_acquired_infection"}),
    ("en", "", "According to an investigation appointed by the Taiwan Center for Disease Control (CDC) in Taipei, "
     "Chan was most likely to have come into contact with the virus on December 6 while cleaning waste liquid that "
     "had spilled in a chamber in his biosafety level 4 laboratory.", {"laboratory", "lab_acquired_infection"}),
    ("en", "", "There were growing fears that the outbreak of foot and mouth disease on a farm in Surrey was caused "
     "by a leak from a nearby animal research laboratory.", {"escape_release", "laboratory"}),
    ("en", "Vial of deadly virus missing at Texas bioterror lab",
     "Scott Weaver, the Galveston lab's scientific director, said Monday that a routine check last week led to the "
     "discovery that one of five small plastic vials of an obscure virus called Guanarito was missing from a locked "
     "freezer.", {"theft_diversion", "laboratory"}),
    ("en", "", "The FBI arrested the two Chinese citizens in connection with allegations related to their smuggling "
     "into America a fungus that scientific literature classifies as a potential agroterrorism weapon.",
     {"arrest", "smuggling_seizure", "agroterrorism"}),
    ("en", "Texas woman arrested for allegedly sending ricin letter to President",
     "A woman from Texas was arrested last week for allegedly sending letters filled with the toxin ricin to "
     "President Barack Obama and other government officials.", {"arrest", "toxin_production"}),
    ("en", "", "In Mill Valley, California, a powder was left in a teacher's mailbox at Tamalpais High along with a "
     "threatening note.", {"suspicious_powder_hoax", "claim_threat"}),
    ("en", "A Q fever cluster among workers at an abattoir in south-western Sydney, Australia, 2015", "",
     {"confined_cluster"}),
    ("en", "Foot-and-mouth outbreak may have been act of sabotage", "", {"agroterrorism"}),
    ("fr", "", "En mai 2018, la France a indiqué avoir déjoué un attentat à l'explosif ou à la ricine prévu à Paris. "
     "Un suspect égyptien âgé de 20 ans avait alors été arrêté et incarcéré.", {"toxin_production", "arrest"}),
    ("fr", "", "C'est confirmé : l'inquiétante réapparition de fièvre aphteuse le mois dernier en Grande-Bretagne a "
     "été causée par une fuite dans un laboratoire.", {"escape_release", "laboratory"}),
    ("fr", "", "Le 13 novembre, une fonctionnaire a ouvert une enveloppe contenant de la poudre blanche, comme le "
     "racontent nos confrères du Parisien.", {"suspicious_powder_hoax"}),
    ("fr", "", "Comme dimanche, où les douanes ont saisi près de 14 kilos de singe, d'agouti (rongeur), de pangolin "
     "ou de thon en état de décomposition avancée.", {"smuggling_seizure"}),
    ("es", "", "Una trabajadora del laboratorio de la Universidad de San Diego, Estados Unidos, se inoculó "
     "accidentalmente con un virus genéticamente adulterado y relacionado con la viruela.",
     {"laboratory", "lab_acquired_infection"}),
    ("es", "", "Un hombre en Logan, Utah, fue detenido este miércoles bajo la sospecha de que fue el encargado de "
     "enviar esta semana al Pentágono y al presidente Donald Trump los paquetes con semillas de ricino, que pueden "
     "ser procesadas para generar una toxina mortal.", {"arrest", "toxin_production"}),
    ("es", "", "Todos los afectados trabajaban en la \"misma área de faenado de carne de vaca y cerdo del "
     "frigorífico\".", {"confined_cluster"}),
    ("es", "", "El ministro de Sanidad de Queensland, Australia, Tim Nicholls, reveló que 323 muestras de virus "
     "vivos, que podrían ser mortales, desaparecieron en 2021 en un \"grave incumplimiento de los protocolos de "
     "bioseguridad\".", {"theft_diversion", "laboratory"}),
    ("es", "", "El FBI enfatizó que enviar cartas amenazantes, independientemente de si la sustancia es dañina o una "
     "broma, constituye un delito federal.", {"claim_threat", "suspicious_powder_hoax"}),
])
def test_real_reports_raise_the_expected_cues(language: str, title: str, text: str, expected: set[str]) -> None:
    assert set(categories(title, text, language)) == expected


# --- hard negatives: the everyday wording of outbreak reports ---------------------------------------

@pytest.mark.parametrize(("title", "text"), [
    # WHO DON wording (from the recorded WHO API page)
    ("Avian Influenza A(H5N1)- Cambodia",
     "On 20 August 2024, the World Health Organization (WHO) was notified by the country's International Health "
     "Regulations (IHR) National Focal Point (NFP) of a laboratory-confirmed case of human infection with avian "
     "influenza A(H5N1) virus (clade 2.3.2.1c) in a 15-year-old child in the Kingdom of Cambodia."),
    ("Marburg virus disease– The Republic of Rwanda",
     "Blood samples taken from people showing symptoms were tested by real-time reverse transcription polymerase "
     "chain reaction (RT-PCR) at the National Reference Laboratory of the Rwanda Biomedical Center and were positive "
     "for Marburg virus. Among the confirmed cases, over 70% are healthcare workers from two health facilities in "
     "Kigali."),
    ("Avian Influenza A (H9N2)- India", "On 29 January, the patient developed seizures and was brought to the same "
     "paediatrician."),
    ("Mpox - Democratic Republic of the Congo",
     "Surveillance and investigating alerts are limited by logistical and resource challenges, and laboratory "
     "capacities are limited to two national laboratories, one in Kinshasa and one in Goma so only 18% of reported "
     "cases in 2024 have been tested by PCR. The national immunization technical advisory group (GTCV) released "
     "recommendations on the use of mpox vaccines in the country for persons at risk."),
    ("Dengue - Global situation", "Severe dengue is characterized by vascular leakage, hemorrhagic manifestations, "
     "thrombocytopenia, and hypotensive shock, which can lead to organ failure and death."),
    ("Dengue – Iran (Islamic Republic of)", "On 16 May 2024, WHO reassessed the global risk of dengue as high, "
     "reiterating that dengue remains a global public health threat."),
    # other senses of the cue words
    ("Smith v. State Through Dept. HHR", "About four and one-half hours later, while Mrs. Smith was still under "
     "observation in the emergency room, she began exhibiting symptoms of cardiac arrest."),
    ("Ebola claims: Will hospitals pay the price?", "However, from a claims perspective, public health claims "
     "involve primary and secondary exposures for hospitals like the one at the center of current U.S. Ebola "
     "developments."),
    ("", "L'huile de ricin est utilisé comme laxatif et exploitée à l'échelle industrielle comme ingrédient pour les "
     "lubrifiants, savons et vernis."),
    ("", "Du 1er janvier au 9 février 2020, 472 cas de fièvre de Lassa confirmés en laboratoire, dont 70 mortels "
     "(taux de létalité = 14,8 %) ont été notifiés dans 26 des 36 États du Nigéria."),
    ("", "El Punto Focal Nacional (PFN) de Panamá notificó a la Organización Panamericana de la Salud el 2 de "
     "diciembre los primeros 3 casos confirmados por laboratorio de la enfermedad del virus Zika."),
    ("", "Relacionado Incautan 66 kilos de cocaína escondidos en una máquina de helado que pretendía llegar a Estados "
     "Unidos"),
    # ProMED titles
    ("COVID-19 update (353): ivermectin, police, WHO", ""),
    ("Anthrax - Iran (02): (Khuzestan) cattle", ""),
])
def test_everyday_outbreak_wording_raises_no_cue(title: str, text: str) -> None:
    assert find_cues(title, text) == []


@pytest.mark.parametrize(("text", "language", "silenced"), [
    ("CDC officials, who reported the matter to the FBI, concurred that it was \"extremely unlikely\" the virus "
     "was stolen, USA Today reports.", "en", "theft_diversion"),
    ("No se ha emitido una orden de arresto.", "es", "arrest"),
    ("La piste de l'effraction a rapidement été écartée par les responsables du laboratoire.", "fr",
     "theft_diversion"),
    ("Las investigaciones descartan que las muestras hayan sido sustraídas con fines de bioterrorismo.", "es",
     "theft_diversion"),
])
def test_negated_cues_are_dropped(text: str, language: str, silenced: str) -> None:
    assert silenced not in categories("", text, language)


def test_a_negation_does_not_unsay_a_laboratory() -> None:
    found = categories("", "A spilled test tube containing a SARS sample likely infected a medical researcher who "
                           "wasn't following strict laboratory safety procedures.", "en")
    assert "laboratory" in found and "lab_acquired_infection" in found


def test_a_negation_in_another_clause_does_not_count() -> None:
    text = "Not far from the farm, the virus escaped from the Pirbright facility."
    assert "escape_release" in categories("", text, "en")


# --- evidence -----------------------------------------------------------------------------------------

def test_spans_point_at_the_matched_text_in_the_original_string() -> None:
    title = "Woman Admits Ricin Letters Were Hers, Not Husband’s, Says FBI"
    text = ("The text of the mailings threatened: \"what's in this letter is nothing compared to what I've got "
            "planned for you,\" police and law enforcement sources said. Shannon Guess Richardson was arrested.")
    found = find_cues(title, text, "en")
    assert [(c.field, c.category, c.text) for c in found] == [
        ("title", "toxin_production", "Ricin"),
        ("text", "claim_threat", "mailings threatened"),
        ("text", "arrest", "arrested"),
    ]
    for cue in found:
        source = title if cue.field == "title" else text
        assert source[cue.span[0]:cue.span[1]] == cue.text
        assert cue.text in cue.sentence and cue.language == "en" and cue.rule
    assert found[2].sentence == "Shannon Guess Richardson was arrested."


def test_spans_survive_accents_and_hyphens() -> None:
    text = "Un adolescente es investigado por fabricar y almacenar ricina y aconitina —dos toxinas— en un laboratorio casero."
    found = find_cues("", text, "es")
    assert {c.text for c in found} == {"ricina", "aconitina", "laboratorio casero"}
    for cue in found:
        assert text[cue.span[0]:cue.span[1]] == cue.text


def test_every_cue_on_the_labelled_set_carries_consistent_evidence() -> None:
    for item in labelled_items():
        for cue in find_cues(item["title"], item["text"], item["language"]):
            source = item["title"] if cue.field == "title" else item["text"]
            assert source[cue.span[0]:cue.span[1]] == cue.text, item["id"]
            assert cue.text in cue.sentence and cue.category in CATEGORIES, item["id"]
            assert json.loads(json.dumps(cue.as_dict()))["span"] == list(cue.span)


# --- languages ----------------------------------------------------------------------------------------

def test_declared_language_restricts_the_lexicon_and_unknown_languages_use_all_of_it() -> None:
    text = "Une enveloppe contenant de la poudre blanche a été découverte."
    assert categories("", text, "fr") == ["suspicious_powder_hoax"]
    assert categories("", text, None) == ["suspicious_powder_hoax"]
    assert categories("", text, "en") == []
    assert categories("", text, "de") == ["suspicious_powder_hoax"]  # no German rows: every language is tried
    assert categories("", "Der Verdächtige wurde in einem BSL-4-Labor gesehen.", "en") == ["laboratory"]  # any-language row


# --- the speed-up must not change results -------------------------------------------------------------

def test_literal_gating_finds_exactly_what_an_exhaustive_search_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    items = labelled_items()
    gated = [find_cues(i["title"], i["text"], i["language"]) for i in items]

    def everywhere(folded: str, starts: list[int], compiled) -> list[tuple[int, int, int]]:  # noqa: ANN001
        return [(a, 0, len(folded)) for a in range(len(compiled.alternatives))]

    monkeypatch.setattr(cues_module, "_candidates", everywhere)
    exhaustive = [find_cues(i["title"], i["text"], i["language"]) for i in items]
    assert gated == exhaustive
    assert sum(map(len, gated)) > 150


def test_trigger_literals_are_what_every_match_must_contain() -> None:
    assert trigger_literals(r"\bcharged (with|in)\b") == [[frozenset({"charged"})]]
    assert trigger_literals(r"\bricin\b|\babrin\b") == [[frozenset({"ricin"})], [frozenset({"abrin"})]]
    # "lab" is also required but too short to be worth scanning for once "leak" is
    assert trigger_literals(r"\b(lab|labs|laboratory) leaks?\b") == [[frozenset({"leak"})]]
    assert trigger_literals(r"\bmissing (vial|sample)s?\b|\bsmuggl\w*") == [[frozenset({"missing"})],
                                                                           [frozenset({"smuggl"})]]


def test_fast_folding_equals_the_shared_folding() -> None:
    samples = [i["title"] + " " + i["text"] for i in labelled_items()]
    samples += ["ΣΟΦΙΑ Σ", "İstanbul", "北京 laboratory", "Straße Œuvre", "ﬁ", "line\nbreak\t–tab—dash ‘q’ “qq”"]
    for sample in samples:
        assert fold_for_cues(sample) == fold(sample)


# --- the lexicon file ---------------------------------------------------------------------------------

def test_lexicon_is_versioned_and_covers_every_category_in_english_french_and_spanish() -> None:
    version, rows = load_lexicon()
    assert version == lexicon_version() and version
    covered = {(r.category, r.language) for r in rows if r.kind == "cue"}
    for category in CATEGORIES:
        for language in ("en", "fr", "es"):
            assert (category, language) in covered or (category, "*") in covered, (category, language)


@pytest.mark.parametrize(("line", "message"), [
    ("laboratory,en,cue,\\blab(,", "bad regular expression"),
    ("laboratory,en,maybe,\\blab\\b,", "kind"),
    ("lab_accident,en,cue,\\blab\\b,", "unknown category"),
    ("laboratory,en,cue,(?P<x>lab),", "named groups"),
])
def test_a_broken_lexicon_row_is_a_config_error_naming_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "cues.csv"
    path.write_text(f"# version: test\ncategory,language,kind,pattern,note\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_lexicon(path)
    assert f"{path}:3" in str(info.value)


def test_a_lexicon_without_a_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cues.csv"
    path.write_text("category,language,kind,pattern,note\nlaboratory,en,cue,\\bbsl\\b,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="version"):
        load_lexicon(path)


# --- the labelled set itself ----------------------------------------------------------------------------

def test_labelled_set_is_well_formed_and_split_before_tuning() -> None:
    items = labelled_items()
    assert len(items) >= 120
    assert len({i["id"] for i in items}) == len(items)
    assert {i["language"] for i in items} >= {"en", "fr", "es"}
    splits = Counter(i["split"] for i in items)
    assert set(splits) <= {"train", "test", "blind", "blind2", "blind3", "blind4", "blind5", "blind6"} and {"train", "test"} <= set(splits)
    assert 0.2 <= splits["test"] / (splits["train"] + splits["test"]) <= 0.4  # the fixed-hash split
    for item in items:
        assert set(item["gold"]) <= set(CATEGORIES), item["id"]
        assert item["source"] and (item["title"] or item["text"]), item["id"]
    assert sum(1 for i in items if not i["gold"]) >= 100  # hard negatives, mostly WHO DON and ProMED
    assert isinstance(find_cues("", ""), list) and all(isinstance(c, Cue) for c in find_cues("ricin", ""))
