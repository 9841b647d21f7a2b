"""Training: the model learns the analysts' labels, refuses to train on too few, and writes a card
that says what it was trained on and how well it did."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import sklearn
import skops
from sklearn.metrics import roc_auc_score

from biotracker.alerts.lifecycle import record_feedback
from biotracker.scoring.relevance import NotEnoughLabels, train_relevance_model
from biotracker.scoring.relevance.features import NUMERIC, load_alert_frame
from biotracker.scoring.relevance.load import load_artefact
from biotracker.scoring.relevance.model import fit, predict_relevance
from biotracker.scoring.relevance.train import load_labels, precision_at_k

from .conftest import T0, label


def test_the_pipeline_fits_and_ranks_labelled_alerts_above_the_others(labelled):
    _settings, engine, given = labelled
    frame = load_alert_frame(engine)
    assert list(frame.columns) == [*NUMERIC, "tags", "text"]
    ids = list(given)
    train, test = ids[::2], ids[1::2]
    y = np.array([given[a] == "relevant" for a in ids], dtype=int)
    assert 5 <= y.sum() <= len(y) - 5, "the demo should hold both kinds of alert"
    model = fit(frame.loc[train], y[::2])
    scores = predict_relevance(model, frame.loc[test])
    assert scores.shape == (len(test),) and ((0 <= scores) & (scores <= 1)).all()
    assert roc_auc_score(y[1::2], scores) > 0.9


def test_training_writes_a_skops_artefact_and_a_card(labelled, tmp_path):
    _settings, engine, given = labelled
    models = tmp_path / "models"
    card = train_relevance_model(engine, models)
    relevant = sum(v == "relevant" for v in given.values())
    assert card.labels == {"total": len(given), "relevant": relevant, "not_relevant": len(given) - relevant}
    assert (models / card.artefact).read_bytes()[:2] == b"PK"  # a skops zip, not a pickle stream
    on_disk = json.loads((models / f"{card.model_id}.card.json").read_text())
    assert on_disk["sha256"] == card.sha256 and len(card.sha256) == 64
    assert on_disk["library_versions"]["scikit-learn"] == sklearn.__version__
    assert on_disk["library_versions"]["skops"] == skops.__version__
    assert {"numpy", "python"} <= set(on_disk["library_versions"])
    assert on_disk["features"]["numeric"] == list(NUMERIC)
    assert on_disk["data_window"]["labels_from"].startswith("2025-01-06T09:00")
    cv = on_disk["cross_validation"]
    assert cv["folds"] == 5 and 0 < cv["precision"] <= 1 and 0 < cv["recall"] <= 1 and cv["k"] == 20
    md = (models / f"{card.model_id}.card.md").read_text()
    assert card.model_id in md and "precision@20" in md and f"scikit-learn {sklearn.__version__}" in md


def test_the_same_labels_give_the_same_model_id_and_new_labels_a_new_one(labelled, tmp_path):
    _settings, engine, given = labelled
    first = train_relevance_model(engine, tmp_path)
    again = train_relevance_model(engine, tmp_path)
    assert again.model_id == first.model_id and len(list(tmp_path.glob("*.skops"))) == 1
    flipped = next(iter(given))
    record_feedback(engine, flipped, "not-relevant" if given[flipped] == "relevant" else "relevant", "analyst-b",
                    T0 + dt.timedelta(days=1))
    assert train_relevance_model(engine, tmp_path).model_id != first.model_id


def test_the_latest_label_per_alert_counts(store):
    _settings, engine = store
    given = label(engine, 3)
    alert_id = next(iter(given))
    record_feedback(engine, alert_id, "relevant", "analyst-b", T0 + dt.timedelta(days=2))
    record_feedback(engine, alert_id, "not-relevant", "analyst-c", T0 + dt.timedelta(days=3))
    labels = load_labels(engine)
    assert len(labels) == 3
    assert labels.set_index("alert_id").loc[alert_id, "label"] == "not-relevant"


def test_too_few_labels_or_one_class_is_refused_with_what_to_do(store, tmp_path):
    _settings, engine = store
    models = tmp_path / "models"
    with pytest.raises(NotEnoughLabels, match="0 labelled alert"):
        train_relevance_model(engine, models)
    label(engine, 6)
    with pytest.raises(NotEnoughLabels, match="biotracker feedback"):
        train_relevance_model(engine, models)
    assert not models.exists()


def test_only_one_class_is_refused(store, tmp_path):
    from sqlalchemy import select

    from biotracker.db.tables import alerts

    _settings, engine = store
    with engine.connect() as conn:
        ids = [r.alert_id for r in conn.execute(select(alerts.c.alert_id).limit(30))]
    for i, alert_id in enumerate(ids):
        record_feedback(engine, alert_id, "not-relevant", "analyst-a", T0 + dt.timedelta(minutes=i))
    with pytest.raises(NotEnoughLabels, match="0 relevant, 30 not relevant"):
        train_relevance_model(engine, tmp_path)


def test_a_window_restricts_the_labels_used(labelled, tmp_path):
    from biotracker.schema import Window

    _settings, engine, given = labelled
    window = Window(T0, T0 + dt.timedelta(minutes=40))
    card = train_relevance_model(engine, tmp_path, window)
    assert card.labels["total"] == 40
    assert card.data_window["window_start"] == T0.isoformat()


def test_skops_round_trip_gives_the_same_scores(labelled, tmp_path):
    _settings, engine, _given = labelled
    card = train_relevance_model(engine, tmp_path)
    frame = load_alert_frame(engine)
    import skops.io as sio

    original = sio.load(tmp_path / card.artefact, trusted=sio.get_untrusted_types(file=tmp_path / card.artefact))
    reloaded = load_artefact(tmp_path / card.artefact)
    assert np.allclose(predict_relevance(reloaded, frame), predict_relevance(original, frame))


def test_precision_at_k_breaks_ties_by_the_second_key_then_position():
    scores = np.array([1.0, 1.0, 1.0, 0.0])
    y = np.array([0, 1, 0, 1])
    assert precision_at_k(scores, y, 1) == 0.0
    assert precision_at_k(scores, y, 1, tie_break=np.array([0, 1, 0, 0])) == 1.0
    assert precision_at_k(scores, y, 10) == 0.5
