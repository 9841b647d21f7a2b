"""The analyst workbench: server-rendered pages over the same access policy as the API.

Pages are Jinja2 templates (autoescaped) served by the same FastAPI app; the little script they use
and their stylesheet are vendored under ``static/`` (deployments are often air-gapped). A page reads
through the functions the API reads through, so it never shows what the API would refuse.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from biotracker.web.render import STATIC_DIR


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app`` (after the API and session routes)."""
    from biotracker.web import account, alert_map, contribute, incident_pages, pages, search, sources

    for module in (pages, incident_pages, alert_map, contribute, sources, search, account):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
