"""FAO EMPRES-i animal disease events, as exported by EMPRES-i (one row per outbreak).

Columns: Id, source, latitude, longitude, region, country, admin1, localityName, observationDate
and reportingDate (day-first DD/MM/YYYY), status, disease, serotypes, speciesDescription
("domestic, swine"), counts (sumAtRisk, sumCases, sumDeaths, ...) and human counts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import CsvConnector
from biotracker.ingest.dates import parse_when
from biotracker.ingest.fields import LATITUDE, LONGITUDE, parse_coordinate, parse_count
from biotracker.normalise.geo import country_iso3
from biotracker.schema import Report, SourceKind, Tlp


class EmpresI(CsvConnector):
    """EMPRES-i event export (FAO Global Animal Disease Information System)."""

    name = "empres_i"
    title = "FAO EMPRES-i animal disease events"
    kind = SourceKind.VETERINARY
    url = "https://empres-i.apps.fao.org/api/v1/events/export.csv"
    primary_key = ("Id",)
    cursor_field = "reportingDate"
    tlp = Tlp.CLEAR
    terms = "https://empres-i.apps.fao.org/ (FAO terms; cite FAO EMPRES-i as the source)"
    cadence = "@daily"
    required_fields: ClassVar[tuple[str, ...]] = ("Id", "country", "disease", "reportingDate")

    def to_report(self, record: dict[str, Any]) -> Report | None:
        disease = str(record.get("disease") or "").strip()
        country = str(record.get("country") or "").strip()
        if not disease or not country:
            raise RecordError("event has no disease or no country")
        if str(record.get("status", "")).strip().lower() == "denied":
            return None
        reported = parse_when(record.get("reportingDate"), field="reportingDate")
        observed = parse_when(record.get("observationDate"), field="observationDate") or reported
        species = str(record.get("speciesDescription") or "").strip()
        host = species.split(",", 1)[-1].strip() if species else None
        serotype = str(record.get("serotypes") or "").strip()
        place = ", ".join(
            p
            for p in (str(record.get("localityName") or "").strip(), str(record.get("admin1") or "").strip())
            if p
        )
        title = f"{disease}{f' ({serotype})' if serotype else ''} in {species or 'animals'}, {place or country}, {country}"
        return Report(
            source=self.name,
            source_id=self.record_id(record),
            url=f"https://empres-i.apps.fao.org/epi-event/detail/{self.record_id(record)}",
            title=title,
            published_at=reported,
            observed_at=observed,
            disease=disease,
            pathogen=serotype or None,
            host=host or None,
            country_iso3=country_iso3(country),
            admin_area=str(record.get("admin1") or "").strip() or None,
            lat=parse_coordinate(record.get("latitude"), LATITUDE, "latitude"),
            lon=parse_coordinate(record.get("longitude"), LONGITUDE, "longitude"),
            cases=parse_count(record.get("sumCases"), "sumCases"),
            deaths=parse_count(record.get("sumDeaths"), "sumDeaths"),
            language="en",
            tlp=self.tlp,
            evidence={
                "status": record.get("status"),
                "reporting_source": record.get("source"),
                "at_risk": parse_count(record.get("sumAtRisk"), "sumAtRisk"),
            },
        )
