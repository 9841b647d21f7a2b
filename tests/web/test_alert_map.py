"""The map's drawing: every alert country gets a marker, countries too small for the 1:110m geometry
at their capital (from the bundled GeoNames cities), and nothing it cannot place is drawn."""

from __future__ import annotations

import re

from biotracker.web.alert_map import alert_map_svg, marker_position, unplaced


def test_small_countries_get_a_marker_at_their_capital_and_large_ones_at_their_shape():
    svg = str(alert_map_svg({"SGP": 2, "NLD": 1, "MLT": 1}))
    singapore = re.search(r'<circle class="alert-marker small-country" data-iso3="SGP" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert singapore, "Singapore has no shape at 1:110m but gets a marker"
    x, y = float(singapore.group(1)), float(singapore.group(2))
    assert abs(x - (103.85 + 180) / 360 * 720) < 2 and abs(y - (84 - 1.29) / 150 * 330) < 2
    assert 'class="alert-marker small-country" data-iso3="MLT"' in svg
    assert re.search(r'<path class="country alert-country" data-iso3="NLD"', svg)
    assert 'class="alert-marker" data-iso3="NLD"' in svg
    assert svg.count("alert-marker") == 3 and svg.endswith("</svg>")


def test_a_code_the_map_cannot_place_is_listed_not_drawn():
    assert marker_position("ZZZ") is None
    assert unplaced({"ZZZ": 1, "NLD": 2}) == ["ZZZ"]
    assert "ZZZ" not in str(alert_map_svg({"ZZZ": 1}))
