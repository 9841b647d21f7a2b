"""``/contribute``: a member organisation feeds the repository from a form or a CSV file, and manages
what it contributed (correct, withdraw).

Every path goes through ``server/contribute.py``, the API's own: the same validation (all or
nothing), the request archived raw before anything is parsed, normalised by the ``contributions``
connector, attributed to the caller's organisation, audited. Validation problems come back next to
the field they concern. Only users with the ``contributor`` role contribute, correct or withdraw
(as through the API); every member of the organisation sees its contributions (those the policy
lets them see: a TLP:RED report only its named users).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, select
from starlette.datastructures import FormData, UploadFile

from biotracker.access import Principal, Role
from biotracker.db.tables import reports
from biotracker.schema import Tlp
from biotracker.schema.contribution import DEFAULT_MARKING
from biotracker.server import contribute
from biotracker.server.accounts import list_orgs
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import Caller, audit
from biotracker.server.visibility import Rules
from biotracker.web.render import Notice, PageCaller, context_of, render, see_other

router = APIRouter(tags=["pages"])
#: The form's fields, in the order the page shows them (names are ``Contribution``'s).
FIELDS = (
    "title",
    "text",
    "country_iso3",
    "reported_at",
    "tlp",
    "share_with",
    "share_users",
    "disease",
    "url",
)
MARKINGS = [t.value for t in Tlp]
GENERAL = "form"
MY_CONTRIBUTIONS_SHOWN = 200


@dataclass
class FormState:
    """What the form shows: the values typed (to fill it again) and the problems per field."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MyContribution:
    report_id: str
    title: str
    country_iso3: str | None
    disease: str | None
    published_at: dt.datetime | None
    tlp: str
    share_with: list[str]


def body_from_form(form: Mapping[str, Any], share_with: list[str]) -> dict[str, Any]:
    """A ``Contribution`` body from the form's fields: blanks left out, the date read as UTC when the
    browser's date-time field gives none, the user list split on commas."""
    body: dict[str, Any] = {}
    for name in ("title", "text", "country_iso3", "disease", "url", "tlp"):
        value = str(form.get(name) or "").strip()
        if value:
            body[name] = value.upper() if name == "country_iso3" else value
    when = str(form.get("reported_at") or "").strip()
    if when:
        body["reported_at"] = when if when.endswith("Z") or "+" in when[10:] else when + "Z"
    if share_with:
        body["share_with"] = share_with
    named = [u.strip() for u in str(form.get("share_users") or "").split(",") if u.strip()]
    if named:
        body["share_users"] = named
    return body


def errors_by_field(problems: list[contribute.FieldProblem], *, csv: bool = False) -> dict[str, list[str]]:
    """Problems placed next to their field; a problem of the whole report (share list against marking)
    goes with the marking; a CSV upload's go under the upload field with their row number."""
    found: dict[str, list[str]] = {}
    for p in problems:
        p = contribute.FieldProblem(p.loc, p.msg.removeprefix("Value error, "))
        if csv:
            where = p.loc[1:] if p.loc[:1] == ("reports",) else p.loc
            row = f"row {int(where[0]) + 1}: " if where and isinstance(where[0], int) else ""
            name = (
                ".".join(str(part) for part in where[1:] if not isinstance(part, int))
                if row
                else ".".join(map(str, where))
            )
            found.setdefault("csv", []).append(f"{row}{name + ': ' if name else ''}{p.msg}")
            continue
        name = str(p.loc[0]) if p.loc else "tlp"
        found.setdefault(name if name in FIELDS else GENERAL, []).append(p.msg)
    return found


def my_contributions(conn: Connection, rules: Rules, principal: Principal) -> list[MyContribution]:
    """The caller's organisation's live contributions the caller may see, newest first."""
    query = (
        select(reports)
        .where(
            reports.c.source == contribute.SOURCE,
            reports.c.originator_org == principal.org,
            reports.c.withdrawn_at.is_(None),
        )
        .order_by(reports.c.published_at.desc(), reports.c.report_id)
        .limit(MY_CONTRIBUTIONS_SHOWN)
    )
    found = []
    for row in conn.execute(query).mappings():
        vis = rules.of_report(row)
        if rules.sees(principal, vis):
            found.append(
                MyContribution(
                    row["report_id"],
                    row["title"],
                    row["country_iso3"],
                    row["disease"],
                    row["published_at"],
                    vis.tlp.value,
                    sorted(row["share_with"] or []),
                )
            )
    return found


def own_contribution(conn: Connection, rules: Rules, principal: Principal, report_id: str) -> dict[str, Any]:
    """The live contributed report ``report_id`` of the caller's organisation; 404 otherwise (as the API)."""
    row = conn.execute(select(reports).where(reports.c.report_id == report_id)).mappings().first()
    if (
        row is None
        or row["source"] != contribute.SOURCE
        or row["originator_org"] != principal.org
        or row["withdrawn_at"] is not None
        or not rules.sees(principal, rules.of_report(row))
    ):
        raise HTTPException(status_code=404, detail="no such contribution of your organisation")
    return dict(row)


def _page(
    request: Request,
    who: Caller,
    state: FormState | None = None,
    *,
    status_code: int = 200,
    notice: Notice | None = None,
    editing: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    ctx = context_of(request)
    with ctx.engine.connect() as conn:
        mine = my_contributions(conn, ctx.rules, who.principal)
        orgs = [o for o in list_orgs(conn) if o != who.principal.org]
    state = state or FormState(values={"tlp": DEFAULT_MARKING.value})
    return render(
        request,
        who,
        "contribute.html",
        status_code=status_code,
        notice=notice,
        may_contribute=who.principal.role is Role.CONTRIBUTOR,
        form=state,
        markings=MARKINGS,
        orgs=orgs,
        mine=mine,
        editing=editing,
    )


def _require_contributor(request: Request, who: Caller, action: Action) -> None:
    if who.principal.role is not Role.CONTRIBUTOR:
        audit(
            context_of(request),
            request,
            action,
            Outcome.DENIED,
            principal=who.principal,
            detail="only users with the contributor role may contribute (page)",
        )
        raise HTTPException(status_code=403, detail="only users with the contributor role may contribute")


def _form_state(form: FormData) -> tuple[FormState, dict[str, Any]]:
    share_with = [str(v) for v in form.getlist("share_with") if isinstance(v, str) and v]
    values: dict[str, Any] = {name: str(form.get(name) or "") for name in FIELDS if name != "share_with"}
    values["share_with"] = share_with
    return FormState(values=values), body_from_form(form, share_with)


#: Fixed texts for the page a form post redirects to (``?done=...``); nothing typed is echoed.
DONE = {
    "stored": "Stored: the report is archived and normalised; it reaches alerts at the next pipeline run.",
    "corrected": "Corrected: the new version replaces the old one at the next pipeline run.",
    "withdrawn": "Withdrawn: the report's content is gone from every page; a tombstone keeps its id.",
}


@router.get("/contribute", response_class=HTMLResponse)
def contribute_page(request: Request, who: PageCaller, done: str = "") -> HTMLResponse:
    return _page(request, who, notice=Notice(DONE[done]) if done in DONE else None)


@router.post("/contribute", response_class=HTMLResponse)
async def contribute_form(request: Request, who: PageCaller) -> Response:
    """One report from the form; on a problem the form comes back filled in, the problems by its fields."""
    ctx = context_of(request)
    _require_contributor(request, who, Action.CONTRIBUTE)
    state, body = _form_state(await request.form())
    try:
        ids = contribute.contribute_body(ctx.settings, ctx.engine, who.principal, body, ctx.clock())
    except contribute.ContributionInvalid as exc:
        audit(
            ctx, request, Action.CONTRIBUTE, Outcome.INVALID, principal=who.principal, detail=str(exc)[:2000]
        )
        state.errors = errors_by_field(exc.problems)
        return _page(
            request,
            who,
            state,
            status_code=422,
            notice=Notice("The report was not stored: correct the fields marked below.", "error"),
        )
    audit(ctx, request, Action.CONTRIBUTE, Outcome.OK, principal=who.principal, record_ids=tuple(ids))
    return see_other("/contribute?done=stored")


@router.post("/contribute/csv", response_class=HTMLResponse)
async def contribute_csv(request: Request, who: PageCaller) -> Response:
    """A CSV file of reports (the API's CSV format): all stored, or none with the problems by row."""
    ctx = context_of(request)
    _require_contributor(request, who, Action.CONTRIBUTE)
    upload = (await request.form()).get("file")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        if not data:
            raise contribute.ContributionInvalid(
                [contribute.FieldProblem(("file",), "choose a CSV file to upload")]
            )
        rows = contribute.rows_from_csv(data)
        ids = contribute.contribute_body(
            ctx.settings, ctx.engine, who.principal, {"reports": rows}, ctx.clock()
        )
    except contribute.ContributionInvalid as exc:
        audit(
            ctx, request, Action.CONTRIBUTE, Outcome.INVALID, principal=who.principal, detail=str(exc)[:2000]
        )
        state = FormState(
            values={"tlp": DEFAULT_MARKING.value}, errors=errors_by_field(exc.problems, csv=True)
        )
        return _page(
            request,
            who,
            state,
            status_code=422,
            notice=Notice("The file was not stored: correct the rows listed below.", "error"),
        )
    audit(ctx, request, Action.CONTRIBUTE, Outcome.OK, principal=who.principal, record_ids=tuple(ids))
    return see_other("/contribute?done=stored")


@router.get("/contribute/{report_id}/correct", response_class=HTMLResponse)
def correct_page(request: Request, who: PageCaller, report_id: str) -> HTMLResponse:
    ctx = context_of(request)
    _require_contributor(request, who, Action.CORRECT)
    with ctx.engine.connect() as conn:
        row = own_contribution(conn, ctx.rules, who.principal, report_id)
    values = {
        "title": row["title"],
        "text": row["text"],
        "country_iso3": row["country_iso3"] or "",
        "reported_at": row["published_at"].strftime("%Y-%m-%dT%H:%M") if row["published_at"] else "",
        "tlp": row["tlp"],
        "share_with": list(row["share_with"] or []),
        "share_users": ", ".join(row["share_users"] or []),
        "disease": row["disease"] or "",
        "url": row["url"] or "",
    }
    return _page(request, who, FormState(values=values), editing=row)


@router.post("/contribute/{report_id}/correct", response_class=HTMLResponse)
async def correct_form(request: Request, who: PageCaller, report_id: str) -> Response:
    ctx = context_of(request)
    _require_contributor(request, who, Action.CORRECT)
    with ctx.engine.connect() as conn:
        row = own_contribution(conn, ctx.rules, who.principal, report_id)
    state, body = _form_state(await request.form())
    try:
        ids = contribute.correct(ctx.settings, ctx.engine, who.principal, row, body, ctx.clock())
    except contribute.ContributionInvalid as exc:
        audit(ctx, request, Action.CORRECT, Outcome.INVALID, principal=who.principal, detail=str(exc)[:2000])
        state.errors = errors_by_field(exc.problems)
        return _page(
            request,
            who,
            state,
            status_code=422,
            editing=row,
            notice=Notice("The correction was not stored: correct the fields marked below.", "error"),
        )
    audit(ctx, request, Action.CORRECT, Outcome.OK, principal=who.principal, record_ids=tuple(ids))
    return see_other("/contribute?done=corrected")


@router.post("/contribute/{report_id}/withdraw", response_class=HTMLResponse)
def withdraw_form(request: Request, who: PageCaller, report_id: str) -> Response:
    """Withdraw the report: a tombstone replaces its content everywhere (nothing is deleted)."""
    ctx = context_of(request)
    _require_contributor(request, who, Action.WITHDRAW)
    with ctx.engine.connect() as conn:
        row = own_contribution(conn, ctx.rules, who.principal, report_id)
    ids = contribute.withdraw(ctx.settings, ctx.engine, who.principal, row, ctx.clock())
    audit(ctx, request, Action.WITHDRAW, Outcome.OK, principal=who.principal, record_ids=tuple(ids))
    return see_other("/contribute?done=withdrawn")
