"""Relevance moves after retraining (issue 15): an analyst labels an alert relevant on its page, the
relevance model is retrained and the alerts re-ranked the way ``biotracker models train`` does
(``train_relevance_model`` then ``rank_alerts``), and the score the page shows changes; labelled not
relevant and retrained again, the alert's score falls below what it was as a relevant example."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Page, expect

from biotracker.scoring.relevance import rank_alerts, train_relevance_model
from tests.web.test_pages_policy import api_alerts

T0 = dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)


def shown_relevance(page: Page) -> tuple[float, str]:
    return float(page.locator("#alert-relevance").inner_text()), page.locator("#alert-relevance-source").inner_text()


def retrain(server, models, at: dt.datetime) -> str:
    """What ``biotracker models train`` does: train on every label, save the model, re-rank every alert."""
    card = train_relevance_model(server.engine, models, None, at=at)
    rank_alerts(server.engine, models)
    return card.model_id


def test_labelling_on_the_page_and_retraining_moves_the_score_the_page_shows(new_page, demo_server, tmp_path, shot):
    visible = sorted(api_alerts(demo_server, "nl_analyst"))
    assert len(visible) >= 10, "the demo shows the analyst enough alerts to train on"
    alert_id, others = visible[0], visible[1:10]
    with demo_server.client("nl_analyst") as api:  # nine other labels, both classes
        for i, other in enumerate(others):
            label = "relevant" if i % 2 else "not-relevant"
            assert api.post(f"/api/v1/alerts/{other}/feedback", json={"label": label}).status_code == 200
    page = new_page("nl_analyst")
    page.goto(f"/alerts/{alert_id}")
    before, source_before = shown_relevance(page)
    assert not source_before.startswith("model:")

    page.locator("button[value=relevant]").click()
    expect(page.locator("#my-label")).to_have_text("relevant")
    first = retrain(demo_server, tmp_path, T0)
    page.goto(f"/alerts/{alert_id}")
    as_relevant, source = shown_relevance(page)
    assert source == f"model:{first}"
    assert as_relevant != before
    shot(page, "alert-relevance-retrained")

    page.locator("button[value=not-relevant]").click()
    expect(page.locator("#my-label")).to_have_text("not-relevant")
    second = retrain(demo_server, tmp_path, T0 + dt.timedelta(hours=1))
    page.goto(f"/alerts/{alert_id}")
    as_not_relevant, source = shown_relevance(page)
    assert source == f"model:{second}" != f"model:{first}"
    assert as_not_relevant < as_relevant
    print(f"\nrelevance on the page: {before:.3f} ({source_before}) -> {as_relevant:.3f} labelled relevant "
          f"-> {as_not_relevant:.3f} labelled not relevant")
