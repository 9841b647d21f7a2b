"""Scoring on a real store (the demo's, SQLite and PostgreSQL): reading only the weeks a method
needs finds exactly what reading a series' whole history finds."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import delete, select

from biotracker.db.engine import make_engine
from biotracker.db.tables import signals
from biotracker.incidents.build import first_week
from biotracker.incidents.scopes import scope_named
from biotracker.pipeline import latest_week_end
from biotracker.schema import Window, as_utc
from biotracker.scoring import score
from biotracker.scoring.score import load_method_config, score_window


def _signals(engine, scope: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(signals).where(signals.c.scope == scope)).mappings()
        return sorted(json.dumps(dict(r), sort_keys=True, default=str) for r in rows)


@pytest.mark.parametrize("weeks", [8, 104])
def test_scoring_reads_only_the_weeks_ears_needs_and_finds_what_the_whole_history_gives(
    demo_copy, monkeypatch, weeks
):
    engine = make_engine(demo_copy)
    end = as_utc(latest_week_end(engine))
    window = Window(end - dt.timedelta(weeks=weeks), end)
    with engine.connect() as conn:
        scopes = sorted(set(conn.execute(select(signals.c.scope).distinct()).scalars()))
        first = first_week(conn, scopes[0], with_disease=True)
    short = load_method_config().short.choice()
    reads_from = score._reads_from(short, window.start.date())
    assert reads_from is not None and first is not None and reads_from > first, (
        "the demo's history is longer than EARS reads: the test would not see a trimmed read"
    )

    def scored() -> dict[str, list[str]]:
        with engine.begin() as conn:
            conn.execute(delete(signals))
        for key in scopes:
            score_window(engine, window, scope=scope_named(key))
        return {key: _signals(engine, key) for key in scopes}

    trimmed = scored()
    monkeypatch.setattr(score, "_reads_from", lambda choice, opening: None)  # every week of every series
    whole = scored()
    assert any(trimmed.values()) and trimmed == whole
