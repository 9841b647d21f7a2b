"""`biotracker agents list|show`: JSON for machines, a table for people, exit code 1 for unknown names."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from biotracker.cli import agents as agents_cli


@pytest.fixture
def app() -> typer.Typer:
    """A root app with only the agents module registered, the way biotracker.cli.main assembles it."""
    root = typer.Typer()

    @root.callback()
    def _root() -> None:  # a callback keeps `agents` a sub-command, as in the real app
        pass

    agents_cli.register(root)
    return root


def test_show_json_prints_one_agent(app):
    result = CliRunner().invoke(app, ["agents", "show", "anthrax", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "Bacillus anthracis"
    assert data["agent_id"] == "NCBITaxon:1392"
    assert data["select_agent"] == "OVERLAP"
    assert data["tier1"] is True
    assert data["cdc_category"] == "A"
    assert data["australia_group"] is True
    assert isinstance(data["citations"], list) and data["citations"]


@pytest.mark.parametrize("name", ["Smallpox", "FMDV", "ricin", "foot-and-mouth disease virus", "variola"])
def test_show_accepts_synonyms(app, name):
    result = CliRunner().invoke(app, ["agents", "show", name, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"]


def test_show_unknown_name_exits_1_with_suggestions(app):
    result = CliRunner().invoke(app, ["agents", "show", "antrax"])
    assert result.exit_code == 1
    assert "Unknown agent 'antrax'" in result.output
    assert "anthrax" in result.output


def test_list_json_prints_every_agent(app):
    result = CliRunner().invoke(app, ["agents", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = {a["name"] for a in data}
    assert {"Bacillus anthracis", "Ricin", "Variola virus", "Foot-and-mouth disease virus"} <= names
    assert len(data) == len({a["key"] for a in data})


def test_show_without_json_prints_a_table_with_sources(app):
    result = CliRunner().invoke(app, ["agents", "show", "ricin"])
    assert result.exit_code == 0, result.output
    assert "Ricin" in result.output
    assert "cfr42_73" in result.output


def test_main_app_lists_agents_module():
    from biotracker.cli import main

    assert "agents" in main.COMMAND_MODULES


def test_the_real_biotracker_command_serves_agents():
    from biotracker.cli import main

    result = CliRunner().invoke(main.app, ["agents", "show", "smallpox", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["agent_id"] == "NCBITaxon:10255"
