"""Shared incident schema v1: the pydantic models every stage reads and writes.

Field-by-field documentation lives in ``docs/SCHEMA.md``; keep both in step. Times are
timezone-aware UTC: ``published_at`` (by the source), ``observed_at`` (in the world),
``fetched_at`` (by us).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from biotracker.schema.tlp import Tlp

SCHEMA_VERSION = 1


class SourceKind(str, Enum):
    PUBLIC_HEALTH = "public_health"
    VETERINARY = "veterinary"
    OSINT = "osint"
    LAW_ENFORCEMENT = "law_enforcement"
    CONTEXT = "context"


class AlertStatus(str, Enum):
    NEW = "new"
    TRIAGED = "triaged"
    ESCALATED = "escalated"
    DISMISSED = "dismissed"
    CLOSED = "closed"


class AlertTier(str, Enum):
    """Ordered from most to least urgent; the digest ranks by it."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return list(AlertTier).index(self)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RawPayload(Record):
    """One HTTP response body (or dropped file) exactly as received; bytes live under var/raw/."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    source: str
    url: str
    fetched_at: AwareDatetime
    http_status: int
    size: int = Field(ge=0)
    content_type: str | None = None


class QuarantineItem(Record):
    """Something that failed a stage, kept with the reason so nothing is lost silently."""

    source: str
    stage: str  # "fetch" | "parse" | "normalise" | "validate"
    what: str  # locator inside the payload, e.g. "record 17" or "line 42"
    reason: str
    raw_sha256: str | None = None
    excerpt: str = ""


class Report(Record):
    """One source item, normalised. ``report_id`` is stable: "<source>:<source_id>"."""

    source: str
    source_id: str
    url: str | None = None
    title: str
    summary: str = ""
    text: str = ""  # full body text (HTML stripped), what the extractor reads beyond the title
    published_at: AwareDatetime | None = None
    observed_at: AwareDatetime | None = None
    disease: str | None = None
    pathogen: str | None = None
    host: str | None = None  # "human" or an animal host class (poultry, wild birds, cattle, ...)
    country_iso3: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    admin_area: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    cases: int | None = Field(default=None, ge=0)
    deaths: int | None = Field(default=None, ge=0)
    language: str = "en"
    tlp: Tlp = Tlp.CLEAR
    raw_sha256: str | None = None
    #: Evidence for extracted values: {"disease": {"field": "title", "span": [0, 12]}, ...}
    evidence: dict[str, Any] = Field(default_factory=dict)
    #: Access model (docs/ACCESS.md): the organisation that originated the record (None: the
    #: deployment's community organisation, as for every feed record), the organisations a TLP:AMBER
    #: record is shared with, the users a TLP:RED record names, and the withdrawal tombstone.
    originator_org: str | None = None
    share_with: tuple[str, ...] = ()
    share_users: tuple[str, ...] = ()
    withdrawn_at: AwareDatetime | None = None

    @model_serializer(mode="wrap")
    def _omit_unset_access_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Feed records (no originator) carry no access fields: leave them out so their dumps stay as
        they were. A record with an originator dumps all of them, so a stored row is fully replaced."""
        data: dict[str, Any] = handler(self)
        if self.originator_org is None:
            for name in _ACCESS_FIELDS:
                data.pop(name, None)
        return data

    @property
    def report_id(self) -> str:
        return f"{self.source}:{self.source_id}"

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title is empty")
        return value


_ACCESS_FIELDS = ("originator_org", "share_with", "share_users", "withdrawn_at")


class Incident(Record):
    """A cluster of reports about one event (see docs/CLUSTERING.md)."""

    incident_id: str
    title: str
    disease: str | None = None
    pathogen: str | None = None
    host: str | None = None
    country_iso3: str | None = None
    first_seen_at: AwareDatetime | None = None
    last_seen_at: AwareDatetime | None = None
    report_ids: list[str]
    cases: int | None = None
    deaths: int | None = None
    tlp: Tlp = Tlp.CLEAR
    # clustering (docs/CLUSTERING.md); None on incidents built before it
    report_count: int | None = None
    corroboration: int | None = None  # distinct independent sources
    reliability: float | None = None  # noisy-OR of the independent sources' tier weights
    source_tier: str | None = (
        None  # best tier among them: official, law_enforcement, moderated, media, context
    )


class Signal(Record):
    """One evaluated period of one count series."""

    series_key: str  # "disease|country|host"
    period_start: dt.date
    observed: int
    expected: float | None = None
    upperbound: float | None = None
    alarm: bool | None = None
    method: str
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def signal_id(self) -> str:
        return f"{self.method}:{self.series_key}:{self.period_start.isoformat()}"


class Alert(Record):
    """Something an analyst should look at, with the reasons that set its tier."""

    alert_id: str
    incident_id: str | None = None
    signal_id: str | None = None
    period_start: dt.date
    headline: str
    tier: AlertTier
    reasons: list[str]
    status: AlertStatus = AlertStatus.NEW
    tlp: Tlp = Tlp.CLEAR
    country_iso3: str | None = None
    disease: str | None = None
    source_urls: list[str] = Field(default_factory=list)
    #: Latest week folded into this alert (a repeat within the cool-down updates the alert).
    last_period: dt.date | None = None
    #: The tier rule (alerts/tiers.toml) that set the tier, and the facts the rules saw.
    rule: str | None = None
    features: dict[str, Any] = Field(default_factory=dict)
    status_by: str | None = None
    status_at: AwareDatetime | None = None
