"""The stages' hand-off (``Changes``) as it travels between Airflow tasks."""

from __future__ import annotations

import datetime as dt

from biotracker.incidents.changes import Changes


def test_a_hand_off_written_before_count_weeks_existed_counts_every_touched_week_as_changed():
    """A run queued by the previous release must not skip scoring: read safe, not empty."""
    week = dt.date(2026, 5, 25)
    old = {"scope": "tlp:clear", "series_weeks": [["Avian influenza|USA|poultry", week.isoformat()]]}
    changes = Changes.from_json(old)
    assert changes.count_weeks == changes.series_weeks == {("Avian influenza|USA|poultry", week)}
    assert changes.counted_series() == {"Avian influenza|USA|poultry"}
    assert changes.disease_since() == {"Avian influenza": week}


def test_only_series_with_a_disease_are_scored():
    week = dt.date(2026, 5, 25)
    changes = Changes("tlp:clear", count_weeks=frozenset({("*|USA|*", week), ("Anthrax|KEN|cattle", week)}))
    assert changes.counted_series() == {"Anthrax|KEN|cattle"}
