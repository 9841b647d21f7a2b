"""Stage 5: derive alerts for a window (``derive_alerts``).

Facts are gathered per (series, week): the statistical alarm from ``signals``, and from each
incident's lens assessment the agent flags, unusualness flags (first occurrence, non-endemic, …),
intent and accident cues and the indicator score; plus corroboration and source reliability. The
tier rules in ``tiers.toml`` turn facts into a tier and reasons. A repeat of the same series within
the cool-down updates the existing alert (keeping the status an analyst gave it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, delete, select

from biotracker.alerts.rules import RuleBook, context_facts, load_rules
from biotracker.db.batches import in_batches, select_in
from biotracker.db.tables import alerts, incident_assessments, incident_reports, incidents, reports, signals
from biotracker.db.upsert import upsert
from biotracker.incidents.changes import Changes
from biotracker.incidents.scopes import INTERNAL, Scope
from biotracker.incidents.series import load_incident_frame, split_series_key
from biotracker.schema import Alert, AlertStatus, AlertTier, Tlp, Window, most_restrictive
from biotracker.scoring.lens import load_history
from biotracker.scoring.risk.flag_words import TIER_RULE_FLAGS, agent_flag_words
from biotracker.scoring.unusual import counted_flags, known_hosts

log = logging.getLogger(__name__)

MAX_LINKS = 10
INTENT_CUES = {
    "theft_diversion",
    "smuggling_seizure",
    "arrest",
    "toxin_production",
    "suspicious_powder_hoax",
    "claim_threat",
    "agroterrorism",
    "confined_cluster",
}
LAB_CUES = {"laboratory", "lab_acquired_infection", "escape_release"}
SEPARATE_FLAGS = {"statistical_alarm", "first_occurrence"}


@dataclass
class AlertSummary:
    alerts: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    folded: int = 0
    #: alerts written by this run (what ``rank_alerts`` takes), and alerts withdrawn
    alert_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        out = asdict(self)
        return out | {"alert_ids": len(self.alert_ids), "removed_ids": len(self.removed_ids)}


def alert_id_for(series_key: str, period: dt.date) -> str:
    return "alert-" + hashlib.sha256(f"{series_key}|{period.isoformat()}".encode()).hexdigest()[:20]


def _alarm_reason(sig: dict) -> str:
    control = sig["details"].get("control", {})
    base = sig["details"].get("baseline")
    expected = "n/a" if sig["expected"] is None else f"{sig['expected']:.2f}"
    return (
        f"statistical alarm ({sig['method']}, alpha={control.get('alpha')}): {sig['observed']} report(s) in the "
        f"week of {sig['period_start']}, above the upper bound {sig['upperbound']:.2f} (expected {expected}"
        + (f"; baseline {base})" if base else ")")
    )


def _signal_reason(sig: dict) -> str:
    """The week's count against its detector, also when it did not alarm: analysts want the context."""
    bound = (
        "not computable (baseline too short or sparse)"
        if sig["upperbound"] is None
        else f"{sig['upperbound']:.2f}"
    )
    expected = "n/a" if sig["expected"] is None else f"{sig['expected']:.2f}"
    base = sig["details"].get("baseline")
    return (
        f"week of {sig['period_start']} ({sig['method']}): {sig['observed']} report(s), expected {expected}, upper bound {bound}"
        + (f"; baseline {base}" if base else "")
        + "; no statistical alarm"
    )


def _agent_reason(name: str, flags: dict[str, Any]) -> str | None:
    parts = agent_flag_words(flags, include=TIER_RULE_FLAGS)  # the one renderer of agent flags
    return f"agent {name}: " + "; ".join(parts) if parts else None


def _facts(
    members: list[str], alarm: dict | None, assessed: dict[str, dict], inc: dict[str, dict]
) -> tuple[dict[str, Any], list[str]]:
    """Facts the tier rules test, and the evidence sentences behind them."""
    evidence: list[str] = []
    rows = [assessed[i] for i in members if i in assessed]
    flags: dict[str, dict[str, str]] = {f["flag"]: f for r in rows for f in r["unusual"]}
    cues = {(c["category"], c["text"], c["sentence"]): c for r in rows for c in r["cues"]}
    agents = {r["agent_name"]: r["agent_flags"] for r in rows if r["agent_name"]}
    kinds = {c[0] for c in cues}
    indicators = max((r["indicator_total"] for r in rows), default=0)
    facts: dict[str, Any] = {
        "alarm": alarm is not None,
        "novel": "first_occurrence" in flags,
        "select_agent": any(f.get("select_agent") for f in agents.values()),
        "tier1": any(f.get("tier1") for f in agents.values()),
        "cdc_a": any(f.get("cdc_category") == "A" for f in agents.values()),
        "australia_group": any(f.get("australia_group") for f in agents.values()),
        "eradicated": any(f.get("eradicated") for f in agents.values()) or "eradicated_agent" in flags,
        "law_enforcement": any(inc.get(i, {}).get("source_tier") == "law_enforcement" for i in members),
        "unusual": len(counted_flags(flags)),
        "intent_cues": len(kinds & INTENT_CUES),
        "lab_cues": len(kinds & LAB_CUES),
        "cues": len(kinds),
        "indicators": indicators,
        "corroboration": max((inc.get(i, {}).get("corroboration") or 1 for i in members), default=1),
        "reliability": max((inc.get(i, {}).get("reliability") or 0.0 for i in members), default=0.0),
        "reports": len(members),
        "rule_score": max((r["rule_score"] for r in rows), default=0.0),
    }
    facts["signal"] = facts["alarm"] or facts["novel"]
    if alarm:
        evidence.append(_alarm_reason(alarm))
    for name in ("first_occurrence", *sorted(set(flags) - SEPARATE_FLAGS)):
        if name in flags:
            evidence.append(f"{name.replace('_', ' ')}: {flags[name]['evidence']}")
    for name, agent_flags in sorted(agents.items()):
        line = _agent_reason(name, agent_flags)
        if line:
            evidence.append(line)
    for category, text, sentence in sorted(cues)[:6]:
        evidence.append(f"cue {category.replace('_', ' ')}: “{text}” in “{sentence[:240]}”")
    if indicators:
        verdict = next((r["verdict"] for r in rows if r["indicator_total"] == indicators), "")
        evidence.append(f"Radosavljević & Belojević: {indicators} of 14 indicators ({verdict})")
    if facts["law_enforcement"]:
        evidence.append("includes a law-enforcement intake report")
    if facts["corroboration"] > 1:
        evidence.append(f"corroborated by {facts['corroboration']} independent sources")
    return facts, evidence


def _rows_in(conn: Connection, query: Select, column: ColumnElement, values: Iterable[Any]) -> list[dict]:
    """``query`` for ``column IN values``, in chunks: never one statement with every id as a parameter."""
    return [dict(r) for r in select_in(conn, query, column, values)]


def _rederive_from(
    conn: Connection, scope: Scope, window: Window, changes: Changes | None
) -> dict[str, dt.date]:
    """Per series, the week from which its alerts are derived again.

    A series' alerts from its earliest touched week on can change, and so can the episode that
    week continues (its folded reasons came from the old weeks): derivation restarts at that
    episode's first week. Without changes (or a full change) every series restarts at the window.
    """
    start = window.start.date()
    if changes is None or changes.full:
        keys = conn.execute(
            select(signals.c.series_key)
            .where(
                signals.c.scope == scope.key,
                signals.c.period_start >= start,
                signals.c.period_start < window.end.date(),
            )
            .distinct()
        ).scalars()
        frame_keys = conn.execute(
            select(incident_reports.c.series_key)
            .where(
                incident_reports.c.scope == scope.key,
                incident_reports.c.period_start >= start,
                incident_reports.c.period_start < window.end.date(),
            )
            .distinct()
        ).scalars()
        return {k: start for k in {*keys, *frame_keys} if k is not None}
    since = {k: max(w, start) for k, w in changes.earliest_week().items() if w < window.end.date()}
    spanning = select(alerts.c.series_key, alerts.c.period_start, alerts.c.last_period).where(
        alerts.c.scope == scope.key
    )
    for row in _rows_in(conn, spanning, alerts.c.series_key, since):
        last = row["last_period"] or row["period_start"]
        key = row["series_key"]
        if last >= since[key] and row["period_start"] < since[key]:
            since[key] = max(row["period_start"], start)
    return since


def derive_alerts(
    engine: Engine,
    window: Window,
    rules: RuleBook | None = None,
    *,
    scope: Scope = INTERNAL,
    changes: Changes | None = None,
) -> AlertSummary:
    """Derive the scope's alerts for weeks starting in ``window``; analysts' statuses are kept.

    With ``changes`` (from ``assess_incidents``) only the series they touch are derived, from
    their earliest touched week's episode on; without, every series of the window. The alerts
    derived again are replaced (a week that no longer triggers loses its alert unless an analyst
    has worked on it). ``summary.alert_ids`` are the alerts written, for ``rank_alerts``.
    """
    rules = rules or load_rules()
    summary = AlertSummary()
    end = window.end.date()
    with engine.connect() as conn:
        since = _rederive_from(conn, scope, window, changes)
        if not since:
            return summary
        first = min(since.values())
        frame = load_incident_frame(engine, scope=scope.key, series_keys=since, since=first, until=end)
        if not frame.empty:
            keep = [w >= since[k] for k, w in zip(frame["series_key"], frame["period_start"], strict=True)]
            frame = frame[keep]
        sig_query = select(signals).where(
            signals.c.scope == scope.key, signals.c.period_start >= first, signals.c.period_start < end
        )
        scored = {
            (s["series_key"], s["period_start"]): s
            for s in sorted(
                _rows_in(conn, sig_query, signals.c.series_key, since),
                key=lambda s: (s["method"], s["signal_id"]),
            )
            if s["period_start"] >= since[s["series_key"]]
        }
        alarms = {key: sig for key, sig in scored.items() if sig["alarm"]}
        incident_ids = set(frame["incident_id"]) if not frame.empty else set()
        assessed = {
            r["incident_id"]: r
            for r in _rows_in(
                conn, select(incident_assessments), incident_assessments.c.incident_id, incident_ids
            )
        }
        inc_cols = select(
            incidents.c.incident_id,
            incidents.c.corroboration,
            incidents.c.reliability,
            incidents.c.source_tier,
        )
        inc = {r["incident_id"]: r for r in _rows_in(conn, inc_cols, incidents.c.incident_id, incident_ids)}
        existing_rows = _rows_in(
            conn, select(alerts).where(alerts.c.scope == scope.key), alerts.c.series_key, since
        )
        link_cols = select(reports.c.report_id, reports.c.url, reports.c.title, reports.c.tlp)
        # What is usual for each disease (its hosts) as of each week: the same answer whichever
        # run derives the week, so incremental runs equal a rebuild.
        history = load_history(
            conn,
            scope,
            {split_series_key(k)[0] for k in since},
            from_week=first,
            hosts_only=True,
        )
    replaced = {r["alert_id"]: r for r in existing_rows if r["period_start"] >= since[r["series_key"]]}
    episodes: dict[str, list[dict]] = defaultdict(list)
    for row in existing_rows:
        if row["alert_id"] not in replaced:
            episodes[row["series_key"]].append(row)

    members: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    report_ids_of: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for row in frame.itertuples(index=False):
        key = (row.series_key, row.period_start)
        if row.incident_id not in members[key]:
            members[key].append(row.incident_id)
        report_ids_of[key].append(row.report_id)
    for key in alarms:
        members.setdefault(key, [])

    decided: list[tuple[tuple[str, dt.date], dict[str, Any], list[str]]] = []
    for key in sorted(members):
        series, week = key
        hosts = known_hosts(history, split_series_key(series)[0], week)
        facts, evidence = _facts(members[key], alarms.get(key), assessed, inc)
        facts |= context_facts(series, (assessed[i] for i in members[key] if i in assessed), hosts)
        if key in scored and key not in alarms:
            evidence.insert(0, _signal_reason(scored[key]))
        if not rules.triggered(facts):
            continue
        if rules.suppressed(series):
            summary.suppressed += 1
            continue
        decided.append((key, facts, evidence))
    # the reports' links, markings and titles: only of the series weeks that make an alert
    with engine.connect() as conn:
        links = {
            r["report_id"]: (r["url"], r["title"], r["tlp"])
            for r in _rows_in(
                conn, link_cols, reports.c.report_id, [r for key, _, _ in decided for r in report_ids_of[key]]
            )
        }
    out: dict[str, dict[str, Any]] = {}
    for key, facts, evidence in decided:
        series, week = key
        tier_rule, holding = rules.decide(facts)
        episode = _episode(episodes[series], week, rules.cooldown_weeks)
        alert_id = episode["alert_id"] if episode else scope.qualify(alert_id_for(series, week))
        carried = episode or replaced.get(alert_id) or {}
        sources = [links[r] for r in report_ids_of[key] if r in links]
        disease, country, _host = split_series_key(series)
        reasons = [f"tier {tier_rule.tier.value} set by rule “{tier_rule.name}”: {tier_rule.text}"]
        reasons += [f"rule “{r.name}”: {r.text}" for r in holding[1:] if r.when]
        reasons += evidence
        previous = out.get(alert_id) or episode
        headline = (
            sources[0][1]
            if len(members[key]) == 1 and sources
            else f"{len(report_ids_of[key])} {disease or 'unspecified-agent'} report(s) in {country or 'an unknown country'}"
        )
        candidate = {
            "alert_id": alert_id,
            "incident_id": members[key][0] if members[key] else None,
            "signal_id": alarms[key]["signal_id"] if key in alarms else None,
            "period_start": episode["period_start"] if episode else week,
            "last_period": max(week, (previous or {}).get("last_period") or week),
            "headline": headline,
            "tier": tier_rule.tier.value,
            "reasons": reasons,
            "status": carried.get("status") or AlertStatus.NEW.value,
            "status_by": carried.get("status_by"),
            "status_at": carried.get("status_at"),
            "tlp": most_restrictive(Tlp(t) for _, _, t in sources).value if sources else Tlp.CLEAR.value,
            "country_iso3": country,
            "disease": disease,
            "source_urls": sorted({u for u, _, _ in sources if u})[:MAX_LINKS],
            "rule": tier_rule.name,
            "features": facts | {"series_key": series, "week": week.isoformat()},
            "scope": scope.key,
            "series_key": series,
        }
        if previous is not None and alert_id in out:
            summary.folded += 1
            candidate = _fold(out[alert_id], candidate)
        elif episode is not None:
            summary.folded += 1
            candidate = _fold(episode, candidate)
        out[alert_id] = candidate
        episodes[series] = [e for e in episodes[series] if e["alert_id"] != alert_id] + [candidate]
    for row in out.values():
        Alert.model_validate({k: v for k, v in row.items() if k not in ("scope", "series_key")})  # schema v1
        summary.by_tier[row["tier"]] = summary.by_tier.get(row["tier"], 0) + 1
    gone = sorted(a for a, r in replaced.items() if a not in out and not r.get("status_by"))
    with engine.begin() as conn:
        for ids in in_batches(gone):
            conn.execute(delete(alerts).where(alerts.c.alert_id.in_(ids)))
        upsert(conn, alerts, list(out.values()))
    summary.alerts = len(out)
    summary.alert_ids = sorted(out)
    summary.removed_ids = gone
    log.info(
        "alerts [%s]: %d in %s (%s; %d folded into earlier alerts, %d suppressed, %d withdrawn)",
        scope,
        summary.alerts,
        window,
        summary.by_tier,
        summary.folded,
        summary.suppressed,
        len(gone),
    )
    return summary


def _episode(candidates: list[dict], week: dt.date, cooldown_weeks: int) -> dict | None:
    """The alert of this series whose episode ``week`` continues (within the cool-down), if any."""
    for alert in sorted(candidates, key=lambda a: a["period_start"], reverse=True):
        last = alert.get("last_period") or alert["period_start"]
        if alert["period_start"] <= week and (week - last).days <= 7 * cooldown_weeks:
            return alert
    return None


def _fold(older: dict, newer: dict) -> dict:
    """One alert for an episode: the higher tier's reasons win; links and weeks accumulate."""
    keep_newer = AlertTier(newer["tier"]).rank <= AlertTier(older["tier"]).rank
    base = newer if keep_newer else older
    return base | {
        "alert_id": older["alert_id"],
        "period_start": min(older["period_start"], newer["period_start"]),
        "last_period": max(older.get("last_period") or older["period_start"], newer["last_period"]),
        "status": older.get("status") or newer["status"],
        "status_by": older.get("status_by"),
        "status_at": older.get("status_at"),
        "tlp": most_restrictive([Tlp(older["tlp"]), Tlp(newer["tlp"])]).value,
        "source_urls": sorted(set(older.get("source_urls") or []) | set(newer["source_urls"]))[:MAX_LINKS],
    }
