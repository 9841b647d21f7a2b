"""USDA APHIS detections of HPAI in mammals (one row per detection), as tabulated from APHIS.

APHIS publishes the table on its "Detections of HPAI in Mammals" page; fbranda/avian-flu keeps a
machine-readable copy (State, County, Date Collected, Date Detected, HPAI Strain, Species).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import BadRecord, CsvConnector
from biotracker.ingest.dates import parse_when
from biotracker.ingest.html_text import html_to_text
from biotracker.schema import Report, SourceKind, Tlp

_COLUMNS = ("State", "County", "Date Collected", "Date Detected", "HPAI Strain", "Species")


class UsdaAphis(CsvConnector):
    """APHIS mammal detections; rows have no id, so the key is a hash of the row (numbered if repeated)."""

    name = "usda_aphis"
    title = "USDA APHIS detections of HPAI in mammals"
    kind = SourceKind.VETERINARY
    url = "https://raw.githubusercontent.com/fbranda/avian-flu/main/Americas/USA/hpai-mammals.csv"
    primary_key = ("_key",)
    cursor_field = "Date Detected"
    tlp = Tlp.CLEAR
    terms = (
        "https://www.aphis.usda.gov/livestock-poultry-disease/avian/avian-influenza/hpai-detections/mammals "
        "(US government work, public domain)"
    )
    cadence = "@daily"
    required_fields: ClassVar[tuple[str, ...]] = _COLUMNS + ("_key",)

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        seen: dict[str, int] = {}
        for item in super().records(body):
            if isinstance(item, BadRecord):
                yield item
                continue
            digest = hashlib.sha256("\x1f".join(str(item.get(c, "")) for c in _COLUMNS).encode()).hexdigest()[
                :16
            ]
            seen[digest] = seen.get(digest, 0) + 1
            yield item | {"_key": f"{digest}:{seen[digest]}"}

    def to_report(self, record: dict[str, Any]) -> Report | None:
        species = html_to_text(record.get("Species"))
        state = html_to_text(record.get("State"))
        if not species or not state:
            raise RecordError("detection has no species or no state")
        detected = parse_when(record.get("Date Detected"), field="Date Detected", day_first=False)
        try:
            collected = parse_when(record.get("Date Collected"), field="Date Collected", day_first=False)
        except RecordError:
            collected = None
        strain = str(record.get("HPAI Strain") or "").strip() or "not typed"
        county = html_to_text(record.get("County"))
        return Report(
            source=self.name,
            source_id=self.record_id(record),
            url="https://www.aphis.usda.gov/livestock-poultry-disease/avian/avian-influenza/hpai-detections/mammals",
            title=f"HPAI {strain} detected in {species.lower()}, {county} County, {state}, USA",
            published_at=detected,
            observed_at=collected or detected,
            disease="Avian influenza",
            pathogen=f"Influenza A virus ({strain})",
            host=species.lower(),
            country_iso3="USA",
            admin_area=f"{state}, {county}",
            cases=1,
            language="en",
            tlp=self.tlp,
        )
