"""WOAH WAHIS animal health events (immediate notifications and follow-ups), via the WAHIS API.

WAHIS has no published API contract; its web client POSTs a filter document to the report-list
endpoint (documented by loicleray/WOAH_WAHIS.ReportRetriever). The recorded fixture of this
connector is constructed from that documentation: re-record it with `biotracker connectors
record woah_wahis` where the service can be reached.
"""

from __future__ import annotations

from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import JsonApiConnector
from biotracker.ingest.dates import parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.normalise.geo import country_iso3
from biotracker.schema import Report, SourceKind, Tlp, Window


class WoahWahis(JsonApiConnector):
    """WAHIS report list for the window, newest first, 100 per page."""

    name = "woah_wahis"
    title = "WOAH WAHIS animal disease events"
    kind = SourceKind.VETERINARY
    url = "https://wahis.woah.org/pi/getReportList"
    primary_key = ("reportId",)
    cursor_field = "reportDate"
    tlp = Tlp.CLEAR
    terms = "https://www.woah.org/en/terms-and-conditions/ (WAHIS data: cite WOAH-WAHIS)"
    cadence = "@daily"
    items_key = "homePageDto"
    required_fields: ClassVar[tuple[str, ...]] = ("reportId", "country", "disease", "reportDate")
    page_size: ClassVar[int] = 100

    def request_json(self, url: str, window: Window) -> dict[str, Any] | None:
        return {
            "pageNumber": 1,
            "pageSize": self.page_size,
            "searchText": "",
            "sortColName": "",
            "sortColOrder": "DESC",
            "reportFilters": {
                "reportDate": {
                    "startDate": window.start.date().isoformat(),
                    "endDate": window.end.date().isoformat(),
                },
            },
            "languageChanged": False,
        }

    def to_report(self, record: dict[str, Any]) -> Report | None:
        disease = html_to_text(str(record.get("disease") or ""))
        country = html_to_text(str(record.get("country") or ""))
        if not disease or not country:
            raise RecordError("report has no disease or no country")
        reported = parse_when(record.get("reportDate"), field="reportDate")
        started = parse_when(record.get("eventStartDate"), field="eventStartDate") or reported
        subtype = html_to_text(str(record.get("subType") or ""))
        reason = html_to_text(str(record.get("reason") or ""))
        report_type = html_to_text(str(record.get("reportType") or ""))
        title = f"{disease}{f' ({subtype})' if subtype else ''} - {country}: {report_type or 'report'}"
        return Report(
            source=self.name,
            source_id=self.record_id(record),
            url=f"https://wahis.woah.org/#/in-review/{record.get('eventId')}?reportId={record.get('reportId')}",
            title=title,
            summary="; ".join(p for p in (reason, html_to_text(str(record.get("eventStatus") or ""))) if p),
            published_at=reported,
            observed_at=started,
            disease=disease,
            pathogen=subtype or None,
            country_iso3=country_iso3(country),
            language="en",
            tlp=self.tlp,
            evidence={
                "event_id": record.get("eventId"),
                "reason": reason or None,
                "report_type": report_type or None,
            },
        )
