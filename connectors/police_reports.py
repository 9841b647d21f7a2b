"""Police reports of possible biological incidents, dropped as files by law-enforcement partners.

Read from ``<dropfolder_dir>/police_reports/`` (``BIOTRACKER_DROPFOLDER_DIR``); TLP:RED unless a
report carries a marking. Format (see docs/CONNECTORS.md), CSV with a header row or JSON (a list,
or ``{"reports": [...]}``), one report per row/object:

=================  ========  ================================================================
field              required  meaning
=================  ========  ================================================================
report_id          yes       the sender's unique reference (e.g. "NL-POL-2024-000123")
reported_at        yes       when the report was made: ISO 8601 (UTC if no offset) or DD/MM/YYYY
agency             yes       reporting agency
title              yes       one-line description
summary            no        free text (HTML is stripped)
country            no        ISO 3166 alpha-3 code or English country name
admin_area         no        region / municipality
lat, lon           no        WGS84 decimal degrees
suspected_agent    no        agent named in the report (free text)
tlp                no        TLP 2.0 marking; default RED. Markings wider than AMBER are refused.
=================  ========  ================================================================
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.dates import parse_when
from biotracker.ingest.dropfolder import DropFolderConnector
from biotracker.ingest.fields import LATITUDE, LONGITUDE, parse_coordinate
from biotracker.ingest.html_text import html_to_text
from biotracker.normalise.geo import country_iso3
from biotracker.schema import Report, SourceKind, Tlp

_ISO3 = re.compile(r"^[A-Z]{3}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,120}$")


class PoliceReports(DropFolderConnector):
    """Law-enforcement intake: validated strictly, anything doubtful goes to quarantine."""

    name = "police_reports"
    title = "Police reports (drop folder intake)"
    kind = SourceKind.LAW_ENFORCEMENT
    primary_key = ("report_id",)
    cursor_field = "reported_at"
    tlp = Tlp.RED
    terms = "Shared under the sending agency's agreement; TLP:RED unless marked otherwise. Not for redistribution."
    cadence = "@hourly"
    required_fields: ClassVar[tuple[str, ...]] = ("report_id", "reported_at", "agency", "title")
    #: A reference is final: a second file with the same report_id and other content is a conflict
    #: (quarantined, the first version kept), never a silent replacement.
    keep_first_version: ClassVar[bool] = True
    #: The widest audience a police report may be marked for.
    widest_marking: ClassVar[Tlp] = Tlp.AMBER

    def to_report(self, record: dict[str, Any]) -> Report | None:
        missing = [f for f in self.required_fields if not str(record.get(f) or "").strip()]
        if missing:
            raise RecordError(f"report lacks required field(s) {missing}")
        reference = str(record["report_id"]).strip()
        if not _REFERENCE.match(reference):
            raise RecordError("report_id must be 1-121 letters, digits or . _ : / - (no spaces)")
        title = html_to_text(str(record["title"]))
        if not title:
            raise RecordError("title is empty once markup is removed")
        when = parse_when(record["reported_at"], field="reported_at")
        marking = self.tlp
        if str(record.get("tlp") or "").strip():
            try:
                marking = Tlp.parse(str(record["tlp"]))
            except ValueError as exc:
                raise RecordError(str(exc)) from None
            if marking.rank < self.widest_marking.rank:
                raise RecordError(
                    f"police reports may not be marked wider than {self.widest_marking}; "
                    f"got {marking}: correct the file"
                )
        country = str(record.get("country") or "").strip()
        iso3 = (
            country.upper() if _ISO3.match(country.upper()) else (country_iso3(country) if country else None)
        )
        if country and iso3 is None:
            raise RecordError(
                f"country {country!r} is neither an ISO 3166 alpha-3 code nor a known country name"
            )
        return Report(
            source=self.name,
            source_id=reference,
            url=None,
            title=title,
            summary=html_to_text(str(record.get("summary") or "")),
            published_at=when,
            observed_at=when,
            country_iso3=iso3,
            admin_area=html_to_text(str(record.get("admin_area") or "")) or None,
            lat=parse_coordinate(record.get("lat"), LATITUDE, "lat"),
            lon=parse_coordinate(record.get("lon"), LONGITUDE, "lon"),
            language="en",
            tlp=marking,
            evidence={
                "agency": html_to_text(str(record["agency"])),
                "suspected_agent": html_to_text(str(record.get("suspected_agent") or "")) or None,
            },
        )
