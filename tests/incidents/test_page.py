"""The analyst's incident page shows agent flags, unusualness, indicators, cues, series and reports."""

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from biotracker.cli.main import app
from biotracker.db.engine import make_engine
from biotracker.db.tables import alerts
from biotracker.incidents.page import IncidentNotFound, incident_page


def test_incident_page_for_a_marburg_alert(demo_store, monkeypatch, tmp_path):
    settings, _ = demo_store
    engine = make_engine(settings)
    with engine.connect() as conn:
        incident_id = conn.execute(select(alerts.c.incident_id).where(alerts.c.disease.like("Marburg%"))).scalars().first()
    page = incident_page(engine, incident_id)
    assert page["assessment"]["agent_flags"]["tier1"] is True
    assert page["reports"] and page["reports"][0]["url"].startswith("https://www.who.int/")
    assert page["series"]["weeks"][-1]["observed"] >= 1
    assert page["alerts"] and all(a["tier"] for a in page["alerts"])

    monkeypatch.setenv("BIOTRACKER_HOME", str(settings.home))
    out = CliRunner().invoke(app, ["incident", incident_id, "--json", "--plot", str(tmp_path / "s.png")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "s.png").stat().st_size > 1000
    shown = json.loads(out.output[out.output.index("{"):])
    assert shown["incident"]["incident_id"] == incident_id
    with pytest.raises(IncidentNotFound, match="alerts show"):
        incident_page(engine, "inc-nope")
