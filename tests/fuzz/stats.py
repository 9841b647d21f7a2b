"""Fuzzing figures per connector, filled by the fuzz tests and printed by the conftest hook."""

from __future__ import annotations

STATS: dict[str, dict[str, float]] = {}


def record(connector: str, **add: float) -> None:
    row = STATS.setdefault(connector, {"examples": 0, "crashes": 0, "lost": 0, "quarantined": 0, "seconds": 0.0})
    for key, value in add.items():
        row[key] += value
