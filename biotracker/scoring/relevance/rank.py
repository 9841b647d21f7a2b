"""Rank alerts by law-enforcement relevance and store the score on each alert.

The newest card-validated model scores when there is one; otherwise the rule score ranks
(``alerts.features["rule_score"]``, ties by tier). The score is written into the alert's
``features`` JSON under ``relevance`` with ``relevance_source`` (``model:<model id>`` or ``rules``)
until ``alerts`` grows a column for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, bindparam, select, update

from biotracker.db.tables import alerts
from biotracker.scoring.relevance.features import load_alert_frame
from biotracker.scoring.relevance.load import LoadedModel, load_newest_model
from biotracker.scoring.relevance.model import predict_relevance
from biotracker.scoring.relevance.train import rule_ranking_scores
from biotracker.storage import StoragePath

log = logging.getLogger(__name__)
RULES = "rules"


@dataclass(frozen=True)
class RankedAlert:
    alert_id: str
    score: float
    source: str  # "model:<model id>" or "rules"


def rank_alerts(
    engine: Engine,
    models_dir: StoragePath,
    alert_ids: list[str] | None = None,
    store: bool = True,
    model: LoadedModel | None = None,
) -> list[RankedAlert]:
    """Alerts (default: all) most relevant first; with ``store`` their score goes into ``features``.

    The incremental chain passes ``alert_ids=derive_alerts(...).alert_ids``: an alert's score
    depends on that alert alone (model or rule score), so the others need not be read again.

    ``model`` overrides the newest saved one (the benchmark uses it); otherwise
    ``load_newest_model(models_dir)`` decides, and None means the rule score.
    """
    frame = load_alert_frame(engine, alert_ids)
    if frame.empty:
        return []
    model = model or load_newest_model(models_dir)
    rule, tie = rule_ranking_scores(frame)
    if model is not None:
        scores = predict_relevance(model.pipeline, frame)
        source = f"model:{model.card.model_id}"
        secondary = rule + tie / 10  # ties between equal probabilities fall back to the rules' order
    else:
        scores, secondary, source = rule, tie, RULES
    order = np.lexsort((np.arange(len(frame)), -secondary, -scores))
    ranked = [RankedAlert(str(frame.index[i]), round(float(scores[i]), 6), source) for i in order]
    if store:
        store_relevance(engine, ranked)
    log.info("ranked %d alerts by %s", len(ranked), source)
    return ranked


def store_relevance(engine: Engine, ranked: list[RankedAlert]) -> None:
    """Merge ``relevance``/``relevance_source`` into each alert's ``features`` JSON."""
    by_id = {r.alert_id: r for r in ranked}
    with engine.begin() as conn:
        current: dict[str, dict] = {}
        ids = sorted(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            current.update(
                {
                    row.alert_id: row.features or {}
                    for row in conn.execute(
                        select(alerts.c.alert_id, alerts.c.features).where(alerts.c.alert_id.in_(chunk))
                    )
                }
            )
        params = [
            {
                "key": alert_id,
                "value": dict(features)
                | {"relevance": by_id[alert_id].score, "relevance_source": by_id[alert_id].source},
            }
            for alert_id, features in current.items()
        ]
        if params:
            conn.execute(
                update(alerts)
                .where(alerts.c.alert_id == bindparam("key"))
                .values(features=bindparam("value")),
                params,
            )
