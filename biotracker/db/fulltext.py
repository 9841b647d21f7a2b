"""Full-text search over reports' title, summary and text: FTS5 on SQLite, tsvector on PostgreSQL.

Migration 0013 builds the index (an FTS5 table kept by triggers; a GIN index on a tsvector
expression). This module turns what a person typed into a safe query for the store's dialect and
returns matching report ids, best first. It knows nothing of who may see what: callers filter
the ids through the access policy.

Words are matched whole (no stemming: reports come in many languages), every word must occur,
case and accents are ignored on SQLite; PostgreSQL's ``simple`` configuration lower-cases.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, bindparam, text

#: Objects migration 0013 creates that ``db/tables.py`` does not declare (SQLite's FTS5 table and
#: its shadow tables; PostgreSQL's expression index). Schema comparisons leave them out.
UNDECLARED = frozenset(
    {
        "reports_fts",
        "reports_fts_data",
        "reports_fts_idx",
        "reports_fts_content",
        "reports_fts_docsize",
        "reports_fts_config",
        "ix_reports_fulltext",
    }
)
#: The indexed expression of migration 0013, verbatim (PostgreSQL uses the index only for it).
PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || "
    "coalesce(text, ''))"
)
MAX_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


def words_of(query: str) -> list[str]:
    """The words of a typed query (letters and digits; punctuation and operators are dropped)."""
    return _WORD.findall(query)[:MAX_WORDS]


def _fts5_query(words: list[str]) -> str:
    # Each word as an FTS5 string (quotes doubled), implicitly AND-ed: no operator can be injected.
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def matching_report_ids(conn: Connection, query: str, limit: int = 500) -> list[str]:
    """Ids of reports containing every word of ``query``, most relevant first (at most ``limit``)."""
    words = words_of(query)
    if not words:
        return []
    if conn.dialect.name == "sqlite":
        statement = text(
            "SELECT report_id FROM reports_fts WHERE reports_fts MATCH :q ORDER BY rank LIMIT :n"
        )
        return list(conn.execute(statement, {"q": _fts5_query(words), "n": limit}).scalars())
    if conn.dialect.name == "postgresql":
        statement = text(
            f"SELECT report_id FROM reports WHERE {PG_DOCUMENT} @@ plainto_tsquery('simple', :q) "
            f"ORDER BY ts_rank({PG_DOCUMENT}, plainto_tsquery('simple', :q)) DESC, report_id LIMIT :n"
        ).bindparams(bindparam("q"), bindparam("n"))
        return list(conn.execute(statement, {"q": " ".join(words), "n": limit}).scalars())
    raise NotImplementedError(f"full-text search supports SQLite and PostgreSQL, not {conn.dialect.name}")
