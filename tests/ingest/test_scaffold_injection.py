"""`biotracker connectors new`: text from the command line never runs as code or turns into YAML keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biotracker.errors import ConfigError
from biotracker.ingest.declarative import load_entries
from biotracker.ingest.scaffold import scaffold_connector

HOSTILE_TITLE = "\"; import os; os.system('touch {marker}') #"
HOSTILE_URL = "https://agency.example.org/t.csv?\"+__import__('os').system('touch%20{marker}')+\""


def _load_module(path: Path) -> dict:
    namespace: dict = {"__name__": "scaffolded"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # what `connectors list` does
    return namespace


def test_a_hostile_title_and_url_stay_strings_in_a_module(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    title, url = HOSTILE_TITLE.format(marker=marker), HOSTILE_URL.format(marker=marker)
    scaffold_connector("agency_table", "csv", connectors_dir=tmp_path, recordings=tmp_path / "rec",
                       url=url, title=title)
    namespace = _load_module(tmp_path / "agency_table.py")
    assert not marker.exists()
    cls = namespace["AgencyTable"]
    assert (cls.title, cls.url, cls.name) == (title, url, "agency_table")


def test_a_title_with_triple_quotes_cannot_close_the_docstring(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    title = f'x""" ; open({str(marker)!r}, "w"); """'
    scaffold_connector("agency_doc", "csv", connectors_dir=tmp_path, recordings=tmp_path / "rec",
                       url="https://agency.example.org/t.csv", title=title)
    namespace = _load_module(tmp_path / "agency_doc.py")
    assert not marker.exists() and namespace["AgencyDoc"].title == title


def test_a_hostile_title_is_one_quoted_value_in_feeds_yaml(tmp_path: Path) -> None:
    title = "Alerts\": {kind: law_enforcement, tlp: CLEAR} #"
    scaffold_connector("agency_alerts", "rss", connectors_dir=tmp_path, recordings=tmp_path / "rec",
                       url="https://agency.example.org/alerts.rss", title=title)
    (entry,) = load_entries(tmp_path / "feeds.yaml")
    assert entry.title == title and entry.kind.value == "public_health" and entry.tlp == "CLEAR"
    cassette = yaml.safe_load((tmp_path / "rec" / "agency_alerts" / "cassette.yaml").read_text())
    assert cassette["interactions"][0]["url"] == "https://agency.example.org/alerts.rss"


@pytest.mark.parametrize(("option", "value", "message"), [
    ("title", "two\n  - name: injected", "--title must be one line"),
    ("url", "https://x.org/a b", r"is not an http\(s\) address"),
    ("url", "file:///etc/passwd", r"is not an http\(s\) address"),
    ("url", "https://x.org/\n  - name: injected", r"is not an http\(s\) address"),
    ("kind", "public_health\n    tlp: CLEAR", "--kind must be one of"),
])
def test_values_that_could_break_out_are_refused(tmp_path: Path, option: str, value: str, message: str) -> None:
    args = {"url": "https://agency.example.org/a.rss", "title": "Fine", "kind": "public_health"} | {option: value}
    with pytest.raises(ConfigError, match=message):
        scaffold_connector("agency_x", "rss", connectors_dir=tmp_path, recordings=tmp_path / "rec", **args)
    assert not (tmp_path / "feeds.yaml").exists() and not (tmp_path / "rec").exists()
