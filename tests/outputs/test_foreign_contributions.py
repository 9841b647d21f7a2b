"""Every output is the community organisation's: a member organisation's contribution the community may
not see under TLP 2.0 (AMBER not shared with it, AMBER+STRICT, RED) is listed in no digest or export of
any audience, nor is anything built from it, even when derived rows holding it reach the outputs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.tables import incident_reports, reports
from biotracker.db.upsert import upsert
from biotracker.outputs.audience import AUDIENCE_KINDS, INTERNAL, Audience
from biotracker.outputs.cap import cap_messages
from biotracker.outputs.digest import render_digest
from biotracker.outputs.jsonexport import json_document
from biotracker.outputs.misp import misp_feed
from biotracker.outputs.records import load_output_data
from biotracker.outputs.stix import stix_bundle
from biotracker.schema import SourceKind, Tlp, as_utc
from tests.outputs.sample_store import DAY, KINDS, WEEK, populate

MARKER = "Foreign-contribution-7Q"
SOURCE_KINDS = {**KINDS, "contributions": SourceKind.LAW_ENFORCEMENT}
AUDIENCES = [INTERNAL, *(Audience(f"{k}-{t.value}", t, k) for k in AUDIENCE_KINDS for t in Tlp)]


def _outputs(data, audience: Audience) -> str:
    digest = render_digest(data, audience, DAY, 7)
    _, cap = cap_messages(data, audience)
    _, bundle = stix_bundle(data, audience)
    _, document = json_document(data, audience)
    _, feed = misp_feed(data, audience, now=as_utc(dt.datetime(2024, 6, 17)))
    return "\n".join([digest.html, digest.text, json.dumps(cap), bundle.serialize(),
                      json.dumps(document, default=str), json.dumps(dataclasses.asdict(feed), default=str)])


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """The sample store plus NCB-NL's contribution on the French anthrax incident (behind alert-fra)."""
    engine = open_store(load_settings({}, home=str(tmp_path_factory.mktemp("foreign"))))
    populate(engine)
    t = as_utc(dt.datetime(2024, 6, 11, 9))
    with engine.begin() as conn:
        upsert(conn, reports, [{
            "report_id": "contributions:NL-1", "source": "contributions", "source_id": "NL-1", "url": None,
            "title": MARKER, "summary": "", "text": "", "published_at": t, "observed_at": t, "disease": "anthrax",
            "country_iso3": "FRA", "language": "en", "tlp": "AMBER", "evidence": {}, "originator_org": "NCB-NL",
            "share_with": []}])
        upsert(conn, incident_reports, [{
            "incident_id": "inc-fra-1", "report_id": "contributions:NL-1", "disease": "anthrax",
            "country_iso3": "FRA", "period_start": WEEK, "series_key": "anthrax|FRA|human"}])
    return engine


def _share(engine, share_with: list[str], tlp: str = "AMBER") -> None:
    with engine.begin() as conn:
        conn.execute(reports.update().where(reports.c.report_id == "contributions:NL-1")
                     .values(share_with=share_with, tlp=tlp))


@pytest.mark.parametrize(("tlp", "share_with"), [("AMBER", []), ("AMBER", ["NCB-FR"]), ("AMBER+STRICT", []),
                                                 ("RED", [])])
def test_no_audience_receives_a_contribution_the_community_may_not_see_nor_what_it_built(engine, tlp, share_with):
    _share(engine, share_with, tlp)
    data = load_output_data(engine, None, source_kinds=SOURCE_KINDS)
    by_key = {i.key: i for i in data.items}
    assert by_key["contributions:NL-1"].foreign and by_key["inc-fra-1"].foreign and by_key["alert-fra"].foreign
    assert not by_key["alert-nga"].foreign and not by_key["inc-deu-1"].foreign
    for audience in AUDIENCES:
        text = _outputs(data, audience)
        assert MARKER not in text, f"{audience.name} received the contribution"
        assert "alert-fra" not in text and "inc-fra-1" not in text, f"{audience.name} received what it built"
    assert "alert-nga" in _outputs(data, INTERNAL), "the rest of the community's data still goes out"


def test_a_contribution_shared_with_the_community_goes_to_the_audiences_cleared_for_it(engine):
    _share(engine, ["community"])
    data = load_output_data(engine, None, source_kinds=SOURCE_KINDS)
    assert not any(i.foreign for i in data.items)
    assert MARKER in _outputs(data, INTERNAL)
    assert MARKER not in _outputs(data, Audience("partner", Tlp.AMBER, "partner")), "intake: law enforcement only"
