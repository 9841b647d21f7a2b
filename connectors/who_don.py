"""WHO Disease Outbreak News through WHO's public OData API (newest first, 50 per page)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from biotracker.ingest.connector import JsonApiConnector
from biotracker.ingest.dates import parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import Report, SourceKind, Tlp

_FIELDS = "Title%2CPublicationDate%2CSummary%2COverview%2CDonId%2CEpidemiology%2CAssessment"


class WhoDon(JsonApiConnector):
    """WHO DON items; pages follow ``@odata.nextLink`` until the window's start is passed."""

    name = "who_don"
    title = "WHO Disease Outbreak News"
    kind = SourceKind.PUBLIC_HEALTH
    url = (
        "https://www.who.int/api/news/diseaseoutbreaknews?sf_culture=en&$orderby=PublicationDate%20desc"
        f"&$select={_FIELDS}&$format=json&$count=true"
    )
    primary_key = ("DonId",)
    cursor_field = "PublicationDate"
    tlp = Tlp.CLEAR
    terms = "https://www.who.int/about/policies/publishing/copyright"
    cadence = "@hourly"
    items_key = "value"
    next_link_key = "@odata.nextLink"
    max_pages: ClassVar[int] = 100

    def published(self, record: dict[str, Any]) -> dt.datetime | None:
        """``PublicationDate``; absent gives None, present but unreadable is a ``RecordError``."""
        return parse_when(record.get("PublicationDate"), field="PublicationDate")

    def to_report(self, record: dict[str, Any]) -> Report | None:
        don_id = self.record_id(record)
        summary = html_to_text(record.get("Summary")) or html_to_text(record.get("Overview"))
        body = "\n\n".join(
            part
            for part in (html_to_text(record.get(k)) for k in ("Overview", "Epidemiology", "Assessment"))
            if part
        )
        published = self.published(record)
        return Report(
            source=self.name,
            source_id=don_id,
            url=f"https://www.who.int/emergencies/disease-outbreak-news/item/{don_id}",
            title=html_to_text(record.get("Title") or ""),
            summary=summary,
            published_at=published,
            observed_at=published,
            language="en",
            tlp=self.tlp,
            text=body,
        )
