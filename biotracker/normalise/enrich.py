"""Fill what a connector could not read from structure with what the extractor finds in the text.

Structured fields from the source win; extracted values fill the gaps and every extracted value
keeps its evidence (field and character span) in ``Report.evidence`` so the digest can show why.
"""

from __future__ import annotations

from typing import Any

from biotracker.normalise.cues import find_cues
from biotracker.normalise.extract import extract
from biotracker.schema import Report


def enrich(report: Report) -> Report:
    """``report`` with disease, pathogen, host, country, cases and deaths filled from its text."""
    body = report.text or report.summary
    found = extract(report.title, body, report.published_at.date() if report.published_at else None)
    updates: dict[str, Any] = {}
    evidence: dict[str, Any] = dict(report.evidence)
    extraction = found.to_json()
    extraction.pop("id", None)
    evidence["extraction"] = extraction
    cues = find_cues(report.title, body, report.language)
    if cues:
        evidence["cues"] = [cue.as_dict() for cue in cues]
    if found.diseases:
        top = found.diseases[0]
        if report.disease is None:
            updates["disease"] = top.name
        if report.pathogen is None and getattr(top, "agent_name", None):
            updates["pathogen"] = top.agent_name
    if report.country_iso3 is None and found.countries:
        updates["country_iso3"] = found.countries[0]
    if report.host is None and found.hosts:
        updates["host"] = found.hosts[0].host
    if report.cases is None and found.cases is not None:
        updates["cases"] = found.cases.value
    if report.deaths is None and found.deaths is not None:
        updates["deaths"] = found.deaths.value
    updates["evidence"] = evidence
    return report.model_copy(update=updates)
