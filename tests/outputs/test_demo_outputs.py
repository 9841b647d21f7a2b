"""The outputs on the demo's real recorded feeds: every alert exported, every message valid, and no
law-enforcement intake (the demo's police drop folder) in anything made for a wider audience."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from stix2validator import ValidationOptions, validate_file

from biotracker.db.engine import open_store
from biotracker.db.tables import alerts, reports
from biotracker.outputs.audience import INTERNAL, Audience, registered_source_kinds
from biotracker.outputs.cap import cap_schema
from biotracker.outputs.publish import export_all
from biotracker.outputs.records import reading_scope
from biotracker.schema import SourceKind, Tlp, Window, as_utc


def test_demo_exports_every_alert_as_valid_cap_and_json(demo_store, tmp_path):
    settings, result = demo_store
    engine = open_store(settings)
    internal = reading_scope(engine, INTERNAL, registered_source_kinds())  # the analysts' scope
    with engine.connect() as conn:
        n_alerts = conn.execute(select(func.count()).select_from(alerts).where(alerts.c.scope == internal.key)).scalar_one()
    out = export_all(engine, settings, out_dir=tmp_path)
    assert n_alerts > 0 and out.cap_messages == n_alerts == out.json_alerts
    for path in sorted((tmp_path / "cap").glob("*.cap.xml")):
        cap_schema().validate(str(path))
    document = json.loads((tmp_path / "export.json").read_text())
    assert len(document["alerts"]) == n_alerts and document["tlp"] == out.tlp["json"]


def test_demo_digest_window_bundle_validates(demo_store, tmp_path):
    settings, result = demo_store
    day = result.digest.day
    window = Window(as_utc(day - dt.timedelta(days=28)), as_utc(day))
    out = export_all(open_store(settings), settings, window=window, out_dir=tmp_path)
    check = validate_file(str(tmp_path / "stix-bundle.json"), ValidationOptions(strict=True, disabled=["302"]))
    assert check.is_valid, [str(e) for o in check.object_results for e in (*o.errors, *o.warnings)][:5]
    assert out.stix_objects.get("incident", 0) > 0


def test_demo_law_enforcement_intake_stays_with_law_enforcement(demo_store, tmp_path):
    settings, _ = demo_store
    engine = open_store(settings)
    le_sources = {n for n, k in registered_source_kinds().items() if k == SourceKind.LAW_ENFORCEMENT}
    with engine.connect() as conn:
        le_reports = conn.execute(select(reports.c.source_id, reports.c.url, reports.c.title)
                                  .where(reports.c.source.in_(le_sources))).all()
    assert le_reports, "the demo is expected to hold law-enforcement intake records"
    health = Audience("health", Tlp.RED, "public_health")  # cleared for everything, but not law enforcement
    export_all(engine, settings, health, out_dir=tmp_path / "health")
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "health").rglob("*") if p.is_file())
    for source_id, url, title in le_reports:
        assert title not in written and (not url or url not in written)
    police = Audience("police", Tlp.RED, "law_enforcement")
    export_all(engine, settings, police, out_dir=tmp_path / "police")
    police_json = (tmp_path / "police" / "export.json").read_text(encoding="utf-8")
    assert any(title in police_json for _, _, title in le_reports)
