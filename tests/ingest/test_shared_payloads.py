"""Two sources that serve byte-identical payloads (usda_aphis and hpai_outbreaks both replay the
APHIS mammal table) must each get their payload normalised by their own connector."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import raw_payloads
from biotracker.pipeline import ingest_sources
from biotracker.schema import Window


def test_identical_payloads_of_two_sources_are_normalised_for_both(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, replay_dir=BUNDLED_RECORDINGS, http_retries=0)
    engine = open_store(settings)
    result = ingest_sources(settings, engine, Window.parse("2000-01-01", "2030-01-01"), ["hpai_outbreaks", "usda_aphis"])
    assert not result.failed
    with engine.connect() as conn:  # normalise_pending selects payloads by raw_payloads.source
        sources = {r.source for r in conn.execute(select(raw_payloads.c.source))}
    assert sources == {"hpai_outbreaks", "usda_aphis"}
