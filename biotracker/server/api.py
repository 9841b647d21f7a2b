"""The versioned REST API (``/api/v1``): meta, reports and contributions here; alerts, incidents and
sources in ``server/routes/``. All through the policy.

A record the caller may not see answers 404 exactly like a record that does not exist: a 403 would
confirm that it exists. Reads of TLP:AMBER, AMBER+STRICT and RED records and every write go to the
audit log.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from biotracker.access import Role
from biotracker.db.tables import reports
from biotracker.schema import Tlp
from biotracker.server import contribute
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import CallerDep, audit, require_write
from biotracker.server.routes import alerts, incidents, sources
from biotracker.server.routes.common import RESTRICTED, jsonable, not_found
from biotracker.server.routes.common import ctx_of as _ctx

router = APIRouter(prefix="/api/v1")
for _routes in (alerts.router, incidents.router, sources.router):
    router.include_router(_routes)


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


# --- reports --------------------------------------------------------------------------------------


def _visible_report(request: Request, c: CallerDep, report_id: str) -> dict[str, Any]:
    """The report row when the caller may see it; 404 (audited) when it is missing or not theirs to see."""
    ctx = _ctx(request)
    with ctx.engine.connect() as conn:
        row = conn.execute(select(reports).where(reports.c.report_id == report_id)).mappings().first()
    if row is None or not ctx.rules.sees(c.principal, vis := ctx.rules.of_report(row)):
        raise not_found(request, c, "report", report_id)
    return dict(row) | {"tlp": vis.tlp.value}


@router.get("/reports/{report_id}", tags=["reports"])
def get_report(request: Request, c: CallerDep, report_id: str) -> dict[str, Any]:
    """One report, or 404 when it does not exist or the caller may not see it."""
    row = _visible_report(request, c, report_id)
    if Tlp(row["tlp"]) in RESTRICTED:
        audit(_ctx(request), request, Action.READ, Outcome.OK, principal=c.principal, record_ids=(report_id,))
    return {k: jsonable(v) for k, v in row.items()}


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
    _require_contributor(request, c, Action.CONTRIBUTE)
    csv_upload = request.headers.get("content-type", "").startswith("text/csv")
    raw = await request.body() if csv_upload else b""
    body = None if csv_upload else await _json_body(request)
    # the database work runs on a worker thread: on the event loop it would stall every other request
    return await run_in_threadpool(_contribute, request, c, raw if csv_upload else None, body)


def _contribute(request: Request, c: CallerDep, csv_body: bytes | None, body: Any) -> Any:
    ctx = _ctx(request)
    try:
        if csv_body is not None:
            body = {"reports": contribute.rows_from_csv(csv_body)}
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
        ids = contribute.correct(ctx.settings, ctx.engine, c.principal, row, body, ctx.clock())
    except contribute.ContributionInvalid as exc:
        return _invalid(request, c, Action.CORRECT, exc)
    audit(ctx, request, Action.CORRECT, Outcome.OK, principal=c.principal, record_ids=tuple(ids))
    return {"report_ids": ids}


@router.delete("/reports/{report_id}", tags=["reports"])
def withdraw_report(request: Request, c: CallerDep, report_id: str) -> dict[str, Any]:
    """Withdraw your organisation's contributed report: a tombstone replaces its content."""
    ctx = _ctx(request)
    row = _own_contribution(request, c, report_id, Action.WITHDRAW)
    now = ctx.clock()
    ids = contribute.withdraw(ctx.settings, ctx.engine, c.principal, row, now)
    audit(ctx, request, Action.WITHDRAW, Outcome.OK, principal=c.principal, record_ids=tuple(ids))
    return {"report_ids": ids, "withdrawn_at": now.isoformat()}
