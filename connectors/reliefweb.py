"""ReliefWeb disasters API (UN OCHA): epidemic disasters (GLIDE type EP) as reports.

The list endpoint returns id, name ("Togo: Dengue Outbreak - Jun 2024"), status and GLIDE number
("EP-2024-000136-TGO"); the month in the name dates the event and the GLIDE suffix gives the
country. Non-epidemic disasters are skipped here (GDACS covers floods and cyclones).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import JsonApiConnector
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import Report, SourceKind, Tlp, as_utc
from biotracker.schema.models import iso3_codes

_GLIDE = re.compile(r"^(?P<type>[A-Z]{2})-(?P<year>\d{4})-(?P<seq>\d{6})-(?P<iso3>[A-Z]{3})$")
_MONTH = re.compile(r"-\s*(?P<month>[A-Z][a-z]{2})\s+(?P<year>\d{4})\s*$")
#: GLIDE numbers keep ISO codes that were withdrawn since (East Timor, Zaire, Romania).
_WITHDRAWN_CODES = {"TMP": "TLS", "ZAR": "COD", "ROM": "ROU"}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
    )
}


def _country(code: str) -> str | None:
    """The current ISO 3166 code of a GLIDE suffix (None for a code that is no country)."""
    code = _WITHDRAWN_CODES.get(code, code)
    return code if code in iso3_codes() else None


class Reliefweb(JsonApiConnector):
    """ReliefWeb API v1 /disasters list; pages follow ``links.next.href``."""

    name = "reliefweb"
    title = "ReliefWeb epidemic disasters (UN OCHA)"
    kind = SourceKind.PUBLIC_HEALTH
    url = "https://api.reliefweb.int/v1/disasters?appname=vocabulary&preset=external&limit=1000"
    primary_key = ("id",)
    cursor_field = None  # the list carries no dates: a snapshot of all disasters
    tlp = Tlp.CLEAR
    terms = "https://reliefweb.int/terms-conditions"
    cadence = "@daily"
    items_key = "data"
    next_link_key = "links.next.href"
    required_fields: ClassVar[tuple[str, ...]] = ("id", "fields")
    max_pages: ClassVar[int] = 10

    def to_report(self, record: dict[str, Any]) -> Report | None:
        fields = record.get("fields")
        if not isinstance(fields, dict):
            raise RecordError("item has no 'fields' object")
        glide = _GLIDE.match(str(fields.get("glide") or "").strip())
        if glide is None or glide["type"] != "EP":
            return None
        name = html_to_text(str(fields.get("name") or ""))
        if not name:
            raise RecordError("epidemic disaster has no name")
        month = _MONTH.search(name)
        if month and month["month"] in _MONTHS:
            when = as_utc(dt.date(int(month["year"]), _MONTHS[month["month"]], 1))
        else:
            when = as_utc(dt.date(int(glide["year"]), 1, 1))
        return Report(
            source=self.name,
            source_id=self.record_id(record),
            url=f"https://reliefweb.int/disaster/{fields.get('glide', '').lower() or record['id']}",
            title=name,
            summary=f"ReliefWeb disaster {fields.get('glide')} (status: {fields.get('status', 'unknown')})",
            published_at=when,
            observed_at=when,
            country_iso3=_country(glide["iso3"]),
            language="en",
            tlp=self.tlp,
            evidence={"glide": fields.get("glide"), "status": fields.get("status")},
        )
