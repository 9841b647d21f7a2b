"""SQLAlchemy 2 tables of schema v1. Migrations in sql/migrations must produce exactly these.

Primary keys are natural, deterministic keys (content hashes, "<source>:<source_id>", ...), so every
stage can upsert and a re-run never duplicates a row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
    text,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: every stored time must be timezone-aware UTC")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


raw_payloads = Table(
    "raw_payloads",
    metadata,
    Column("sha256", String(64), primary_key=True, comment="content address of the bytes under var/raw/"),
    # Part of the key: two sources serving identical bytes each get their payload normalised.
    Column("source", String(64), primary_key=True, index=True),
    Column("url", Text, nullable=False),
    Column("fetched_at", UtcDateTime(), nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_type", String(200)),
    Column("normalised_version", Integer, comment="parser version that last normalised it; NULL = pending"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_id", String(64), primary_key=True, comment="sha256 of source|stage|what|raw_sha256"),
    Column("source", String(64), nullable=False, index=True),
    Column("stage", String(32), nullable=False),
    Column("what", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw_sha256", String(64)),
    Column("excerpt", Text, nullable=False, default=""),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", String(300), primary_key=True, comment="<source>:<source_id>"),
    Column("source", String(64), nullable=False, index=True),
    Column("source_id", String(255), nullable=False),
    Column("url", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("published_at", UtcDateTime(), index=True),
    Column("observed_at", UtcDateTime()),
    Column("disease", String(200)),
    Column("pathogen", String(200)),
    Column("host", String(100)),
    Column("country_iso3", String(3)),
    Column("admin_area", String(200)),
    Column("lat", Float),
    Column("lon", Float),
    Column("cases", Integer),
    Column("deaths", Integer),
    Column("language", String(8), nullable=False, default="en"),
    Column("tlp", String(16), nullable=False),
    Column("raw_sha256", String(64)),
    Column("evidence", JSON, nullable=False, default=dict),
    # 0009 access model (docs/ACCESS.md); NULL on feed records = the configured community organisation
    Column("originator_org", String(100), index=True, comment="organisation that originated the record"),
    Column("share_with", JSON, comment="AMBER: organisations the originator shares it with"),
    Column("share_users", JSON, comment="RED: usernames the originator names"),
    Column("withdrawn_at", UtcDateTime(), comment="tombstone: the originator withdrew the report"),
    # 0006: which markings exist is asked by index probes (incidents/scopes.py present_classes)
    Index("ix_reports_tlp_source", "tlp", "source"),
)
#: Event time (observed, else published): the clustering neighbourhood query ranges over it.
Index("ix_reports_event_at", func.coalesce(reports.c.observed_at, reports.c.published_at))
# 0009: the server finds what an alert was built from by country (and disease, week)
Index("ix_reports_country_iso3", reports.c.country_iso3)

#: Visibility scope of every derived row (incidents/scopes.py); rows written before 0006 are public.
PUBLIC_SCOPE = "tlp:clear"


def _scope_column() -> Column:
    return Column(
        "scope",
        String(200),
        nullable=False,
        default=PUBLIC_SCOPE,
        server_default=PUBLIC_SCOPE,
        comment="visibility scope: computed only from reports this scope may see (incidents/scopes.py)",
    )


incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("disease", String(200)),
    Column("pathogen", String(200)),
    Column("host", String(100)),
    Column("country_iso3", String(3)),
    Column("first_seen_at", UtcDateTime(), index=True),
    Column("last_seen_at", UtcDateTime()),
    Column("cases", Integer),
    Column("deaths", Integer),
    Column("tlp", String(16), nullable=False),
    # 0002 clustering (docs/CLUSTERING.md); NULL on rows written before it
    Column("report_count", Integer, comment="reports in the incident"),
    Column("corroboration", Integer, comment="distinct independent sources"),
    Column("reliability", Float, comment="noisy-OR of the independent sources' tier weights"),
    Column(
        "source_tier",
        String(32),
        comment="best source tier: official, law_enforcement, moderated, media, context",
    ),
    _scope_column(),
    Index("ix_incidents_scope_first_seen", "scope", "first_seen_at"),
)
# 0011: the API's incident pages of one scope (first_seen_at DESC NULLS LAST, incident_id) are these
# indexes read backwards, with or without a country filter
Index(
    "ix_incidents_scope_page",
    incidents.c.scope,
    incidents.c.first_seen_at.nulls_first(),
    incidents.c.incident_id.desc(),
)
Index(
    "ix_incidents_scope_country_page",
    incidents.c.scope,
    incidents.c.country_iso3,
    incidents.c.first_seen_at.nulls_first(),
    incidents.c.incident_id.desc(),
)

incident_reports = Table(
    "incident_reports",
    metadata,
    Column(
        "incident_id", String(64), ForeignKey("incidents.incident_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("report_id", String(300), ForeignKey("reports.report_id", ondelete="CASCADE"), primary_key=True),
    # 0002 clustering: why the report is in the incident (the link that brought it in)
    Column("link", String(32), comment="seed, same_url, same_content, near_duplicate, same_event, detached"),
    Column("linked_to", String(300), comment="report_id at the other end of that link"),
    Column("reason", Text, comment="the link in words"),
    Column("duplicate_of", String(300), comment="earliest report of its duplicate group; NULL if none"),
    # 0006: the report's series and week, copied at link time so that series, baselines and lens
    # history are read from this table by index, for the series and weeks a run touches only.
    _scope_column(),
    Column("series_key", String(300), comment="disease|country|host of the report (incidents/series.py)"),
    Column("disease", String(200)),
    Column("country_iso3", String(3)),
    Column("period_start", Date, comment="Monday of the report's event week; NULL without a date"),
    Column("cases", Integer),
    Column("deaths", Integer),
    # 0014: the report's source, so that each source's first week is one index probe (scoring/lens.py)
    Column("source", String(64), comment="the report's source (reports.source), copied at link time"),
    # 0017: so that the lens reads the evidence of only the reports that have cues
    Column("cues", Integer, comment="intent and accident cues in the report's evidence, copied at link time"),
    Index("ix_incident_reports_report_id", "report_id", "scope"),
    # 0017: an incident's counted members grouped by series, week and source from the index alone
    # (the lens), and its members with cues through a small partial index
    Index(
        "ix_incident_reports_members",
        "incident_id",
        "scope",
        "duplicate_of",
        "series_key",
        "period_start",
        "source",
        "cases",
        "deaths",
        "report_id",
    ),
    Index(
        "ix_incident_reports_cued",
        "incident_id",
        sqlite_where=text("cues > 0"),
        postgresql_where=text("cues > 0"),
    ),
    Index("ix_incident_reports_series", "scope", "series_key", "period_start"),
    Index("ix_incident_reports_disease", "scope", "disease", "country_iso3", "period_start"),
    Index("ix_incident_reports_period", "scope", "period_start"),
    Index("ix_incident_reports_source", "scope", "source", "period_start"),
    # 0014: a disease's weeks from a given week on, and its history, read from the index alone
    Index(
        "ix_incident_reports_disease_week",
        "scope",
        "disease",
        "period_start",
        "duplicate_of",
        "series_key",
        "incident_id",
    ),
    # 0014: the reports a case fatality ratio can be taken from (enough cases), by index range
    Index(
        "ix_incident_reports_fatality", "scope", "disease", "cases", "deaths", "period_start", "duplicate_of"
    ),
)

incident_overrides = Table(
    "incident_overrides",
    metadata,
    Column("report_id", String(300), primary_key=True, comment="report an analyst keeps out of merges"),
    Column("action", String(16), nullable=False, comment="detach"),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime()),
)

incident_merges = Table(
    "incident_merges",
    metadata,
    Column("report_id", String(300), primary_key=True, comment="a report of one merged incident"),
    Column("with_report_id", String(300), primary_key=True, comment="a report of the other"),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime()),
    comment="forced links between incidents an analyst merged; every clustering run respects them",
)

series_counts = Table(
    "series_counts",
    metadata,
    # 0016: counted reports per series and week, kept up to date by clustering from each run's
    # link changes, so that scoring and the lens read series x weeks rows rather than every link
    # (what made their cost grow with the stored history). Equals a GROUP BY over the counted
    # links (non-duplicate, dated) of the scope; a full rebuild recomputes it.
    _scope_column(),
    Column("series_key", String(300), nullable=False, comment="disease|country|host"),
    Column("period_start", Date, nullable=False, comment="Monday of the week"),
    Column("disease", String(200), comment="the series key's parts, for the lens's per-disease reads"),
    Column("country_iso3", String(3)),
    Column("host", String(200)),
    Column("n", Integer, nullable=False, comment="counted reports of the series that week (> 0)"),
    PrimaryKeyConstraint("scope", "series_key", "period_start"),
    # a disease's weekly counts by country and by host, summed from the index alone
    Index("ix_series_counts_country", "scope", "disease", "country_iso3", "period_start", "n"),
    Index("ix_series_counts_host", "scope", "disease", "host", "period_start", "n"),
    # 0018: a disease's recent weeks by country and by host (a range of weeks), and its countries
    # per week, from the index alone
    Index("ix_series_counts_week", "scope", "disease", "period_start", "country_iso3", "host", "n"),
)

country_months = Table(
    "country_months",
    metadata,
    # 0018: counted reports per disease, country and calendar month over all weeks, kept with
    # series_counts. The lens's seasonality asks how a country's earlier reports fall by month;
    # for a run that assesses recent weeks, the weeks before them are this total less the recent
    # weeks, so it reads countries x 12 rows instead of every week of a five-year history.
    _scope_column(),
    Column("disease", String(200), nullable=False, comment="the series key's disease part ('*': unknown)"),
    Column("country_iso3", String(3), nullable=False),
    Column("month", Integer, nullable=False, comment="1-12: the month of the week's Monday"),
    Column("n", Integer, nullable=False, comment="counted reports (> 0)"),
    PrimaryKeyConstraint("scope", "disease", "country_iso3", "month"),
)


signals = Table(
    "signals",
    metadata,
    Column("signal_id", String(400), primary_key=True, comment="<method>:<series_key>:<period_start>"),
    Column("series_key", String(300), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("observed", Integer, nullable=False),
    Column("expected", Float),
    Column("upperbound", Float),
    Column("alarm", Boolean),
    Column("method", String(64), nullable=False),
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_signals_series_period", "series_key", "period_start"),
    _scope_column(),
    Index("ix_signals_scope_series_period", "scope", "series_key", "period_start"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("incident_id", String(64), ForeignKey("incidents.incident_id", ondelete="SET NULL")),
    Column("signal_id", String(400)),
    Column("period_start", Date, nullable=False, index=True),
    Column("headline", Text, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("tlp", String(16), nullable=False),
    Column("country_iso3", String(3)),
    Column("disease", String(200)),
    Column("source_urls", JSON, nullable=False, default=list),
    # 0003 risk lens and lifecycle
    Column("last_period", Date, comment="latest week folded into this alert (cool-down episodes)"),
    Column("rule", String(64), comment="tier rule that set the tier (alerts/tiers.toml)"),
    Column("features", JSON, comment="facts the tier rules saw"),
    Column("status_by", String(200), comment="who set the current status"),
    Column("status_at", UtcDateTime(), comment="when the current status was set"),
    _scope_column(),
    Column("series_key", String(300), comment="0006: the series the alert is about"),
    Index("ix_alerts_scope_period", "scope", "period_start"),
    Index("ix_alerts_scope_series", "scope", "series_key", "period_start"),
)
# 0011: the API's alert pages of one scope (period_start DESC, alert_id) are these indexes read
# backwards, with or without a country filter
Index("ix_alerts_scope_page", alerts.c.scope, alerts.c.period_start, alerts.c.alert_id.desc())
Index(
    "ix_alerts_scope_country_page",
    alerts.c.scope,
    alerts.c.country_iso3,
    alerts.c.period_start,
    alerts.c.alert_id.desc(),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column(
        "alert_id", String(64), ForeignKey("alerts.alert_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

alert_feedback = Table(
    "alert_feedback",
    metadata,
    Column("feedback_id", String(64), primary_key=True),
    Column(
        "alert_id", String(64), ForeignKey("alerts.alert_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("label", String(16), nullable=False, comment="relevant | not-relevant"),
    Column("note", Text, nullable=False, default=""),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

incident_assessments = Table(
    "incident_assessments",
    metadata,
    Column(
        "incident_id", String(64), ForeignKey("incidents.incident_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("agent_key", String(100)),
    Column("agent_id", String(64)),
    Column("agent_name", String(200)),
    Column("agent_flags", JSON, nullable=False, default=dict),
    Column("unusual", JSON, nullable=False, default=list, comment="[{flag, evidence}]"),
    Column("cues", JSON, nullable=False, default=list, comment="[{category, text, sentence, report_id}]"),
    Column("indicator_total", Integer, nullable=False, default=0),
    Column("verdict", String(80)),
    Column(
        "indicators",
        JSON,
        nullable=False,
        default=list,
        comment="fired Radosavljevic indicators with evidence",
    ),
    Column("rule_score", Float, nullable=False, default=0.0),
    _scope_column(),
)

source_health = Table(
    "source_health",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("last_fetch_at", UtcDateTime()),
    Column("last_success_at", UtcDateTime()),
    Column("last_failure_at", UtcDateTime()),
    Column("last_error", Text),
    Column("payloads", Integer, nullable=False, default=0),
    Column("items", Integer, nullable=False, default=0),
    Column("quarantined", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
)

# --- 0009 access model: organisations, users, API tokens, sessions, audit log (docs/ACCESS.md) ---

organisations = Table(
    "organisations",
    metadata,
    Column("name", String(100), primary_key=True, comment="short unique name, e.g. NCB-NL"),
    Column("created_at", UtcDateTime(), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("org", String(100), ForeignKey("organisations.name"), nullable=False, index=True),
    Column("role", String(16), nullable=False, comment="analyst, contributor, operator, admin"),
    Column("password_hash", Text, nullable=False, comment="Argon2id hash"),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(16), primary_key=True, comment="public handle to list and revoke the token"),
    Column("token_sha256", String(64), nullable=False, unique=True, comment="sha256 of the secret token"),
    Column("username", String(100), ForeignKey("users.username"), nullable=False, index=True),
    Column("scope", String(8), nullable=False, comment="read | write"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_sha256", String(64), primary_key=True, comment="sha256 of the random session id"),
    Column("username", String(100), ForeignKey("users.username"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("username", String(100), primary_key=True, comment="as typed: unknown names are throttled too"),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_failure_at", UtcDateTime()),
    Column("locked_until", UtcDateTime()),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(100), nullable=False, index=True, comment="username, or '-' when anonymous"),
    Column("org", String(100)),
    Column("action", String(40), nullable=False, comment="login, login_failed, token_use, read, write, ..."),
    Column("record_ids", JSON, nullable=False, default=list),
    Column("outcome", String(16), nullable=False, comment="ok, denied, not_found, invalid, locked"),
    Column("detail", Text, nullable=False, default=""),
    Column("remote", String(64), comment="client address"),
)

#: The access model's tables (not part of the pipeline snapshots in ``ALL_TABLES``).
ACCESS_TABLES = [organisations, users, api_tokens, sessions, login_failures, audit_log]

# --- 0012 analyst workbench: each analyst's saved queue views ---

saved_views = Table(
    "saved_views",
    metadata,
    Column("view_id", String(32), primary_key=True, comment="sha256 of username|name, shortened"),
    Column(
        "username", String(100), ForeignKey("users.username", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("name", String(100), nullable=False),
    Column("query", Text, nullable=False, comment="the queue's filter query string"),
    Column("created_at", UtcDateTime(), nullable=False),
)

worksheet_entries = Table(
    "worksheet_entries",
    metadata,
    # no foreign key to incidents: a rebuild deletes and rewrites incident rows under the same ids
    Column("incident_id", String(64), primary_key=True, comment="stored (scope-qualified) incident id"),
    Column("tool", String(16), primary_key=True, comment="gft or mgft (data/worksheets.toml)"),
    Column("assessor", String(100), primary_key=True, comment="username of the analyst who scored"),
    Column("version", Integer, primary_key=True, comment="1, 2, ... per incident, tool and assessor"),
    Column("scores", JSON, nullable=False, comment="[{criterion_id, points, evidence}]"),
    Column("created_at", UtcDateTime(), nullable=False),
)

#: Tables in dependency order (parents first), for snapshots and row counts.
ALL_TABLES = [
    raw_payloads,
    quarantine,
    reports,
    incidents,
    incident_reports,
    incident_overrides,
    incident_merges,
    incident_assessments,
    signals,
    alerts,
    alert_events,
    alert_feedback,
    source_health,
]
