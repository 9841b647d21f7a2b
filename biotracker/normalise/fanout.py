"""One report per named country: a round-up that names several countries as its subject.

ProMED and similar services post round-ups ("Monkeypox - Europe: Portugal, Spain, UK",
"Cholera, diarrhea & dysentery update (13): Africa (Cameroon, Malawi)"). A report has one
``country_iso3``, so without this the second and later countries never reach their (disease,
country) series, and no alert can ever name them. Structured feeds already yield one row per
country and outbreak (the HPAI tables); this gives round-ups the same shape. Only countries the
*title* names as its subject count: passing mentions, inferred places and the many countries a
long body text names as context never fan out.
"""

from __future__ import annotations

from biotracker.schema import Report

#: Separator between the source's item id and the country in a fanned-out report's id.
COUNTRY_SEPARATOR = "#"


def title_countries(extraction: dict) -> list[str]:
    """Countries the title names as its subject, in the extractor's salience order: a round-up
    lists its countries in the title; a long text names many countries in passing or as context."""
    in_title = {
        p.get("iso3")
        for p in extraction.get("places") or []
        if isinstance(p, dict)
        and p.get("role") == "subject"
        and (p.get("evidence") or {}).get("field") == "title"
    }
    return [c for c in extraction.get("countries") or [] if c in in_title]


def per_country(report: Report) -> list[Report]:
    """``report`` itself and a copy for each further country its title names as subject."""
    countries = title_countries((report.evidence or {}).get("extraction") or {})
    if len(countries) < 2 or report.country_iso3 not in countries:
        return [report]
    copies = [
        report.model_copy(
            update={
                "source_id": f"{report.source_id}{COUNTRY_SEPARATOR}{iso3}",
                "country_iso3": iso3,
                "evidence": report.evidence | {"fanned_out_from": report.report_id},
            }
        )
        for iso3 in countries
        if iso3 != report.country_iso3
    ]
    return [report, *copies]
