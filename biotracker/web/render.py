"""Rendering a page: the Jinja2 environment (autoescape always on), the session a page requires, and
the security headers every HTML page carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader

from biotracker.server.auth import Caller, caller
from biotracker.server.context import ServerContext

STATIC_DIR = Path(__file__).parent / "static"

#: No script, style or image from anywhere but this server; no inline script; no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

#: The navigation every page shows: (path, label).
NAV = (
    ("/", "Queue"),
    ("/map", "Map"),
    ("/contribute", "Contribute"),
    ("/sources", "Sources"),
    ("/search", "Search"),
    ("/account", "Account"),
)

templates = Environment(
    loader=PackageLoader("biotracker.web", "templates"),
    autoescape=True,  # every template, whatever its name: report titles and bodies are hostile input
    trim_blocks=True,
    lstrip_blocks=True,
)


class LoginRequired(HTTPException):
    """No session: the browser is sent to the login form (303), which brings it back afterwards."""

    def __init__(self, request: Request) -> None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        super().__init__(status_code=303, detail="log in first", headers={"Location": login_url(target)})


def login_url(next_path: str = "/") -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='/')}"


async def page_caller(request: Request) -> Caller:
    """The dependency every page takes: the session's caller, or a redirect to ``/login``.

    State-changing form posts are checked for the session's CSRF token by :func:`caller` itself.
    """
    try:
        return await caller(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRequired(request) from None
        raise


#: The session's caller, or a redirect to the login form (CSRF checked on state-changing posts).
PageCaller = Annotated[Caller, Depends(page_caller)]


def context_of(request: Request) -> ServerContext:
    return request.app.state.ctx


@dataclass(frozen=True)
class Notice:
    """A one-line message shown at the top of a page after an action (fixed texts, never echoed input)."""

    text: str
    kind: str = "ok"  # "ok" | "error"


def render(
    request: Request,
    who: Caller | None,
    template: str,
    *,
    status_code: int = 200,
    notice: Notice | None = None,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered with the caller, its CSRF token and the navigation; HTML security headers set."""
    html = templates.get_template(template).render(
        request=request,
        me=who.principal if who else None,
        csrf_token=who.csrf_token if who else None,
        nav=NAV,
        path=request.url.path,
        notice=notice,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def see_other(url: str) -> RedirectResponse:
    """After a form post: the browser GETs ``url`` (post/redirect/get, so a reload never re-posts)."""
    return RedirectResponse(url, status_code=303)
