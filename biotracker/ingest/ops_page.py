"""Static HTML ops page (``var/out/ops.html``): per-source health for operators, no server needed.

Rendered with Jinja2 autoescaping: error messages quote what remote services sent, so every value
is escaped before it reaches the page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from sqlalchemy import Engine

from biotracker.config import Settings
from biotracker.ingest.health import describe_age, source_statuses
from biotracker.schema import as_utc
from biotracker.storage import StoragePath


def render_ops_page(engine: Engine, at: dt.datetime) -> str:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
    env.filters["age"] = describe_age
    statuses = source_statuses(engine, at)
    counts = {
        state: sum(1 for s in statuses if s.state == state)
        for state in ("ok", "silent", "failing", "never fetched")
    }
    return env.get_template("ops.html.j2").render(statuses=statuses, at=as_utc(at), counts=counts)


def write_ops_page(engine: Engine, settings: Settings, at: dt.datetime) -> StoragePath:
    """Write the page to ``<home>/out/ops.html`` and return its path."""
    path = settings.out_dir / "ops.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_ops_page(engine, at), encoding="utf-8")
    return path
