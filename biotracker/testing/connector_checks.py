"""The connector conformance kit: the checks every connector gets, run against its recorded fixture.

Each check is a plain function taking a ``Harness`` (one connector, its recordings, a throwaway
store) and raising ``CheckFailed`` with a message that says what to fix. The test suite runs
every check for every registered connector (``tests/connectors/test_conformance.py``, ids such as
``who_don-primary_key_unique``); ``biotracker connectors check NAME`` runs them for one connector.
A connector skips a check only by naming it in ``skip_checks`` with a reason.

The expected snapshot of a connector lives in ``<recordings>/<name>/expected.json``; write or
refresh it with ``biotracker connectors check NAME --update-snapshot`` and review the diff.
"""

from __future__ import annotations

import builtins
import importlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

from sqlalchemy import Engine, func, select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import raw_payloads, source_health
from biotracker.errors import ConfigError, FatalFetchError, RecordError, RetryableFetchError
from biotracker.ingest.connector import BadRecord, Connector
from biotracker.ingest.registry import connector_classes, feeds_file, validate_connector
from biotracker.ingest.replay import Interaction, ReplayServer, canonical_url, load_cassette, read_cassette
from biotracker.ingest.run import FetchSummary, fetch_to_raw
from biotracker.raw.archive import read_payload
from biotracker.schema import Report, Window, as_utc
from biotracker.testing.transport import replay_client

RECORDING_KINDS = ("real", "real (scraper output)", "constructed from documentation")
DEFAULT_WINDOW = Window(as_utc("2000-01-01"), as_utc("2030-01-01"))
SNAPSHOT_FILE = "expected.json"
SAMPLE_SIZE = 3


class CheckFailed(AssertionError):
    """A connector does not conform; the message says what to change."""


def fail(message: str) -> NoReturn:
    raise CheckFailed(message)


@dataclass
class Outcome:
    """What the connector made of its recorded payloads (records, reports, rejections)."""

    records: list[list[dict[str, Any]]] = field(default_factory=list)  # per payload
    bad: list[BadRecord] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    skipped: int = 0
    rejected: list[str] = field(default_factory=list)

    def snapshot(self, window: Window) -> dict[str, Any]:
        sample = (
            self.reports[:SAMPLE_SIZE] + self.reports[-1:]
            if len(self.reports) > SAMPLE_SIZE
            else self.reports
        )
        return {
            "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            "records": sum(len(r) for r in self.records),
            "unreadable_items": len(self.bad),
            "reports": len(self.reports),
            "skipped": self.skipped,
            "rejected": len(self.rejected),
            "sample": [r.model_dump(mode="json") for r in sample],
        }


class Harness:
    """One connector, its recordings replayed locally, and a throwaway store under ``workdir``."""

    def __init__(self, name: str, recordings: Path = BUNDLED_RECORDINGS, workdir: Path | None = None) -> None:
        classes = connector_classes()
        if name not in classes:
            raise ConfigError(f"no connector named {name!r}; known: {', '.join(classes)}")
        self.name = name
        self.cls: type[Connector] = classes[name]
        self.connector = self.cls()
        self.recordings = recordings
        self.folder = recordings / name
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"bt-check-{name}-"))
        self.settings = Settings(home=self.workdir / "home", replay_dir=recordings, http_retries=0)
        self._engine: Engine | None = None
        self._first: FetchSummary | None = None
        self._outcome: Outcome | None = None
        self.last_requests: list[str] = []

    # --- recordings -----------------------------------------------------------------------------
    @property
    def cassette(self) -> dict[str, Any]:
        return read_cassette(self.folder)

    def interactions(self) -> list[Interaction]:
        return load_cassette(self.folder)[1]

    @property
    def snapshot_path(self) -> Path:
        return self.folder / SNAPSHOT_FILE

    def expected(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.snapshot_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    @property
    def window(self) -> Window:
        expected = self.expected() or {}
        bounds = expected.get("window")
        return Window.parse(bounds["start"], bounds["end"]) if bounds else DEFAULT_WINDOW

    # --- fetching -------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_store(self.settings)
        return self._engine

    def fetch(self, server: ReplayServer | None = None, *, settings: Settings | None = None) -> FetchSummary:
        settings = settings or self.settings
        if self.connector.fetch_kind != "http":
            return fetch_to_raw(self.name, self.window, settings, self.engine, None)
        with ExitStack() as stack:
            if server is None:
                server = stack.enter_context(ReplayServer(self.interactions()))
            client = stack.enter_context(replay_client(settings, server, retries=settings.http_retries))
            try:
                return fetch_to_raw(self.name, self.window, settings, self.engine, client)
            finally:
                self.last_requests = list(server.requests)

    def first_fetch(self) -> FetchSummary:
        if self._first is None:
            self._first = self.fetch()
        return self._first

    def bodies(self) -> list[bytes]:
        return [read_payload(self.settings.raw_dir, sha) for sha in self.first_fetch().payloads]

    def raw_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(raw_payloads)).scalar_one()

    # --- parsing --------------------------------------------------------------------------------
    def run_connector(self, bodies: list[bytes] | None = None) -> Outcome:
        """Records and reports of ``bodies`` (default: the recorded payloads), via a fresh instance."""
        connector = self.cls()
        outcome = Outcome()
        for body in bodies if bodies is not None else self.bodies():
            try:
                items = list(connector.records(body))
            except Exception as exc:  # noqa: BLE001 (as in normalisation: any failure is a rejection)
                outcome.rejected.append(f"payload: {exc}")
                outcome.records.append([])
                continue
            good = [i for i in items if not isinstance(i, BadRecord)]
            outcome.bad.extend(i for i in items if isinstance(i, BadRecord))
            outcome.records.append(good)
            for index, record in enumerate(good):
                try:
                    report = connector.to_report(record)
                except Exception as exc:  # noqa: BLE001 (as in normalisation: any failure is a rejection)
                    outcome.rejected.append(f"record {index}: {type(exc).__name__}: {exc}")
                    continue
                if report is None:
                    outcome.skipped += 1
                else:
                    outcome.reports.append(report)
        return outcome

    def outcome(self) -> Outcome:
        if self._outcome is None:
            self._outcome = self.run_connector()
        return self._outcome

    def write_snapshot(self) -> Path:
        snapshot = self.outcome().snapshot(self.window)
        self.snapshot_path.write_text(
            json.dumps(snapshot, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )
        return self.snapshot_path


# --- the checks ------------------------------------------------------------------------------------


def check_metadata_complete(h: Harness) -> None:
    """Facts declared, valid and consistent; recordings present with provenance."""
    try:
        validate_connector(h.cls)
    except ConfigError as exc:
        fail(str(exc))
    for attr in ("title", "url", "terms"):
        if not str(getattr(h.cls, attr, "")).strip():
            fail(f"{attr} is empty: declare it on the class")
    if not h.folder.is_dir():
        fail(f"no recordings at {h.folder}: create it with `biotracker connectors new` or record the feed")
    cassette = h.cassette
    unfinished = [
        what
        for what, text in (("terms", h.cls.terms), ("provenance", cassette.get("provenance", "")))
        if "TODO" in str(text)
    ]
    if unfinished:
        fail(
            f"{' and '.join(unfinished)} still say TODO: finish the scaffold (terms of use; where the recording "
            "comes from)"
        )
    if cassette.get("recording") not in RECORDING_KINDS:
        fail(f"{h.folder}/cassette.yaml must say `recording:` one of {RECORDING_KINDS}")
    if h.connector.fetch_kind == "http" and not cassette.get("interactions"):
        fail("the cassette records no interactions")
    if (
        h.connector.fetch_kind == "dropfolder"
        and not (h.folder / str(cassette.get("drop_folder", ""))).is_dir()
    ):
        fail("a drop-folder connector's cassette needs `drop_folder:` naming a folder of recorded files")
    unknown = set(h.cls.skip_checks) - set(CHECKS)
    if unknown:
        fail(f"skip_checks names unknown checks {sorted(unknown)}")
    if any(not str(reason).strip() for reason in h.cls.skip_checks.values()):
        fail("every skipped check needs a reason string")


class ImpureImport(AssertionError):
    pass


@contextmanager
def _guarded_import() -> Iterator[None]:
    """Network, environment reads and file writes raise while a connector module is imported."""

    def refuse(what: str) -> Callable[..., Any]:
        def _raise(*_a: Any, **_k: Any) -> Any:
            raise ImpureImport(f"{what} at import time")

        return _raise

    real_open = builtins.open

    def read_only_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            raise ImpureImport(f"opening {file!r} for writing at import time")
        return real_open(file, mode, *args, **kwargs)

    class GuardedEnviron(dict):
        def __getitem__(self, key: str) -> str:
            raise ImpureImport(f"reading environment variable {key} at import time")

        def get(self, key: str, default: Any = None) -> Any:
            raise ImpureImport(f"reading environment variable {key} at import time")

    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(socket.socket, "connect", refuse("opening a network connection"))
        )
        stack.enter_context(
            mock.patch.object(socket, "create_connection", refuse("opening a network connection"))
        )
        stack.enter_context(mock.patch.object(builtins, "open", read_only_open))
        stack.enter_context(mock.patch.object(os, "environ", GuardedEnviron(os.environ)))
        stack.enter_context(mock.patch.object(os, "getenv", refuse("reading the environment")))
        yield


def check_import_is_pure(h: Harness) -> None:
    """Importing the connector does no I/O: no network, no environment, no writes."""
    try:
        with _guarded_import():
            if h.cls.origin == "declarative":
                from biotracker.ingest.declarative import declarative_classes

                declarative_classes(feeds_file())
            else:
                module = sys.modules[h.cls.__module__]
                importlib.reload(module)
    except ImpureImport as exc:
        fail(f"the connector does work at import time ({exc}); move it into a method")


def check_returns_records(h: Harness) -> None:
    """Replaying the recording yields payloads and at least one record."""
    summary = h.first_fetch()
    if summary.pages == 0:
        fail("fetching the recorded fixture stored no payload")
    outcome = h.outcome()
    if not any(outcome.records):
        fail(f"no records came out of {summary.pages} recorded payload(s); rejected: {outcome.rejected[:3]}")


def check_recording_fully_replayed(h: Harness) -> None:
    """Every recorded request is made (paging follows the recording; no dead files in the cassette)."""
    if h.connector.fetch_kind != "http":
        return
    h._first = None
    h.first_fetch()
    asked = {canonical_url(u) for u in h.last_requests}
    unused = [i.url for i in h.interactions() if canonical_url(i.url) not in asked]
    if unused:
        fail(
            f"the fetch never requested {len(unused)} recorded address(es), e.g. {unused[0]}: paging stopped early "
            "or start_urls changed; fix the connector or re-record"
        )


def check_records_match_raw_schema(h: Harness) -> None:
    """Records are JSON objects with the connector's required fields."""
    for batch in h.outcome().records:
        for index, record in enumerate(batch):
            if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
                fail(f"record {index} is not an object with string keys")
            try:
                json.dumps(record)
            except (TypeError, ValueError) as exc:
                fail(f"record {index} is not JSON-serialisable ({exc}): records must be plain data")
            missing = [f for f in h.cls.required_fields if record.get(f) in (None, "")]
            if missing:
                fail(f"record {index} lacks required field(s) {missing}: {json.dumps(record)[:300]}")


def check_primary_key_unique(h: Harness) -> None:
    """Every record has a non-empty primary key, unique within its payload."""
    for number, batch in enumerate(h.outcome().records):
        seen: dict[str, int] = {}
        for index, record in enumerate(batch):
            try:
                key = h.connector.record_id(record)
            except RecordError as exc:
                fail(f"payload {number} record {index}: {exc}")
            if key in seen:
                fail(f"payload {number}: records {seen[key]} and {index} share the primary key {key!r}")
            seen[key] = index


def check_cursor_in_window(h: Harness) -> None:
    """Incremental sources: every record's cursor is a readable date inside the fixture's window."""
    if not h.cls.cursor_field:
        return
    window = h.window
    for batch in h.outcome().records:
        for index, record in enumerate(batch):
            cursor = h.connector.cursor(record)
            if cursor is None:
                fail(
                    f"record {index}: cursor {h.cls.cursor_field!r} is missing or unreadable "
                    f"({str(record.get(h.cls.cursor_field))[:40]!r})"
                )
            if cursor not in window:
                fail(f"record {index}: cursor {cursor.isoformat()} is outside the fixture window {window}")


def check_report_snapshot(h: Harness) -> None:
    """``to_report`` output is valid and equals the reviewed snapshot in expected.json."""
    expected = h.expected()
    if expected is None or expected.get("reports") is None:
        fail(
            f"{h.snapshot_path} has no snapshot yet: run `biotracker connectors check {h.name} --update-snapshot`, "
            "review the reports it writes, and commit the file"
        )
    actual = h.outcome().snapshot(h.window)
    if not actual["reports"]:
        fail("the recorded payloads gave no report at all")
    for key in ("records", "unreadable_items", "reports", "skipped", "rejected"):
        if actual[key] != expected.get(key):
            fail(
                f"{key}: expected {expected.get(key)}, got {actual[key]} "
                f"(first rejections: {h.outcome().rejected[:3]})"
            )
    for index, (want, got) in enumerate(zip(expected["sample"], actual["sample"], strict=True)):
        if want != got:
            diffs = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            fail(
                f"sample report {index} differs in {diffs}: expected {[want.get(k) for k in diffs]}, "
                f"got {[got.get(k) for k in diffs]}"
            )


def check_deterministic(h: Harness) -> None:
    """Same bytes in, same records and reports out (no clock, randomness or hidden state)."""
    first = h.run_connector()
    second = h.run_connector()
    if first.records != second.records:
        fail("records differ between two runs over the same payloads")
    if [r.model_dump() for r in first.reports] != [r.model_dump() for r in second.reports]:
        fail("reports differ between two runs over the same payloads: to_report must be pure")


def check_fetch_twice_idempotent(h: Harness) -> None:
    """Fetching the same window again stores nothing new."""
    h.first_fetch()
    before = h.raw_count()
    again = h.fetch()
    if again.new_payloads:
        fail(
            f"the second fetch stored {again.new_payloads} new payload(s); payloads must be content-addressed"
        )
    if h.raw_count() != before:
        fail("raw_payloads grew on the second fetch of the same window")


def _status_check(status: int, expected: type[Exception]) -> Callable[[Harness], None]:
    def check(h: Harness) -> None:
        interactions = h.interactions()
        server = ReplayServer(interactions)
        first_url = h.connector.start_urls(h.window)[0]
        server.add(
            Interaction(
                url=first_url,
                status=status,
                body=b"recorded error",
                content_type="text/plain",
                headers={"Retry-After": "0"} if status in (429, 503) else {},
            ),
            replace=True,
        )
        with server:
            try:
                h.fetch(server, settings=replace(h.settings, http_retries=1))
            except expected:
                pass
            except Exception as exc:  # noqa: BLE001 (the point is to report the wrong type)
                fail(f"HTTP {status} raised {type(exc).__name__}, expected {expected.__name__}: {exc}")
            else:
                fail(f"HTTP {status} did not raise {expected.__name__}")
        with h.engine.connect() as conn:
            row = (
                conn.execute(select(source_health).where(source_health.c.source == h.name)).mappings().first()
            )
        if row is None or not row["last_error"] or str(status) not in row["last_error"]:
            fail(
                f"HTTP {status} was not recorded in source_health (last_error: {row and row['last_error']!r})"
            )

    check.__doc__ = f"HTTP {status} ends the fetch with {expected.__name__} and is recorded in source health."
    return check


def _source_items(reports: list) -> set[str]:
    """Source items behind reports (a round-up fanned out per country is still one item)."""
    from biotracker.normalise.fanout import COUNTRY_SEPARATOR

    return {r.source_id.split(COUNTRY_SEPARATOR, 1)[0] for r in reports}


def check_malformed_item_quarantined(h: Harness) -> None:
    """One malformed item is quarantined while the rest of its payload lands."""
    from biotracker.normalise.run import normalise_payload

    bodies = h.bodies()
    outcome = h.outcome()
    candidates = [i for i, batch in enumerate(outcome.records) if len(batch) >= 2]
    index = min(candidates, key=lambda i: len(bodies[i])) if candidates else None  # the smallest will do
    if index is None:
        fail("no recorded payload has two or more records to test with")
    body = bodies[index]
    try:
        broken = h.connector.malform(body)
    except NotImplementedError as exc:
        fail(str(exc))
    baseline, held, _ = normalise_payload(h.cls(), body, "0" * 64)
    good, bad, _ = normalise_payload(h.cls(), broken, "1" * 64)
    if len(bad) <= len(held):
        fail("the malformed item was not quarantined")
    lost = len(_source_items(baseline) - _source_items(good))  # round-ups fan out: count source items
    if lost > 1:
        fail(f"one malformed item cost {lost} source items; the rest of the batch must land")
    for item in bad:
        if not item.reason.strip() or not item.stage:
            fail("a quarantined item lacks its stage or reason")


CHECKS: dict[str, Callable[[Harness], None]] = {
    "metadata_complete": check_metadata_complete,
    "import_is_pure": check_import_is_pure,
    "returns_records": check_returns_records,
    "recording_fully_replayed": check_recording_fully_replayed,
    "records_match_raw_schema": check_records_match_raw_schema,
    "primary_key_unique": check_primary_key_unique,
    "cursor_in_window": check_cursor_in_window,
    "report_snapshot": check_report_snapshot,
    "deterministic": check_deterministic,
    "fetch_twice_idempotent": check_fetch_twice_idempotent,
    "http_429_retryable": _status_check(429, RetryableFetchError),
    "http_503_retryable": _status_check(503, RetryableFetchError),
    "http_401_fatal": _status_check(401, FatalFetchError),
    "http_404_fatal": _status_check(404, FatalFetchError),
    "malformed_item_quarantined": check_malformed_item_quarantined,
}


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str  # "passed" | "failed" | "skipped"
    message: str = ""


def run_checks(
    name: str, recordings: Path = BUNDLED_RECORDINGS, only: list[str] | None = None
) -> list[CheckResult]:
    """Run the kit for one connector (what ``biotracker connectors check`` prints)."""
    results = []
    with tempfile.TemporaryDirectory(prefix=f"bt-check-{name}-") as tmp:
        harness = Harness(name, recordings, Path(tmp))
        for check, function in CHECKS.items():
            if only and check not in only:
                continue
            reason = harness.cls.skip_checks.get(check)
            if reason:
                results.append(CheckResult(check, "skipped", reason))
                continue
            try:
                function(harness)
            except CheckFailed as exc:
                results.append(CheckResult(check, "failed", str(exc)))
            except Exception as exc:  # noqa: BLE001 (a crash is a failure with its type named)
                results.append(CheckResult(check, "failed", f"{type(exc).__name__}: {exc}"))
            else:
                results.append(CheckResult(check, "passed", (function.__doc__ or "").strip().splitlines()[0]))
    return results


def check_ids() -> list[tuple[str, str]]:
    """(connector, check) pairs for pytest parametrisation."""
    return [(name, check) for name in connector_classes() for check in CHECKS]


__all__ = ["CHECKS", "CheckFailed", "CheckResult", "Harness", "check_ids", "run_checks"]
