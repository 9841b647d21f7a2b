"""Reports that member organisations contribute through the server (``POST /api/v1/reports``).

The server archives each contribution raw, exactly like a feed payload, as a JSON envelope that
records who sent it; this connector turns the envelope into reports. It is not fetched on a
schedule (``scheduled = False``): payloads are pushed, then normalised at once by
``normalise_pending``. An operator may also drop an envelope file in
``<dropfolder_dir>/contributions/`` (a recovered export, say). Envelope::

    {"contribution": {"organisation": "NCB-NL", "user": "alice", "received_at": "2026-...Z"},
     "reports": [{"contribution_id": "9f…", "title": "…", "text": "…", "country_iso3": "NLD",
                  "reported_at": "2026-…Z", "tlp": "AMBER", "share_with": ["NCB-FR"]}, …]}

A report with the ``contribution_id`` of an earlier one corrects it (the later payload wins); one
with ``withdrawn_at`` is its tombstone: the content is gone, the id and marking stay.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from biotracker.errors import RecordError
from biotracker.ingest.connector import BadRecord
from biotracker.ingest.dates import parse_when
from biotracker.ingest.dropfolder import DropFolderConnector
from biotracker.schema import Report, SourceKind, Tlp
from biotracker.schema.contribution import DEFAULT_MARKING, Contribution

_CONTRIBUTION_ID = re.compile(r"^[0-9a-f]{16,64}$")
WITHDRAWN_TITLE = "Withdrawn contribution"


class Contributions(DropFolderConnector):
    """Member contributions: attributed to the sender's organisation, marked by the sender."""

    name = "contributions"
    title = "Contributions by member organisations (server API)"
    kind = SourceKind.LAW_ENFORCEMENT
    url = "api:/api/v1/reports"
    primary_key = ("contribution_id",)
    cursor_field = "reported_at"
    tlp = DEFAULT_MARKING
    terms = (
        "Contributed by a member organisation under the repository's rules: shared only as its TLP "
        "marking and share lists allow (docs/ACCESS.md)."
    )
    cadence = "@hourly"
    scheduled = False
    file_patterns: ClassVar[tuple[str, ...]] = ("*.json",)
    required_fields: ClassVar[tuple[str, ...]] = ("contribution_id", "reported_at")

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        import json

        from biotracker.ingest.connector import decode_text

        try:
            doc = json.loads(decode_text(body))
        except json.JSONDecodeError as exc:
            raise RecordError(f"contribution envelope is not valid JSON ({exc.msg})") from exc
        envelope = doc.get("contribution") if isinstance(doc, dict) else None
        if not isinstance(envelope, dict) or not envelope.get("organisation"):
            raise RecordError("contribution envelope lacks {'contribution': {'organisation': ...}}")
        items = doc.get("reports")
        if not isinstance(items, list):
            raise RecordError("contribution envelope lacks its 'reports' list")
        origin = {"_organisation": str(envelope["organisation"]), "_user": str(envelope.get("user") or "")}
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield item | origin | {"_line": f"item {index}"}
            else:
                yield BadRecord(
                    f"item {index}", f"item is a {type(item).__name__}, not an object", repr(item)[:500]
                )

    def to_report(self, record: dict[str, Any]) -> Report | None:
        contribution_id = str(record.get("contribution_id") or "")
        if not _CONTRIBUTION_ID.match(contribution_id):
            raise RecordError("contribution_id must be 16-64 lower-case hex digits (the server assigns it)")
        fields = {k: v for k, v in record.items() if not k.startswith("_") and k not in _ENVELOPE_KEYS}
        org = record["_organisation"]
        if record.get("withdrawn_at"):
            return self._tombstone(contribution_id, org, record)
        c = Contribution.model_validate(fields)
        return Report(
            source=self.name,
            source_id=contribution_id,
            url=c.url,
            title=c.title,
            summary=c.summary,
            text=c.text,
            published_at=c.reported_at.astimezone(dt.UTC),
            observed_at=c.reported_at.astimezone(dt.UTC),
            disease=c.disease,
            pathogen=c.pathogen,
            host=c.host,
            country_iso3=c.country_iso3,
            admin_area=c.admin_area,
            lat=c.lat,
            lon=c.lon,
            cases=c.cases,
            deaths=c.deaths,
            tlp=Tlp(c.tlp),
            originator_org=org,
            share_with=tuple(sorted(set(c.share_with))),
            share_users=tuple(sorted(set(c.share_users))),
            evidence={"contributor": record["_user"]} if record.get("_user") else {},
        )

    def _tombstone(self, contribution_id: str, org: str, record: dict[str, Any]) -> Report:
        """What stays of a withdrawn report: its id, marking and audience, no content."""
        when = parse_when(record["withdrawn_at"], field="withdrawn_at")
        return Report(
            source=self.name,
            source_id=contribution_id,
            title=WITHDRAWN_TITLE,
            published_at=parse_when(record["reported_at"], field="reported_at"),
            tlp=Tlp.parse(str(record.get("tlp") or DEFAULT_MARKING.value)),
            originator_org=org,
            share_with=tuple(record.get("share_with") or ()),
            share_users=tuple(record.get("share_users") or ()),
            withdrawn_at=when,
        )


_ENVELOPE_KEYS = {"contribution_id", "withdrawn_at"}
