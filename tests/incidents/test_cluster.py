"""Clustering as a pure function: which real reports become one incident, and why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import numpy as np
import pytest

from biotracker.incidents.cluster import (
    ClusterConfig,
    Fingerprints,
    LinkKind,
    ReportRecord,
    cluster_reports,
    incident_id_for,
)
from biotracker.incidents.dedup import MinHasher, canonical_url, similarity, words
from biotracker.incidents.reliability import combined_reliability, tier_of
from biotracker.schema import SourceKind

DAY = dt.timedelta(days=1)
UTC = dt.timezone.utc


def by_report(result) -> dict[str, str]:
    return {rid: c.incident_id for c in result.clusters() for rid in c.report_ids}


def snapshot(result) -> list[tuple]:
    return [(c.incident_id, c.report_ids, c.links, c.independent_sources, c.reliability)
            for c in result.clusters()]


def test_the_same_reports_in_any_order_give_the_same_incidents(cghss_records):
    shuffled = cghss_records[:]
    random.Random(4).shuffle(shuffled)
    first, second = cluster_reports(cghss_records), cluster_reports(shuffled)
    assert snapshot(first) == snapshot(second)
    assert len(first) < len(cghss_records)  # something merged


def test_fingerprints_shared_by_several_clusterings_change_no_result(cghss_records):
    # one run clusters overlapping sets of reports (one per visibility scope) with one Fingerprints
    shared = Fingerprints()
    for part in (cghss_records[::2], cghss_records, cghss_records[1::3]):
        assert snapshot(cluster_reports(part, fingerprints=shared)) == snapshot(cluster_reports(part))
    with pytest.raises(ValueError, match="num_perm"):
        cluster_reports(cghss_records, ClusterConfig(num_perm=32, bands=8), fingerprints=shared)


def test_weekly_updates_on_one_outbreak_chain_into_one_incident_and_a_long_silence_splits(cghss_records):
    # WHO DONs on the 2018 Equateur Ebola outbreak, DRC: 10 May to 13 June 2018, each within a week of
    # the last; the next DRC Ebola DON came on 25 July (42 days later).
    incident = by_report(cluster_reports(cghss_records))
    equateur = ["DON-2018-05-10", "DON-2018-05-14", "DON-2018-05-21", "DON-2018-05-23", "DON-2018-06-05-a",
                "DON-2018-06-06", "DON-2018-06-13"]
    ids = {incident[f"who_don:{don}:COD"] for don in equateur}
    assert ids == {incident_id_for("who_don:DON-2018-05-10:COD")}
    assert incident["who_don:DON-2018-07-25:COD"] not in ids


def test_the_gap_is_configurable(cghss_records):
    wide = by_report(cluster_reports(cghss_records, ClusterConfig(gap_days=60)))
    assert wide["who_don:DON-2018-06-13:COD"] == wide["who_don:DON-2018-07-25:COD"]


def test_a_summary_listing_many_countries_is_not_one_incident(cghss_records):
    # DON-1996-03-19 is one headline about meningitis in eleven African countries: same text, same
    # link, same source; each country is its own event (a shared link is a listing, not a duplicate).
    rows = [r for r in cghss_records if r.report_id.startswith("who_don:DON-1996-03-19:")]
    result = cluster_reports(rows)
    assert len(rows) == 11 and len(result) == 11
    assert all(link.kind is LinkKind.SEED for c in result.clusters() for link in c.links)


def test_no_incident_lasts_longer_than_the_span_cap(cghss_records):
    result = cluster_reports(cghss_records, ClusterConfig(max_span_days=90))
    at = {r.report_id: r.at for r in cghss_records}
    spans = [at[c.report_ids[-1]] - at[c.report_ids[0]] for c in result.clusters()]
    assert max(spans) <= dt.timedelta(days=90)
    assert result.stats["span_cuts"] > 0
    uncapped = cluster_reports(cghss_records, ClusterConfig(max_span_days=None))
    assert len(uncapped) < len(result)


def test_every_link_explains_itself_and_stays_within_the_rules(cghss_records):
    config = ClusterConfig()
    result = cluster_reports(cghss_records, config)
    recs = {r.report_id: r for r in cghss_records}
    for c in result.clusters():
        assert c.links[0].kind is LinkKind.SEED and c.links[0].report_id == c.seed == c.report_ids[0]
        assert c.incident_id == incident_id_for(c.seed)
        for link in c.links[1:]:
            assert link.linked_to in c.report_ids and link.reason
            a, b = recs[link.report_id], recs[link.linked_to]
            if link.kind is LinkKind.SAME_EVENT:
                assert (a.agent, a.country_iso3) == (b.agent, b.country_iso3)
                assert abs(a.at - b.at) <= dt.timedelta(days=config.gap_days)
                assert b.report_id in link.reason and a.country_iso3 in link.reason


def relay(rec: ReportRecord, source: str, **changes) -> ReportRecord:
    return dataclasses.replace(rec, report_id=f"{source}:{rec.report_id}", source=source, **changes)


@pytest.fixture
def don(real_report_rows) -> ReportRecord:
    from biotracker.incidents.build import report_record

    row = next(r for r in real_report_rows if r["report_id"] == "who_don:2024-DON536")  # MERS, Saudi Arabia
    return report_record(row)


def test_an_aggregator_relaying_the_same_url_is_a_duplicate_not_a_corroboration(don):
    gn = relay(don, "google_news", at=don.at + DAY, title=don.title + " - Google News", text="",
               url=don.url.replace("https://www.", "http://") + "?utm_source=rss#top", agent=None,
               country_iso3=None)
    (cluster,) = cluster_reports([gn, don]).clusters()
    link = dict((l.report_id, l) for l in cluster.links)[gn.report_id]
    assert link.kind is LinkKind.SAME_URL and link.duplicate_of == don.report_id
    assert cluster.sources == ("google_news", "who_don") and cluster.independent_sources == ("who_don",)
    assert cluster.corroboration == 1 and cluster.reliability == tier_of("who_don").weight


def test_an_independent_source_on_the_same_event_corroborates(don):
    promed = ReportRecord("promed:8700001", "promed", don.at + 3 * DAY,
                          "MERS-CoV (12): Saudi Arabia, new cases, camel contact",
                          url="https://promedmail.org/x/8700001",
                          agent=don.agent, country_iso3="SAU")
    (cluster,) = cluster_reports([don, promed]).clusters()
    assert cluster.corroboration == 2
    assert cluster.reliability == pytest.approx(1 - (1 - 0.9) * (1 - 0.6))
    assert cluster.tier == "official"


def test_a_relayed_story_is_a_near_duplicate_even_without_agent_or_country(don):
    copy = relay(don, "cidrap", at=don.at + 2 * DAY, title=don.title.replace("Kingdom of ", ""),
                 url="https://www.cidrap.umn.edu/mers/relay", agent=None, country_iso3=None)
    other = next_story = relay(don, "gdelt_outbreaks", at=don.at + DAY, title="Hajj pilgrims advised on heat",
                               text="Health ministry issues heat advice for pilgrims.", url=None, agent=None,
                               country_iso3=None)
    result = cluster_reports([don, copy, other])
    incident = by_report(result)
    assert incident[copy.report_id] == incident[don.report_id] != incident[next_story.report_id]
    link = next(l for c in result.clusters() for l in c.links if l.report_id == copy.report_id)
    assert link.kind is LinkKind.NEAR_DUPLICATE and link.duplicate_of == don.report_id
    assert "Jaccard" in link.reason


def test_near_identical_text_about_different_countries_is_not_merged(real_report_rows):
    from biotracker.incidents.build import report_record

    hpai = [report_record(r) for r in real_report_rows if r["source"] == "hpai_outbreaks"]
    a = next(r for r in hpai if r.country_iso3)
    b = relay(a, "empres_i", country_iso3="XXX" if a.country_iso3 != "XXX" else "YYY")
    result = cluster_reports([a, b])
    refused = result.stats["near_duplicate_refused"] + result.stats["same_content_refused"]
    assert len(result) == 2 and refused >= 1


def test_a_detached_report_stands_alone_and_the_rest_stays_together(cghss_records):
    equateur = [r for r in cghss_records if r.country_iso3 == "COD" and r.agent == "ebola virus"
                and dt.datetime(2018, 5, 1, tzinfo=UTC) <= r.at < dt.datetime(2018, 6, 30, tzinfo=UTC)]
    middle = "who_don:DON-2018-05-14:COD"  # 10 May -> 21 May is still within 14 days without it
    result = cluster_reports(equateur, detached={middle})
    incident = by_report(result)
    assert incident[middle] == incident_id_for(middle)
    assert len({incident[r.report_id] for r in equateur if r.report_id != middle}) == 1
    link = next(l for c in result.clusters() for l in c.links if l.report_id == middle)
    assert link.kind is LinkKind.DETACHED


def test_ids_follow_the_earliest_report_when_reports_join_or_bridge(cghss_records):
    ebola = sorted((r for r in cghss_records if r.country_iso3 == "COD" and r.agent == "ebola virus"),
                   key=lambda r: r.at)
    first = [r for r in ebola if r.at.year == 2018 and r.at.month in (5, 6)]
    seed = first[0]
    before = by_report(cluster_reports(first[1:]))
    assert set(before.values()) == {incident_id_for(first[1].report_id)}
    # a late-arriving earlier report re-seeds the incident; later ones keep the id
    after = by_report(cluster_reports(first))
    assert set(after.values()) == {incident_id_for(seed.report_id)}
    later = dataclasses.replace(first[-1], report_id="who_don:late", at=first[-1].at + 5 * DAY)
    assert by_report(cluster_reports([*first, later]))["who_don:late"] == incident_id_for(seed.report_id)
    # a report between two incidents bridges them; the merged incident keeps the earlier id.
    # 13 June -> 25 July is 42 days: two incidents with a 25-day gap, one with a report on 4 July.
    config = ClusterConfig(gap_days=25)
    july = next(r for r in ebola if r.report_id == "who_don:DON-2018-07-25:COD")
    bridge = dataclasses.replace(july, report_id="who_don:bridge", at=first[-1].at + 21 * DAY)
    apart = by_report(cluster_reports([*first, july], config))
    assert apart[july.report_id] == incident_id_for(july.report_id) != apart[seed.report_id]
    merged = by_report(cluster_reports([*first, july, bridge], config))
    assert merged[july.report_id] == merged[bridge.report_id] == merged[seed.report_id]
    assert merged[seed.report_id] == incident_id_for(seed.report_id)


def test_minhash_estimates_the_jaccard_of_real_headlines(cghss_records):
    titles = sorted({r.title for r in cghss_records})[:400]
    sig, has = MinHasher(num_perm=128).signatures(titles)
    rng = np.random.default_rng(1)
    left, right = rng.integers(0, len(titles), 300), rng.integers(0, len(titles), 300)
    # add the most similar pairs too, so high similarities are checked, not only zeros
    left = np.concatenate([left, np.arange(len(titles) - 1)])
    right = np.concatenate([right, np.arange(1, len(titles))])

    def shingles(t: str) -> set[str]:
        w = words(t)
        return set(w) | {f"{a} {b}" for a, b in zip(w, w[1:])}

    exact = np.array([len(shingles(titles[a]) & shingles(titles[b]))
                      / len(shingles(titles[a]) | shingles(titles[b])) for a, b in zip(left, right)])
    estimate = similarity(sig, left, right)
    assert has.all()
    assert (exact > 0.5).sum() > 50
    assert np.abs(estimate - exact).max() < 0.25  # 128 permutations: sd <= 0.045
    assert np.abs(estimate - exact).mean() < 0.03
    # datasketch's MinHash, the reference implementation, errs as much on the same pairs
    from datasketch import MinHash

    def reference(t: str) -> MinHash:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in sorted(shingles(t))])
        return m

    ref = {i: reference(titles[i]) for i in set(left.tolist()) | set(right.tolist())}
    ref_estimate = np.array([ref[a].jaccard(ref[b]) for a, b in zip(left.tolist(), right.tolist())])
    assert abs(np.abs(estimate - exact).mean() - np.abs(ref_estimate - exact).mean()) < 0.015


def test_canonical_urls_ignore_what_does_not_change_the_document():
    assert (canonical_url("HTTPS://www.WHO.int/emergencies/item/2024-DON536/?utm_source=x&utm_medium=rss#top")
            == canonical_url("http://who.int/emergencies/item/2024-DON536"))
    assert canonical_url("https://example.org/a?b=2&a=1") == canonical_url("https://example.org/a?a=1&b=2")
    assert canonical_url("https://example.org/a?id=1") != canonical_url("https://example.org/a?id=2")
    assert canonical_url("mailto:someone@example.org") is None and canonical_url("") is None


def test_source_tiers_order_official_over_expert_over_media():
    assert tier_of("who_don").weight > tier_of("promed").weight > tier_of("google_news").weight
    assert tier_of("police_reports").name == "law_enforcement"
    assert tier_of("a_new_ministry_feed", SourceKind.PUBLIC_HEALTH).name == "official"
    assert tier_of("unknown_blog").name == "media"
    assert combined_reliability([0.9, 0.6]) == pytest.approx(0.96)
    assert combined_reliability([]) == 0.0


def test_clustering_nothing_gives_nothing_and_repeated_ids_are_refused(don):
    assert len(cluster_reports([])) == 0
    with pytest.raises(ValueError, match="unique"):
        cluster_reports([don, don])
