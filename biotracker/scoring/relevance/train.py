"""Train the relevance model from analysts' labels, cross-validate it, save it with skops and a card.

Artefacts (``models/relevance-<data hash>.skops``) are named after a hash of the labels and the
feature version, so training twice on the same labels rewrites the same files (re-runs are safe).
The card (``.card.json`` + ``.card.md``) records the data window, the label counts, the features,
cross-validated precision/recall/precision@20, the library versions and the artefact's sha256; the
loader trusts nothing the card does not vouch for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io as sio
from sklearn.metrics import average_precision_score, precision_score, recall_score
from sklearn.model_selection import StratifiedKFold
from sqlalchemy import Engine, select

from biotracker import storage
from biotracker.db.tables import alert_feedback, alerts
from biotracker.errors import BiotrackerError
from biotracker.schema import Window, as_utc
from biotracker.scoring.relevance.features import FEATURE_VERSION, NUMERIC, load_alert_frame
from biotracker.scoring.relevance.model import POSITIVE, describe, fit, predict_relevance
from biotracker.storage import StoragePath

log = logging.getLogger(__name__)

MODEL_NAME = "relevance"
#: Below these the model would learn noise: the rule score keeps ranking.
MIN_LABELS = 10
MIN_PER_CLASS = 3
CV_FOLDS = 5
TOP_K = 20
CARD_SCHEMA = 1


class NotEnoughLabels(BiotrackerError):
    """Too few labels, or only one class, to train and cross-validate the relevance model."""


@dataclass
class ModelCard:
    """What a saved relevance model is, what it was trained on, and how well it did."""

    model_id: str
    artefact: str
    sha256: str
    trained_at: str
    data_window: dict[str, str | None]
    labels: dict[str, int]
    features: dict[str, Any]
    cross_validation: dict[str, Any]
    library_versions: dict[str, str]
    estimator: str
    card_schema: int = CARD_SCHEMA
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        data = json.loads(text)
        return cls(**data)

    def to_markdown(self) -> str:
        cv, window, features = self.cross_validation, self.data_window, self.features
        few_labels = [
            "",
            (
                f"Only {self.labels['total']} labels, not more than k = {cv['k']}: "
                f"precision@{cv['k']} is just the share of relevant labels for both."
            ),
        ]
        lines = [
            f"# Model card: {self.model_id}",
            "",
            "Ranks alerts by law-enforcement relevance, learned from analysts' `biotracker feedback` labels.",
            "",
            f"- artefact: `{self.artefact}` (skops; sha256 `{self.sha256}`)",
            f"- trained at: {self.trained_at}",
            f"- data window (label times): {window.get('labels_from')} to {window.get('labels_to')}",
            f"- alert weeks covered: {window.get('alerts_from')} to {window.get('alerts_to')}",
            (
                f"- labels: {self.labels['total']} ({self.labels['relevant']} relevant, "
                f"{self.labels['not_relevant']} not relevant)"
            ),
            f"- estimator: {self.estimator}",
            "",
            f"## Cross-validation ({cv['folds']}-fold stratified, out-of-fold predictions, threshold 0.5)",
            "",
            "| metric | model | rule score |",
            "|---|---|---|",
            f"| precision | {cv['precision']:.3f} | |",
            f"| recall | {cv['recall']:.3f} | |",
            f"| precision@{cv['k']} | {cv['precision_at_k']:.3f} | {cv['rule_precision_at_k']:.3f} |",
            f"| average precision | {cv['average_precision']:.3f} | {cv['rule_average_precision']:.3f} |",
            *(few_labels if self.labels["total"] <= cv["k"] else []),
            "",
            "## Features",
            "",
            (
                f"Feature version {features['version']}: {len(features['numeric'])} numeric facts "
                f"({', '.join(features['numeric'])}); tags ({features['tags']}); text ({features['text']})."
            ),
            "",
            "## Library versions",
            "",
            *[f"- {name} {version}" for name, version in sorted(self.library_versions.items())],
        ]
        if self.notes:
            lines += ["", "## Notes", "", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"


def library_versions() -> dict[str, str]:
    """Versions that must match for a saved model to be loaded (see ``load.validate_card``)."""
    return {
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def load_labels(engine: Engine, window: Window | None = None) -> pd.DataFrame:
    """The latest label per alert (over all analysts) given in ``window`` (default: all time)."""
    query = select(alert_feedback.c.alert_id, alert_feedback.c.label, alert_feedback.c.at)
    if window is not None:
        query = query.where(alert_feedback.c.at >= window.start, alert_feedback.c.at < window.end)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(query).all(), columns=["alert_id", "label", "at"])
    if rows.empty:
        return rows
    rows = rows.sort_values(["alert_id", "at", "label"]).groupby("alert_id", as_index=False).last()
    return rows.sort_values("alert_id").reset_index(drop=True)


def precision_at_k(
    scores: np.ndarray, y: np.ndarray, k: int = TOP_K, tie_break: np.ndarray | None = None
) -> float:
    """Share of relevant alerts among the ``k`` highest scores (all of them when fewer than ``k``).

    Ties are broken by ``tie_break`` (higher first), then by position, so the figure is deterministic.
    """
    n = len(scores)
    if n == 0:
        return float("nan")
    secondary = np.zeros(n) if tie_break is None else np.asarray(tie_break, dtype=float)
    order = np.lexsort((np.arange(n), -secondary, -np.asarray(scores, dtype=float)))
    top = order[: min(k, n)]
    return float(np.mean(np.asarray(y)[top]))


def rule_ranking_scores(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The rule ranking as (score, tie-break): lens rule score, then tier (critical first)."""
    return frame["fact_rule_score"].to_numpy(float), -frame["tier_rank"].to_numpy(float)


def cross_validate(
    frame: pd.DataFrame, y: np.ndarray, folds: int = CV_FOLDS, k: int = TOP_K, seed: int = 0
) -> dict[str, Any]:
    """Out-of-fold precision, recall and precision@k of the model, and precision@k of the rule score."""
    n_splits = int(min(folds, np.bincount(y, minlength=2).min()))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    oof = np.zeros(len(y))
    for train_idx, test_idx in splitter.split(frame, y):
        model = fit(frame.iloc[train_idx], y[train_idx])
        oof[test_idx] = predict_relevance(model, frame.iloc[test_idx])
    predicted = (oof >= 0.5).astype(int)
    rule, tie = rule_ranking_scores(frame)
    return {
        "folds": n_splits,
        "seed": seed,
        "k": k,
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "precision_at_k": precision_at_k(oof, y, k),
        "rule_precision_at_k": precision_at_k(rule, y, k, tie),
        "average_precision": float(average_precision_score(y, oof)),
        "rule_average_precision": float(average_precision_score(y, rule + tie / 10)),
        "note": "precision@k over all labelled alerts ranked by out-of-fold probability",
    }


def _data_hash(labels: pd.DataFrame) -> str:
    pairs = zip(labels["alert_id"], labels["label"], strict=True)
    text = f"features v{FEATURE_VERSION}\n" + "\n".join(f"{a}\t{lab}" for a, lab in pairs)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path: StoragePath) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train_relevance_model(
    engine: Engine, models_dir: StoragePath, window: Window | None = None, at: dt.datetime | None = None
) -> ModelCard:
    """Train on the labels given in ``window``, save ``<models_dir>/relevance-<hash>.skops`` and its card.

    ``at`` is the training time written on the card (default: the newest label's time, so a re-run
    on the same labels writes identical cards). Raises ``NotEnoughLabels`` below ``MIN_LABELS``
    labels or ``MIN_PER_CLASS`` of either class.
    """
    labels = load_labels(engine, window)
    frame = load_alert_frame(engine, labels["alert_id"]) if not labels.empty else None
    if frame is not None:
        labels = labels[labels["alert_id"].isin(frame.index)].reset_index(drop=True)
        frame = frame.loc[labels["alert_id"]]
    y = (labels["label"] == POSITIVE).to_numpy(int) if not labels.empty else np.zeros(0, int)
    counts = np.bincount(y, minlength=2)
    if len(y) < MIN_LABELS or counts.min() < MIN_PER_CLASS:
        raise NotEnoughLabels(
            f"{len(y)} labelled alert(s) ({counts[1]} relevant, {counts[0]} not relevant); the relevance "
            f"model needs at least {MIN_LABELS} with {MIN_PER_CLASS} of each class. Label alerts with "
            "`biotracker feedback ALERT_ID relevant|not-relevant`; until then the rule score ranks."
        )
    assert frame is not None
    cv = cross_validate(frame, y)
    model = fit(frame, y)
    model_id = f"{MODEL_NAME}-{_data_hash(labels)}"
    models_dir.mkdir(parents=True, exist_ok=True)
    artefact = models_dir / f"{model_id}.skops"
    buffer = io.BytesIO()
    sio.dump(model, buffer)
    storage.write_bytes(artefact, buffer.getvalue())  # atomic, on local disk or an object store
    when = as_utc(at) if at is not None else as_utc(labels["at"].max())
    weeks = alert_weeks(engine, list(labels["alert_id"]))
    card = ModelCard(
        model_id=model_id,
        artefact=artefact.name,
        sha256=file_sha256(artefact),
        trained_at=when.isoformat(),
        data_window={
            "labels_from": as_utc(labels["at"].min()).isoformat(),
            "labels_to": as_utc(labels["at"].max()).isoformat(),
            "window_start": window.start.isoformat() if window else None,
            "window_end": window.end.isoformat() if window else None,
            "alerts_from": weeks[0],
            "alerts_to": weeks[1],
        },
        labels={"total": len(y), "relevant": int(counts[1]), "not_relevant": int(counts[0])},
        features={
            "version": FEATURE_VERSION,
            "numeric": list(NUMERIC),
            "tags": "host, agent, CDC category, select-agent list, tier, tier rule, unusualness flags, "
            "cue categories (binary bag of tokens)",
            "text": "headline, disease and reasons (TF-IDF, 1-2 grams, min_df 2)",
        },
        cross_validation=cv,
        library_versions=library_versions(),
        estimator=describe(model),
    )
    (models_dir / f"{model_id}.card.json").write_text(card.to_json() + "\n", encoding="utf-8")
    (models_dir / f"{model_id}.card.md").write_text(card.to_markdown(), encoding="utf-8")
    log.info(
        "relevance model %s: %d labels, CV precision %.2f recall %.2f P@%d %.2f (rules %.2f)",
        model_id,
        len(y),
        cv["precision"],
        cv["recall"],
        cv["k"],
        cv["precision_at_k"],
        cv["rule_precision_at_k"],
    )
    return card


def alert_weeks(engine: Engine, alert_ids: list[str]) -> tuple[str | None, str | None]:
    """First and last week among the labelled alerts."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.period_start, alerts.c.last_period).where(alerts.c.alert_id.in_(alert_ids))
        ).all()
    starts = [r.period_start for r in rows]
    ends = [r.last_period or r.period_start for r in rows]
    return (min(starts).isoformat(), max(ends).isoformat()) if rows else (None, None)
