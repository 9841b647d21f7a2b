"""Who is calling: API tokens, session cookies, CSRF, and the login form with its throttle.

- ``Authorization: Bearer <token>``: the token's user and scope; every use is audited.
- Session cookie ``bt_session``: a signed random id (HttpOnly, SameSite=Strict, Secure) whose
  sha256 names a row in ``sessions``; a state-changing request must echo the session's CSRF token
  (form field ``csrf_token`` or header ``X-CSRF-Token``).
- ``POST /login`` needs the CSRF token of the login form (bound to a signed pre-login cookie), counts
  failures per username (known or not) and locks the name out after too many.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool

from biotracker.access import Principal
from biotracker.server import accounts
from biotracker.server.accounts import Scope
from biotracker.server.audit import ANONYMOUS, Action, AuditEntry, Outcome, append
from biotracker.server.context import ServerContext

SESSION_COOKIE = "bt_session"
LOGIN_COOKIE = "bt_login"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Caller:
    """An authenticated request: who, through what, and (for tokens) with which scope."""

    principal: Principal
    via: str  # "token" | "session"
    scope: Scope
    csrf_token: str | None = None


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def audit(
    ctx: ServerContext,
    request: Request,
    action: Action,
    outcome: Outcome,
    *,
    principal: Principal | None = None,
    actor: str | None = None,
    record_ids: tuple[str, ...] = (),
    detail: str = "",
) -> None:
    entry = AuditEntry(
        at=ctx.clock(),
        actor=actor or (principal.username if principal else ANONYMOUS),
        org=principal.org if principal else None,
        action=action,
        outcome=outcome,
        record_ids=record_ids,
        detail=detail,
        remote=remote(request),
    )
    with ctx.engine.begin() as conn:
        append(conn, entry)


def _unauthorised(
    message: str = "authentication required: send Authorization: Bearer <token> or log in",
) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def _signer(ctx: ServerContext, purpose: str) -> Signer:
    return Signer(ctx.secret_key, salt=f"biotracker.{purpose}")


def _unsigned(ctx: ServerContext, request: Request, cookie: str, purpose: str) -> str | None:
    """The value of the signed ``cookie``, or None when it is missing or its signature fails."""
    signed = request.cookies.get(cookie)
    if not signed:
        return None
    try:
        return _signer(ctx, purpose).unsign(signed).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None


def session_id_from(ctx: ServerContext, request: Request) -> str | None:
    return _unsigned(ctx, request, SESSION_COOKIE, "session")


async def _csrf_from(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def token_caller(request: Request, secret: str) -> Caller:
    """The caller an API token names, its use audited; 401 when the token is unknown, expired or revoked.
    (The TAXII routes also take the token as the password of HTTP Basic.)"""
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    with ctx.engine.begin() as conn:  # look the token up and record its use in one transaction
        found = accounts.principal_for_token(conn, secret, now)
        append(
            conn,
            AuditEntry(
                at=now,
                actor=found[0].username if found else ANONYMOUS,
                org=found[0].org if found else None,
                action=Action.TOKEN_USE,
                outcome=Outcome.OK if found else Outcome.DENIED,
                detail=f"{request.method} {request.url.path}" + (f" ({found[1].value})" if found else ""),
                remote=remote(request),
            ),
        )
    if found is None:
        raise _unauthorised("the token is unknown, expired or revoked; ask an admin for a new one")
    principal, scope = found
    request.state.user = principal.username
    return Caller(principal, "token", scope)


async def caller(request: Request) -> Caller:
    """The dependency every protected route takes: 401 without a valid token or session."""
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    header = request.headers.get("authorization", "")
    if header:
        kind, _, secret = header.partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            raise _unauthorised("Authorization must be 'Bearer <token>'")
        # database work on a worker thread: on the event loop it would stall every other request
        return await run_in_threadpool(token_caller, request, secret.strip())
    session_id = session_id_from(ctx, request)
    if session_id is None:
        raise _unauthorised()
    found_session = await run_in_threadpool(_session_of, ctx, session_id, now)
    if found_session is None:
        raise _unauthorised("the session has ended; log in again")
    principal, csrf = found_session
    request.state.user = principal.username
    if request.method not in SAFE_METHODS:
        sent = await _csrf_from(request)
        if not sent or not hmac.compare_digest(sent, csrf):
            audit(
                ctx,
                request,
                Action.WRITE_REFUSED,
                Outcome.DENIED,
                principal=principal,
                detail=f"CSRF token missing or wrong: {request.method} {request.url.path}",
            )
            raise HTTPException(
                status_code=403, detail="CSRF token missing or wrong: send the session's csrf_token"
            )
    return Caller(principal, "session", Scope.WRITE, csrf)


def _session_of(ctx: ServerContext, session_id: str, now: dt.datetime) -> tuple[Principal, str] | None:
    with ctx.engine.connect() as conn:
        return accounts.session_principal(conn, session_id, now)


CallerDep = Annotated[Caller, Depends(caller)]


def require_write(c: Caller) -> None:
    if c.scope is not Scope.WRITE:
        raise HTTPException(
            status_code=403, detail="this token is read-only: issue a token with --scope write"
        )


# --- login / logout -------------------------------------------------------------------------------

router = APIRouter(tags=["session"])

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Biotracker: log in</title><link rel="stylesheet" href="/static/web.css"></head>
<body class="login"><a class="skip" href="#main">Skip to the login form</a>
<header class="top"><p class="brand">Biotracker</p></header>
<main id="main"><h1>Log in</h1>{error}
<form method="post" action="/login" class="stack">
<input type="hidden" name="csrf_token" value="{csrf}"><input type="hidden" name="next" value="{next}">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log in</button></p>
</form></main></body></html>
"""
#: Why a browser was sent back to the form (fixed texts: nothing from the request is echoed).
_LOGIN_ERRORS = {
    "wrong": "Wrong username or password.",
    "locked": "Too many failed logins for this name: try again later.",
    "csrf": "The form had expired: please log in again.",
    "ended": "You have logged out.",
}


def wants_page(request: Request) -> bool:
    """A browser's form post (it accepts HTML) is answered with redirects; API clients keep JSON."""
    return "text/html" in request.headers.get("accept", "")


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this server, else ``/``: a login never redirects elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _back_to_form(error: str, next_path: str) -> Response:
    query = f"?error={error}" + (f"&next={quote(next_path, safe='/')}" if next_path != "/" else "")
    return RedirectResponse("/login" + query, status_code=303)


def _set_cookie(response: Response, ctx: ServerContext, name: str, value: str, max_age: int) -> None:
    """Every cookie of ours: HttpOnly (no script reads it), SameSite=Strict, Secure unless configured off."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=ctx.settings.server_cookie_secure,
    )


def login_csrf(ctx: ServerContext, nonce: str) -> str:
    return _signer(ctx, "login-csrf").get_signature(nonce.encode("ascii")).decode("ascii")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str = "", next: str = "/") -> Response:
    """The login form; its CSRF token is bound to a signed pre-login cookie."""
    ctx: ServerContext = request.app.state.ctx
    nonce = secrets.token_urlsafe(24)
    message = _LOGIN_ERRORS.get(error)
    response = HTMLResponse(
        _LOGIN_PAGE.format(
            csrf=login_csrf(ctx, nonce),
            next=html.escape(local_path(next)),
            error=f'<p class="notice error" role="alert">{message}</p>' if message else "",
        )
    )
    _set_cookie(response, ctx, LOGIN_COOKIE, _signer(ctx, "login").sign(nonce).decode("ascii"), 3600)
    return response


def _login_nonce(ctx: ServerContext, request: Request) -> str | None:
    return _unsigned(ctx, request, LOGIN_COOKIE, "login")


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the form's CSRF token, the lock-out and the password; start a fresh session.

    A browser is redirected (to ``next`` on success, back to the form otherwise); API clients get JSON.
    """
    ctx: ServerContext = request.app.state.ctx
    now = ctx.clock()
    page = wants_page(request)
    next = local_path(next)
    nonce = _login_nonce(ctx, request)
    if nonce is None or not csrf_token or not hmac.compare_digest(csrf_token, login_csrf(ctx, nonce)):
        audit(
            ctx,
            request,
            Action.LOGIN_FAILED,
            Outcome.DENIED,
            actor=username,
            detail="CSRF token missing or wrong",
        )
        if page:
            return _back_to_form("csrf", next)
        raise HTTPException(
            status_code=403, detail="CSRF token missing or wrong: load /login and submit its form"
        )
    with ctx.engine.begin() as conn:
        until = accounts.locked_until(conn, username, now)
    if until is not None:
        audit(
            ctx,
            request,
            Action.LOGIN_FAILED,
            Outcome.LOCKED,
            actor=username,
            detail=f"locked until {until.isoformat()}",
        )
        retry = max(1, int((until - now).total_seconds()))
        if page:
            return _back_to_form("locked", next)
        raise HTTPException(
            status_code=429,
            detail="too many failed logins: try again later",
            headers={"Retry-After": str(retry)},
        )
    with ctx.engine.begin() as conn:
        principal = accounts.authenticate(conn, username, password)
        if principal is None:
            locked = accounts.record_login_failure(
                conn,
                username,
                now,
                max_failures=ctx.settings.login_max_failures,
                lockout=dt.timedelta(minutes=ctx.settings.login_lockout_minutes),
            )
        else:
            accounts.clear_login_failures(conn, username)
            old = session_id_from(ctx, request)
            if old:
                accounts.end_session(conn, old, now)  # never keep a session id from before the login
            session_id, csrf = accounts.create_session(
                conn, principal.username, now, dt.timedelta(hours=ctx.settings.session_hours)
            )
    if principal is None:
        audit(
            ctx,
            request,
            Action.LOGIN_FAILED,
            Outcome.DENIED,
            actor=username,
            detail="wrong username or password" + (" (now locked out)" if locked else ""),
        )
        if page:
            return _back_to_form("wrong", next)
        raise HTTPException(status_code=401, detail="wrong username or password")
    audit(ctx, request, Action.LOGIN, Outcome.OK, principal=principal)
    response: Response = (
        RedirectResponse(next, status_code=303)
        if page
        else JSONResponse(
            {
                "username": principal.username,
                "org": principal.org,
                "role": principal.role.value,
                "csrf_token": csrf,
            }
        )
    )
    signed = _signer(ctx, "session").sign(session_id).decode("ascii")
    _set_cookie(response, ctx, SESSION_COOKIE, signed, int(ctx.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, c: CallerDep) -> Response:
    """End the session (the CSRF token is required like for any state-changing request)."""
    ctx: ServerContext = request.app.state.ctx
    session_id = session_id_from(ctx, request)
    if session_id:
        with ctx.engine.begin() as conn:
            accounts.end_session(conn, session_id, ctx.clock())
    audit(ctx, request, Action.LOGOUT, Outcome.OK, principal=c.principal)
    response: Response = (
        RedirectResponse("/login?error=ended", status_code=303)
        if wants_page(request)
        else JSONResponse({"logged_out": True})
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
