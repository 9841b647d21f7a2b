"""Alert → model input: the facts the tier rules saw, the lens assessment of its incident, and text.

One row per alert with a fixed set of numeric columns (``NUMERIC``), a bag of categorical tags
(``tags``: host, agent, tier, rule, unusualness flags, cue categories, agent flags) and free text
(``text``: headline, reasons, disease). A fixed column list keeps a saved model usable on alerts
derived later, whatever flags they carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from biotracker.db.batches import select_in
from biotracker.db.tables import alerts, incident_assessments

#: Bumped whenever the columns below change; part of the model card and of the data hash.
FEATURE_VERSION = 1

#: Facts from ``alerts.features`` (derive_alerts) used as numbers; booleans become 0/1.
FACTS = (
    "alarm",
    "novel",
    "signal",
    "select_agent",
    "tier1",
    "cdc_a",
    "australia_group",
    "eradicated",
    "law_enforcement",
    "unusual",
    "intent_cues",
    "lab_cues",
    "cues",
    "indicators",
    "corroboration",
    "reliability",
    "reports",
    "rule_score",
)
#: Unusualness flags of the lens (scoring/lens.py), one 0/1 column each.
FLAGS = (
    "first_occurrence",
    "out_of_season",
    "non_endemic",
    "unusual_host",
    "eradicated_agent",
    "statistical_alarm",
    "multiple_simultaneous",
    "high_cfr",
)
#: Agent flags of the lens, one 0/1 column each (CDC category split into A/B/C).
AGENT_FLAGS = ("woah_listed", "who_priority", "ihr_always_notifiable", "cdc_b", "cdc_c")
EXTRA = ("tier_rank", "human_host", "animal_host", "weeks")
NUMERIC = (
    tuple(f"fact_{f}" for f in FACTS)
    + tuple(f"flag_{f}" for f in FLAGS)
    + tuple(f"agent_{f}" for f in AGENT_FLAGS)
    + EXTRA
)
TIERS = ("critical", "high", "medium", "low")


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _token(value: object) -> str:
    return str(value).strip().lower().replace(" ", "_") or "none"


def alert_features(alert: Mapping[str, Any], assessment: Mapping[str, Any] | None) -> dict[str, Any]:
    """The model's view of one alert.

    ``alert`` is an ``alerts`` row; ``assessment`` its incident's ``incident_assessments`` row.
    """
    facts = alert.get("features") or {}
    assessment = assessment or {}
    agent = assessment.get("agent_flags") or {}
    unusual = {f["flag"] for f in assessment.get("unusual") or []}
    cue_kinds = sorted({c["category"] for c in assessment.get("cues") or []})
    series = str(facts.get("series_key") or "")
    parts = series.split("|") if series else []
    host = parts[2] if len(parts) > 2 else "*"
    tier = alert.get("tier") or "low"
    start, last = alert.get("period_start"), alert.get("last_period") or alert.get("period_start")
    row: dict[str, Any] = {f"fact_{f}": _number(facts.get(f)) for f in FACTS}
    row |= {f"flag_{f}": float(f in unusual) for f in FLAGS}
    row |= {
        "agent_woah_listed": float(bool(agent.get("woah_listed"))),
        "agent_who_priority": float(bool(agent.get("who_priority"))),
        "agent_ihr_always_notifiable": float(bool(agent.get("ihr_always_notifiable"))),
        "agent_cdc_b": float(agent.get("cdc_category") == "B"),
        "agent_cdc_c": float(agent.get("cdc_category") == "C"),
        "tier_rank": float(TIERS.index(tier)) if tier in TIERS else float(len(TIERS)),
        "human_host": float(host == "human"),
        "animal_host": float(host not in ("*", "human", "")),
        "weeks": float(((last - start).days // 7 + 1) if start and last else 1),
    }
    tags = [
        f"tier:{tier}",
        f"rule:{_token(alert.get('rule') or 'none')}",
        f"host:{_token(host)}",
        f"agent:{_token(assessment.get('agent_key') or 'none')}",
        f"cdc:{_token(agent.get('cdc_category') or 'none')}",
        f"select_agent:{_token(agent.get('select_agent') or 'none')}",
    ]
    tags += [f"flag:{f}" for f in sorted(unusual)] + [f"cue:{c}" for c in cue_kinds]
    row["tags"] = " ".join(tags)
    reasons = alert.get("reasons") or []
    text = [str(alert.get("headline") or ""), str(alert.get("disease") or ""), *map(str, reasons)]
    row["text"] = " \n".join(text)
    return row


def load_alert_frame(engine: Engine, alert_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Feature rows for ``alert_ids`` (default: every alert), indexed by alert_id, in id order.

    Only the named alerts and their incidents' assessments are read, in chunks of ids (never one
    statement with every id as a parameter).
    """
    with engine.connect() as conn:
        if alert_ids is None:
            rows = [dict(r) for r in conn.execute(select(alerts).order_by(alerts.c.alert_id)).mappings()]
        else:
            rows = [dict(r) for r in select_in(conn, select(alerts), alerts.c.alert_id, alert_ids)]
            rows.sort(key=lambda r: r["alert_id"])
        incident_ids = {r["incident_id"] for r in rows if r["incident_id"]}
        lens = select_in(conn, select(incident_assessments), incident_assessments.c.incident_id, incident_ids)
        assessed: dict[str, dict] = {r["incident_id"]: dict(r) for r in lens}
    records = [alert_features(r, assessed.get(r["incident_id"])) | {"alert_id": r["alert_id"]} for r in rows]
    columns = ["alert_id", *NUMERIC, "tags", "text"]
    return pd.DataFrame(records, columns=columns).set_index("alert_id")
