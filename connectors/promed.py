"""ProMED-mail post lists (ISID), as published by the medewitt/promed-scanner scraper.

ProMED has no open API: the scraper POSTs ProMED's "latest posts" widget on a schedule and commits
each result as CSV (date, caption, link). Titles follow ProMED's "Disease - Place (n): details".
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import CsvConnector
from biotracker.ingest.dates import parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import Report, SourceKind, Tlp

_BASE = "https://raw.githubusercontent.com/medewitt/promed-scanner/master/data"
_POST_ID = re.compile(r"[?&]id=(\d+)")


class Promed(CsvConnector):
    """ProMED posts; the post id from the link is the primary key."""

    name = "promed"
    title = "ProMED-mail posts (via the promed-scanner scraper)"
    kind = SourceKind.PUBLIC_HEALTH
    url = f"{_BASE}/2023-07-14-2027-promed.csv"
    primary_key = ("link",)
    cursor_field = "date"
    tlp = Tlp.CLEAR
    terms = "https://promedmail.org/terms-of-use/ (post titles (c) ISID); scraper repo MIT"
    cadence = "@daily"
    required_fields: ClassVar[tuple[str, ...]] = ("date", "caption", "link")

    def start_urls(self, window: object) -> list[str]:
        return [f"{_BASE}/2021-10-18-1334-promed.csv", f"{_BASE}/2023-07-14-2027-promed.csv"]

    def record_id(self, record: dict[str, Any]) -> str:
        match = _POST_ID.search(str(record.get("link") or ""))
        if match is None:
            raise RecordError("link has no ProMED post id (?id=NNNNNNN)")
        return match.group(1)

    def to_report(self, record: dict[str, Any]) -> Report | None:
        title = html_to_text(record.get("caption"))
        if not title:
            raise RecordError("post has no caption")
        when = parse_when(record.get("date"), field="date")
        post = self.record_id(record)
        return Report(
            source=self.name,
            source_id=post,
            url=f"https://promedmail.org/promed-post/?id={post}",
            title=title,
            published_at=when,
            observed_at=when,
            language="en",
            tlp=self.tlp,
        )
