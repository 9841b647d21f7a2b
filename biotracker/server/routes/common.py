"""What every API route shares: the server context, the caller's scope, cursors, JSON values, the audit.

Derived rows (incidents, alerts) are read from the caller's one visibility scope
(``server/visibility.py``); anything outside it answers 404 exactly like something that does not
exist, never 403, which would confirm that it exists.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Collection, Iterable
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import Connection, Select, Table, func, select

from biotracker.db.tables import incident_reports, reports
from biotracker.incidents.scopes import LAW_ENFORCEMENT_FLOOR, Scope
from biotracker.schema import Tlp, most_restrictive
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import Caller, audit
from biotracker.server.context import ServerContext
from biotracker.server.visibility import scope_of

#: Markings whose every read through the API is audited.
RESTRICTED = {Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED}


def ctx_of(request: Request) -> ServerContext:
    return request.app.state.ctx


def caller_scope(conn: Connection, request: Request, c: Caller) -> Scope:
    return scope_of(conn, c.principal, ctx_of(request).rules)


def not_found(request: Request, c: Caller, kind: str, record_id: str) -> HTTPException:
    """The 404 for something missing or not the caller's to see (audited: someone asked for it)."""
    audit(
        ctx_of(request),
        request,
        Action.READ,
        Outcome.NOT_FOUND,
        principal=c.principal,
        record_ids=(record_id,),
        detail=f"no such {kind} in the caller's view (answered 404)",
    )
    return HTTPException(status_code=404, detail=f"no such {kind}")


def audit_reads(request: Request, c: Caller, items: Iterable[dict[str, Any]], key: str, what: str) -> None:
    """One audit row for the restricted items of an answer (none when nothing is restricted)."""
    restricted = tuple(str(i[key]) for i in items if Tlp(i["tlp"]) in RESTRICTED)
    if restricted:
        audit(
            ctx_of(request),
            request,
            Action.READ,
            Outcome.OK,
            principal=c.principal,
            record_ids=restricted,
            detail=what,
        )


def on_topic(query: Select, table: Table, country: str | None, disease: str | None) -> Select:
    """The country and disease filters every derived list takes (country: ISO3; disease: any case)."""
    if country:
        query = query.where(table.c.country_iso3 == country.upper())
    if disease:
        query = query.where(func.lower(table.c.disease) == disease.casefold())
    return query


def encode_cursor(*values: Any) -> str:
    """An opaque cursor: the sort key of the last item of a page."""
    raw = json.dumps([jsonable(v) for v in values]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise HTTPException(status_code=400, detail="cursor: not a cursor this API returned")
    return values


def parse_time(value: Any, kind: type[dt.date] = dt.date) -> Any:
    """A cursor's date or time back (400 for anything else)."""
    if value is None:
        return None
    try:
        return kind.fromisoformat(str(value))
    except ValueError:
        raise HTTPException(status_code=400, detail="cursor: not a cursor this API returned") from None


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def intake_incidents(
    conn: Connection, scope: Scope, intake: Collection[str], incident_ids: Collection[str]
) -> set[str]:
    """Which of ``incident_ids`` (stored ids) hold law-enforcement intake without an originator: their
    marking is at least AMBER+STRICT whatever the reports declare. Only scopes that admit intake
    have any; one indexed query per page."""
    if not scope.law_enforcement or not intake or not incident_ids:
        return set()
    query = (
        select(incident_reports.c.incident_id)
        .join(reports, reports.c.report_id == incident_reports.c.report_id)
        .where(
            incident_reports.c.scope == scope.key,
            incident_reports.c.incident_id.in_(sorted(incident_ids)),
            reports.c.source.in_(sorted(intake)),
            reports.c.originator_org.is_(None),
        )
        .distinct()
    )
    return set(conn.execute(query).scalars())


def marking(stored: str, floored: bool) -> Tlp:
    """A derived item's marking: its own, raised to the intake floor when intake fed it."""
    own = Tlp(stored)
    return most_restrictive([own, LAW_ENFORCEMENT_FLOOR]) if floored else own
