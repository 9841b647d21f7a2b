"""Reference weeks: R's calendar arithmetic for dated series (README item 1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from biotracker.scoring.detectors.reference_weeks import (
    _years_back,
    as_date_list,
    farrington_reference_index,
    flexible_reference_points,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "surveillance"


def _dates(series: str) -> list[dt.date]:
    frame = pd.read_csv(FIXTURES / series / "input.csv")
    return as_date_list(pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]"))


def test_dated_reference_weeks_lag_52_or_53_weeks_as_in_r() -> None:
    """The reference README: salmNewport t = 528 uses lags 52, 104, 157, 209, 261."""
    points = flexible_reference_points(528, _dates("salmNewport_total"), b=5, freq=52)
    assert [528 - p for p in points] == [0, 52, 104, 157, 209, 261]


def test_week_indexed_reference_weeks_are_multiples_of_52() -> None:
    assert flexible_reference_points(300, None, b=5, freq=52) == [300, 248, 196, 144, 92, 40]


def test_29_february_goes_back_to_1_march_like_rs_seq_by_year() -> None:
    """R: seq(as.Date("2016-02-29"), by = "-1 year", length.out = 5) gives 2015-03-01 … 2012-02-29."""
    day = dt.date(2016, 2, 29)
    assert [_years_back(day, i) for i in range(5)] == [
        day,
        dt.date(2015, 3, 1),
        dt.date(2014, 3, 1),
        dt.date(2013, 3, 1),
        dt.date(2012, 2, 29),
    ]


def test_old_farrington_windows_drop_weeks_before_the_series() -> None:
    index = farrington_reference_index(60, None, b=2, w=3)
    # i = 2 lies entirely before t = 1; i = 1 gives t = 5..11 (0-based 4..10)
    np.testing.assert_array_equal(index, np.arange(4, 11))
