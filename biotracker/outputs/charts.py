"""Pictures the digest draws server-side, as inline SVG: the world map of the day's alerts and sparklines.

Nothing is fetched at view time (no tile server, no script): the map projects the bundled Natural
Earth 1:110m countries (public domain; provenance in ``data/PROVENANCE.md``) equirectangularly.
Only numbers and ISO codes are interpolated into the SVG; names pass through ``xml.sax.saxutils``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from xml.sax.saxutils import escape

from markupsafe import Markup

from biotracker.outputs.records import SeriesPoint

GEOJSON = "ne_110m_admin_0_countries.geojson"
MAP_WIDTH, MAP_HEIGHT = 720, 330  # longitude -180..180, latitude 84..-66 (Antarctica cropped)
_TOP, _BOTTOM = 84.0, -66.0


@dataclass(frozen=True)
class Country:
    iso3: str
    name: str
    regions: frozenset[str]
    path: str
    #: Centre of the bounding box of its largest polygon, in map coordinates: where its marker goes.
    centre: tuple[float, float]


def country_code(properties: Mapping[str, object]) -> str:
    """ISO_A3, or ADM0_A3 where Natural Earth has no ISO code ("-99": France, Norway, Kosovo, ...)."""
    iso = str(properties.get("ISO_A3") or "-99")
    return iso if iso != "-99" else str(properties["ADM0_A3"])


def _project(lon: float, lat: float) -> tuple[float, float]:
    x = (lon + 180.0) / 360.0 * MAP_WIDTH
    y = (_TOP - lat) / (_TOP - _BOTTOM) * MAP_HEIGHT
    return round(x, 1), round(y, 1)


def _ring_path(ring: Sequence[Sequence[float]]) -> str:
    points = [_project(lon, lat) for lon, lat, *_ in ring]
    return "M" + "L".join(f"{x:g},{y:g}" for x, y in points) + "Z"


@lru_cache(maxsize=1)
def countries() -> dict[str, Country]:
    """Every country of the bundled geometry by code, with its projected SVG path."""
    data = json.loads(
        resources.files("biotracker.outputs.data").joinpath(GEOJSON).read_text(encoding="utf-8")
    )
    found: dict[str, Country] = {}
    for feature in data["features"]:
        props, geom = feature["properties"], feature["geometry"]
        polygons = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        path = "".join(_ring_path(ring) for poly in polygons for ring in poly)
        code = country_code(props)
        regions = frozenset(str(props[k]) for k in ("CONTINENT", "REGION_UN", "SUBREGION") if props.get(k))
        largest = max((poly[0] for poly in polygons), key=len)
        xs, ys = zip(*(_project(lon, lat) for lon, lat, *_ in largest), strict=True)
        centre = (round((min(xs) + max(xs)) / 2, 1), round((min(ys) + max(ys)) / 2, 1))
        found[code] = Country(code, str(props.get("NAME") or code), regions, path, centre)
    return found


def regions_of() -> dict[str, frozenset[str]]:
    """ISO3 -> continent, UN region and subregion names: what subscriber ``regions`` may name."""
    return {code: c.regions for code, c in countries().items()}


def _view_box(focus: str | None) -> tuple[float, float, float, float]:
    """The whole map, or a quarter of its width around ``focus``'s marker (kept inside the map)."""
    centre = countries().get(focus or "")
    if centre is None:
        return 0.0, 0.0, float(MAP_WIDTH), float(MAP_HEIGHT)
    w, h = MAP_WIDTH / 4, MAP_HEIGHT / 4
    x = min(max(centre.centre[0] - w / 2, 0.0), MAP_WIDTH - w)
    y = min(max(centre.centre[1] - h / 2, 0.0), MAP_HEIGHT - h)
    return round(x, 1), round(y, 1), w, h


def world_map_svg(
    highlight: Mapping[str, int], *, title: str = "Alerts by country", focus: str | None = None
) -> Markup:
    """The world with alert countries filled (darker = more alerts) and labelled with a tooltip;
    ``focus`` (an ISO3 code) zooms to the region around that country (the alert page's small map)."""
    shapes = countries()
    most = max(highlight.values(), default=1)
    x0, y0, vw, vh = _view_box(focus)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" id="alert-map" class="map" viewBox="{x0:g} {y0:g} {vw:g} {vh:g}" '
            f'width="{MAP_WIDTH}" height="{MAP_HEIGHT}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">'
        ),
        f"<title>{escape(title)}</title>",
        f'<rect width="{MAP_WIDTH}" height="{MAP_HEIGHT}" fill="#eef4f8"/>',
    ]
    for code in sorted(shapes):
        c = shapes[code]
        n = highlight.get(code, 0)
        if n:
            shade = 0.35 + 0.65 * n / most
            parts.append(
                f'<path class="country alert-country" data-iso3="{code}" d="{c.path}" '
                f'fill="#c0392b" fill-opacity="{shade:.2f}" stroke="#7b241c" stroke-width="0.5">'
                f"<title>{escape(c.name)}: {n} alert(s)</title></path>"
            )
        else:
            parts.append(
                f'<path class="country" data-iso3="{code}" d="{c.path}" fill="#d5d8dc" '
                f'stroke="#ffffff" stroke-width="0.3"/>'
            )
    for code in sorted(c for c in highlight if c in shapes):  # markers keep small countries visible
        x, y = shapes[code].centre
        parts.append(
            f'<circle class="alert-marker" data-iso3="{code}" cx="{x:g}" cy="{y:g}" r="4" fill="#c0392b" '
            f'stroke="#ffffff" stroke-width="1"><title>{escape(shapes[code].name)}: {highlight[code]} '
            f"alert(s)</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def unmapped(codes: Iterable[str]) -> list[str]:
    """Codes too small for the 1:110m map (Singapore, Bahrain, ...): the digest lists them in words."""
    shapes = countries()
    return sorted({c for c in codes if c and c not in shapes})


SPARK_WIDTH, SPARK_HEIGHT, SPARK_WEEKS = 180, 40, 26


def sparkline_svg(points: Sequence[SeriesPoint], *, label: str) -> Markup:
    """Weekly counts (line), the detector's upper bound where known (dashed), the last week as a dot."""
    points = list(points)[-SPARK_WEEKS:]
    if not points:
        return Markup('<span class="no-series">no weekly series</span>')
    top = max([p.observed for p in points] + [p.upperbound for p in points if p.upperbound is not None] + [1])
    step = (SPARK_WIDTH - 8) / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{4 + i * step:.1f},{SPARK_HEIGHT - 4 - (SPARK_HEIGHT - 8) * v / top:.1f}"

    observed = " ".join(xy(i, p.observed) for i, p in enumerate(points))
    bound = " ".join(xy(i, p.upperbound) for i, p in enumerate(points) if p.upperbound is not None)
    last = points[-1]
    colour = "#c0392b" if last.alarm else "#1f4e79"
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
            f'width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" role="img" aria-label="{escape(label, {chr(34): "&quot;"})}">'
        ),
        f"<title>{escape(label)}</title>",
    ]
    if bound:
        parts.append(
            f'<polyline class="upperbound" points="{bound}" fill="none" stroke="#888" '
            f'stroke-dasharray="3,2" stroke-width="1"/>'
        )
    parts.append(
        f'<polyline class="observed" points="{observed}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>'
    )
    x, y = xy(len(points) - 1, last.observed).split(",")
    parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/></svg>')
    return Markup("".join(parts))
