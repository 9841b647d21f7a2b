"""Alerts: the list and one alert (read from the caller's scope), and the lifecycle actions analysts
take on them (status, assignee, note, relevant / not relevant), the same functions the CLI calls,
so the relevance model learns from the API's labels as from the CLI's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, and_, or_, select

from biotracker.access import MarkingError, Role, Visibility, check_remarking
from biotracker.alerts import lifecycle
from biotracker.db.tables import alert_events, alerts, organisations, users
from biotracker.incidents.scopes import Scope
from biotracker.schema import AlertStatus, AlertTier, Tlp
from biotracker.server import accounts, visibility
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import CallerDep, audit, require_write
from biotracker.server.routes import common

router = APIRouter(tags=["alerts"])
LIST_FIELDS = (
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
DETAIL_FIELDS = (*LIST_FIELDS, "reasons", "features", "status_by", "status_at")
#: Roles that triage alerts (a contributor feeds the repository; it does not triage).
TRIAGERS = {Role.ANALYST, Role.OPERATOR, Role.ADMIN}


def _shown(
    conn: Connection, request: Request, scope: Scope, rows: list[dict], fields: tuple[str, ...]
) -> list[dict]:
    """Rows as the caller sees them: natural ids, the marking raised where intake fed the alert."""
    intake = common.ctx_of(request).rules.intake
    floored = common.intake_incidents(
        conn, scope, intake, {r["incident_id"] for r in rows if r["incident_id"]}
    )
    out = []
    for row in rows:
        item = {k: common.jsonable(row[k]) for k in fields}
        item["alert_id"] = visibility.public_id(scope, row["alert_id"])
        item["incident_id"] = visibility.public_id(scope, row["incident_id"]) if row["incident_id"] else None
        item["tlp"] = common.marking(row["tlp"], row["incident_id"] in floored).value
        out.append(item)
    return out


@router.get("/alerts")
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
    """Alerts in the caller's view, newest week first; pass ``next`` back as ``cursor`` for the next page."""
    with common.ctx_of(request).engine.connect() as conn:
        scope = common.caller_scope(conn, request, c)
        query = select(*(alerts.c[k] for k in LIST_FIELDS)).where(alerts.c.scope == scope.key)
        if tier:
            query = query.where(alerts.c.tier == tier.value)
        if status:
            query = query.where(alerts.c.status == status.value)
        query = common.on_topic(query, alerts, country, disease)
        if cursor:
            period_text, after = common.decode_cursor(cursor, 2)
            period, last_id = common.parse_time(period_text), visibility.stored_id(scope, str(after))
            query = query.where(
                or_(
                    alerts.c.period_start < period,
                    and_(alerts.c.period_start == period, alerts.c.alert_id > last_id),
                )
            )
        query = query.order_by(alerts.c.period_start.desc(), alerts.c.alert_id).limit(limit + 1)
        rows = [dict(r) for r in conn.execute(query).mappings()]
        page = _shown(conn, request, scope, rows[:limit], LIST_FIELDS)
    common.audit_reads(request, c, page, "alert_id", "alerts list")
    more = len(rows) > limit
    return {
        "items": page,
        "next": common.encode_cursor(page[-1]["period_start"], page[-1]["alert_id"]) if more else None,
    }


def _alert_row(conn: Connection, request: Request, c: CallerDep, alert_id: str) -> tuple[Scope, dict]:
    """The caller's copy of the alert, or 404 (audited) when its view has none."""
    scope = common.caller_scope(conn, request, c)
    row = (
        conn.execute(
            select(alerts).where(
                alerts.c.scope == scope.key, alerts.c.alert_id == visibility.stored_id(scope, alert_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise common.not_found(request, c, "alert", alert_id)
    return scope, dict(row)


@router.get("/alerts/{alert_id}")
def get_alert(request: Request, c: CallerDep, alert_id: str) -> dict[str, Any]:
    """One alert with its reasons, its history and assignee as the caller's organisation wrote them;
    404 when the caller's view has no such alert."""
    engine = common.ctx_of(request).engine
    with engine.connect() as conn:
        scope, row = _alert_row(conn, request, c, alert_id)
        item = _shown(conn, request, scope, [row], DETAIL_FIELDS)[0]
        # notes and assignments are the organisation's own: a standard scope's alert is read by
        # many organisations, and a note is free text no marking governs
        events = lifecycle.history(engine, row["alert_id"])
        actors = {e["actor"] for e in events}
        colleagues = set(
            conn.execute(
                select(users.c.username).where(users.c.org == c.principal.org, users.c.username.in_(actors))
            ).scalars()
        )
    events = [e for e in events if e["actor"] in colleagues]
    item["history"] = [
        {k: common.jsonable(e[k]) for k in ("at", "actor", "from_status", "to_status", "note")}
        for e in events
    ]
    item["assignee"] = lifecycle.assignee(events)
    item["shares"] = [{**x, "at": common.jsonable(x["at"])} for x in lifecycle.shares(events)]
    with engine.connect() as conn:
        item["shared_with_us"] = shared_with(conn, alert_id, c.principal.org)
    common.audit_reads(request, c, [item], "alert_id", "alert")
    return item


def shared_with(conn: Connection, alert_id: str, org: str) -> list[dict[str, Any]]:
    """The shares of alert ``alert_id`` (natural id) that other organisations made with ``org``, from
    any scope's copy: which organisation, when, at which marking (never who, nor their notes). Only
    called for an alert the caller's own scope holds, so it never names an alert the caller may not
    see."""
    query = (
        select(alert_events.c.at, alert_events.c.actor, alert_events.c.note, users.c.org)
        .join(users, users.c.username == alert_events.c.actor)
        .where(
            or_(alert_events.c.alert_id == alert_id, alert_events.c.alert_id.startswith(f"{alert_id}~")),
            alert_events.c.note.startswith(lifecycle.SHARED),
            users.c.org != org,
        )
        .order_by(alert_events.c.at)
    )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    by_actor = {r["actor"]: r["org"] for r in rows}
    return [
        {"org": by_actor[x["actor"]], "tlp": x["tlp"], "at": common.jsonable(x["at"])}
        for x in lifecycle.shares(rows)
        if org in x["orgs"]
    ]


# --- lifecycle actions ----------------------------------------------------------------------------


class StatusChange(BaseModel):
    status: AlertStatus
    note: str = Field("", max_length=2000)


class Assignment(BaseModel):
    #: a user of the caller's organisation, or null to unassign
    assignee: str | None = Field(None, max_length=100)


class Note(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class Feedback(BaseModel):
    label: str = Field(pattern="^(relevant|not-relevant)$", description="relevant | not-relevant")
    note: str = Field("", max_length=2000)


def _audited(
    request: Request, c: CallerDep, alert_id: str, action: Action, outcome: Outcome, detail: str
) -> None:
    audit(
        common.ctx_of(request),
        request,
        action,
        outcome,
        principal=c.principal,
        record_ids=(alert_id,),
        detail=detail,
    )


def _writable(request: Request, c: CallerDep, alert_id: str, action: Action) -> str:
    """The stored id of an alert the caller may change: 404 when not in its view, 403 for a read-only
    token or a role that does not triage (both audited)."""
    with common.ctx_of(request).engine.connect() as conn:
        _, row = _alert_row(conn, request, c, alert_id)
    try:
        require_write(c)
        if c.principal.role not in TRIAGERS:
            raise HTTPException(status_code=403, detail="only analysts, operators and admins triage alerts")
    except HTTPException as exc:
        _audited(request, c, alert_id, action, Outcome.DENIED, str(exc.detail))
        raise
    return str(row["alert_id"])


def _done(request: Request, c: CallerDep, alert_id: str, action: Action, detail: str) -> dict[str, Any]:
    _audited(request, c, alert_id, action, Outcome.OK, detail)
    return get_alert(request, c, alert_id)


@router.post("/alerts/{alert_id}/status")
def set_status(request: Request, c: CallerDep, alert_id: str, change: StatusChange) -> dict[str, Any]:
    """Move the alert along its lifecycle (new → triaged → escalated / dismissed → closed); 409 for a
    move the lifecycle does not allow."""
    ctx = common.ctx_of(request)
    stored = _writable(request, c, alert_id, Action.ALERT_STATUS)
    try:
        lifecycle.set_status(
            ctx.engine, stored, change.status, c.principal.username, ctx.clock(), change.note
        )
    except lifecycle.TransitionError as exc:
        _audited(request, c, alert_id, Action.ALERT_STATUS, Outcome.INVALID, str(exc))
        raise HTTPException(status_code=409, detail=str(exc).replace(stored, alert_id)) from None
    return _done(request, c, alert_id, Action.ALERT_STATUS, change.status.value)


@router.post("/alerts/{alert_id}/assignee")
def set_assignee(request: Request, c: CallerDep, alert_id: str, change: Assignment) -> dict[str, Any]:
    """Assign the alert to a user of the caller's organisation (null: unassign)."""
    ctx = common.ctx_of(request)
    stored = _writable(request, c, alert_id, Action.ALERT_ASSIGN)
    if change.assignee is not None:
        with ctx.engine.connect() as conn:
            user = accounts.active_principal(conn, change.assignee)
        if user is None or user.org != c.principal.org:
            _audited(
                request,
                c,
                alert_id,
                Action.ALERT_ASSIGN,
                Outcome.INVALID,
                "assignee is not an active user of the organisation",
            )
            raise HTTPException(status_code=422, detail="assignee: not an active user of your organisation")
    lifecycle.assign(ctx.engine, stored, change.assignee, c.principal.username, ctx.clock())
    return _done(request, c, alert_id, Action.ALERT_ASSIGN, change.assignee or "unassigned")


@router.post("/alerts/{alert_id}/notes")
def add_note(request: Request, c: CallerDep, alert_id: str, note: Note) -> dict[str, Any]:
    """Add a note to the alert's history."""
    ctx = common.ctx_of(request)
    stored = _writable(request, c, alert_id, Action.ALERT_NOTE)
    lifecycle.add_note(ctx.engine, stored, c.principal.username, ctx.clock(), note.note)
    return _done(request, c, alert_id, Action.ALERT_NOTE, "")


@router.post("/alerts/{alert_id}/feedback")
def give_feedback(request: Request, c: CallerDep, alert_id: str, feedback: Feedback) -> dict[str, Any]:
    """Label the alert relevant or not relevant: the relevance model's training data, like
    ``biotracker feedback``; the caller's latest label counts."""
    ctx = common.ctx_of(request)
    stored = _writable(request, c, alert_id, Action.FEEDBACK)
    lifecycle.record_feedback(
        ctx.engine, stored, feedback.label, c.principal.username, ctx.clock(), feedback.note
    )
    return _done(request, c, alert_id, Action.FEEDBACK, feedback.label)


class Share(BaseModel):
    #: organisations to share with (not the caller's own)
    orgs: list[Annotated[str, Field(max_length=100)]] = Field(min_length=1, max_length=20)
    #: the marking the share carries: the alert's or higher, never lower
    tlp: Tlp


#: A derived alert has no originator: nobody may lower its marking (``check_remarking``).
DERIVED = "(derived: no originator)"
#: Markings that may name other organisations (AMBER+STRICT is the organisation's own, RED names users).
SHAREABLE = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)


@router.post("/alerts/{alert_id}/share")
def share_alert(request: Request, c: CallerDep, alert_id: str, share: Share) -> dict[str, Any]:
    """Share the alert with named organisations at its marking or a higher one (TLP 2.0: a marking
    is raised, never lowered, by anyone but the originator, and a derived alert has none): 409 when
    the marking would be lowered, 422 for an unknown organisation or a marking that cannot name
    organisations (AMBER+STRICT, RED). Recorded in the alert's history and audited (docs/ACCESS.md,
    "Sharing a derived alert"): it does not widen anyone's view."""
    ctx = common.ctx_of(request)
    stored = _writable(request, c, alert_id, Action.ALERT_SHARE)
    with ctx.engine.connect() as conn:
        scope, row = _alert_row(conn, request, c, alert_id)
        current = Tlp(_shown(conn, request, scope, [row], ("tlp",))[0]["tlp"])
        known = set(
            conn.execute(select(organisations.c.name).where(organisations.c.name.in_(share.orgs))).scalars()
        )
    try:
        check_remarking(c.principal, Visibility(tlp=current, originator_org=DERIVED), share.tlp)
    except MarkingError as exc:
        _audited(request, c, alert_id, Action.ALERT_SHARE, Outcome.INVALID, str(exc))
        raise HTTPException(status_code=409, detail=f"the alert is TLP:{current.value}: {exc}") from None
    orgs = sorted(set(share.orgs) - {c.principal.org})
    problem = (
        f"unknown organisation(s): {', '.join(sorted(set(share.orgs) - known))}"
        if set(share.orgs) - known
        else "name at least one other organisation"
        if not orgs
        else f"TLP:{share.tlp.value} cannot name other organisations; share at AMBER or lower"
        if share.tlp not in SHAREABLE
        else ""
    )
    if problem:
        _audited(request, c, alert_id, Action.ALERT_SHARE, Outcome.INVALID, problem)
        raise HTTPException(status_code=422, detail=problem)
    lifecycle.share(ctx.engine, stored, orgs, share.tlp, c.principal.username, ctx.clock())
    return _done(request, c, alert_id, Action.ALERT_SHARE, f"TLP:{share.tlp.value} with {', '.join(orgs)}")
