"""The workbench's routes: each reads through :mod:`biotracker.web.reads` and renders a template."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from biotracker.schema import AlertStatus, AlertTier
from biotracker.server.auth import Caller
from biotracker.web.queue import AgentFlag, QueueFilters, Sort, load_queue
from biotracker.web.render import context_of, page_caller, render

router = APIRouter(include_in_schema=False)
PageCaller = Annotated[Caller, Depends(page_caller)]


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, who: PageCaller) -> HTMLResponse:
    """The alert queue (home page)."""
    ctx = context_of(request)
    filters = QueueFilters.parse({k: request.query_params.getlist(k) for k in request.query_params})
    with ctx.engine.connect() as conn:
        page = load_queue(conn, ctx, who.principal, filters)
    return render(
        request,
        who,
        "queue.html",
        page=page,
        f=filters,
        tiers=list(AlertTier),
        statuses=list(AlertStatus),
        agent_flags=list(AgentFlag),
        sorts=list(Sort),
    )
