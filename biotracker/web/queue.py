"""The alert queue: the caller's alerts ranked (tier, then most recent week), filtered, sorted and paged.

Rows come from the caller's scope (:mod:`biotracker.web.reads`) in SQL order; filters SQL cannot
express portably (agent flags in JSON) and the policy check run in Python over batches until the
page is full, so a page never lists an alert the API would refuse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TypeVar
from urllib.parse import urlencode

from sqlalchemy import Connection, Select, case, func, or_, select

from biotracker.access import Principal
from biotracker.db.tables import alert_assignments, alerts, incident_assessments, incidents
from biotracker.schema import AlertStatus, AlertTier, Tlp
from biotracker.server.context import ServerContext
from biotracker.web.reads import caller_scope, visible

PAGE_SIZE = 25


class Sort(str, Enum):
    RANK = "rank"
    NEWEST = "newest"
    OLDEST = "oldest"
    COUNTRY = "country"
    DISEASE = "disease"


class AgentFlag(str, Enum):
    """Flags of the alert's agent (``incident_assessments.agent_flags``) an analyst filters by."""

    ANY = "any"  # the incident names a listed agent at all
    TIER1 = "tier1"
    SELECT_AGENT = "select_agent"
    AUSTRALIA_GROUP = "australia_group"
    CDC_CATEGORY = "cdc_category"
    WHO_PRIORITY = "who_priority"
    IHR_ALWAYS_NOTIFIABLE = "ihr_always_notifiable"
    ERADICATED = "eradicated"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


E = TypeVar("E", bound=Enum)


def _enum_values(kind: type[E], values: list[str]) -> tuple[E, ...]:
    return tuple(dict.fromkeys(kind(v) for v in values if v in {m.value for m in kind}))


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class QueueFilters:
    """What the analyst asked for; every value parsed and bounded (unknown values are dropped)."""

    tiers: tuple[AlertTier, ...] = ()
    statuses: tuple[AlertStatus, ...] = ()
    agent: AgentFlag | None = None
    country: str = ""
    disease: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""
    assignee: str = ""
    sort: Sort = Sort.RANK
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, list[str]]) -> QueueFilters:
        def one(name: str, limit: int = 200) -> str:
            values = params.get(name) or [""]
            return values[0].strip()[:limit]

        agent = one("agent")
        sort = one("sort")
        page = one("page")
        return cls(
            tiers=_enum_values(AlertTier, params.get("tier", [])),
            statuses=_enum_values(AlertStatus, params.get("status", [])),
            agent=AgentFlag(agent) if agent in {a.value for a in AgentFlag} else None,
            country=one("country", 3).upper() if one("country", 3).isalpha() else "",
            disease=one("disease"),
            since=_date(one("since", 10)),
            until=_date(one("until", 10)),
            text=one("q"),
            assignee=one("assignee", 100),
            sort=Sort(sort) if sort in {s.value for s in Sort} else Sort.RANK,
            page=min(int(page), 10_000) if page.isdigit() and int(page) > 0 else 1,
        )

    def pairs(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs (defaults left out): links, saved views, paging."""
        found: list[tuple[str, str]] = [("tier", t.value) for t in self.tiers]
        found += [("status", s.value) for s in self.statuses]
        for name, value in (
            ("agent", self.agent.value if self.agent else ""),
            ("country", self.country),
            ("disease", self.disease),
            ("since", self.since.isoformat() if self.since else ""),
            ("until", self.until.isoformat() if self.until else ""),
            ("q", self.text),
            ("assignee", self.assignee),
            ("sort", self.sort.value if self.sort is not Sort.RANK else ""),
            ("page", str(self.page) if self.page > 1 else ""),
        ):
            if value:
                found.append((name, value))
        return found

    def query(self, page: int = 1) -> str:
        """This view's query string at ``page``."""
        return urlencode(replace(self, page=page).pairs())

    @property
    def filtered(self) -> bool:
        return bool([p for p in self.pairs() if p[0] not in ("sort", "page")])


@dataclass(frozen=True)
class QueueRow:
    alert_id: str
    headline: str
    tier: AlertTier
    status: AlertStatus
    assignee: str | None
    agent: str | None
    agent_flags: tuple[str, ...]
    country: str | None
    disease: str | None
    week: dt.date
    last_week: dt.date | None
    tlp: Tlp
    corroboration: int | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    filters: QueueFilters
    more: bool
    scope: str
    countries: list[str] = field(default_factory=list)
    diseases: list[str] = field(default_factory=list)


_TIER_ORDER = case({t.value: t.rank for t in AlertTier}, value=alerts.c.tier, else_=len(AlertTier))


def _base(scope: str, f: QueueFilters) -> Select:
    query = (
        select(
            alerts,
            alert_assignments.c.assignee,
            incidents.c.corroboration,
            incident_assessments.c.agent_name,
            incident_assessments.c.agent_flags,
        )
        .outerjoin(alert_assignments, alert_assignments.c.alert_id == alerts.c.alert_id)
        .outerjoin(incidents, incidents.c.incident_id == alerts.c.incident_id)
        .outerjoin(incident_assessments, incident_assessments.c.incident_id == alerts.c.incident_id)
        .where(alerts.c.scope == scope)
    )
    if f.tiers:
        query = query.where(alerts.c.tier.in_([t.value for t in f.tiers]))
    if f.statuses:
        query = query.where(alerts.c.status.in_([s.value for s in f.statuses]))
    if f.country:
        query = query.where(alerts.c.country_iso3 == f.country)
    if f.disease:
        query = query.where(func.lower(alerts.c.disease) == f.disease.casefold())
    if f.since:
        query = query.where(func.coalesce(alerts.c.last_period, alerts.c.period_start) >= f.since)
    if f.until:
        query = query.where(alerts.c.period_start <= f.until)
    if f.assignee:
        query = query.where(alert_assignments.c.assignee == f.assignee)
    if f.agent is not None:
        query = query.where(incident_assessments.c.agent_key.is_not(None))
    if f.text:
        like = f"%{f.text.casefold()}%"
        query = query.where(
            or_(
                func.lower(alerts.c.headline).like(like),
                func.lower(alerts.c.disease).like(like),
                func.lower(incident_assessments.c.agent_name).like(like),
                func.lower(alerts.c.alert_id).like(like),
            )
        )
    week = func.coalesce(alerts.c.last_period, alerts.c.period_start)
    order = {
        Sort.RANK: (_TIER_ORDER, week.desc()),
        Sort.NEWEST: (week.desc(),),
        Sort.OLDEST: (alerts.c.period_start.asc(),),
        Sort.COUNTRY: (alerts.c.country_iso3.asc(), _TIER_ORDER),
        Sort.DISEASE: (func.lower(alerts.c.disease).asc(), _TIER_ORDER),
    }[f.sort]
    return query.order_by(*order, alerts.c.alert_id)


def _flags(raw: object) -> tuple[str, ...]:
    """The set flags of an agent, as names (``select_agent: "USDA"`` counts as set)."""
    if not isinstance(raw, dict):
        return ()
    return tuple(k for k, v in raw.items() if v not in (None, False, "", 0))


def _row(row: Mapping, marking: Tlp) -> QueueRow:
    return QueueRow(
        alert_id=row["alert_id"],
        headline=row["headline"],
        tier=AlertTier(row["tier"]),
        status=AlertStatus(row["status"]),
        assignee=row["assignee"],
        agent=row["agent_name"],
        agent_flags=_flags(row["agent_flags"]),
        country=row["country_iso3"],
        disease=row["disease"],
        week=row["period_start"],
        last_week=row["last_period"],
        tlp=marking,
        corroboration=row["corroboration"],
    )


def load_queue(conn: Connection, ctx: ServerContext, principal: Principal, f: QueueFilters) -> QueuePage:
    """One page of the caller's alerts under ``f`` (and whether another page follows)."""
    scope = caller_scope(conn, ctx, principal).key
    query = _base(scope, f)
    skip, want = (f.page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    batch = 200
    offset = 0
    kept: list[QueueRow] = []
    while len(kept) < skip + want:
        rows = [dict(r) for r in conn.execute(query.limit(batch).offset(offset)).mappings()]
        offset += len(rows)
        for seen in visible(conn, ctx, principal, rows):
            item = _row(seen.row, seen.marking)
            if f.agent is None or f.agent is AgentFlag.ANY or f.agent.value in item.agent_flags:
                kept.append(item)
        if len(rows) < batch:
            break
    page = kept[skip : skip + want]
    choices = select(alerts.c.country_iso3, alerts.c.disease).where(alerts.c.scope == scope).distinct()
    pairs = conn.execute(choices).all()
    return QueuePage(
        rows=page[:PAGE_SIZE],
        filters=f,
        more=len(page) > PAGE_SIZE,
        scope=scope,
        countries=sorted({c for c, _ in pairs if c}),
        diseases=sorted({d for _, d in pairs if d}, key=str.casefold),
    )
