"""Loading: only a skops artefact its card vouches for (sha256, library versions, allowed types) is
used; anything else is skipped with the reason, and pickle is never opened."""

from __future__ import annotations

import json
import pickle

import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from biotracker.scoring.relevance import InvalidModel, load_newest_model, train_relevance_model
from biotracker.scoring.relevance.load import load_artefact, survey
from biotracker.scoring.relevance.train import file_sha256


@pytest.fixture
def trained(labelled, tmp_path):
    _settings, engine, _given = labelled
    models = tmp_path / "models"
    return engine, models, train_relevance_model(engine, models)


def _edit_card(models, card, **changes):
    path = models / f"{card.model_id}.card.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        target = data
        *parents, leaf = key.split(".")
        for p in parents:
            target = target[p]
        target[leaf] = value
    path.write_text(json.dumps(data))


def test_the_newest_valid_model_is_loaded(trained):
    _engine, models, card = trained
    loaded = load_newest_model(models)
    assert loaded is not None and loaded.card.model_id == card.model_id
    assert hasattr(loaded.pipeline, "predict_proba")


def test_no_models_folder_means_no_model(tmp_path):
    assert load_newest_model(tmp_path / "absent") is None
    assert survey(tmp_path / "absent") == []


def test_a_tampered_artefact_is_rejected(trained):
    _engine, models, card = trained
    with (models / card.artefact).open("ab") as fh:
        fh.write(b"\0")
    assert load_newest_model(models) is None
    [(_card, _path, problem)] = survey(models)
    assert "sha256" in problem and "changed after training" in problem


def test_a_library_version_mismatch_is_rejected(trained):
    _engine, models, card = trained
    _edit_card(models, card, **{"library_versions.scikit-learn": "1.0.2"})
    assert load_newest_model(models) is None
    [(_card, _path, problem)] = survey(models)
    assert "scikit-learn 1.0.2" in problem and "retrain" in problem


def test_a_numpy_minor_version_mismatch_is_rejected(trained):
    _engine, models, card = trained
    _edit_card(models, card, **{"library_versions.numpy": "1.26.4"})
    assert load_newest_model(models) is None


def test_an_invalid_newer_card_falls_back_to_the_older_valid_model(trained, tmp_path):
    _engine, models, card = trained
    older = card
    newer_id = "relevance-ffffffffffffffff"
    (models / f"{newer_id}.skops").write_bytes((models / older.artefact).read_bytes() + b"tampered")
    data = json.loads((models / f"{older.model_id}.card.json").read_text())
    data |= {"model_id": newer_id, "artefact": f"{newer_id}.skops", "trained_at": "2999-01-01T00:00:00+00:00"}
    (models / f"{newer_id}.card.json").write_text(json.dumps(data))
    found = survey(models)
    assert [c.model_id for c, _p, _problem in found] == [newer_id, older.model_id]
    assert load_newest_model(models).card.model_id == older.model_id


def test_an_unreadable_card_is_reported_not_fatal(trained):
    _engine, models, card = trained
    (models / "relevance-broken.card.json").write_text("{not json")
    assert load_newest_model(models).card.model_id == card.model_id
    assert any(c is None and "unreadable" in problem for c, _p, problem in survey(models))


def test_a_pickle_artefact_is_never_opened_even_when_the_card_vouches_for_it(trained, monkeypatch):
    _engine, models, card = trained
    pipeline = load_artefact(models / card.artefact)
    pkl = models / "relevance-pickled.pkl"
    pkl.write_bytes(pickle.dumps(pipeline))
    _edit_card(models, card, artefact=pkl.name, sha256=file_sha256(pkl))

    def no_unpickling(*_args, **_kwargs):
        raise AssertionError("pickle must never be used to load a model")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    assert load_newest_model(models) is None
    [(_card, _path, problem)] = survey(models)
    assert "never pickle" in problem
    with pytest.raises(InvalidModel, match="pickle files are never opened"):
        load_artefact(pkl)


def test_loading_a_valid_model_does_not_unpickle(trained, monkeypatch):
    _engine, models, card = trained

    def no_unpickling(*_args, **_kwargs):
        raise AssertionError("pickle must never be used to load a model")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
    assert load_newest_model(models).card.model_id == card.model_id


def _custom_step(x):
    return x


def test_a_skops_file_with_types_outside_the_allow_list_is_refused(tmp_path):
    path = tmp_path / "relevance-custom.skops"
    sio.dump(make_pipeline(FunctionTransformer(_custom_step)), path)
    assert sio.get_untrusted_types(file=path), "the custom function must be an untrusted type"
    with pytest.raises(InvalidModel, match="not on the allow-list"):
        load_artefact(path)


def test_a_file_that_is_not_skops_is_refused(tmp_path):
    path = tmp_path / "relevance-junk.skops"
    path.write_bytes(b"not a zip")
    with pytest.raises(InvalidModel, match="not a readable skops file"):
        load_artefact(path)
