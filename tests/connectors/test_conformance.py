"""Every registered connector (modules and declarative entries) passes the conformance kit.

Parametrised over the registry, so a new connector (or a new entry in connectors/feeds.yaml) with
its recording is tested with no change here. Ids read ``<connector>-<check>``.
"""

from __future__ import annotations

import pytest

from biotracker.ingest.registry import connector_classes
from biotracker.testing.connector_checks import CHECKS, Harness, check_ids


@pytest.fixture(scope="session")
def harnesses(tmp_path_factory):
    cache: dict[str, Harness] = {}

    def get(name: str) -> Harness:
        if name not in cache:
            cache[name] = Harness(name, workdir=tmp_path_factory.mktemp(f"conformance-{name}"))
        return cache[name]

    return get


def _applicable() -> list[tuple[str, str]]:
    """Every (connector, check) pair except those a connector declares inapplicable, with a reason,
    in ``skip_checks`` (e.g. HTTP status mapping for a drop folder); the metadata check verifies
    those reasons, so nothing is left out silently."""
    classes = connector_classes()
    return [(n, c) for n, c in check_ids() if c not in classes[n].skip_checks]


@pytest.mark.parametrize(("connector", "check"), _applicable(), ids=[f"{n}-{c}" for n, c in _applicable()])
def test_connector_conforms(connector: str, check: str, harnesses) -> None:
    CHECKS[check](harnesses(connector))
