"""``/sources``: per-source health and quarantine, for operators and admins only.

The states are ``biotracker status``'s own (``ingest.health.source_statuses``): fresh, silent
(nothing new for three cadences), failing, never fetched. Each source lists its quarantined items
with the reason, linking to the metadata of the raw payload they came from. Other roles get a
page that says the page is for operators and shows no data at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine, select

from biotracker.access import Principal, Role
from biotracker.db.tables import quarantine, raw_payloads
from biotracker.ingest.health import SourceStatus, describe_age, source_statuses
from biotracker.schema import SourceKind
from biotracker.server.auth import Caller
from biotracker.web.render import PageCaller, context_of, render

router = APIRouter(tags=["pages"])
OPERATORS = frozenset({Role.OPERATOR, Role.ADMIN})
#: The words the page uses for ``SourceStatus.state``.
STATE_WORDS = {"ok": "fresh", "silent": "silent", "failing": "failing", "never fetched": "never fetched"}
QUARANTINE_SHOWN = 50


@dataclass(frozen=True)
class QuarantinedItem:
    quarantine_id: str
    source: str
    stage: str
    what: str
    reason: str
    raw_sha256: str | None


@dataclass(frozen=True)
class SourceHealth:
    """One row of the page: the status and the source's latest quarantined items."""

    status: SourceStatus
    state: str
    freshness: str
    quarantined: list[QuarantinedItem]


@dataclass(frozen=True)
class PayloadMetadata:
    sha256: str
    source: str
    url: str
    fetched_at: dt.datetime
    http_status: int
    size: int
    content_type: str | None


def may_operate(principal: Principal) -> bool:
    return principal.role in OPERATORS


def quarantined_items(conn: Connection, source: str | None = None) -> dict[str, list[QuarantinedItem]]:
    """source -> its quarantined items, ordered by stage and item (the table records no time)."""
    query = select(quarantine).order_by(quarantine.c.source, quarantine.c.stage, quarantine.c.what)
    if source:
        query = query.where(quarantine.c.source == source)
    found: dict[str, list[QuarantinedItem]] = {}
    for r in conn.execute(query).mappings():
        found.setdefault(r["source"], []).append(
            QuarantinedItem(
                r["quarantine_id"], r["source"], r["stage"], r["what"], r["reason"], r["raw_sha256"]
            )
        )
    return found


def source_health_page_data(engine: Engine, at: dt.datetime) -> list[SourceHealth]:
    """Every source's health judged at ``at`` with its first quarantined items."""
    statuses = source_statuses(engine, at)
    with engine.connect() as conn:
        held = quarantined_items(conn)
    return [
        SourceHealth(
            status=s,
            state=STATE_WORDS.get(s.state, s.state),
            freshness=describe_age(s.freshness),
            quarantined=held.get(s.source, [])[:QUARANTINE_SHOWN],
        )
        for s in statuses
    ]


def quarantine_detail(
    conn: Connection, quarantine_id: str
) -> tuple[QuarantinedItem, str, PayloadMetadata | None]:
    """A quarantined item, its excerpt and its payload's metadata; KeyError when there is no such item."""
    row = (
        conn.execute(select(quarantine).where(quarantine.c.quarantine_id == quarantine_id)).mappings().first()
    )
    if row is None:
        raise KeyError(quarantine_id)
    item = QuarantinedItem(
        row["quarantine_id"], row["source"], row["stage"], row["what"], row["reason"], row["raw_sha256"]
    )
    payload = None
    if row["raw_sha256"]:
        p = (
            conn.execute(
                select(raw_payloads).where(
                    raw_payloads.c.sha256 == row["raw_sha256"], raw_payloads.c.source == row["source"]
                )
            )
            .mappings()
            .first()
        )
        if p is not None:
            payload = PayloadMetadata(
                p["sha256"],
                p["source"],
                p["url"],
                p["fetched_at"],
                p["http_status"],
                p["size"],
                p["content_type"],
            )
    return item, row["excerpt"] or "", payload


def _forbidden(request: Request, who: Caller) -> HTMLResponse:
    return render(request, who, "sources_forbidden.html", status_code=403)


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, who: PageCaller) -> HTMLResponse:
    if not may_operate(who.principal):
        return _forbidden(request, who)
    ctx = context_of(request)
    return render(request, who, "sources.html", sources=source_health_page_data(ctx.engine, ctx.clock()))


@router.get("/sources/quarantine/{quarantine_id}", response_class=HTMLResponse)
def quarantine_page(request: Request, who: PageCaller, quarantine_id: str) -> HTMLResponse:
    if not may_operate(who.principal):
        return _forbidden(request, who)
    ctx = context_of(request)
    with ctx.engine.connect() as conn:
        try:
            item, excerpt, payload = quarantine_detail(conn, quarantine_id)
        except KeyError:
            raise HTTPException(status_code=404, detail="no such quarantined item") from None
    # Law-enforcement intake is at least AMBER+STRICT: its raw words are not shown, even to operators.
    intake = ctx.rules.source_kinds.get(item.source) == SourceKind.LAW_ENFORCEMENT
    return render(
        request,
        who,
        "quarantine_item.html",
        item=item,
        excerpt="" if intake else excerpt,
        intake=intake,
        payload=payload,
    )
