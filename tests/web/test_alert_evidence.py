"""Pure pieces of the alert page: the extractor's evidence cut into marked segments of a report's
text, the trend chart's marks, and the small map zoomed on the alert's country."""

from __future__ import annotations

import datetime as dt
import re

from biotracker.outputs.charts import MAP_HEIGHT, MAP_WIDTH, world_map_svg
from biotracker.outputs.records import SeriesPoint
from biotracker.web.alert_page import Segment, evidence_spans, segments
from biotracker.web.trend import trend_svg

EVIDENCE = {"extraction": {
    "diseases": [{"name": "anthrax", "evidence": {"field": "title", "span": [0, 7], "text": "Anthrax"}}],
    "places": [{"iso3": "KEN", "admin_area": None, "evidence": {"field": "title", "span": [11, 16], "text": "Kenya"}}],
    "cases_evidence": {"field": "text", "span": [0, 7], "text": "3 cases"}, "cases": 3,
    "deaths_evidence": {"field": "text", "span": [4, 99], "text": "out of range"}, "deaths": 1,
}}


def test_evidence_spans_become_marked_segments_and_the_text_is_kept_whole():
    spans = evidence_spans(EVIDENCE)
    title = "Anthrax in Kenya: follow-up"
    cut = segments(title, spans["title"])
    assert "".join(s.text for s in cut) == title
    assert [s for s in cut if s.evidence] == [Segment("Anthrax", "disease: anthrax"), Segment("Kenya", "place: KEN")]
    body = "3 cases of anthrax"
    assert [s for s in segments(body, spans["text"]) if s.evidence] == [Segment("3 cases", "cases: 3")], \
        "a span beyond the text is dropped, not guessed"


def test_overlapping_spans_merge_into_one_mark_naming_both():
    cut = segments("Bacillus anthracis", [(0, 8, "agent"), (4, 18, "disease")])
    assert cut == [Segment("Bacillus anthracis", "agent, disease")]


def test_the_trend_marks_alarm_weeks_and_the_alerts_weeks():
    monday = dt.date(2024, 1, 1)
    points = [SeriesPoint(monday + dt.timedelta(weeks=i), n, 0.5, 2.0, n > 2) for i, n in enumerate([0, 1, 5, 0])]
    svg = str(trend_svg(points, label="<b>label</b>", alert_weeks=(points[2].period_start, points[2].period_start)))
    assert svg.count('class="alarm"') == 1 and svg.count('class="alert-week"') == 1
    assert svg.count('class="observed"') == 4 and svg.count('class="upperbound"') == 4
    assert "<b>" not in svg and "&lt;b&gt;label" in svg


def test_the_small_map_zooms_on_the_country_and_the_world_map_is_unchanged_without_focus():
    world = str(world_map_svg({"KEN": 1}))
    assert f'viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}"' in world
    zoomed = str(world_map_svg({"KEN": 1}, focus="KEN"))
    x, y, w, h = map(float, re.search(r'viewBox="([^"]+)"', zoomed).group(1).split())
    cx, cy = map(float, re.search(r'class="alert-marker" data-iso3="KEN" cx="([^"]+)" cy="([^"]+)"', zoomed).groups())
    assert (w, h) == (MAP_WIDTH / 4, MAP_HEIGHT / 4) and x <= cx <= x + w and y <= cy <= y + h
    assert zoomed.replace(re.search(r'viewBox="[^"]+"', zoomed).group(0), "") == world.replace(
        f'viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}"', ""), "only the view changes"
