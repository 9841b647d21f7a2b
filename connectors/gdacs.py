"""GDACS GeoRSS: floods, tropical cyclones and droughts, which precede water-borne outbreaks.

Context, not disease reports: each kept event is a report with the hazard as its title, the
GDACS alert level and severity as evidence, and the event's point as coordinates. Earthquakes,
volcanoes and wildfires are skipped (``to_report`` returns None).
"""

from __future__ import annotations

from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.fields import LATITUDE, LONGITUDE, parse_coordinate
from biotracker.ingest.html_text import html_to_text
from biotracker.ingest.rss import RssConnector
from biotracker.schema import Report, SourceKind, Tlp
from biotracker.schema.models import iso3_codes

#: GDACS event types kept, with the name used in report titles.
HAZARDS = {"FL": "flood", "TC": "tropical cyclone", "DR": "drought"}


class Gdacs(RssConnector):
    """GDACS alerts feed (EC JRC / UN OCHA), GeoRSS with gdacs: extensions."""

    name = "gdacs"
    title = "GDACS disaster alerts (floods, cyclones, droughts)"
    kind = SourceKind.CONTEXT
    url = "https://www.gdacs.org/xml/rss.xml"
    primary_key = ("id",)
    cursor_field = "published"
    tlp = Tlp.CLEAR
    terms = "https://www.gdacs.org/About/termsofuse.aspx (syndication allowed with acknowledgement)"
    cadence = "@hourly"
    required_fields: ClassVar[tuple[str, ...]] = ("id", "title", "gdacs_eventtype")

    def to_report(self, record: dict[str, Any]) -> Report | None:
        source_id = self.record_id(record)
        title = html_to_text(record.get("title"))
        if not title:
            raise RecordError("item has no title")
        hazard = HAZARDS.get(str(record.get("gdacs_eventtype", "")).upper())
        if hazard is None:
            return None
        iso3 = str(record.get("gdacs_iso3") or "").strip().upper()
        severity = record.get("gdacs_severity")
        when = self.published(record)
        return Report(
            source=self.name,
            source_id=source_id,
            url=record.get("link"),
            title=title,
            summary=html_to_text(record.get("summary")),
            published_at=when,
            observed_at=when,
            country_iso3=iso3 if iso3 in iso3_codes() else None,  # context feed: an odd code is dropped
            lat=parse_coordinate(record.get("geo_lat"), LATITUDE, "geo:lat", strict=False),
            lon=parse_coordinate(record.get("geo_long"), LONGITUDE, "geo:long", strict=False),
            language="en",
            tlp=self.tlp,
            evidence={
                "hazard": hazard,
                "alert_level": record.get("gdacs_alertlevel"),
                "severity": severity.get("value") if isinstance(severity, dict) else severity,
                "country": record.get("gdacs_country"),
            },
        )
