"""The whole chain on the bundled recorded real feeds, on SQLite and on PostgreSQL.

Specification: the demo writes a digest with at least one explained, sourced alert; running it
again changes nothing (no duplicate anywhere); a truncated JSON page and a malformed CSV row are
quarantined with a reason while everything else lands.
"""

from __future__ import annotations

import datetime as dt
import shutil

from sqlalchemy import func, select

from biotracker.config import BUNDLED_RECORDINGS, load_settings
from biotracker.db.tables import ALL_TABLES, quarantine, reports
from biotracker.pipeline import run_demo

VOLATILE = {"fetched_at", "last_fetch_at", "last_success_at", "last_failure_at"}


def clock_at(hour: int):
    return lambda: dt.datetime(2026, 1, 1, hour, tzinfo=dt.timezone.utc)


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every table's rows (minus wall-clock fetch times), sorted: equal snapshots = identical data."""
    out = {}
    with engine.connect() as conn:
        for table in ALL_TABLES:
            cols = [c for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted((tuple(repr(v) for v in row) for row in rows))
    return out


def test_demo_runs_end_to_end(demo_store):
    settings, first = demo_store
    assert first.ingest.failed == {}
    assert first.row_counts["reports"] > 1000 and first.row_counts["alerts"] > 0
    assert first.lens.incidents == first.row_counts["incidents"], "every incident is assessed by the risk lens"
    digest = first.digest
    assert digest.html.name == f"digest-{digest.day.isoformat()}.html" and digest.alerts >= 1
    html = digest.html.read_text()
    assert "Why this is an alert" in html and 'href="https://www.who.int/' in html
    text = digest.text.read_text()
    assert "Why:" in text and "https://" in text


def test_running_the_demo_again_changes_nothing(demo_copy):
    """On a copy of the demo's store (SQLite and PostgreSQL): a second run adds and changes no row."""
    from biotracker.db.engine import make_engine

    engine = make_engine(demo_copy)
    before = snapshot(engine)
    counts = {name: len(rows) for name, rows in before.items()}
    second = run_demo(demo_copy, clock=clock_at(2))
    assert second.ingest.failed == {}
    assert second.normalise.payloads == 0, "nothing new was fetched, so nothing is normalised again"
    after = snapshot(engine)
    changed = {name: (sorted(set(after[name]) - set(before[name]))[:3], sorted(set(before[name]) - set(after[name]))[:3])
               for name in after if after[name] != before[name]}
    assert changed == {}, f"the second run changed rows (added, removed): {changed}"
    assert second.row_counts == counts


def _quarantine_and_counts(settings) -> tuple[set[tuple[str, str, str, str]], dict[str, int]]:
    from biotracker.db.engine import make_engine

    with make_engine(settings).connect() as conn:
        held = {tuple(r) for r in conn.execute(
            select(quarantine.c.source, quarantine.c.stage, quarantine.c.what, quarantine.c.reason))}
        counts = dict(conn.execute(select(reports.c.source, func.count()).group_by(reports.c.source)).all())
    return held, counts


def test_truncated_json_page_and_malformed_csv_row_are_quarantined_and_the_rest_lands(tmp_path, demo_store):
    clean_held, clean_counts = _quarantine_and_counts(demo_store[0])

    recordings = tmp_path / "recordings"
    shutil.copytree(BUNDLED_RECORDINGS, recordings)
    (recordings / "who_don" / "page2-constructed.json").write_text(
        '{"@odata.context": "x", "value": [{"DonId": "2024-DON999", "Title": "Cholera - Ch'
    )
    europe = recordings / "hpai_outbreaks" / "europe-outbreaks.csv"
    lines = europe.read_text().splitlines(keepends=True)
    lines.append('2020-01-01,"Italy",41.8,12.5,"H5N1","Farm",1,"an extra field"\n')  # appended: no line shifts
    europe.write_text("".join(lines))
    bad_line = f"line {len(lines)}"
    settings = load_settings({}, home=str(tmp_path / "broken"), replay_dir=str(recordings))
    run_demo(settings, clock=clock_at(1))
    held, counts = _quarantine_and_counts(settings)

    new = held - clean_held
    assert {(source, stage, what) for source, stage, what, _ in new} == {
        ("who_don", "parse", "payload"),
        ("hpai_outbreaks", "parse", bad_line),
    }
    reasons = {what: reason for _, _, what, reason in new}
    assert "not valid JSON" in reasons["payload"]
    assert "8 fields, the header has 7" in reasons[bad_line]
    assert counts == clean_counts, "every good record still lands"


def test_the_cli_runs_the_same_chain_as_the_demo(tmp_path, demo_store):
    """`biotracker run` over a window covering the recordings ends with the demo's tables: one chain."""
    from typer.testing import CliRunner

    from biotracker.cli.main import app
    from biotracker.db.engine import make_engine

    env = {"BIOTRACKER_HOME": str(tmp_path), "BIOTRACKER_DIGEST_LOOKBACK_DAYS": "28"}
    result = CliRunner().invoke(
        app, ["run", "--start", "2000-01-01", "--end", "2030-01-01", "--replay", str(BUNDLED_RECORDINGS),
              "--no-send"], env=env,
    )
    assert result.exit_code == 0, result.output
    settings = load_settings(env)
    assert snapshot(make_engine(settings)) == snapshot(make_engine(demo_store[0]))
    day = demo_store[1].digest.day.isoformat()
    assert (settings.out_dir / f"digest-{day}.html").read_text().count('id="alert-') == \
        demo_store[1].digest.html.read_text().count('id="alert-')
