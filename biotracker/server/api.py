"""The versioned REST API (``/api/v1``): alerts, reports and contributions, all through the policy.

A record the caller may not see answers 404 exactly like a record that does not exist: a 403 would
confirm that it exists. Reads of TLP:AMBER, AMBER+STRICT and RED records and every write go to the
audit log.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import and_, func, or_, select

from biotracker.access import Role
from biotracker.db.tables import alerts, reports
from biotracker.schema import AlertStatus, AlertTier, Tlp
from biotracker.server import contribute
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import CallerDep, audit, require_write
from biotracker.server.context import ServerContext
from biotracker.server.visibility import alert_inputs, alert_visible

router = APIRouter(prefix="/api/v1")
RESTRICTED = {Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED}
ALERT_FIELDS = (
    "alert_id",
    "tier",
    "status",
    "disease",
    "country_iso3",
    "tlp",
    "headline",
    "period_start",
    "last_period",
    "incident_id",
    "rule",
    "source_urls",
)


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


@router.get("/health", tags=["meta"])
def health(request: Request) -> dict[str, str]:
    """200 when the server can reach its store; needs no authentication."""
    with _ctx(request).engine.connect() as conn:
        conn.execute(select(1))
    return {"status": "ok"}


@router.get("/me", tags=["meta"])
def me(c: CallerDep) -> dict[str, Any]:
    """Who the caller is (and, for a session, the CSRF token its forms must send)."""
    p = c.principal
    return {
        "username": p.username,
        "org": p.org,
        "role": p.role.value,
        "via": c.via,
        "scope": c.scope.value,
        "csrf_token": c.csrf_token,
    }


# --- alerts ---------------------------------------------------------------------------------------


def _encode_cursor(period: dt.date, alert_id: str) -> str:
    raw = json.dumps([period.isoformat(), alert_id]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.date, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        period, alert_id = json.loads(raw)
        return dt.date.fromisoformat(period), str(alert_id)
    except (ValueError, TypeError):
        raise HTTPException(status_code=400, detail="cursor: not a cursor this API returned") from None


@router.get("/alerts", tags=["alerts"])
def list_alerts(
    request: Request,
    c: CallerDep,
    tier: AlertTier | None = None,
    status: AlertStatus | None = None,
    country: Annotated[str | None, Query(max_length=3)] = None,
    disease: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Alerts the caller may see, newest week first; pass ``next`` back as ``cursor`` for the next page."""
    ctx = _ctx(request)
    query = select(alerts)
    if tier:
        query = query.where(alerts.c.tier == tier.value)
    if status:
        query = query.where(alerts.c.status == status.value)
    if country:
        query = query.where(alerts.c.country_iso3 == country.upper())
    if disease:
        query = query.where(func.lower(alerts.c.disease) == disease.casefold())
    if cursor:
        period, after = _decode_cursor(cursor)
        query = query.where(
            or_(
                alerts.c.period_start < period,
                and_(alerts.c.period_start == period, alerts.c.alert_id > after),
            )
        )
    query = query.order_by(alerts.c.period_start.desc(), alerts.c.alert_id)
    items: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    more = False
    batch = max(limit, 50)
    offset = 0
    with ctx.engine.connect() as conn:
        while len(items) < limit:
            rows = [dict(r) for r in conn.execute(query.limit(batch).offset(offset)).mappings()]
            offset += len(rows)
            inputs = alert_inputs(conn, ctx.rules, rows)
            for index, row in enumerate(rows):
                visible, marking = alert_visible(c.principal, ctx.rules, row, inputs[row["alert_id"]])
                if not visible:
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append({k: _jsonable(row[k]) for k in ALERT_FIELDS} | {"tlp": marking.value})
                last = row
                del index
            if more or len(rows) < batch:
                break
    restricted = tuple(i["alert_id"] for i in items if Tlp(i["tlp"]) in RESTRICTED)
    if restricted:
        audit(
            ctx,
            request,
            Action.READ,
            Outcome.OK,
            principal=c.principal,
            record_ids=restricted,
            detail="alerts list",
        )
    next_cursor = _encode_cursor(last["period_start"], last["alert_id"]) if more and last else None
    return {"items": items, "next": next_cursor}


@router.get("/alerts/{alert_id}", tags=["alerts"])
def get_alert(request: Request, c: CallerDep, alert_id: str) -> dict[str, Any]:
    """One alert with its reasons, or 404 when it does not exist or rests on a record the caller may not see."""
    ctx = _ctx(request)
    with ctx.engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.alert_id == alert_id)).mappings().first()
        inputs = alert_inputs(conn, ctx.rules, [row]) if row else {}
    if row is None:
        raise HTTPException(status_code=404, detail="no such alert")
    visible, marking = alert_visible(c.principal, ctx.rules, row, inputs[alert_id])
    if not visible:
        audit(
            ctx,
            request,
            Action.READ,
            Outcome.NOT_FOUND,
            principal=c.principal,
            record_ids=(alert_id,),
            detail="not cleared for what the alert rests on (answered 404)",
        )
        raise HTTPException(status_code=404, detail="no such alert")
    if marking in RESTRICTED:
        audit(ctx, request, Action.READ, Outcome.OK, principal=c.principal, record_ids=(alert_id,))
    return {k: _jsonable(v) for k, v in row.items()} | {"tlp": marking.value}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


# --- reports --------------------------------------------------------------------------------------


def _visible_report(request: Request, c: CallerDep, report_id: str) -> dict[str, Any]:
    """The report row when the caller may see it; 404 (audited) when it is missing or not theirs to see."""
    ctx = _ctx(request)
    with ctx.engine.connect() as conn:
        row = conn.execute(select(reports).where(reports.c.report_id == report_id)).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail="no such report")
    vis = ctx.rules.of_report(row)
    if not ctx.rules.sees(c.principal, vis):
        audit(
            ctx,
            request,
            Action.READ,
            Outcome.NOT_FOUND,
            principal=c.principal,
            record_ids=(report_id,),
            detail="not cleared for it (answered 404)",
        )
        raise HTTPException(status_code=404, detail="no such report")
    return dict(row) | {"tlp": vis.tlp.value}


@router.get("/reports/{report_id}", tags=["reports"])
def get_report(request: Request, c: CallerDep, report_id: str) -> dict[str, Any]:
    """One report, or 404 when it does not exist or the caller may not see it."""
    row = _visible_report(request, c, report_id)
    if Tlp(row["tlp"]) in RESTRICTED:
        audit(_ctx(request), request, Action.READ, Outcome.OK, principal=c.principal, record_ids=(report_id,))
    return {k: _jsonable(v) for k, v in row.items()}


async def _json_body(request: Request) -> Any:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(
            status_code=415, detail="body: send JSON (application/json) or, to contribute, CSV (text/csv)"
        )
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=400, detail=f"body: not valid JSON ({exc})") from None


def _require_contributor(request: Request, c: CallerDep, action: Action) -> None:
    try:
        require_write(c)
        if c.principal.role is not Role.CONTRIBUTOR:
            raise HTTPException(status_code=403, detail="only users with the contributor role may contribute")
    except HTTPException as exc:
        audit(_ctx(request), request, action, Outcome.DENIED, principal=c.principal, detail=str(exc.detail))
        raise


def _invalid(
    request: Request, c: CallerDep, action: Action, exc: contribute.ContributionInvalid
) -> JSONResponse:
    audit(_ctx(request), request, action, Outcome.INVALID, principal=c.principal, detail=str(exc)[:2000])
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": list(p.loc), "msg": p.msg} for p in exc.problems]},
    )


@router.post("/reports", status_code=201, tags=["reports"])
async def post_reports(request: Request, c: CallerDep) -> Any:
    """Contribute one report, ``{"reports": [...]}``, or a CSV upload (``Content-Type: text/csv``, a
    header row of the same field names, lists separated by ";"); all are stored or none (422 names
    the field)."""
    ctx = _ctx(request)
    _require_contributor(request, c, Action.CONTRIBUTE)
    try:
        if request.headers.get("content-type", "").startswith("text/csv"):
            body: Any = {"reports": contribute.rows_from_csv(await request.body())}
        else:
            body = await _json_body(request)
        items, batch = contribute.parse_contributions(body)
        contribute.check_names(ctx.engine, items, batch)
    except contribute.ContributionInvalid as exc:
        return _invalid(request, c, Action.CONTRIBUTE, exc)
    now = ctx.clock()
    payload = [contribute.item_of(c.principal, item, contribute.new_contribution_id()) for item in items]
    ids = contribute.archive_and_normalise(ctx.settings, ctx.engine, c.principal, payload, now)
    audit(ctx, request, Action.CONTRIBUTE, Outcome.OK, principal=c.principal, record_ids=tuple(ids))
    return JSONResponse(status_code=201, content={"report_ids": ids})


def _own_contribution(request: Request, c: CallerDep, report_id: str, action: Action) -> dict[str, Any]:
    row = _visible_report(request, c, report_id)
    _require_contributor(request, c, action)
    if row["source"] != contribute.SOURCE or row["originator_org"] != c.principal.org:
        audit(_ctx(request), request, action, Outcome.DENIED, principal=c.principal, record_ids=(report_id,))
        raise HTTPException(
            status_code=403, detail="only the originating organisation may change this report"
        )
    if row["withdrawn_at"] is not None:
        raise HTTPException(status_code=409, detail="this report was withdrawn; contribute a new one instead")
    return row


@router.put("/reports/{report_id}", tags=["reports"])
async def correct_report(request: Request, c: CallerDep, report_id: str) -> Any:
    """Replace your organisation's contributed report with a corrected version (same id)."""
    ctx = _ctx(request)
    row = _own_contribution(request, c, report_id, Action.CORRECT)
    body = await _json_body(request)
    try:
        items, batch = contribute.parse_contributions(body)
        if batch:
            raise contribute.ContributionInvalid(
                [contribute.FieldProblem(("reports",), "correct one report at a time")]
            )
        contribute.check_names(ctx.engine, items, batch)
    except contribute.ContributionInvalid as exc:
        return _invalid(request, c, Action.CORRECT, exc)
    payload = [contribute.item_of(c.principal, items[0], row["source_id"])]
    ids = contribute.archive_and_normalise(ctx.settings, ctx.engine, c.principal, payload, ctx.clock())
    audit(ctx, request, Action.CORRECT, Outcome.OK, principal=c.principal, record_ids=tuple(ids))
    return {"report_ids": ids}


@router.delete("/reports/{report_id}", tags=["reports"])
def withdraw_report(request: Request, c: CallerDep, report_id: str) -> dict[str, Any]:
    """Withdraw your organisation's contributed report: a tombstone replaces its content."""
    ctx = _ctx(request)
    row = _own_contribution(request, c, report_id, Action.WITHDRAW)
    now = ctx.clock()
    tombstone = {
        "contribution_id": row["source_id"],
        "withdrawn_at": now.isoformat(),
        "reported_at": (row["published_at"] or now).isoformat(),
        "tlp": row["tlp"],
        "share_with": list(row["share_with"] or []),
        "share_users": list(row["share_users"] or []),
    }
    ids = contribute.archive_and_normalise(ctx.settings, ctx.engine, c.principal, [tombstone], now)
    audit(ctx, request, Action.WITHDRAW, Outcome.OK, principal=c.principal, record_ids=tuple(ids))
    return {"report_ids": ids, "withdrawn_at": now.isoformat()}
