"""Every registered connector (modules and declarative entries) passes the conformance kit.

Parametrised over the registry, so a new connector (or a new entry in connectors/feeds.yaml) with
its recording is tested with no change here. Ids read ``<connector>-<check>``.
"""

from __future__ import annotations

import pytest

from biotracker.testing.connector_checks import CHECKS, Harness, check_ids


@pytest.fixture(scope="session")
def harnesses(tmp_path_factory):
    cache: dict[str, Harness] = {}

    def get(name: str) -> Harness:
        if name not in cache:
            cache[name] = Harness(name, workdir=tmp_path_factory.mktemp(f"conformance-{name}"))
        return cache[name]

    return get


@pytest.mark.parametrize(("connector", "check"), check_ids(), ids=[f"{n}-{c}" for n, c in check_ids()])
def test_connector_conforms(connector: str, check: str, harnesses) -> None:
    harness = harnesses(connector)
    reason = harness.cls.skip_checks.get(check)
    if reason:
        pytest.skip(reason)
    CHECKS[check](harness)
