"""The daily digest: ranked, explained, sourced, drawn offline, escaped, and filtered per audience."""

from __future__ import annotations

import re

from tests.outputs.sample_store import DAY, KINDS, LE_MARKER, NOTE_DEU

from biotracker.outputs.audience import INTERNAL, Audience, subscriber_key
from biotracker.outputs.charts import country_code, countries
from biotracker.outputs.digest import build_digest, build_subscriber_digest, render_digest
from biotracker.outputs.records import load_output_data
from biotracker.schema import AlertTier, Tlp


def test_internal_digest_ranks_explains_and_marks(store):
    settings, engine = store
    files = build_digest(engine, settings, DAY, source_kinds=KINDS)
    html = files.html.read_text()
    text = files.text.read_text()
    assert files.alerts == 3
    # The law-enforcement intake alert is in the internal digest, so the digest is AMBER+STRICT.
    assert files.tlp == Tlp.AMBER_STRICT
    assert '<meta name="tlp" content="TLP:AMBER+STRICT">' in html
    assert text.splitlines()[0] == "TLP:AMBER+STRICT" and text.rstrip().splitlines()[-1] == "TLP:AMBER+STRICT"
    # Ranked by tier: critical, high, medium.
    order = [m for m in re.findall(r'<section class="alert tier-(\w+)"', html)]
    assert order == ["critical", "high", "medium"]
    # "Why": observed vs expected and threshold from the scored series, plus the rule's reasons.
    assert "Observed 2 incident(s) this week; expected 0.50, threshold 1.60" in html
    assert "first report of cholera in NGA in the last 52 weeks" in html
    # Indicators and cues found by the risk lens on the alert's incident (escaped like everything else).
    assert "unusual: unusual host — anthrax in a &lt;i&gt;zoo&lt;/i&gt; animal" in html
    assert "indicator 11: Disease seen in the region for the first time — first occurrence" in text
    assert "cue (lab): “laboratory” in “traced to a laboratory”" in text
    # Agent flags from the risk lens.
    assert "Bacillus anthracis: US select agent (OVERLAP), Tier 1" in html
    assert "Vibrio cholerae: CDC bioterrorism category B" in text
    # Sources: http(s) links are links; a javascript: URL is shown as text, never as a link.
    assert '<a href="https://www.who.int/emergencies/disease-outbreak-news/item/2024-DON500"' in html
    assert 'href="javascript' not in html and "<li>javascript:alert(1)</li>" in html
    # Everything from feeds is escaped.
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_digest_draws_a_map_of_alert_countries_and_a_sparkline_per_alert(store):
    settings, engine = store
    html = build_digest(engine, settings, DAY, source_kinds=KINDS).html.read_text()
    highlighted = set(re.findall(r'<path class="country alert-country" data-iso3="(\w+)"', html))
    assert highlighted == {"NGA", "FRA", "DEU"}
    assert html.count('<path class="country') == len(countries()) == 177
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="sparkline"') == 3
    # No external resources: nothing to fetch when the analyst opens it offline.
    assert not re.search(r'(src|href)="(?!#|https://www\.who\.int|https://example\.org|https://intake\.police)', html)
    # A summary table links to each alert's section.
    assert [f'href="#{a}"' in html for a in ("alert-deu", "alert-nga", "alert-fra")] == [True, True, True]


def test_source_summary_says_fresh_silent_failing_as_of_the_digest_day(store):
    settings, engine = store
    text = build_digest(engine, settings, DAY, source_kinds=KINDS).text.read_text()
    assert re.search(r"SOURCES: 1 fresh, 1 silent, 1 failing, \d+ never fetched", text)
    assert "Countries: DEU (1), FRA (1), NGA (1)" in text
    assert "hpai_outbreaks [failing]" in text and "who_don [fresh]" in text and "police_intake [silent]" in text


def test_public_digest_holds_nothing_restricted_and_hides_law_enforcement_sources(store):
    settings, engine = store
    files = build_digest(engine, settings, DAY, clearance=Tlp.CLEAR, source_kinds=KINDS)
    html, text = files.html.read_text(), files.text.read_text()
    assert files.alerts == 1 and files.tlp == Tlp.CLEAR
    for secret in (LE_MARKER, "Anthrax - France", "police_intake", "intake.police.example", "avian influenza"):
        assert secret not in html and secret not in text
    assert set(re.findall(r'class="country alert-country" data-iso3="(\w+)"', html)) == {"NGA"}
    public = render_digest(load_output_data(engine, None, source_kinds=KINDS), Audience("pub", Tlp.CLEAR, "public"), DAY, 7)
    assert "police_intake" not in public.html and "police_intake" not in public.text


def test_sparkline_never_counts_incidents_the_audience_may_not_see(store):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    police = render_digest(data, Audience("police", Tlp.RED, "law_enforcement"), DAY, 7)
    health = render_digest(data, Audience("health", Tlp.RED, "public_health"), DAY, 7)
    assert "avian influenza" in police.text and "avian influenza" not in health.text
    assert health.subject == "[TLP:AMBER] Biotracker digest 2024-06-17: 2 alerts"


def test_subscriber_digest_follows_the_profile(store):
    settings, engine = store
    sub = Audience("africa-desk", Tlp.GREEN, "partner", regions=frozenset({"Africa"}), min_tier=AlertTier.HIGH)
    rendered, files = build_subscriber_digest(engine, settings, DAY, sub, source_kinds=KINDS)
    assert [a.alert_id for a in rendered.alerts] == ["alert-nga"]
    assert files.html.name == f"digest-2024-06-17-{subscriber_key('africa-desk')}.html"
    assert files.html.parent.name == "digests" and subscriber_key("africa-desk").startswith("africa-desk-")
    assert "For <strong>africa-desk</strong> (cleared for TLP:GREEN)" in files.html.read_text()


def test_digest_is_reproducible(store):
    settings, engine = store
    first = build_digest(engine, settings, DAY, source_kinds=KINDS).html.read_bytes()
    assert build_digest(engine, settings, DAY, source_kinds=KINDS).html.read_bytes() == first


def test_natural_earth_codes_fall_back_to_adm0_where_iso_is_missing():
    assert country_code({"ISO_A3": "-99", "ADM0_A3": "FRA"}) == "FRA"
    assert {"FRA", "NOR", "KOS"} <= set(countries())


def test_empty_period_says_so(store):
    settings, engine = store
    files = build_digest(engine, settings, DAY.replace(year=2020), source_kinds=KINDS)
    assert files.alerts == 0 and files.tlp == Tlp.CLEAR
    assert "No alerts in this period." in files.html.read_text()


def test_analyst_notes_are_shown_to_audiences_cleared_for_them_only(store):
    _, engine = store
    data = load_output_data(engine, None, source_kinds=KINDS)
    internal = render_digest(data, INTERNAL, DAY, 7)
    assert "analyst.jones (status new -&gt; triaged): Asked the regional lab for &lt;b&gt;typing&lt;/b&gt; results" in internal.html
    assert NOTE_DEU in internal.text and "det.sgt.meyer (feedback: relevant)" in internal.text
    # Notes are internal working text: TLP:AMBER at least, even on a CLEAR alert.
    amber = render_digest(data, Audience("health", Tlp.AMBER, "public_health"), DAY, 7)
    assert "regional lab" in amber.text and NOTE_DEU not in amber.text and amber.tlp == Tlp.AMBER
    green = render_digest(data, Audience("partner", Tlp.GREEN, "partner"), DAY, 7)
    assert "regional lab" not in green.text and "Analyst notes" not in green.html and green.tlp == Tlp.CLEAR
