"""Unusualness flags, each relative to what is usual for that agent, place, host and season.

A flag that is nearly always on tells an analyst nothing: in the demo data nine in ten incidents
were "unusual", mostly because avian influenza is reported across Europe every winter
("multiple_simultaneous") and because the data begin recently ("first_occurrence"). So:

- ``first_occurrence`` needs a history long enough to say so, counted from when the incident's
  own sources began (a feed added last month cannot say what is new, whatever else the store
  holds). With a year, it means no report of the disease in the country for 52 weeks. With less
  (but at least ``min_coverage_weeks``), it means none in the weeks covered, and only where the
  agent is not known to be endemic in the country; otherwise the incident gets ``no_history``,
  which says so and counts for nothing.
- ``multiple_simultaneous`` needs more countries this week than the seasonal baseline: the most
  countries in any week of the same season (±``season_halfwidth_weeks``) in earlier years, or, if
  the data hold no earlier season, in the ``recent_weeks`` before.
- ``out_of_season``, ``unusual_host``, ``non_endemic``, ``high_cfr``, ``eradicated_agent`` and
  ``statistical_alarm`` compare with the same agent's history (or reference tables) as before.

The flag names are defined once here (``Flag``); the lens stores ``FlagFinding.as_dict()`` and the
alert rules count flags with ``counted_flags``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from biotracker.scoring.risk.agents import Agent

Answer = TypeVar("Answer")


class Flag(StrEnum):
    FIRST_OCCURRENCE = "first_occurrence"
    NO_HISTORY = "no_history"
    REEMERGENCE = "reemergence"
    OUT_OF_SEASON = "out_of_season"
    NON_ENDEMIC = "non_endemic"
    UNUSUAL_HOST = "unusual_host"
    ERADICATED_AGENT = "eradicated_agent"
    STATISTICAL_ALARM = "statistical_alarm"
    MULTIPLE_SIMULTANEOUS = "multiple_simultaneous"
    HIGH_CFR = "high_cfr"


#: Flags that say something about the data rather than the event: shown, never counted.
INFORMATIONAL = frozenset({Flag.NO_HISTORY})
#: Flags the alert rules test as facts of their own (alarm, novel), not in the "unusual" count.
SEPARATE = frozenset({Flag.STATISTICAL_ALARM, Flag.FIRST_OCCURRENCE, Flag.REEMERGENCE})


def meaningful_flags(names: Iterable[str]) -> set[str]:
    """The distinct flags that say something about the event (informational ones dropped)."""
    return {n for n in names if n not in INFORMATIONAL}


def counted_flags(names: Iterable[str]) -> set[str]:
    """The distinct flags that count as "unusual" for the tier rules."""
    return {n for n in names if n not in INFORMATIONAL and n not in SEPARATE}


@dataclass(frozen=True)
class FlagFinding:
    flag: Flag
    evidence: str

    def as_dict(self) -> dict[str, str]:
        return {"flag": self.flag.value, "evidence": self.evidence}


@dataclass(frozen=True)
class UnusualConfig:
    """Thresholds, with the reason for each value in the module docstring and docs/RISK_LENS.md."""

    novelty_weeks: int = 52
    #: Shortest history that can support a (weaker) first occurrence: four weeks, the warm-up an
    #: analyst gives a new feed before trusting "new here".
    min_coverage_weeks: int = 4
    season_min_years: int = 3
    season_min_reports: int = 10
    host_min_reports: int = 20
    simultaneous_countries: int = 3
    season_halfwidth_weeks: int = 4
    recent_weeks: int = 8
    cfr_min_cases: int = 5
    #: A series back after at least this many silent weeks (the alert cool-down, so a flagged
    #: report opens a new episode) and after more than twice its usual gap between reports.
    reemergence_min_weeks: int = 4
    reemergence_gap_factor: float = 2.0


class IncompleteHistory(LookupError):
    """A question about weeks a :class:`History` was not read for (a caller's mistake)."""


@dataclass
class Before:
    """A disease history's weeks before ``week``, summed: what questions about ``week`` and later
    need of them, in rows per country and month rather than per week, so a daily run does not read
    five years of weeks to assess the last few: each country's reports per month, the last week
    with a report of the countries asked about, the hosts' totals, and each week's number of
    countries (every week: the seasonal baseline looks years back)."""

    week: dt.date
    #: (disease, country) -> reports per month (index 0: January) in weeks before ``week``
    months: dict[tuple[Any, Any], Sequence[int]] = field(default_factory=dict)
    #: (disease, country) -> its last week with a report before ``week``, for the pairs asked about
    last: dict[tuple[Any, Any], dt.date] = field(default_factory=dict)
    #: disease -> reports per host (None: unknown) in weeks before ``week``
    hosts: dict[Any, Mapping[str | None, int]] = field(default_factory=dict)
    #: (disease, week) -> countries with a report that week, for every week (before and after)
    country_count: dict[tuple[Any, dt.date], int] = field(default_factory=dict)


@dataclass
class History:
    """What the unusualness flags compare an incident against, as of its week (point in time).

    Built from weekly report counts per (disease, country, host) — the series, not the reports —
    for the diseases being assessed. Each question is asked *as of* the incident's week: counts of
    weeks up to and including it, never later ones. So an assessment does not change when later
    reports arrive, and a run that adds reports re-assesses only the incidents of their diseases
    from their earliest week on (the incremental chain depends on this).
    """

    #: first week of any counted report in the scope (the data's beginning)
    start: dt.date | None
    #: (disease, country) -> sorted distinct weeks with a report
    weeks: dict[tuple[Any, Any], list[dt.date]] = field(default_factory=dict)
    #: (disease, country) -> (sorted weeks, cumulative counts by month: len(weeks) x 12)
    month_counts: dict[tuple[Any, Any], tuple[list[dt.date], np.ndarray]] = field(default_factory=dict)
    #: disease -> (sorted weeks, host names, cumulative counts: len(weeks) x len(hosts))
    host_counts: dict[Any, tuple[list[dt.date], list[str], np.ndarray]] = field(default_factory=dict)
    #: (disease, week) -> countries with a report that week
    countries_week: dict[tuple[Any, dt.date], set[str]] = field(default_factory=dict)
    #: disease -> (sorted weeks, case fatality ratios) of reports with at least CFR_MIN_CASES cases
    fatality: dict[Any, tuple[list[dt.date], list[float]]] = field(default_factory=dict)
    #: first week with a report of each source: a feed that began last month cannot say what is new
    source_start: dict[str, dt.date] = field(default_factory=dict)
    #: (disease, week) -> how many countries reported it that week: every week, the seasonal
    #: baseline of ``multiple_simultaneous`` (``countries_week`` may hold only recent weeks)
    country_count: dict[tuple[Any, dt.date], int] = field(default_factory=dict)
    #: answers hold for weeks from this one on (None: every week); earlier weeks were read summed
    from_week: dt.date | None = None
    #: (disease, country) pairs whose ``weeks`` before ``from_week`` are only the last one...
    truncated: set[tuple[Any, Any]] = field(default_factory=set)
    #: ... or none at all (pairs no incident asked about: their last week was not looked up)
    unread: set[tuple[Any, Any]] = field(default_factory=set)
    #: answers already computed, by question: many incidents of a run share a disease and week
    _asked: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_counts(
        cls,
        start: dt.date | None,
        counts: Iterable[tuple[Any, Any, Any, dt.date, int]],
        fatality: Iterable[tuple[Any, dt.date, float]] = (),
        source_start: Mapping[str, dt.date] | None = None,
    ) -> History:
        """From (disease, country, host, week, reports) rows and (disease, week, deaths/cases) rows."""
        by_country: Counter[tuple[Any, Any, dt.date]] = Counter()
        by_host: Counter[tuple[Any, Any, dt.date]] = Counter()
        for disease, country, host, week, n in counts:
            if country:
                by_country[(disease, country, week)] += n
            by_host[(disease, host, week)] += n
        return cls.from_aggregates(
            start,
            [(*k, n) for k, n in by_country.items()],
            [(*k, n) for k, n in by_host.items()],
            fatality,
            source_start,
        )

    @classmethod
    def from_aggregates(
        cls,
        start: dt.date | None,
        by_country: Iterable[tuple[Any, Any, dt.date, int]],
        by_host: Iterable[tuple[Any, Any, dt.date, int]],
        fatality: Iterable[tuple[Any, dt.date, float]] = (),
        source_start: Mapping[str, dt.date] | None = None,
        *,
        before: Before | None = None,
    ) -> History:
        """From weekly counts already summed by (disease, country, week) for known countries and by
        (disease, host, week) for all reports (host None: unknown), as ``series_counts`` gives them.

        With ``before``, the weekly counts are those from ``before.week`` on and ``before`` sums the
        earlier ones: the history then answers for weeks from ``before.week`` on (what a daily run
        asks), without a row per earlier week (see :class:`Before`)."""
        by_dc: dict[tuple[Any, Any], Counter[dt.date]] = defaultdict(Counter)
        by_d: dict[Any, Counter[tuple[dt.date, str]]] = defaultdict(Counter)
        countries: dict[tuple[Any, dt.date], set[str]] = defaultdict(set)
        for disease, country, week, n in by_country:
            by_dc[(disease, country)][week] += n
            countries[(disease, week)].add(country)
        for disease, host, week, n in by_host:
            by_d[disease][(week, host or "*")] += n
        history = cls(start=start, countries_week=dict(countries), source_start=dict(source_start or {}))
        history.country_count = {key: len(names) for key, names in countries.items()}
        first_rows: dict[tuple[Any, Any], Sequence[int]] = {}
        first_hosts: dict[Any, Counter[str]] = {}
        day_before = before.week - dt.timedelta(days=1) if before is not None else None
        if before is not None:
            if any(week < before.week for by_week in by_dc.values() for week in by_week):
                raise ValueError("weekly counts before `before.week` belong in `before`, not the rows")
            history.from_week = before.week
            history.country_count = dict(before.country_count)
            first_rows = {key: months for key, months in before.months.items() if any(months)}
            first_hosts = {
                d: Counter({h or "*": n for h, n in hosts.items()}) for d, hosts in before.hosts.items()
            }
            history.truncated = set(first_rows)
            history.unread = set(first_rows) - set(before.last)
        for key in by_dc.keys() | first_rows.keys():
            by_week = by_dc.get(key, Counter())
            weeks = sorted(by_week)
            table = np.zeros((len(weeks), 12), dtype=np.int64)  # reports per month, one row per week
            table[np.arange(len(weeks)), [w.month - 1 for w in weeks]] = [by_week[w] for w in weeks]
            history.weeks[key] = weeks
            if key in first_rows and before is not None and day_before is not None:
                if key in before.last:
                    history.weeks[key] = [before.last[key], *weeks]
                weeks = [day_before, *weeks]  # one row for all earlier weeks
                table = np.vstack([np.asarray(first_rows[key], dtype=np.int64).reshape(1, 12), table])
            history.month_counts[key] = (weeks, np.cumsum(table, axis=0))
        for disease in by_d.keys() | first_hosts.keys():
            cells = by_d.get(disease, Counter())
            weeks = sorted({w for w, _ in cells})
            hosts = sorted({h for _, h in cells} | set(first_hosts.get(disease, ())))
            row, col = {w: i for i, w in enumerate(weeks)}, {h: j for j, h in enumerate(hosts)}
            grid = np.zeros((len(weeks), len(hosts)), dtype=np.int64)
            for (week, host), n in cells.items():
                grid[row[week], col[host]] = n
            if disease in first_hosts and day_before is not None:
                earlier = first_hosts[disease]
                weeks = [day_before, *weeks]
                grid = np.vstack([np.array([[earlier[h] for h in hosts]], dtype=np.int64), grid])
            history.host_counts[disease] = (weeks, hosts, np.cumsum(grid, axis=0))
        ratios: dict[Any, list[tuple[dt.date, float]]] = defaultdict(list)
        for disease, week, ratio in fatality:
            ratios[disease].append((week, ratio))
        for disease, pairs in ratios.items():
            pairs.sort()
            history.fatality[disease] = ([w for w, _ in pairs], [r for _, r in pairs])
        return history

    def _covers(self, week: dt.date) -> None:
        if self.from_week is not None and week < self.from_week:
            raise IncompleteHistory(
                f"asked about the week of {week}, but this history was read from {self.from_week} on: "
                "load it from the earliest week assessed"
            )

    def last_week_before(self, disease: Any, country: Any, week: dt.date) -> dt.date | None:
        """The last week before ``week`` with a report of ``disease`` in ``country`` (None: none)."""
        self._covers(week)
        if (disease, country) in self.unread:
            raise IncompleteHistory(
                f"the last week of {disease} in {country} before {self.from_week} was not read: "
                "name the pair among the questions asked when loading the history"
            )
        weeks = self.weeks.get((disease, country), [])
        i = bisect.bisect_left(weeks, week)
        return weeks[i - 1] if i else None

    def earlier_weeks(self, disease: Any, country: Any, week: dt.date) -> list[dt.date]:
        """Every week before ``week`` with a report of ``disease`` in ``country``."""
        self._covers(week)
        if (disease, country) in self.truncated:
            raise IncompleteHistory(
                f"the weeks of {disease} in {country} before {self.from_week} were not read: "
                "complete them (History.complete_weeks) before asking for every earlier week"
            )
        weeks = self.weeks.get((disease, country), [])
        return weeks[: bisect.bisect_left(weeks, week)]

    def complete_weeks(self, disease: Any, country: Any, earlier: Iterable[dt.date]) -> None:
        """Give a truncated pair its weeks before ``from_week`` (all of them, in any order)."""
        key = (disease, country)
        if key not in self.truncated or self.from_week is None:
            return
        start = self.from_week
        self.weeks[key] = sorted(set(earlier)) + [w for w in self.weeks[key] if w >= start]
        self.truncated.discard(key)
        self.unread.discard(key)

    def months(self, disease: Any, country: Any, week: dt.date) -> Counter:
        """Reports per month (1-12) of ``disease`` in ``country`` in weeks up to ``week``."""
        self._covers(week)
        weeks, cumulative = self.month_counts.get((disease, country), ([], np.zeros((0, 12))))
        i = bisect.bisect_right(weeks, week)
        if i == 0:
            return Counter()
        return Counter({m + 1: int(v) for m, v in enumerate(cumulative[i - 1]) if v})

    def remember(self, question: tuple[Any, ...], answer: Callable[[], Answer]) -> Answer:
        """The answer to ``question``, computed by ``answer`` the first time it is asked."""
        if question not in self._asked:
            self._asked[question] = answer()
        remembered: Answer = self._asked[question]
        return remembered

    def hosts(self, disease: Any, week: dt.date) -> Counter:
        """Reports per host of ``disease`` in weeks up to ``week`` (a copy: callers may change it)."""
        self._covers(week)
        weeks, hosts, cumulative = self.host_counts.get(disease, ([], [], np.zeros((0, 0))))
        i = bisect.bisect_right(weeks, week)
        if i == 0:
            return Counter()
        row = cumulative[i - 1]
        counts = self.remember(
            ("hosts", disease, i), lambda: Counter({h: int(v) for h, v in zip(hosts, row, strict=True) if v})
        )
        return Counter(counts)

    def countries(self, disease: Any, week: dt.date) -> set[str]:
        """The countries with a report of ``disease`` in ``week``."""
        self._covers(week)
        return self.countries_week.get((disease, week), set())

    def usual_fatality(self, disease: Any, week: dt.date) -> float | None:
        """Median case fatality of ``disease`` over reports up to ``week`` (None under three)."""
        weeks, ratios = self.fatality.get(disease, ([], []))
        i = bisect.bisect_right(weeks, week)
        if i < 3:
            return None
        return self.remember(("fatality", disease, i), lambda: float(np.median(ratios[:i])))


def build_history(frame: pd.DataFrame) -> History:
    """A :class:`History` from the series frame (one row per counted report:
    ``incidents.series.load_incident_frame``), e.g. for a test or a one-off analysis."""
    if frame.empty:
        return History(start=None)
    source_start: dict[str, dt.date] = {}
    for report_id, week in zip(frame["report_id"].tolist(), frame["period_start"].tolist(), strict=True):
        source = report_source(report_id)
        if source not in source_start or week < source_start[source]:
            source_start[source] = week
    rows = zip(
        frame["disease"],
        frame["country_iso3"],
        frame["host"],
        frame["period_start"],
        [1] * len(frame),
        strict=True,
    )
    return History.from_counts(min(frame["period_start"]), rows, source_start=source_start)


def report_source(report_id: str) -> str:
    """The source of a report from its id ("<source>:<source_id>", ``Report.report_id``)."""
    return report_id.split(":", 1)[0]


@dataclass(frozen=True)
class IncidentFacts:
    """What the flags need to know about one incident (its first week's series)."""

    disease: str
    country: str | None
    host: str | None
    week: dt.date
    cases: int | None = None
    deaths: int | None = None
    agent: Agent | None = None
    alarm: dict | None = None
    #: sources of the incident's reports: history counts from when the first of them began
    sources: tuple[str, ...] = ()


def _weeks(a: dt.date, b: dt.date) -> int:
    return (a - b).days // 7


def covered_weeks(facts: IncidentFacts, history: History) -> int:
    """Weeks of data before the incident's week from the sources that report it (all data when
    the sources are unknown): a feed that began recently cannot say what is new."""
    starts = [history.source_start[s] for s in facts.sources if s in history.source_start]
    start = min(starts) if starts else history.start
    return _weeks(facts.week, start) if start else 0


def first_occurrence(
    facts: IncidentFacts, history: History, endemic: set[str] | None, config: UnusualConfig
) -> FlagFinding | None:
    """No report in the country for a year, or, with a shorter history from the incident's
    sources, in the weeks they cover (where the agent is not endemic); else "no history"."""
    disease, country, week = facts.disease, facts.country, facts.week
    if not country or history.start is None:
        return None
    last = history.last_week_before(disease, country, week)
    if last is not None and _weeks(week, last) <= config.novelty_weeks:
        return None
    if last is not None:
        return FlagFinding(
            Flag.FIRST_OCCURRENCE,
            f"first report of {disease} in {country} after a gap: previous in the week of {last}",
        )
    covered = covered_weeks(facts, history)
    if covered >= config.novelty_weeks:
        return FlagFinding(
            Flag.FIRST_OCCURRENCE,
            f"no earlier report of {disease} in {country} in the {covered} weeks its sources cover",
        )
    if covered < config.min_coverage_weeks:
        return FlagFinding(
            Flag.NO_HISTORY,
            f"its sources cover only {covered} week(s) before this one: too short to call {disease} new in {country}",
        )
    if endemic is not None and country in endemic:
        return FlagFinding(
            Flag.NO_HISTORY,
            f"{disease} is endemic in {country}; {covered} weeks of data without a report do not make it new there",
        )
    return FlagFinding(
        Flag.FIRST_OCCURRENCE,
        f"no report of {disease} in {country} in the {covered} weeks its sources cover (less than a year, "
        "so weaker evidence)",
    )


def needs_every_earlier_week(
    disease: Any, country: Any, week: dt.date, history: History, config: UnusualConfig = UnusualConfig()
) -> bool:
    """Whether ``reemergence`` must see the series' usual gap, i.e. every earlier week: only when it
    is back after a silence of ``reemergence_min_weeks`` to a year (most weeks of a busy series are
    not), so a history read from recent weeks on completes only those series."""
    if not country:
        return False
    last = history.last_week_before(disease, country, week)
    if last is None:
        return False
    return config.reemergence_min_weeks <= _weeks(week, last) <= config.novelty_weeks


def reemergence(facts: IncidentFacts, history: History, config: UnusualConfig) -> FlagFinding | None:
    """The series is back after a silence longer than it usually keeps (but under a year, which
    would be a first occurrence)."""
    if not needs_every_earlier_week(facts.disease, facts.country, facts.week, history, config):
        return None
    weeks = history.earlier_weeks(facts.disease, facts.country, facts.week)
    silent = _weeks(facts.week, weeks[-1])
    gaps = [_weeks(b, a) for a, b in pairwise(weeks)]
    usual = sorted(gaps)[len(gaps) // 2] if gaps else None
    if usual is not None and silent <= config.reemergence_gap_factor * usual:
        return None
    return FlagFinding(
        Flag.REEMERGENCE,
        f"{facts.disease} in {facts.country} again, {silent} weeks after the previous report (week of "
        f"{weeks[-1]}; "
        + (f"usual gap {usual} week(s))" if usual is not None else "one earlier week with reports)"),
    )


def simultaneous_baseline(
    disease: str, week: dt.date, history: History, config: UnusualConfig
) -> tuple[int, str] | None:
    """The usual number of countries reporting ``disease`` in one week around this time: the most
    in any week of the same season in earlier years and in the recent weeks (the larger, so a wave
    that grows from year to year is not "unusual" every week of its rise); None when the data hold
    neither an earlier season nor recent weeks."""
    if history.start is None:
        return None
    start = history.start
    return history.remember(
        ("simultaneous", disease, week, config),
        lambda: _simultaneous_baseline(disease, week, history, config, start),
    )


def _simultaneous_baseline(
    disease: str, week: dt.date, history: History, config: UnusualConfig, start: dt.date
) -> tuple[int, str] | None:
    def countries(w: dt.date) -> int:
        return history.country_count.get((disease, w), 0)

    width = 2 * config.season_halfwidth_weeks + 1
    seasons: list[dt.date] = []
    for years in range(1, 6):
        centre = week - dt.timedelta(weeks=52 * years)
        if centre - dt.timedelta(weeks=config.season_halfwidth_weeks) < start:
            break
        seasons.extend(
            centre + dt.timedelta(weeks=d)
            for d in range(-config.season_halfwidth_weeks, config.season_halfwidth_weeks + 1)
        )
    recent = [week - dt.timedelta(weeks=d) for d in range(1, config.recent_weeks + 1)]
    parts: list[tuple[int, str]] = []
    if seasons:
        parts.append(
            (
                max(countries(w) for w in seasons),
                f"the same season of {len(seasons) // width} earlier year(s)",
            )
        )
    if recent[-1] >= start:
        parts.append((max(countries(w) for w in recent), f"the {config.recent_weeks} weeks before"))
    if not parts:
        return None
    return max(n for n, _ in parts), " and ".join(where for _, where in parts)


def multiple_simultaneous(
    facts: IncidentFacts, history: History, config: UnusualConfig
) -> FlagFinding | None:
    now = history.countries(facts.disease, facts.week)
    if len(now) < config.simultaneous_countries:
        return None
    baseline = simultaneous_baseline(facts.disease, facts.week, history, config)
    if baseline is None or len(now) <= baseline[0]:
        return None
    usual, where = baseline
    return FlagFinding(
        Flag.MULTIPLE_SIMULTANEOUS,
        f"{facts.disease} reported in {len(now)} countries the same week ({', '.join(sorted(now)[:8])}), "
        f"more than the usual at most {usual} in {where}",
    )


def out_of_season(facts: IncidentFacts, history: History, config: UnusualConfig) -> FlagFinding | None:
    if not facts.country or history.start is None:
        return None
    span_years = (facts.week - history.start).days / 365.25
    months = history.months(facts.disease, facts.country, facts.week)
    total = sum(months.values())
    if span_years < config.season_min_years or total < config.season_min_reports:
        return None
    near = sum(months[((facts.week.month - 1 + d) % 12) + 1] for d in (-1, 0, 1))
    if near / total >= 0.05:
        return None
    return FlagFinding(
        Flag.OUT_OF_SEASON,
        f"only {near} of {total} earlier reports of {facts.disease} in {facts.country} fell within a month of "
        f"{facts.week.strftime('%B')}",
    )


def unusual_host(facts: IncidentFacts, history: History, config: UnusualConfig) -> FlagFinding | None:
    hosts = history.hosts(facts.disease, facts.week)
    if not facts.host or sum(hosts.values()) < config.host_min_reports or hosts[facts.host] > 1:
        return None
    usual = ", ".join(h for h, _ in hosts.most_common(3))
    return FlagFinding(
        Flag.UNUSUAL_HOST,
        f"{facts.disease} in {facts.host}: first time in {sum(hosts.values())} reports (usual hosts: {usual})",
    )


def non_endemic(facts: IncidentFacts, endemic: set[str] | None) -> FlagFinding | None:
    if facts.agent is None or endemic is None or not facts.country or facts.country in endemic:
        return None
    return FlagFinding(
        Flag.NON_ENDEMIC,
        f"{facts.agent.name} is not endemic in {facts.country} (endemicity table: "
        f"{', '.join(sorted(endemic)) or 'no country'})",
    )


def high_cfr(facts: IncidentFacts, norm: float | None, config: UnusualConfig) -> FlagFinding | None:
    if norm is None or not facts.cases or facts.cases < config.cfr_min_cases or facts.deaths is None:
        return None
    cfr = facts.deaths / facts.cases
    if cfr <= max(2 * norm, norm + 0.1):
        return None
    return FlagFinding(
        Flag.HIGH_CFR,
        f"case fatality {cfr:.0%} ({facts.deaths}/{facts.cases}) against a usual {norm:.0%} for {facts.disease} in the data",
    )


def unusual_flags(
    facts: IncidentFacts,
    history: History,
    endemic: set[str] | None,
    cfr_norm: float | None,
    config: UnusualConfig = UnusualConfig(),
) -> list[FlagFinding]:
    """Every flag that holds for the incident (informational ones included), with evidence."""
    found = [
        first_occurrence(facts, history, endemic, config),
        reemergence(facts, history, config),
        out_of_season(facts, history, config),
        non_endemic(facts, endemic),
        unusual_host(facts, history, config),
    ]
    if facts.agent is not None and facts.agent.eradicated:
        found.append(FlagFinding(Flag.ERADICATED_AGENT, f"{facts.agent.name} is eradicated worldwide"))
    if facts.alarm:
        found.append(
            FlagFinding(
                Flag.STATISTICAL_ALARM,
                f"{facts.alarm['method']}: {facts.alarm['observed']} this week above the upper bound "
                f"{facts.alarm['upperbound']:.2f}",
            )
        )
    found.append(multiple_simultaneous(facts, history, config))
    found.append(high_cfr(facts, cfr_norm, config))
    return [f for f in found if f is not None]


#: Share of a disease's reports with a known host that must name humans for a report without a
#: host to count as human: ProMED-style titles name the animal when there is one, not "humans".
HUMAN_HOST_SHARE = 0.5
HUMAN = "human"


def known_hosts(history: History, disease: str | None, week: dt.date) -> dict[str, Counter]:
    """The named hosts of ``disease``'s reports in weeks up to ``week`` (what is usual for that
    agent then), in the shape :func:`concerns_humans` reads."""
    if not disease:
        return {}
    return {disease: Counter({h: n for h, n in history.hosts(disease, week).items() if h != "*"})}


def concerns_humans(disease: str | None, host: str | None, hosts: dict[str, Counter]) -> bool:
    """A series is about people when its host is human, or when it names no host and the disease's
    reports that do name one name humans at least half the time (or none names any host)."""
    if host is not None:
        return host == HUMAN
    known = hosts.get(disease or "", Counter())
    total = sum(known.values())
    return total == 0 or known[HUMAN] / total >= HUMAN_HOST_SHARE
