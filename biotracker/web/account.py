"""``/account`` (every user: change password, own API tokens) and ``/admin/orgs``, ``/admin/users``
(admins: add organisations, add and disable users).

Everything goes through ``server/accounts.py``, the functions the ``biotracker users|orgs|tokens``
commands use, and is audited. A new token's secret is shown once, on the page that issued it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, true, update

from biotracker.access import Role
from biotracker.db.tables import sessions, users
from biotracker.server import accounts
from biotracker.server.accounts import AccountError, Scope
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import Caller, audit, session_id_from
from biotracker.web.render import Notice, PageCaller, context_of, render, see_other

router = APIRouter(tags=["pages"])


def own_tokens(request: Request, who: Caller) -> list[dict[str, object]]:
    """The caller's API tokens (id, scope, created, expires, revoked): never a secret, only hashes are kept."""
    with context_of(request).engine.connect() as conn:
        return accounts.list_tokens(conn, who.principal.username)


#: Fixed texts for ``?done=...`` after a post (nothing typed is echoed back).
DONE = {
    "password": "Password changed.",
    "revoked": "Token revoked.",
    "org": "Organisation added.",
    "user": "User added.",
    "disabled": "User disabled: their sessions and tokens ended.",
}


def _account_page(
    request: Request,
    who: Caller,
    *,
    notice: Notice | None = None,
    new_token: str | None = None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        who,
        "account.html",
        notice=notice,
        status_code=status_code,
        tokens=own_tokens(request, who),
        new_token=new_token,
        errors=errors or {},
        scopes=[s.value for s in Scope],
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, who: PageCaller, done: str = "") -> HTMLResponse:
    return _account_page(request, who, notice=Notice(DONE[done]) if done in DONE else None)


def _end_other_sessions(conn: Connection, request: Request, who: Caller) -> None:
    """After a password change only the session that made it lives on (a thief's session ends)."""
    ctx = context_of(request)
    current = session_id_from(ctx, request)
    keep = sessions.c.session_sha256 != accounts.sha256_hex(current) if current else true()
    conn.execute(
        update(sessions)
        .where(sessions.c.username == who.principal.username, sessions.c.revoked_at.is_(None), keep)
        .values(revoked_at=ctx.clock())
    )


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    who: PageCaller,
    current: Annotated[str, Form(max_length=1000)],
    new: Annotated[str, Form(max_length=1000)],
    repeat: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Change the caller's password: the current one must be right; other sessions end."""
    ctx = context_of(request)
    problem: dict[str, str] = {}
    with ctx.engine.begin() as conn:
        if accounts.authenticate(conn, who.principal.username, current) is None:
            problem["current"] = "the current password is wrong"
        elif new != repeat:
            problem["repeat"] = "the two new passwords differ"
        else:
            try:
                digest = accounts.hash_password(new)
            except AccountError as exc:
                problem["new"] = str(exc)
            else:
                conn.execute(
                    update(users)
                    .where(users.c.username == who.principal.username)
                    .values(password_hash=digest)
                )
                _end_other_sessions(conn, request, who)
    if problem:
        audit(
            ctx,
            request,
            Action.WRITE_REFUSED,
            Outcome.DENIED,
            principal=who.principal,
            detail="password change refused: " + "; ".join(problem),
        )
        return _account_page(
            request,
            who,
            errors=problem,
            status_code=422,
            notice=Notice("The password was not changed.", "error"),
        )
    audit(ctx, request, Action.ADMIN, Outcome.OK, principal=who.principal, detail="password changed")
    return see_other("/account?done=password")


@router.post("/account/tokens", response_class=HTMLResponse)
def issue_token(
    request: Request, who: PageCaller, scope: Annotated[str, Form(max_length=10)] = "read"
) -> Response:
    """A new API token for the caller; its secret is on this page only, once."""
    ctx = context_of(request)
    chosen = Scope.WRITE if scope == Scope.WRITE.value else Scope.READ
    with ctx.engine.begin() as conn:
        token_id, secret = accounts.issue_token(
            conn, who.principal.username, chosen, ctx.clock(), dt.timedelta(days=ctx.settings.token_days)
        )
    audit(
        ctx,
        request,
        Action.ADMIN,
        Outcome.OK,
        principal=who.principal,
        detail=f"token {token_id} issued ({chosen.value})",
    )
    return _account_page(
        request, who, new_token=secret, notice=Notice("Token issued: copy it now, it is not shown again.")
    )


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(request: Request, who: PageCaller, token_id: str) -> Response:
    ctx = context_of(request)
    if token_id not in {t["token_id"] for t in own_tokens(request, who)}:
        raise HTTPException(status_code=404, detail="no such token of yours")
    with ctx.engine.begin() as conn:
        accounts.revoke_token(conn, token_id, ctx.clock())
    audit(ctx, request, Action.ADMIN, Outcome.OK, principal=who.principal, detail=f"token {token_id} revoked")
    return see_other("/account?done=revoked")


# --- admin ----------------------------------------------------------------------------------------


def _require_admin(request: Request, who: Caller) -> None:
    if who.principal.role is not Role.ADMIN:
        audit(
            context_of(request),
            request,
            Action.WRITE_REFUSED,
            Outcome.DENIED,
            principal=who.principal,
            detail=f"admin page refused: {request.url.path}",
        )
        raise HTTPException(status_code=403, detail="admins only")


def _orgs_page(
    request: Request, who: Caller, *, error: str = "", status_code: int = 200, notice: Notice | None = None
) -> HTMLResponse:
    with context_of(request).engine.connect() as conn:
        orgs = accounts.list_orgs(conn)
    return render(
        request, who, "admin_orgs.html", orgs=orgs, error=error, status_code=status_code, notice=notice
    )


@router.get("/admin/orgs", response_class=HTMLResponse)
def orgs_page(request: Request, who: PageCaller, done: str = "") -> HTMLResponse:
    _require_admin(request, who)
    return _orgs_page(request, who, notice=Notice(DONE[done]) if done in DONE else None)


@router.post("/admin/orgs", response_class=HTMLResponse)
def add_org(request: Request, who: PageCaller, name: Annotated[str, Form(max_length=200)]) -> Response:
    _require_admin(request, who)
    ctx = context_of(request)
    try:
        with ctx.engine.begin() as conn:
            accounts.add_org(conn, name.strip(), ctx.clock())
    except AccountError as exc:
        return _orgs_page(
            request,
            who,
            error=str(exc),
            status_code=422,
            notice=Notice("The organisation was not added.", "error"),
        )
    audit(
        ctx,
        request,
        Action.ADMIN,
        Outcome.OK,
        principal=who.principal,
        detail=f"organisation {name.strip()} added",
    )
    return see_other("/admin/orgs?done=org")


def _users_page(
    request: Request,
    who: Caller,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    notice: Notice | None = None,
) -> HTMLResponse:
    with context_of(request).engine.connect() as conn:
        people = accounts.list_users(conn)
        orgs = accounts.list_orgs(conn)
    return render(
        request,
        who,
        "admin_users.html",
        people=people,
        orgs=orgs,
        roles=[r.value for r in Role],
        errors=errors or {},
        status_code=status_code,
        notice=notice,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, who: PageCaller, done: str = "") -> HTMLResponse:
    _require_admin(request, who)
    return _users_page(request, who, notice=Notice(DONE[done]) if done in DONE else None)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    who: PageCaller,
    username: Annotated[str, Form(max_length=200)],
    org: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    _require_admin(request, who)
    ctx = context_of(request)
    try:
        chosen = Role.parse(role)
        with ctx.engine.begin() as conn:
            accounts.add_user(conn, username.strip(), org, chosen, password, ctx.clock())
    except (AccountError, ValueError) as exc:
        return _users_page(
            request,
            who,
            errors={"user": str(exc)},
            status_code=422,
            notice=Notice("The user was not added.", "error"),
        )
    audit(
        ctx,
        request,
        Action.ADMIN,
        Outcome.OK,
        principal=who.principal,
        detail=f"user {username.strip()} added to {org} as {chosen.value}",
    )
    return see_other("/admin/users?done=user")


@router.post("/admin/users/{username}/disable", response_class=HTMLResponse)
def disable_user(request: Request, who: PageCaller, username: str) -> Response:
    _require_admin(request, who)
    ctx = context_of(request)
    try:
        with ctx.engine.begin() as conn:
            accounts.disable_user(conn, username, ctx.clock())
    except AccountError:
        raise HTTPException(status_code=404, detail="no such user") from None
    audit(ctx, request, Action.ADMIN, Outcome.OK, principal=who.principal, detail=f"user {username} disabled")
    return see_other("/admin/users?done=disabled")
