"""The alert queue: the caller's alerts ranked (tier, then most recent week), filtered, sorted and paged.

Rows come from the caller's one scope (:mod:`biotracker.web.reads`, the API's own reading), so a
page never lists an alert the API would refuse. Filters SQL cannot express portably (an agent's
flags are JSON; the assignee is the latest assignment in the alert's history) run in Python over
batches in SQL order until the page is full.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TypeVar
from urllib.parse import urlencode

from sqlalchemy import Connection, Select, case, func, or_, select

from biotracker.access import Principal
from biotracker.alerts.lifecycle import ASSIGNED
from biotracker.db.tables import alert_events, alerts, incident_assessments, incidents
from biotracker.incidents.scopes import Scope
from biotracker.schema import AlertStatus, AlertTier, Tlp
from biotracker.scoring.risk.flag_words import AgentFlag, AgentFlags
from biotracker.server.context import ServerContext
from biotracker.server.visibility import public_id
from biotracker.web.reads import Seen, assignees, caller_scope, shown

PAGE_SIZE = 25


class Sort(str, Enum):
    RANK = "rank"
    NEWEST = "newest"
    OLDEST = "oldest"
    COUNTRY = "country"
    DISEASE = "disease"


#: Agent filters: any listed agent, a Tier 1 select agent, or one flag of the risk lens.
ANY_AGENT, TIER1 = "any", "tier1"
AGENT_FILTERS: dict[str, str] = {
    ANY_AGENT: "any listed agent",
    TIER1: "Tier 1 select agent",
    **{f.value: f.value.replace("_", " ") for f in AgentFlag},
}


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
    agent: str = ""  # a key of AGENT_FILTERS
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
            agent=agent if agent in AGENT_FILTERS else "",
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
            ("agent", self.agent),
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
    #: the incident's id as the caller knows it (links to its page); None for a series-only alert
    incident_id: str | None = None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    filters: QueueFilters
    more: bool
    countries: list[str] = field(default_factory=list)
    diseases: list[str] = field(default_factory=list)


_TIER_ORDER = case({t.value: t.rank for t in AlertTier}, value=alerts.c.tier, else_=len(AlertTier))


def _base(scope: str, f: QueueFilters) -> Select:
    query = (
        select(
            alerts,
            incidents.c.corroboration,
            incident_assessments.c.agent_name,
            incident_assessments.c.agent_flags,
        )
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
    if f.assignee:  # ever assigned to them (the latest assignment is checked afterwards)
        ever = select(alert_events.c.alert_id).where(alert_events.c.note == f"{ASSIGNED}{f.assignee}")
        query = query.where(alerts.c.alert_id.in_(ever))
    if f.agent:
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
    """The flags that hold for an agent, as :class:`AgentFlag` values (and ``tier1``)."""
    if not isinstance(raw, dict):
        return ()
    flags = AgentFlags.of(raw)
    held = [f.value for f in AgentFlag if getattr(flags, f.value)]
    return tuple(held + [TIER1] * bool(flags.tier1))


def _row(scope: Scope, seen: Seen, assignee: str | None) -> QueueRow:
    row = seen.row
    return QueueRow(
        alert_id=seen.public_id,
        headline=row["headline"],
        tier=AlertTier(row["tier"]),
        status=AlertStatus(row["status"]),
        assignee=assignee,
        agent=row["agent_name"],
        agent_flags=_flags(row["agent_flags"]),
        country=row["country_iso3"],
        disease=row["disease"],
        week=row["period_start"],
        last_week=row["last_period"],
        tlp=seen.marking,
        corroboration=row["corroboration"],
        incident_id=public_id(scope, row["incident_id"]) if row["incident_id"] else None,
    )


def _kept(f: QueueFilters, row: QueueRow) -> bool:
    """The filters applied in Python (see the module's docstring)."""
    if f.agent not in ("", ANY_AGENT) and f.agent not in row.agent_flags:
        return False
    return not f.assignee or row.assignee == f.assignee


def load_queue(conn: Connection, ctx: ServerContext, principal: Principal, f: QueueFilters) -> QueuePage:
    """One page of the caller's alerts under ``f`` (and whether another page follows)."""
    scope = caller_scope(conn, ctx, principal)
    query = _base(scope.key, f)
    skip, want = (f.page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    in_python = f.agent not in ("", ANY_AGENT) or bool(f.assignee)
    batch, offset = (200, 0) if in_python else (want, skip)
    kept: list[QueueRow] = []
    while True:
        rows = [dict(r) for r in conn.execute(query.limit(batch).offset(offset)).mappings()]
        offset += len(rows)
        owners = assignees(conn, principal.org, [r["alert_id"] for r in rows])
        kept += [
            r
            for r in (_row(scope, s, owners[s.row["alert_id"]]) for s in shown(conn, ctx, scope, rows))
            if _kept(f, r)
        ]
        if len(rows) < batch or not in_python or len(kept) >= skip + want:
            break
    page = kept[skip : skip + want] if in_python else kept
    countries, diseases = filter_choices(conn, scope.key)
    return QueuePage(
        rows=page[:PAGE_SIZE],
        filters=f,
        more=len(page) > PAGE_SIZE,
        countries=countries,
        diseases=diseases,
    )


#: Seconds a scope's filter choices are reused. Listing them reads every alert of the scope (13 ms
#: of a 25 ms queue page at 10,000 alerts a scope, benchmarks/serve.py); a country or disease new to
#: the scope joins the lists within this time (filtering by it works at once).
CHOICES_TTL_S = 60.0
_choices: dict[tuple[str, str], tuple[float, list[str], list[str]]] = {}


def filter_choices(conn: Connection, scope_key: str) -> tuple[list[str], list[str]]:
    """(countries, diseases) of the scope's alerts, for the filter lists: read at most once a
    :data:`CHOICES_TTL_S` per store and scope (a scope's own values only, as the rows)."""
    key = (conn.engine.url.render_as_string(hide_password=True), scope_key)
    now = time.monotonic()
    cached = _choices.get(key)
    if cached is not None and now - cached[0] < CHOICES_TTL_S:
        return cached[1], cached[2]
    query = select(alerts.c.country_iso3, alerts.c.disease).where(alerts.c.scope == scope_key).distinct()
    pairs = conn.execute(query).all()
    countries = sorted({c for c, _ in pairs if c})
    diseases = sorted({d for _, d in pairs if d}, key=str.casefold)
    _choices[key] = (now, countries, diseases)
    return countries, diseases
