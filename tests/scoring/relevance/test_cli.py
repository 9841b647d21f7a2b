"""`biotracker models train|list|show`: train on the store's labels, list cards with whether each is
usable and why not, show one card; exit code 1 when there is nothing to train on or no such card."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from biotracker.cli import main as main_cli
from biotracker.cli import models as models_cli

from .conftest import label


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        pass

    models_cli.register(root)
    return root


@pytest.fixture
def env(store, tmp_path, monkeypatch):
    settings, engine = store
    monkeypatch.setenv("BIOTRACKER_HOME", str(settings.home))
    monkeypatch.setenv("BIOTRACKER_MODELS_DIR", str(tmp_path / "models"))
    return engine, tmp_path / "models"


def test_models_is_a_registered_command_module():
    assert "models" in main_cli.COMMAND_MODULES


def test_train_list_show(app, env):
    engine, models = env
    runner = CliRunner()
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0 and "rule score" in result.output

    result = runner.invoke(app, ["models", "train"])
    assert result.exit_code == 1 and "biotracker feedback" in result.output

    label(engine)
    result = runner.invoke(app, ["models", "train"])
    assert result.exit_code == 0, result.output
    [artefact] = models.glob("*.skops")
    model_id = artefact.name.removesuffix(".skops")

    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert [(m["model"]["model_id"], m["valid"]) for m in listed] == [(model_id, True)]

    shown = runner.invoke(app, ["models", "show", model_id])
    assert shown.exit_code == 0 and f"# Model card: {model_id}" in shown.output and "would be loaded" in shown.output

    artefact.write_bytes(artefact.read_bytes()[:-1])
    shown = json.loads(runner.invoke(app, ["models", "show", model_id, "--json"]).stdout)
    assert shown["valid"] is False and "sha256" in shown["problem"]
    assert runner.invoke(app, ["models", "show", "relevance-nope"]).exit_code == 1


def _custom_step(x):
    return x


def _revouch(models, model_id: str, artefact, **card_changes) -> None:
    """What a tamperer who can also edit the card does: point it at ``artefact`` with a fresh checksum."""
    from biotracker.scoring.relevance.train import file_sha256

    card_path = models / f"{model_id}.card.json"
    data = json.loads(card_path.read_text())
    data.update(artefact=artefact.name, sha256=file_sha256(artefact), **card_changes)
    card_path.write_text(json.dumps(data))


@pytest.mark.parametrize("tampering", ["untrusted types", "pickle", "library mismatch", "not skops"])
def test_models_list_never_shows_a_refused_artefact_as_in_use(app, env, tampering):
    import pickle

    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from biotracker.scoring.relevance import load_newest_model

    engine, models = env
    label(engine)
    runner = CliRunner()
    assert runner.invoke(app, ["models", "train", "--no-rank"]).exit_code == 0
    [artefact] = models.glob("*.skops")
    model_id = artefact.name.removesuffix(".skops")
    assert "in use" in runner.invoke(app, ["models", "list"]).stdout
    if tampering == "untrusted types":
        sio.dump(make_pipeline(FunctionTransformer(_custom_step)), artefact)
        _revouch(models, model_id, artefact)
    elif tampering == "pickle":
        pkl = models / f"{model_id}.pkl"
        pkl.write_bytes(pickle.dumps(make_pipeline(FunctionTransformer())))
        _revouch(models, model_id, pkl)
    elif tampering == "library mismatch":
        card = json.loads((models / f"{model_id}.card.json").read_text())
        _revouch(models, model_id, artefact,
                 library_versions={**card["library_versions"], "scikit-learn": "0.0.1"})
    else:
        artefact.write_bytes(b"PK\x03\x04 not really a zip")
        _revouch(models, model_id, artefact)

    assert load_newest_model(models) is None, "the loader refuses it"
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and "in use" not in listed.stdout and "no:" in listed.stdout
    rows = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert [(r["valid"], r["in_use"]) for r in rows] == [(False, False)]
