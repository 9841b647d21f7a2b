"""What a run of one stage changed: the typed hand-off from each stage to the next.

Each stage takes the changes of the stage before it and touches only what they can affect:
clustering says which reports were re-linked, which (series, week) counts that changed
(``count_weeks``) and which series weeks' members or incidents it touched (``series_weeks``, a
superset); scoring re-scores the series whose counts changed; the lens re-assesses the changed
incidents and those of the diseases whose counts changed, from the earliest such week on; alerts
are re-derived for the touched series; ranking re-ranks the alerts written. ``full`` means "everything in the scope": a full rebuild,
or a change that moves the data's first week (which every baseline and novelty test depends on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from biotracker.incidents.series import split_series_key

#: (series key, Monday of the week)
SeriesWeek = tuple[str, dt.date]


@dataclass(frozen=True)
class Changes:
    scope: str
    #: everything in the scope changed (full rebuild, or the data's first week moved)
    full: bool = False
    report_ids: frozenset[str] = frozenset()
    #: incidents written with new content or new members
    incident_ids: frozenset[str] = frozenset()
    removed_incident_ids: frozenset[str] = frozenset()
    #: series weeks whose counted reports or member incidents changed
    series_weeks: frozenset[SeriesWeek] = frozenset()
    #: series weeks whose counted reports changed (a report added, removed, moved to another
    #: series or week, or its own content changed): all that signals and the lens's history read.
    #: A report that only changed incident (a re-seeded or merged incident) is not among them, so
    #: scoring and the history are not re-read for every member week of a large incident
    count_weeks: frozenset[SeriesWeek] = frozenset()

    @property
    def empty(self) -> bool:
        return not (
            self.full
            or self.report_ids
            or self.incident_ids
            or self.removed_incident_ids
            or self.series_weeks
        )

    def earliest_week(self) -> dict[str, dt.date]:
        """Per touched series, its earliest touched week: later weeks' baselines include it."""
        out: dict[str, dt.date] = {}
        for key, week in self.series_weeks:
            out[key] = min(week, out.get(key, week))
        return out

    def disease_since(self) -> dict[str | None, dt.date]:
        """Per disease whose counts changed, its earliest such week: the lens's history is per
        disease and as of each incident's week, so earlier incidents' answers stay as they were."""
        out: dict[str | None, dt.date] = {}
        for key, week in self.count_weeks:
            disease = split_series_key(key)[0]
            out[disease] = min(week, out.get(disease, week))
        return out

    def counted_series(self) -> set[str]:
        """Series with a disease whose counts changed: the only ones whose signals can differ."""
        return {key for key, _ in self.count_weeks if split_series_key(key)[0] is not None}

    def with_series_weeks(self, more: Iterable[SeriesWeek]) -> Changes:
        return replace(self, series_weeks=self.series_weeks | frozenset(more))

    def to_json(self) -> dict[str, object]:
        """Plain JSON (for an XCom or an asset event's ``extra``); ``from_json`` reads it back."""
        return {
            "scope": self.scope,
            "full": self.full,
            "report_ids": sorted(self.report_ids),
            "incident_ids": sorted(self.incident_ids),
            "removed_incident_ids": sorted(self.removed_incident_ids),
            "series_weeks": sorted([k, w.isoformat()] for k, w in self.series_weeks),
            "count_weeks": sorted([k, w.isoformat()] for k, w in self.count_weeks),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Changes:
        series_weeks = frozenset((str(k), dt.date.fromisoformat(w)) for k, w in data.get("series_weeks", ()))
        # a hand-off written before count_weeks existed: every touched week may have changed counts
        counts = data.get("count_weeks")
        return cls(
            str(data["scope"]),
            bool(data.get("full", False)),
            frozenset(data.get("report_ids", ())),
            frozenset(data.get("incident_ids", ())),
            frozenset(data.get("removed_incident_ids", ())),
            series_weeks,
            series_weeks
            if counts is None
            else frozenset((str(k), dt.date.fromisoformat(w)) for k, w in counts),
        )

    def summary(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "full": self.full,
            "reports": len(self.report_ids),
            "incidents": len(self.incident_ids),
            "removed_incidents": len(self.removed_incident_ids),
            "series_weeks": len(self.series_weeks),
            "series": len({k for k, _ in self.series_weeks}),
            "count_weeks": len(self.count_weeks),
        }


def full_changes(scope: str) -> Changes:
    return Changes(scope, full=True)
