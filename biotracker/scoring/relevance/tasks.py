"""What the ``retrain_models`` Airflow task calls: settings from the environment, a JSON summary back."""

from __future__ import annotations

import datetime as dt

from biotracker.config import REPO_DIR, Settings, load_settings
from biotracker.storage import StoragePath


def models_dir(settings: Settings) -> StoragePath:
    """``Settings.models_dir``; else ``models/`` in the shared storage when ``storage_url`` is set
    (every worker must see the same models), else ``models/`` at the repository root."""
    if settings.models_dir:
        return settings.models_dir
    return settings.storage_root / "models" if settings.storage_url else REPO_DIR / "models"


def retrain_models(at: str | None = None) -> dict[str, object]:
    """Train the relevance model on every label so far, then re-rank all alerts with the newest valid model.

    Too few labels is not a failure (retrying would not help): the summary says so and the rule
    score keeps ranking. ``at`` (ISO time, the run's logical date) is written on the model card.
    """
    from biotracker.db.engine import open_store
    from biotracker.scoring.relevance.rank import rank_alerts
    from biotracker.scoring.relevance.train import NotEnoughLabels, train_relevance_model

    settings = load_settings()
    engine = open_store(settings)
    folder = models_dir(settings)
    when = dt.datetime.fromisoformat(at) if at else None
    summary: dict[str, object] = {"models_dir": str(folder)}
    try:
        card = train_relevance_model(engine, folder, at=when)
    except NotEnoughLabels as exc:
        summary |= {"trained": False, "reason": str(exc)}
    else:
        cv = card.cross_validation
        summary |= {
            "trained": True,
            "model_id": card.model_id,
            "labels": card.labels,
            "cv_precision": round(cv["precision"], 3),
            "cv_recall": round(cv["recall"], 3),
            f"cv_precision_at_{cv['k']}": round(cv["precision_at_k"], 3),
        }
    ranked = rank_alerts(engine, folder)
    summary |= {"ranked": len(ranked), "ranked_by": ranked[0].source if ranked else None}
    return summary
