"""The alert page's trend chart: a detector's weekly series as inline SVG, alarm weeks marked.

Drawn on the server (no script, nothing fetched, readable offline). Only numbers and dates go into
the SVG; the one text label is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from xml.sax.saxutils import escape

from markupsafe import Markup

from biotracker.outputs.records import SeriesPoint

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 34


def trend_svg(points: Sequence[SeriesPoint], *, label: str, alert_weeks: tuple[dt.date, dt.date]) -> Markup:
    """Weekly counts as bars, the detector's upper bound as a dashed line, alarm weeks as red dots
    above their bars, and the alert's own weeks shaded."""
    if not points:
        return Markup('<p class="muted" id="trend-none">No weekly series for this alert.</p>')
    top = max([p.observed for p in points] + [p.upperbound or 0 for p in points] + [1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(points)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    first, last = alert_weeks
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" id="trend-chart" class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="trend-title">'
        ),
        f'<title id="trend-title">{escape(label)}</title>',
        f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{y(0):.1f}" stroke="#4a5560"/>',
        f'<text x="{LEFT - 4}" y="{y(top) + 4:.1f}" text-anchor="end" font-size="10" fill="#1b1f23">{top:g}</text>',
        f'<text x="{LEFT - 4}" y="{y(0):.1f}" text-anchor="end" font-size="10" fill="#1b1f23">0</text>',
    ]
    for i, p in enumerate(points):
        if first <= p.period_start <= last:
            parts.append(
                f'<rect class="alert-week" x="{x(i):.1f}" y="{TOP}" width="{step:.1f}" height="{plot_h}" '
                f'fill="#fde9c9"/>'
            )
    for i, p in enumerate(points):
        h = y(0) - y(p.observed)
        parts.append(
            f'<rect class="observed" data-week="{p.period_start}" x="{x(i) + step * 0.15:.1f}" y="{y(p.observed):.1f}" '
            f'width="{step * 0.7:.1f}" height="{h:.1f}" fill="#1f4e79"><title>week of {p.period_start}: '
            f"{p.observed} report(s)"
            + (f", expected {p.expected:.2f}" if p.expected is not None else "")
            + (f", upper bound {p.upperbound:.2f}" if p.upperbound is not None else "")
            + ("; alarm" if p.alarm else "")
            + "</title></rect>"
        )
    for i, p in enumerate(points):  # the bound as a step per week: visible even for one scored week
        if p.upperbound is not None:
            parts.append(
                f'<line class="upperbound" x1="{x(i):.1f}" x2="{x(i) + step:.1f}" y1="{y(p.upperbound):.1f}" '
                f'y2="{y(p.upperbound):.1f}" stroke="#a61b1b" stroke-dasharray="4,3" stroke-width="1.5"/>'
            )
    for i, p in enumerate(points):
        if p.alarm:
            parts.append(
                f'<circle class="alarm" data-week="{p.period_start}" cx="{x(i) + step / 2:.1f}" '
                f'cy="{y(p.observed) - 6:.1f}" r="4" fill="#a61b1b"><title>alarm: week of {p.period_start}</title></circle>'
            )
    ticks = max(1, len(points) // 6)
    for i in range(0, len(points), ticks):
        parts.append(
            f'<text x="{x(i) + step / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" font-size="10" '
            f'fill="#1b1f23">{points[i].period_start.isoformat()}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 4}" font-size="10" fill="#1b1f23">bars: reports per week · dashed: '
        "upper bound · red dots: alarm weeks · shaded: the alert's weeks</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))
