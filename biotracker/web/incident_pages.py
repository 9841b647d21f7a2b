"""The incident page and its actions: split a report off and join it back (the CLI's
``incident_overrides`` detach, ``biotracker incidents split`` / ``join``), merge two incidents and
undo the merge (``incident_merges``: a forced link every clustering run respects), and the GFT/mGFT
worksheets. Every action is for analysts, carries the session's CSRF token (checked by
``server/auth.py``), re-clusters what it touched and is written to the audit log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from biotracker.access import Role
from biotracker.alerts.refresh import build_scopes
from biotracker.db.tables import incident_overrides, incident_reports
from biotracker.incidents.build import detach_report, merge_reports, reattach_report, unmerge_report
from biotracker.scoring.risk.worksheet_entries import TOOLS, save_entry
from biotracker.scoring.risk.worksheets import WorksheetScoreError, load_tool
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import Caller, audit
from biotracker.server.routes import incidents as incident_routes
from biotracker.server.visibility import public_id
from biotracker.web.incident_page import load_incident_view, visible_incident
from biotracker.web.pages import not_found_page
from biotracker.web.reads import caller_scope
from biotracker.web.render import Notice, PageCaller, context_of, render, see_other

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]
Texts = Annotated[list[str], Form(max_length=2000)]

#: Who may split, join and fill in worksheets.
EDITORS = {Role.ANALYST}

DONE = {
    "split": "Report split off: it is an incident of its own now, and later clustering runs keep it apart.",
    "join": "Split undone: the report is clustered with the others again.",
    "worksheet": "Worksheet saved as a new version.",
    "merge": "Incidents merged: later clustering runs keep them together.",
    "unmerge": "Merge undone: the reports are clustered by the rules alone again.",
}
ERRORS = {
    "forbidden": "Only analysts may split incidents or fill in worksheets.",
    "member": "That report is not in this incident.",
    "override": "That report has no split or merge to undo.",
    "merge": "Give the id of another incident in your view (not one kept apart by a split).",
    "worksheet": "Check the worksheet: every scored criterion needs points (0-3) and its evidence.",
}


def _notice(request: Request) -> Notice | None:
    done, error = request.query_params.get("done", ""), request.query_params.get("error", "")
    if error in ERRORS:
        return Notice(ERRORS[error], "error")
    return Notice(DONE[done]) if done in DONE else None


def _here(incident_id: str, **query: str) -> str:
    pairs = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    return f"/incidents/{quote(incident_id, safe='')}" + (f"?{pairs}" if pairs else "")


def _not_found(request: Request, who: Caller, incident_id: str) -> HTMLResponse:
    """404 for an incident outside the caller's view (never 403: its existence is not disclosed)."""
    ctx = context_of(request)
    audit(
        ctx,
        request,
        Action.READ,
        Outcome.NOT_FOUND,
        principal=who.principal,
        record_ids=(incident_id,),
        detail="incident page: no such incident in the caller's view (answered 404)",
    )
    return render(
        request, who, "error.html", status_code=404, heading="Not found",
        message="There is no such incident in your view.",
    )  # fmt: skip


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, who: PageCaller, incident_id: str) -> HTMLResponse:
    """The incident's reports grouped by why each was merged, the screen and the worksheets.

    The API's own ``GET /incidents/ID`` answers first: its 404 for an incident outside the view, its
    read audit; the page then adds what only the page shows (overrides, screen, worksheets)."""
    ctx = context_of(request)
    try:
        incident_routes.get_incident(request, who, incident_id)
    except HTTPException as exc:
        if exc.status_code == 404:
            return not_found_page(request, who, "incident")
        raise
    with ctx.engine.connect() as conn:
        view = load_incident_view(conn, ctx, who.principal, incident_id)
    if view is None:  # re-clustered between the two reads
        return not_found_page(request, who, "incident")
    return render(
        request,
        who,
        "incident.html",
        notice=_notice(request),
        i=view,
        can_edit=who.principal.role in EDITORS,
        points=range(4),
    )


def _refused(request: Request, who: Caller, action: Action, incident_id: str) -> Response | None:
    """Non-analysts are refused (and audited); None when the caller may act."""
    if who.principal.role in EDITORS:
        return None
    audit(
        context_of(request), request, Action.WRITE_REFUSED, Outcome.DENIED, principal=who.principal,
        record_ids=(incident_id,), detail=f"{action.value}: analysts only",
    )  # fmt: skip
    return see_other(_here(incident_id, error="forbidden"))


def _recluster(request: Request, report_ids: list[str]) -> None:
    """Cluster the touched reports again in every scope (incrementally, as the daily chain does)."""
    ctx = context_of(request)
    build_scopes(ctx.engine, report_ids=report_ids, community_org=ctx.settings.community_org)


def _member_ids(request: Request, who: Caller, incident_id: str) -> tuple[str, list[str]] | None:
    """(stored id, member report ids) of an incident of the caller's view, or None."""
    ctx = context_of(request)
    with ctx.engine.connect() as conn:
        found = visible_incident(conn, ctx, who.principal, incident_id)
        if found is None:
            return None
        scope, row = found
        ids = conn.execute(
            select(incident_reports.c.report_id)
            .where(
                incident_reports.c.scope == scope.key, incident_reports.c.incident_id == row["incident_id"]
            )
            .order_by(incident_reports.c.report_id)
        ).scalars()
        return row["incident_id"], list(ids)


def _incident_now(request: Request, who: Caller, report_id: str) -> str | None:
    """The public id of the incident holding ``report_id`` in the caller's view, after a re-clustering."""
    ctx = context_of(request)
    with ctx.engine.connect() as conn:
        scope = caller_scope(conn, ctx, who.principal)
        stored = conn.execute(
            select(incident_reports.c.incident_id).where(
                incident_reports.c.scope == scope.key, incident_reports.c.report_id == report_id
            )
        ).scalar()
    return public_id(scope, stored) if stored else None


@router.post("/incidents/{incident_id}/split")
def split_report(
    request: Request, who: PageCaller, incident_id: str, report_id: Text = "", note: Text = ""
) -> Response:
    """Take a report out of the incident for good (the CLI's ``incidents split``); undo with join."""
    if (refused := _refused(request, who, Action.INCIDENT_SPLIT, incident_id)) is not None:
        return refused
    found = _member_ids(request, who, incident_id)
    if found is None:
        return _not_found(request, who, incident_id)
    stored, members = found
    if report_id not in members or len(members) < 2:
        return see_other(_here(incident_id, error="member"))
    ctx = context_of(request)
    detach_report(
        ctx.engine, report_id, note or f"split off {stored} by {who.principal.username}", ctx.clock()
    )
    _recluster(request, members)
    audit(
        ctx, request, Action.INCIDENT_SPLIT, Outcome.OK, principal=who.principal,
        record_ids=(incident_id, report_id), detail=f"split report {report_id} off incident {incident_id}",
    )  # fmt: skip
    rest = _incident_now(request, who, next(m for m in members if m != report_id))
    return see_other(_here(rest or incident_id, done="split"))


@router.post("/incidents/{incident_id}/join")
def join_report(request: Request, who: PageCaller, incident_id: str, report_id: Text = "") -> Response:
    """Undo a split: remove the report's override and cluster it normally again."""
    if (refused := _refused(request, who, Action.INCIDENT_JOIN, incident_id)) is not None:
        return refused
    found = _member_ids(request, who, incident_id)
    if found is None:
        return _not_found(request, who, incident_id)
    if report_id not in found[1]:
        return see_other(_here(incident_id, error="member"))
    ctx = context_of(request)
    if not reattach_report(ctx.engine, report_id):
        return see_other(_here(incident_id, error="override"))
    _recluster(request, [report_id])
    audit(
        ctx, request, Action.INCIDENT_JOIN, Outcome.OK, principal=who.principal,
        record_ids=(incident_id, report_id), detail=f"undid the split of report {report_id}",
    )  # fmt: skip
    return see_other(_here(_incident_now(request, who, report_id) or incident_id, done="join"))


@router.post("/incidents/{incident_id}/merge")
def merge_incident(
    request: Request, who: PageCaller, incident_id: str, other: Text = "", note: Text = ""
) -> Response:
    """Merge another incident of the caller's view into this one: a forced link between their
    first reports, which every later clustering run respects."""
    if (refused := _refused(request, who, Action.INCIDENT_MERGE, incident_id)) is not None:
        return refused
    here = _member_ids(request, who, incident_id)
    if here is None:
        return _not_found(request, who, incident_id)
    there = _member_ids(request, who, other.strip()) if other.strip() else None
    if there is None or there[0] == here[0]:
        return see_other(_here(incident_id, error="merge"))
    with context_of(request).engine.connect() as conn:
        apart = set(
            conn.execute(
                select(incident_overrides.c.report_id).where(
                    incident_overrides.c.report_id.in_([here[1][0], there[1][0]])
                )
            ).scalars()
        )
    if apart:
        return see_other(_here(incident_id, error="merge"))
    ctx = context_of(request)
    ours, theirs = here[1][0], there[1][0]
    merge_reports(ctx.engine, theirs, ours, note or f"merged by {who.principal.username}", ctx.clock())
    _recluster(request, here[1] + there[1])
    audit(
        ctx, request, Action.INCIDENT_MERGE, Outcome.OK, principal=who.principal,
        record_ids=(incident_id, other.strip(), theirs, ours),
        detail=f"merged incident {other.strip()} into {incident_id}",
    )  # fmt: skip
    return see_other(_here(_incident_now(request, who, ours) or incident_id, done="merge"))


@router.post("/incidents/{incident_id}/unmerge")
def unmerge_incident(request: Request, who: PageCaller, incident_id: str, report_id: Text = "") -> Response:
    """Undo a merge: remove the forced link of ``report_id`` and cluster the incident's reports again."""
    if (refused := _refused(request, who, Action.INCIDENT_UNMERGE, incident_id)) is not None:
        return refused
    found = _member_ids(request, who, incident_id)
    if found is None:
        return _not_found(request, who, incident_id)
    if report_id not in found[1]:
        return see_other(_here(incident_id, error="member"))
    ctx = context_of(request)
    if not unmerge_report(ctx.engine, report_id):
        return see_other(_here(incident_id, error="override"))
    _recluster(request, found[1])
    audit(
        ctx, request, Action.INCIDENT_UNMERGE, Outcome.OK, principal=who.principal,
        record_ids=(incident_id, report_id), detail=f"undid the merge that brought report {report_id} in",
    )  # fmt: skip
    return see_other(_here(_incident_now(request, who, report_id) or incident_id, done="unmerge"))


@router.post("/incidents/{incident_id}/worksheets/{tool}")
def save_worksheet(
    request: Request,
    who: PageCaller,
    incident_id: str,
    tool: str,
    criterion: Texts = [],  # noqa: B006 (FastAPI copies defaults)
    points: Texts = [],  # noqa: B006
    evidence: Texts = [],  # noqa: B006
) -> Response:
    """Store the caller's next version of the worksheet (criteria left without points are unscored)."""
    if (refused := _refused(request, who, Action.WORKSHEET, incident_id)) is not None:
        return refused
    ctx = context_of(request)
    with ctx.engine.connect() as conn:
        found = visible_incident(conn, ctx, who.principal, incident_id)
    if found is None or tool not in TOOLS:
        return _not_found(request, who, incident_id)
    if not len(criterion) == len(points) == len(evidence):
        return see_other(_here(incident_id, error="worksheet"))
    try:
        scores = [(c, int(p), e) for c, p, e in zip(criterion, points, evidence, strict=True) if p != ""]
        with ctx.engine.begin() as conn:
            entry = save_entry(
                conn, found[1]["incident_id"], load_tool(tool), who.principal.username, scores, ctx.clock()
            )
    except (ValueError, WorksheetScoreError):
        return see_other(_here(incident_id, error="worksheet"))
    audit(
        ctx, request, Action.WORKSHEET, Outcome.OK, principal=who.principal, record_ids=(incident_id,),
        detail=f"{tool} worksheet version {entry.version} ({len(entry.scores)} criteria scored)",
    )  # fmt: skip
    return see_other(_here(incident_id, done="worksheet") + f"#worksheet-{tool}")
