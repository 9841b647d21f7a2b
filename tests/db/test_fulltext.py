"""Full-text search over reports (migration 0013, db/fulltext.py) on SQLite FTS5 and PostgreSQL:
whole words, every word required, kept up to date as reports are written, corrected and deleted."""

from __future__ import annotations

from sqlalchemy import delete

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.db.fulltext import matching_report_ids, words_of
from biotracker.db.tables import reports
from biotracker.db.upsert import upsert


def row(report_id: str, title: str, text: str = "", summary: str = "") -> dict:
    return {"report_id": report_id, "source": "test", "source_id": report_id, "title": title,
            "summary": summary, "text": text, "tlp": "CLEAR", "language": "en", "evidence": {}}


def test_search_follows_writes_corrections_and_deletions(database_url, tmp_path):
    engine = open_store(load_settings({}, home=str(tmp_path), database_url=database_url))
    with engine.begin() as conn:
        upsert(conn, reports, [
            row("t:1", "Anthrax in cattle near Utrecht", "Bacillus anthracis confirmed"),
            row("t:2", "Avian influenza H5N1 in poultry", summary="culling ordered in Utrecht province"),
            row("t:3", "Unrelated flooding"),
        ])
    with engine.connect() as conn:
        assert matching_report_ids(conn, "anthrax") == ["t:1"]
        assert matching_report_ids(conn, "ANTHRACIS") == ["t:1"]  # case-insensitive, body text too
        assert set(matching_report_ids(conn, "utrecht")) == {"t:1", "t:2"}  # title and summary
        assert matching_report_ids(conn, "utrecht poultry") == ["t:2"]  # every word must occur
        assert matching_report_ids(conn, "anthr") == []  # whole words only
        # operators and quotes are plain text, never query syntax
        assert matching_report_ids(conn, 'anthrax" OR "flooding') == []
        assert matching_report_ids(conn, "'; DROP TABLE reports; --") == []
        assert matching_report_ids(conn, "!!!") == []
    with engine.begin() as conn:  # a correction replaces what is found
        upsert(conn, reports, [row("t:1", "Withdrawn report")])
    with engine.connect() as conn:
        assert matching_report_ids(conn, "anthrax") == []
        assert matching_report_ids(conn, "withdrawn") == ["t:1"]
    with engine.begin() as conn:
        conn.execute(delete(reports).where(reports.c.report_id == "t:2"))
    with engine.connect() as conn:
        assert matching_report_ids(conn, "poultry") == []
        assert matching_report_ids(conn, "flooding") == ["t:3"]
    engine.dispose()


def test_query_words_drop_punctuation_and_keep_letters_of_any_script():
    assert words_of('"H5N1" -- près de Zürich; NOT') == ["H5N1", "près", "de", "Zürich", "NOT"]
