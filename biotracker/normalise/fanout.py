"""One report per named country: a round-up that names several countries as its subject.

ProMED and similar services post round-ups ("Monkeypox - Europe: Portugal, Spain, UK",
"Cholera, diarrhea & dysentery update (13): Africa (Cameroon, Malawi)"). A report has one
``country_iso3``, so without this the second and later countries never reach their (disease,
country) series, and no alert can ever name them. Structured feeds already yield one row per
country and outbreak (the HPAI tables); this gives text round-ups the same shape. Only countries
the text names as its subject count: passing mentions and inferred places never fan out.
"""

from __future__ import annotations

from biotracker.schema import Report

#: Separator between the source's item id and the country in a fanned-out report's id.
COUNTRY_SEPARATOR = "#"


def per_country(report: Report) -> list[Report]:
    """``report`` itself (for its first named country) and a copy for each further named country."""
    extraction = (report.evidence or {}).get("extraction") or {}
    countries = [c for c in extraction.get("countries") or [] if isinstance(c, str)]
    if len(countries) < 2 or report.country_iso3 != countries[0]:
        return [report]
    copies = [
        report.model_copy(
            update={
                "source_id": f"{report.source_id}{COUNTRY_SEPARATOR}{iso3}",
                "country_iso3": iso3,
                "evidence": report.evidence | {"fanned_out_from": report.report_id},
            }
        )
        for iso3 in countries[1:]
    ]
    return [report, *copies]
