"""``biotracker backtest``: the chain replayed day by day over a dated stream, as the daily DAGs
would run it, with only the items dated on or before each day in the store."""

import csv
import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from biotracker.backtest import AlertEventKind, read_stream, run_backtest
from biotracker.cli.main import app

STREAM = Path(__file__).parent / "fixtures" / "early_warning" / "stream_small.csv"
CONTRACT_FIELDS = ["event", "day", "alert_id", "disease", "disease_id", "country_iso3", "tier", "rule", "reasons"]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_command_writes_one_event_per_alert_in_time_order_with_the_contract_fields(tmp_path):
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(app, ["backtest", "--input", str(STREAM), "--output", str(out)])
    assert result.exit_code == 0, result.output
    events = lines(out)
    assert events and all(list(e) == CONTRACT_FIELDS for e in events)
    assert [e["day"] for e in events] == sorted(e["day"] for e in events)
    assert {e["event"] for e in events} <= {"raised", "escalated"}
    assert all(e["reasons"] and e["reasons"][0].startswith(f"tier {e['tier']} set by rule") for e in events)
    raised = [e["alert_id"] for e in events if e["event"] == "raised"]
    assert len(raised) == len(set(raised))  # an alert is raised once, then only escalates
    ebola = {e["country_iso3"]: e for e in events if e["disease"] == "Ebola virus disease"}
    # Ebola in DR Congo on day 3 of the data: too little history to call it new (low, "no history");
    # in Uganda five weeks later, after weekly DR Congo reports: new in people, a Tier 1 agent
    assert (ebola["COD"]["tier"], ebola["COD"]["rule"]) == ("low", "no-history")
    assert ebola["UGA"]["tier"] == "critical" and ebola["UGA"]["day"] == "2022-02-08"
    assert ebola["UGA"]["disease_id"].startswith("DOID:")
    back = [e for e in events if e["disease"] == "cholera" and e["day"] == "2022-02-21"]
    assert back and back[0]["rule"] == "reemergence-in-people"  # six silent weeks after weekly reports
    # the round-up names three countries: each can be alerted on
    assert {e["country_iso3"] for e in events if e["disease"] == "mpox"} >= {"PRT", "ESP", "GBR"}


def test_two_runs_give_identical_output(tmp_path):
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    for out in (first, second):
        assert CliRunner().invoke(app, ["backtest", "--input", str(STREAM), "--output", str(out)]).exit_code == 0
    assert first.read_bytes() == second.read_bytes() and first.stat().st_size > 0


def test_malformed_rows_are_reported_with_their_line_number_and_the_rest_is_scored(tmp_path):
    rows = list(csv.reader(STREAM.open(encoding="utf-8")))
    rows.insert(3, ["9100001", "2022-13-45", "Cholera - Haiti", ""])  # line 4: no such date
    rows.insert(6, ["9100002", "2022-01-11", "   ", ""])  # line 7: empty title
    bad = tmp_path / "stream.csv"
    with bad.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out, clean = tmp_path / "alerts.jsonl", tmp_path / "clean.jsonl"
    result = CliRunner().invoke(app, ["backtest", "--input", str(bad), "--output", str(out)])
    assert result.exit_code == 0
    assert "line 4: bad date '2022-13-45'" in result.stderr and "line 7: empty title" in result.stderr
    CliRunner().invoke(app, ["backtest", "--input", str(STREAM), "--output", str(clean)])
    assert out.read_bytes() == clean.read_bytes()


def test_cutting_the_stream_after_a_day_leaves_every_alert_up_to_that_day_unchanged():
    items, _ = read_stream(STREAM)
    full = run_backtest(items).events
    assert full
    for cut in (dt.date(2022, 1, 12), dt.date(2022, 2, 9)):
        shown = run_backtest([i for i in items if i.day <= cut], end=cut).events
        assert shown == [e for e in full if e.day <= cut]
        assert shown  # the cut keeps something to compare


def test_start_and_end_bound_the_replayed_days_and_earlier_items_are_history():
    items, _ = read_stream(STREAM)
    result = run_backtest(items, start=dt.date(2022, 2, 1), end=dt.date(2022, 2, 10))
    assert result.days == 10 and result.items == 13
    assert all(dt.date(2022, 2, 1) <= e.day <= dt.date(2022, 2, 10) for e in result.events)
    assert {e.event for e in result.events} <= set(AlertEventKind)
