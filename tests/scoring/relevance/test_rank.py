"""Ranking: the rule score ranks until a valid model exists; the score is stored on each alert."""

from __future__ import annotations

from sqlalchemy import select

from biotracker.db.tables import alerts
from biotracker.schema import AlertTier
from biotracker.scoring.relevance import rank_alerts, train_relevance_model


def _features(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.alert_id: r.features for r in conn.execute(select(alerts.c.alert_id, alerts.c.features, alerts.c.tier))}


def _tiers(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.alert_id: r.tier for r in conn.execute(select(alerts.c.alert_id, alerts.c.tier))}


def test_without_a_model_the_rule_score_then_the_tier_ranks(store, tmp_path):
    _settings, engine = store
    before = _features(engine)
    tiers = _tiers(engine)
    ranked = rank_alerts(engine, tmp_path / "no-models")
    assert len(ranked) == len(before) > 20
    assert {r.source for r in ranked} == {"rules"}
    keys = [(before[r.alert_id]["rule_score"], -AlertTier(tiers[r.alert_id]).rank) for r in ranked]
    assert keys == sorted(keys, reverse=True)
    assert [r.score for r in ranked] == [before[r.alert_id]["rule_score"] for r in ranked]
    after = _features(engine)
    for alert_id, features in after.items():
        assert features["relevance_source"] == "rules"
        assert features["relevance"] == before[alert_id]["rule_score"]
        assert {k: v for k, v in features.items() if not k.startswith("relevance")} == {
            k: v for k, v in before[alert_id].items() if not k.startswith("relevance")}


def test_with_a_valid_model_its_probability_ranks_and_is_stored(labelled, tmp_path):
    _settings, engine, given = labelled
    card = train_relevance_model(engine, tmp_path / "models")
    ranked = rank_alerts(engine, tmp_path / "models")
    assert {r.source for r in ranked} == {f"model:{card.model_id}"}
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
    top = [r.alert_id for r in ranked[:10]]
    assert sum(given[a] == "relevant" for a in top) >= 9
    stored = _features(engine)
    assert all(stored[r.alert_id]["relevance"] == r.score for r in ranked)


def test_ranking_a_subset_without_storing_touches_nothing(store, tmp_path):
    _settings, engine = store
    before = _features(engine)
    some = sorted(before)[:5]
    ranked = rank_alerts(engine, tmp_path, some, store=False)
    assert sorted(r.alert_id for r in ranked) == some
    assert _features(engine) == before


def test_scores_are_stored_on_sqlite_and_postgresql(demo_copy, tmp_path):
    from biotracker.db.engine import open_store

    engine = open_store(demo_copy)
    ranked = rank_alerts(engine, tmp_path / "no-models")
    stored = _features(engine)
    assert ranked and all(stored[r.alert_id]["relevance"] == r.score for r in ranked)
    assert rank_alerts(engine, tmp_path / "no-models") == ranked  # re-running changes nothing
    assert _features(engine) == stored
