"""The workbench's routes. Reads go through :mod:`biotracker.web.reads` (the API's scope); every
change goes through the API's own route functions (``server/routes/alerts.py``: policy, lifecycle
functions the CLI uses, audit), so a page can do exactly what the API lets the caller do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from biotracker.access import Role
from biotracker.db.tables import organisations
from biotracker.schema import AlertStatus, AlertTier, Tlp
from biotracker.server import accounts
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import Caller, audit
from biotracker.server.routes import alerts as alert_routes
from biotracker.web import views
from biotracker.web.alert_page import load_alert_view
from biotracker.web.exports import ExportFormat, export_alert
from biotracker.web.queue import AGENT_FILTERS, QueueFilters, Sort, load_queue
from biotracker.web.reads import visible_alert
from biotracker.web.render import Notice, PageCaller, context_of, render, see_other

router = APIRouter(include_in_schema=False)

#: What a page says after an action (fixed texts: nothing from the request is echoed).
DONE = {
    "status": "Status changed.",
    "assignee": "Assignee changed.",
    "note": "Note added.",
    "feedback": "Label recorded: the relevance model learns from it at its next training.",
    "share": "Alert shared: the share is in its history and the audit log.",
    "view-saved": "View saved.",
    "view-deleted": "View deleted.",
}
ERRORS = {
    "forbidden": "Your role may not change alerts (analysts, operators and admins triage).",
    "transition": "That status change is not allowed from the alert's current status.",
    "invalid": "Check the form: a value was missing or not allowed.",
    "assignee": "The assignee must be an active user of your organisation.",
    "view": "Give the view a name (at most 50 views per user).",
    "marking": "A share may raise the alert's marking, never lower it.",
    "share": "Name at least one other organisation; AMBER+STRICT and RED cannot name organisations.",
}


def notice_of(request: Request) -> Notice | None:
    done, error = request.query_params.get("done", ""), request.query_params.get("error", "")
    if error in ERRORS:
        return Notice(ERRORS[error], "error")
    if done in DONE:
        return Notice(DONE[done])
    if done == "bulk":
        changed, failed = request.query_params.get("n", "0"), request.query_params.get("failed", "0")
        if changed.isdigit() and failed.isdigit():
            text = f"{int(changed)} alert(s) changed."
            if int(failed):
                text += f" {int(failed)} could not be changed (not allowed from their status, or not in your view)."
            return Notice(text, "error" if int(failed) else "ok")
    return None


def not_found_page(request: Request, who: Caller, kind: str = "alert") -> HTMLResponse:
    return render(
        request,
        who,
        "error.html",
        status_code=404,
        heading="Not found",
        message=f"There is no such {kind} in your view.",
    )


def triager(who: Caller) -> bool:
    return who.principal.role in alert_routes.TRIAGERS


def colleagues(request: Request, who: Caller) -> list[str]:
    """Active users of the caller's organisation: whom an alert may be assigned to."""
    with context_of(request).engine.connect() as conn:
        users = accounts.list_users(conn, who.principal.org)
    return [u.username for u in users if not u.disabled and u.role is not Role.CONTRIBUTOR]


# --- the queue ------------------------------------------------------------------------------------


def _filters(query: str) -> QueueFilters:
    return QueueFilters.parse(parse_qs(query, keep_blank_values=False))


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, who: PageCaller) -> HTMLResponse:
    """The alert queue (home page)."""
    ctx = context_of(request)
    filters = _filters(request.url.query)
    with ctx.engine.connect() as conn:
        page = load_queue(conn, ctx, who.principal, filters)
        saved = views.list_views(conn, who.principal.username)
    return render(
        request,
        who,
        "queue.html",
        notice=notice_of(request),
        page=page,
        f=filters,
        saved=saved,
        tiers=list(AlertTier),
        statuses=list(AlertStatus),
        agent_filters=AGENT_FILTERS,
        sorts=list(Sort),
        can_triage=triager(who),
        assignable=colleagues(request, who) if triager(who) else [],
    )


def _back(query: str, **extra: str) -> str:
    """The queue with the filters of ``query`` (re-parsed, so only known filters survive) and ``extra``."""
    filters = _filters(query)
    return "/?" + urlencode([*filters.pairs(), *extra.items()])


Text = Annotated[str, Form(max_length=2000)]


@router.post("/alerts/bulk")
def bulk_triage(
    request: Request,
    who: PageCaller,
    alert_id: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 (FastAPI copies defaults)
    action: Text = "",
    status: Text = "",
    assignee: Text = "",
    back: Text = "",
) -> Response:
    """Set the status or the assignee of the ticked alerts, each through the API's own action."""
    act: Callable[[str], Any]
    try:
        if action == "status":
            change = alert_routes.StatusChange(status=AlertStatus(status), note="bulk triage")
            act = lambda one: alert_routes.set_status(request, who, one, change)
        elif action == "assign":
            assignment = alert_routes.Assignment(assignee=assignee or None)
            act = lambda one: alert_routes.set_assignee(request, who, one, assignment)
        else:
            raise ValueError(action)
    except (ValueError, ValidationError):
        return see_other(_back(back, error="invalid"))
    if not alert_id:
        return see_other(_back(back, error="invalid"))
    changed = failed = 0
    for one in alert_id:
        try:
            act(one)
            changed += 1
        except HTTPException as exc:
            if exc.status_code == 403 and not changed and not failed:
                return see_other(_back(back, error="forbidden"))
            failed += 1
    return see_other(_back(back, done="bulk", n=str(changed), failed=str(failed)))


@router.post("/views")
def save_view(request: Request, who: PageCaller, name: Text = "", back: Text = "") -> Response:
    """Save the queue's current filters under a name (the caller's own list)."""
    ctx = context_of(request)
    filters = _filters(back)
    try:
        with ctx.engine.begin() as conn:
            views.save_view(conn, who.principal.username, name, filters.query(), ctx.clock())
    except views.ViewError:
        return see_other(_back(back, error="view"))
    return see_other(_back(back, done="view-saved"))


@router.post("/views/{view_id}/delete")
def delete_view(request: Request, who: PageCaller, view_id: str) -> Response:
    ctx = context_of(request)
    with ctx.engine.begin() as conn:
        views.delete_view(conn, who.principal.username, view_id)
    return see_other("/?done=view-deleted")


# --- one alert ------------------------------------------------------------------------------------


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, who: PageCaller, alert_id: str) -> HTMLResponse:
    """Why this is an alert, its series, place, reports, the risk lens's findings, history; actions.

    The API's own answer for the alert comes first: its 404 (audited), its audit of restricted
    reads, and the history and assignee it shows the caller's organisation."""
    ctx = context_of(request)
    try:
        answer = alert_routes.get_alert(request, who, alert_id)
    except HTTPException as exc:
        if exc.status_code == 404:
            return not_found_page(request, who)
        raise
    with ctx.engine.connect() as conn:
        found = visible_alert(conn, ctx, who.principal, alert_id)
        view = load_alert_view(conn, ctx, who.principal, *found, answer) if found else None
    if view is None:
        return not_found_page(request, who)
    return render(
        request,
        who,
        "alert.html",
        notice=notice_of(request),
        a=view,
        can_triage=triager(who),
        assignable=colleagues(request, who) if triager(who) else [],
        shares=answer["shares"],
        shared_with_us=answer["shared_with_us"],
        share_orgs=other_orgs(request, who) if triager(who) else [],
        share_markings=[m for m in alert_routes.SHAREABLE if m.rank >= view.tlp.rank],
    )


def other_orgs(request: Request, who: Caller) -> list[str]:
    """The organisations an alert may be shared with: every one but the caller's."""
    with context_of(request).engine.connect() as conn:
        names = conn.execute(select(organisations.c.name).order_by(organisations.c.name)).scalars()
        return [n for n in names if n != who.principal.org]


def _act(
    request: Request,
    who: Caller,
    alert_id: str,
    done: str,
    call: Callable[[], Any],
    codes: dict[int, str] | None = None,
) -> Response:
    """Run one API action for the page; back to the alert page with what happened."""
    here = f"/alerts/{quote(alert_id, safe='')}"
    try:
        call()
    except HTTPException as exc:
        if exc.status_code == 404:
            return not_found_page(request, who)
        code = (codes or {403: "forbidden", 409: "transition", 422: "assignee"}).get(
            exc.status_code, "invalid"
        )
        return see_other(f"{here}?error={code}")
    except (ValueError, ValidationError):
        return see_other(f"{here}?error=invalid")
    return see_other(f"{here}?done={done}")


@router.post("/alerts/{alert_id}/status")
def alert_status(
    request: Request, who: PageCaller, alert_id: str, status: Text = "", note: Text = ""
) -> Response:
    def call() -> Any:
        change = alert_routes.StatusChange(status=AlertStatus(status), note=note)
        return alert_routes.set_status(request, who, alert_id, change)

    return _act(request, who, alert_id, "status", call)


@router.post("/alerts/{alert_id}/assignee")
def alert_assignee(request: Request, who: PageCaller, alert_id: str, assignee: Text = "") -> Response:
    def call() -> Any:
        return alert_routes.set_assignee(
            request, who, alert_id, alert_routes.Assignment(assignee=assignee or None)
        )

    return _act(request, who, alert_id, "assignee", call)


@router.post("/alerts/{alert_id}/note")
def alert_note(request: Request, who: PageCaller, alert_id: str, note: Text = "") -> Response:
    def call() -> Any:
        return alert_routes.add_note(request, who, alert_id, alert_routes.Note(note=note))

    return _act(request, who, alert_id, "note", call)


@router.post("/alerts/{alert_id}/feedback")
def alert_feedback(
    request: Request, who: PageCaller, alert_id: str, label: Text = "", note: Text = ""
) -> Response:
    def call() -> Any:
        return alert_routes.give_feedback(
            request, who, alert_id, alert_routes.Feedback(label=label, note=note)
        )

    return _act(request, who, alert_id, "feedback", call)


@router.post("/alerts/{alert_id}/share")
def alert_share(
    request: Request,
    who: PageCaller,
    alert_id: str,
    orgs: Annotated[list[str], Form(max_length=100)] = [],  # noqa: B006 (FastAPI copies defaults)
    tlp: Text = "",
) -> Response:
    def call() -> Any:
        return alert_routes.share_alert(
            request, who, alert_id, alert_routes.Share(orgs=orgs, tlp=Tlp.parse(tlp))
        )

    return _act(request, who, alert_id, "share", call, {403: "forbidden", 409: "marking", 422: "share"})


@router.get("/alerts/{alert_id}/export/{fmt}")
def alert_export(request: Request, who: PageCaller, alert_id: str, fmt: str) -> Response:
    """Download the alert as JSON, CAP, STIX or MISP (the outputs' writers; audited like an API read)."""
    ctx = context_of(request)
    try:
        chosen = ExportFormat(fmt)
    except ValueError:
        return not_found_page(request, who)
    with ctx.engine.connect() as conn:
        found = visible_alert(conn, ctx, who.principal, alert_id)
    if found is None:
        return not_found_page(request, who)
    scope, seen = found
    exported = export_alert(
        ctx.engine, scope, seen.row, seen.public_id, who.principal.username, chosen, ctx.clock()
    )
    if exported is None:
        return render(
            request,
            who,
            "error.html",
            status_code=404,
            heading="Nothing to export",
            message="This alert has no incident, so there is no MISP event for it.",
        )
    audit(
        ctx,
        request,
        Action.READ,
        Outcome.OK,
        principal=who.principal,
        record_ids=(alert_id,),
        detail=f"alert export ({chosen.value})",
    )
    return Response(
        exported.body,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )
