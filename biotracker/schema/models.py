"""Shared incident schema v1: the pydantic models every stage reads and writes.

Field-by-field documentation lives in ``docs/SCHEMA.md``; keep both in step. Times are
timezone-aware UTC: ``published_at`` (by the source), ``observed_at`` (in the world),
``fetched_at`` (by us).
"""

from __future__ import annotations

import datetime as dt
import math
from enum import Enum
from functools import lru_cache
from typing import Any

import pycountry
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from biotracker.schema.tlp import Tlp

SCHEMA_VERSION = 1

#: Earliest date a report may carry. Event-based surveillance reports are about the present; a
#: year such as 0001 or 1899 is a typo, an epoch zero or an attack on date arithmetic downstream.
EARLIEST_DATE = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
#: How far after the fetch a report's dates may lie. Sources write dates in their own time zone
#: and some announce a report for the next morning, so a day or two ahead is honest; an item
#: dated weeks or years ahead (2099) is wrong and would become "the latest week" of every digest.
MAX_AHEAD_OF_FETCH = dt.timedelta(days=3)
#: Largest case or death count a report may carry: far above any real outbreak figure, and below
#: PostgreSQL's 32-bit ``integer`` limit (2,147,483,647), so no count can fail the insert.
MAX_COUNT = 1_000_000_000
#: Codes used for places ISO 3166 has no code for (user-assigned range), kept deliberately short.
USER_ASSIGNED_ISO3 = frozenset({"XKX"})  # Kosovo, as the EU, World Bank and OCHA write it
#: Deepest nesting allowed in ``evidence`` (it is stored as JSON and rendered in the digest).
MAX_EVIDENCE_DEPTH = 12


@lru_cache(maxsize=1)
def iso3_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-3 code (pycountry) plus the user-assigned codes we accept."""
    return frozenset(c.alpha_3 for c in pycountry.countries) | USER_ASSIGNED_ISO3


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text on every backend (None: it can).

    PostgreSQL refuses NUL in ``text`` and a lone surrogate cannot be encoded as UTF-8 at all; both
    only arrive from broken or hostile input, so a report carrying them is refused, not repaired.
    """
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a character that is not valid Unicode text (lone surrogate at {exc.start})"
    return None


def clean_text(value: str) -> str:
    """``value`` with NUL and lone surrogates replaced, for diagnostics (quarantine) that must store."""
    return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _evidence_problem(value: Any, depth: int = 0) -> str | None:
    if depth > MAX_EVIDENCE_DEPTH:
        return f"is nested deeper than {MAX_EVIDENCE_DEPTH} levels"
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if abs(value) < 2**53 else f"holds the number {value}, too large for JSON"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"holds {value}, which JSON cannot store"
    if isinstance(value, dict):
        items = list(value.items())
        for key, item in items:
            problem = text_problem(key) if isinstance(key, str) else f"has a key of type {type(key).__name__}"
            problem = problem or _evidence_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        return next((p for v in value if (p := _evidence_problem(v, depth + 1))), None)
    return f"holds a {type(value).__name__}, which is not JSON"


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
    stage: str  # "fetch" | "parse" | "normalise" | "store"
    what: str  # locator inside the payload, e.g. "record 17" or "line 42"
    reason: str
    raw_sha256: str | None = None
    excerpt: str = ""

    @field_validator("what", "reason", "excerpt", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        """Diagnostics quote hostile input; they must store on every backend, so NULs are replaced."""
        return clean_text(value) if isinstance(value, str) else value


class Report(Record):
    """One source item, normalised. ``report_id`` is stable: "<source>:<source_id>".

    Every bound a stored report must respect is declared here, once, for every connector: text
    lengths that fit the ``reports`` columns, counts in ``[0, MAX_COUNT]``, real ISO 3166 codes,
    text without NUL or lone surrogates, dates from ``EARLIEST_DATE`` on and, when validated with
    ``context={"fetched_at": ...}`` (as ``normalise_payload`` does), no later than
    ``MAX_AHEAD_OF_FETCH`` after the payload was fetched.
    """

    source: str = Field(max_length=64)
    source_id: str = Field(min_length=1, max_length=255)
    url: str | None = Field(default=None, max_length=4096)
    title: str = Field(max_length=2000)
    summary: str = Field(default="", max_length=200_000)
    text: str = Field(default="", max_length=2_000_000)  # full body text (HTML stripped)
    published_at: AwareDatetime | None = None
    observed_at: AwareDatetime | None = None
    disease: str | None = Field(default=None, max_length=200)
    pathogen: str | None = Field(default=None, max_length=200)
    host: str | None = Field(default=None, max_length=100)  # "human" or an animal host class
    country_iso3: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    admin_area: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    cases: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    deaths: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    language: str = Field(default="en", max_length=8)
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

    @field_validator("share_with", "share_users", mode="before")
    @classmethod
    def _no_share_list_is_empty(cls, value: Any) -> Any:
        """A stored row of a feed record has NULL share lists: the same as none."""
        return () if value is None else value

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

    @field_validator(
        "source",
        "source_id",
        "url",
        "title",
        "summary",
        "text",
        "disease",
        "pathogen",
        "host",
        "admin_area",
        "language",
    )
    @classmethod
    def _storable_text(cls, value: str | None) -> str | None:
        problem = text_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("country_iso3")
    @classmethod
    def _real_country(cls, value: str | None) -> str | None:
        if value is not None and value not in iso3_codes():
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-3 country code")
        return value

    @field_validator("published_at", "observed_at")
    @classmethod
    def _not_before_earliest(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value < EARLIEST_DATE:
            raise ValueError(f"{value.isoformat()} is before {EARLIEST_DATE:%Y-%m-%d}: not a plausible date")
        return value

    @field_validator("evidence")
    @classmethod
    def _evidence_is_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = _evidence_problem(value)
        if problem:
            raise ValueError(f"evidence {problem}")
        return value

    @model_validator(mode="after")
    def _id_fits(self) -> Report:
        if len(self.report_id) > 300:  # the reports.report_id column
            raise ValueError(
                f"report id is {len(self.report_id)} characters, over 300: the source id is too long"
            )
        return self

    @model_validator(mode="after")
    def _not_after_fetch(self, info: ValidationInfo) -> Report:
        """With ``context={"fetched_at": t}``: no date more than ``MAX_AHEAD_OF_FETCH`` after ``t``."""
        fetched_at = (info.context or {}).get("fetched_at")
        if fetched_at is None:
            return self
        limit = fetched_at + MAX_AHEAD_OF_FETCH
        for name in ("published_at", "observed_at"):
            when = getattr(self, name)
            if when is not None and when > limit:
                raise ValueError(
                    f"{name} {when.isoformat()} is more than {MAX_AHEAD_OF_FETCH.days} days after the "
                    f"payload was fetched ({fetched_at.isoformat()}): a date in the future"
                )
        return self


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
