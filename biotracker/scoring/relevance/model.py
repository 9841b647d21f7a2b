"""The relevance model: one scikit-learn ``Pipeline`` over the columns of ``features.py``.

Scaled numeric facts + a bag of categorical tags + TF-IDF over headline/reasons text, into a
class-balanced logistic regression. Deliberately small and linear: a few hundred labels at most,
and its coefficients can be read back as "why the model ranks this alert high".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from biotracker.errors import NotFittedError
from biotracker.scoring.relevance.features import NUMERIC

#: Label values (alert_feedback.label) and their class.
POSITIVE, NEGATIVE = "relevant", "not-relevant"


def build_pipeline(C: float = 1.0) -> Pipeline:
    """An unfitted pipeline; ``fit(frame, y)`` with ``frame`` from ``load_alert_frame`` and y in {0, 1}."""
    columns = ColumnTransformer(
        [
            ("facts", StandardScaler(), list(NUMERIC)),
            # Tags are "kind:value" tokens separated by spaces; keep them whole and binary.
            ("tags", CountVectorizer(token_pattern=r"[^ ]+", lowercase=False, binary=True), "tags"),
            (
                "text",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    min_df=2,
                    max_features=5000,
                    sublinear_tf=True,
                    strip_accents="unicode",
                ),
                "text",
            ),
        ],
        sparse_threshold=1.0,
    )
    classifier = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, solver="liblinear")
    return Pipeline([("columns", columns), ("classifier", classifier)])


def fit(frame: pd.DataFrame, y: np.ndarray | list[int], C: float = 1.0) -> Pipeline:
    """A fitted pipeline on ``frame`` (feature rows) and ``y`` (1 = relevant)."""
    model = build_pipeline(C).fit(frame, np.asarray(y, dtype=int))
    for _name, transformer, _columns in model.named_steps["columns"].transformers_:
        if hasattr(transformer, "stop_words_"):
            del transformer.stop_words_  # terms cut by min_df/max_features: only for introspection, and bulky
    return model


def describe(model: Pipeline) -> str:
    """One line for the model card."""
    columns = model.named_steps["columns"]
    parts = ", ".join(f"{type(t).__name__} on {name}" for name, t, _ in columns.transformers_ if t != "drop")
    clf = model.named_steps["classifier"]
    return f"ColumnTransformer({parts}) → LogisticRegression(C={clf.C}, class_weight={clf.class_weight!r})"


def predict_relevance(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Probability that each row is relevant for law enforcement."""
    if not hasattr(model, "classes_"):
        raise NotFittedError("the relevance model is not fitted; train it with `biotracker models train`")
    if frame.empty:
        return np.zeros(0)
    column = list(model.classes_).index(1)
    return model.predict_proba(frame)[:, column]
