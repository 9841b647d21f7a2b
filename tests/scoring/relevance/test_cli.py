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
