"""How much a report's source is worth as evidence: a small table of source tiers.

Official public-health and veterinary authorities say what they have verified; a moderated expert
service (ProMED, ReliefWeb's editors) has a human check but relays; media and OSINT aggregators
repeat what others say. Law-enforcement intake is its own tier: vetted by police, but not a
laboratory finding. The weights order the tiers; they are judgements, not measurements, and live
here so that changing them is one visible edit. An incident's ``reliability`` combines the
weights of its independent sources as a noisy-OR (``1 - prod(1 - w)``): two media reports are
worth less than one official one, and every independent confirmation adds something.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from biotracker.schema import SourceKind


@dataclass(frozen=True, slots=True)
class SourceTier:
    name: str
    weight: float


OFFICIAL = SourceTier("official", 0.9)
LAW_ENFORCEMENT = SourceTier("law_enforcement", 0.7)
MODERATED = SourceTier("moderated", 0.6)
MEDIA = SourceTier("media", 0.3)
CONTEXT = SourceTier("context", 0.1)

#: Tiers from most to least reliable (the order ``best_tier`` uses).
TIERS = (OFFICIAL, LAW_ENFORCEMENT, MODERATED, MEDIA, CONTEXT)

#: Known connectors, by name. Anything else falls back on its connector's ``kind``.
SOURCE_TIERS: dict[str, SourceTier] = {
    # official public-health authorities
    "who_don": OFFICIAL,
    "ecdc": OFFICIAL,
    "cdc_han": OFFICIAL,
    "paho_alerts": OFFICIAL,
    # official veterinary authorities and intergovernmental animal-health systems
    "woah_wahis": OFFICIAL,
    "empres_i": OFFICIAL,
    "usda_aphis": OFFICIAL,
    "hpai_outbreaks": OFFICIAL,
    # moderated expert services
    "promed": MODERATED,
    "reliefweb": MODERATED,
    # media and open-source aggregators
    "cidrap": MEDIA,
    "gdelt_outbreaks": MEDIA,
    "google_news": MEDIA,
    # disaster context, not disease reports
    "gdacs": CONTEXT,
    # police intake
    "police_reports": LAW_ENFORCEMENT,
}

#: Fallback for connectors not in the table: what their declared ``kind`` suggests.
KIND_TIERS: dict[SourceKind, SourceTier] = {
    SourceKind.PUBLIC_HEALTH: OFFICIAL,
    SourceKind.VETERINARY: OFFICIAL,
    SourceKind.OSINT: MEDIA,
    SourceKind.LAW_ENFORCEMENT: LAW_ENFORCEMENT,
    SourceKind.CONTEXT: CONTEXT,
}


def tier_of(source: str, kind: SourceKind | None = None) -> SourceTier:
    """The tier of ``source``: the table, else its connector kind, else media (the cautious default)."""
    if source in SOURCE_TIERS:
        return SOURCE_TIERS[source]
    if kind is not None:
        return KIND_TIERS.get(kind, MEDIA)
    return MEDIA


def source_tiers(kinds: Mapping[str, SourceKind]) -> dict[str, SourceTier]:
    """Tiers for every connector in ``kinds`` (name -> declared kind), table entries first."""
    return {name: tier_of(name, kind) for name, kind in kinds.items()} | dict(SOURCE_TIERS)


def combined_reliability(weights: Iterable[float]) -> float:
    """Noisy-OR of independent sources' weights, rounded so that re-runs store identical floats."""
    doubt = 1.0
    for w in weights:
        doubt *= 1.0 - w
    return round(1.0 - doubt, 6)


def best_tier(tiers: Iterable[SourceTier]) -> SourceTier | None:
    present = set(tiers)
    return next((t for t in TIERS if t in present), None)
