"""Fixtures of the output tests: a small hand-made store (see ``sample_store``)."""

from __future__ import annotations

import pytest

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from tests.outputs.sample_store import populate


@pytest.fixture
def store(tmp_path):
    settings = load_settings({}, home=str(tmp_path))
    engine = open_store(settings)
    populate(engine)
    return settings, engine
