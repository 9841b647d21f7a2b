"""Fuzzing every connector through the real path: its recorded payloads, mutated by hypothesis, are
replayed over HTTP (or dropped in a folder), fetched by ``fetch_to_raw`` and normalised by
``normalise_pending`` into a real SQLite store.

Mutations touch one item: a field set to an extreme number or date, the wrong type, text with NUL,
lone surrogates or markup, raw invalid bytes, deep nesting, a huge value, a missing field, a value
cut short, a value spliced from another item, an XXE entity (RSS); or the payload is cut inside an
item (CSV and RSS; a JSON document cut short has no item a reader can trust, so it is quarantined
whole, which ``tests/ingest/test_hostile_input.py`` covers). For every example:

- nothing raises (a crash fails the test and is counted);
- every payload is marked normalised (nothing stays pending);
- every report of the untouched items lands exactly as without the mutation (items lost: 0);
- every quarantined item has a stage and a reason, and the touched item is accounted for (a
  report, a skip or a quarantine entry).

``FUZZ_EXAMPLES`` (default 10) sets the examples per connector; ``FUZZ_RANDOM=1`` explores new
examples instead of the fixed derandomised sequence the suite runs by default.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import make_engine, open_store
from biotracker.db.tables import quarantine, raw_payloads, reports
from biotracker.errors import FatalFetchError
from biotracker.ingest.connector import JsonApiConnector
from biotracker.ingest.dropfolder import DropFolderConnector
from biotracker.ingest.registry import connector_classes
from biotracker.ingest.replay import Interaction, ReplayServer, load_cassette, read_cassette
from biotracker.ingest.rss import RssConnector
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_pending, normalise_payload
from biotracker.schema import UTC, Report
from biotracker.testing.connector_checks import Harness
from biotracker.testing.transport import replay_client
from tests.fuzz import payloads
from tests.fuzz.stats import record

AT = dt.datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CONNECTORS = sorted(connector_classes())

EXTREME_NUMBERS = ["-500", "-1", "0", "2147483648", "3000000000", "1e19", "9" * 40, "inf", "-inf", "NaN", "1e999"]
EXTREME_DATES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2099-06-01T00:00:00Z", "1899-12-31",
                 "1970-01-01T00:00:00Z", "yesterday", "", "31/31/2020", "20241301T000000Z",
                 "Thu, 10 Dec 9999 13:00:00 +0100", "2024-02-30", "0000-00-00"]
HOSTILE_TEXT = ["\x00", "a\x00b", "&#0;", "&#x1b;", "\x0b\x1b", "\ud800", "x\udfff", "<script>alert(1)</script>", "&amp;lt;b&amp;gt;",
                "\u202egnp.exe", "Ébola – RDC", "   ", "'; DROP TABLE reports; --", "../../etc/passwd",
                "{{7*7}}", "\r\n\r\n"]
WRONG_TYPES: list[Any] = [None, True, 12345, -1.5, [], {}, ["a", 1], {"a": {"b": None}}, 2**63, -(2**70),
                          float("inf"), float("nan")]
INVALID_BYTES = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80abc", b"\xfe\xff"]


@dataclass(frozen=True)
class Recording:
    """One connector's recorded payloads, sampled to at most 15 items each, ready to replay."""

    name: str
    kind: str  # csv | json | rss
    items_key: str | None
    bodies: tuple[tuple[str, bytes], ...]  # (url or file name, body)
    window: Any


def _kind(cls: type, body: bytes) -> str:
    if issubclass(cls, RssConnector):
        return "rss"
    if issubclass(cls, JsonApiConnector) or (issubclass(cls, DropFolderConnector) and cls.is_json(body)):
        return "json"
    return "csv"


@cache
def recording(name: str) -> Recording:
    cls = connector_classes()[name]
    folder = BUNDLED_RECORDINGS / name
    window = Harness(name).window
    if cls.fetch_kind == "dropfolder":
        drop = folder / read_cassette(folder)["drop_folder"]
        raw = [(p.name, p.read_bytes()) for p in sorted(drop.iterdir())]
    else:
        raw = [(i.url, i.body) for i in load_cassette(folder)[1]]
    bodies = []
    kinds = set()
    for where, body in raw:
        kind = _kind(cls, body)
        items_key = getattr(cls, "items_key", None)
        try:
            part = payloads.split(kind, body, items_key)
        except (KeyError, IndexError, ValueError):
            bodies.append((where, body))  # a page without items (the last page of a paged API)
            continue
        kinds.add(kind)
        bodies.append((where, payloads.join(part)))
    return Recording(name, sorted(kinds)[0], getattr(cls, "items_key", None), tuple(bodies), window)


@cache
def _template_db() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bt-fuzz-template-"))
    engine = open_store(Settings(home=folder))
    engine.dispose()
    return folder / "biotracker.db"


@dataclass
class Outcome:
    fingerprints: Counter
    quarantined: list[dict[str, Any]]
    pending: int
    accounted: int  # source items that landed (a round-up fanned out per country is one) + skipped + quarantined
    payload_shas: dict[str, str]


def fingerprint(report: Report) -> str:
    """A report's content, without its id (hash-keyed sources renumber repeated rows) or payload."""
    return json.dumps(report.model_dump(mode="json", exclude={"source_id", "raw_sha256"}), sort_keys=True)


def run_pipeline(rec: Recording, bodies: list[tuple[str, bytes]], workdir: Path) -> Outcome:
    """Replay ``bodies`` for ``rec``'s connector, fetch and normalise them into a fresh store."""
    workdir.mkdir(parents=True)
    with sqlite3.connect(_template_db()) as src, sqlite3.connect(workdir / "biotracker.db") as dst:
        src.backup(dst)
    cls = connector_classes()[rec.name]
    settings = Settings(home=workdir, http_retries=0, dropfolder_dir=workdir / "drop")
    engine = make_engine(settings)  # the template is migrated already
    try:
        if cls.fetch_kind == "dropfolder":
            folder = workdir / "drop" / rec.name
            folder.mkdir(parents=True)
            for file_name, body in bodies:
                (folder / file_name).write_bytes(body)
            fetch_to_raw(rec.name, rec.window, settings, engine, None, lambda: AT)
        else:
            recorded = {i.url: i for i in load_cassette(BUNDLED_RECORDINGS / rec.name)[1]}
            interactions = [Interaction(url=u, status=recorded[u].status, body=b, content_type=recorded[u].content_type,
                                        headers=recorded[u].headers) for u, b in bodies]
            with ReplayServer(interactions) as server, replay_client(settings, server) as client:
                try:
                    fetch_to_raw(rec.name, rec.window, settings, engine, client, lambda: AT)
                except FatalFetchError:
                    # The designed outcome when a payload cannot be the feed at all (a cut left it empty).
                    if not any(cls().unusable_payload(body, None) for _, body in bodies):
                        raise
        summary = normalise_pending(settings, engine, [rec.name])
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(reports)).mappings()]
            held = [dict(r) for r in conn.execute(select(quarantine)).mappings()]
            pending = conn.execute(select(raw_payloads.c.sha256).where(raw_payloads.c.normalised_version.is_(None)))
            shas = {r.url: r.sha256 for r in conn.execute(select(raw_payloads.c.url, raw_payloads.c.sha256))}
            pending_count = len(pending.all())
    finally:
        engine.dispose()
    prints = Counter(fingerprint(Report.model_validate({k: v for k, v in r.items() if k in Report.model_fields}))
                     for r in rows)
    # A title naming several countries lands as one report per country (normalise/fanout.py): one item.
    landed = {(r["evidence"] or {}).get("fanned_out_from") or r["report_id"] for r in rows}
    return Outcome(prints, held, pending_count, len(landed) + summary.skipped + summary.quarantined, shas)


@cache
def baseline(name: str) -> Outcome:
    return run_pipeline(recording(name), list(recording(name).bodies), Path(tempfile.mkdtemp(prefix="bt-fuzz-")) / "b")


def reports_of(name: str, body: bytes) -> Counter:
    good, _, _ = normalise_payload(connector_classes()[name](), body, "0" * 64, AT)
    return Counter(fingerprint(r) for r in good)


# --- mutations --------------------------------------------------------------------------------------

def hostile_values(kind: str) -> st.SearchStrategy[Any]:
    values: list[st.SearchStrategy[Any]] = [
        st.sampled_from(EXTREME_NUMBERS), st.sampled_from(EXTREME_DATES), st.sampled_from(HOSTILE_TEXT),
        st.sampled_from(INVALID_BYTES).map(lambda b: b"ok " + b + b" ok"),
        st.text(max_size=40),
        st.integers(min_value=1, max_value=3).map(lambda mb: "x" * (mb * 1_000_000)),  # huge field
    ]
    if kind == "json":
        values += [st.sampled_from(WRONG_TYPES),
                   st.integers(min_value=2, max_value=400).map(lambda d: json.loads("[" * d + "]" * d))]
    if kind == "rss":
        values += [st.integers(min_value=2, max_value=2000).map(lambda d: "<b>" * d + "deep" + "</b>" * d)]
    return st.one_of(values)


@st.composite
def mutation(draw: st.DrawFn, name: str) -> tuple[list[tuple[str, bytes]], int, Counter, str]:
    """(mutated bodies, index of the payload changed, reports of the touched items, what was done)."""
    rec = recording(name)
    candidates = []
    for index, (where, body) in enumerate(rec.bodies):
        try:
            part = payloads.split(_kind(connector_classes()[name], body), body, rec.items_key)
        except (KeyError, IndexError, ValueError):
            continue
        if part.items:
            candidates.append((index, part))
    index, part = draw(st.sampled_from(candidates))
    part = payloads.Split(part.kind, part.envelope, list(part.items))
    k = draw(st.integers(min_value=0, max_value=len(part.items) - 1))
    original = part.items[k]
    kinds = ["set", "set", "set", "drop", "cut_value", "splice"] + (["cut_payload"] if part.kind != "json" else [])
    kinds += ["xxe"] if part.kind == "rss" else []
    action = draw(st.sampled_from(kinds))
    fields = payloads.item_fields(part, original)
    touched = [k]
    if action == "cut_payload":
        body = payloads.join(part, cut=(k, draw(st.floats(min_value=0.0, max_value=1.0))))
        touched = list(range(k, len(part.items)))
        what = f"payload cut inside item {k}"
    elif action == "xxe":
        head, tail = part.envelope
        decl = '<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        head = head.replace("?>", "?>\n" + decl, 1) if "?>" in head else decl + head
        part.envelope = (head, tail)
        part.items[k] = payloads.set_field(part, original, "title", "&secret;") if "title" in fields else original
        body = payloads.join(part)
        what = f"XXE entity in item {k}"
    else:
        field_name = draw(st.sampled_from(fields))
        if action == "set":
            value = draw(hostile_values(part.kind))
            part.items[k] = payloads.set_field(part, original, field_name, value)
            what = f"item {k}.{field_name} = {str(value)[:40]!r}"
        elif action == "drop":
            part.items[k] = payloads.drop_field(part, original, field_name)
            what = f"item {k} without {field_name}"
        elif action == "cut_value":
            value = payloads.field_value(part, original, field_name)
            text = value if isinstance(value, str) else json.dumps(value)
            cut = text[: draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))]
            part.items[k] = payloads.set_field(part, original, field_name, cut)
            what = f"item {k}.{field_name} cut to {len(cut)} chars"
        else:  # splice another item's value of another field (types and formats swap; never an id)
            other = part.items[draw(st.integers(min_value=0, max_value=len(part.items) - 1))]
            other_fields = [f for f in payloads.item_fields(part, other) if f not in _identity_fields(name)]
            source_field = draw(st.sampled_from(other_fields)) if other_fields else field_name
            value = payloads.field_value(part, other, source_field)
            part.items[k] = payloads.set_field(part, original, field_name, value if value is not None else "")
            what = f"item {k}.{field_name} = other item's {source_field}"
        body = payloads.join(part)
    clean = payloads.split(part.kind, rec.bodies[index][1], rec.items_key)
    only_touched = payloads.join(payloads.Split(part.kind, clean.envelope, [clean.items[i] for i in touched]))
    bodies = list(rec.bodies)
    bodies[index] = (bodies[index][0], body)
    return bodies, index, reports_of(name, only_touched), what


def _identity_fields(name: str) -> set[str]:
    cls = connector_classes()[name]
    return set(cls.primary_key) | {"id", "guid", "link", "url", "DonId", "reportId", "report_id", "Id"}


# --- the property -------------------------------------------------------------------------------------

def check(name: str, bodies: list[tuple[str, bytes]], changed: int, touched: Counter, what: str) -> None:
    started = time.monotonic()
    base = baseline(name)
    try:
        outcome = run_pipeline(recording(name), bodies, Path(tempfile.mkdtemp(prefix="bt-fuzz-")) / "m")
    except Exception:
        record(name, examples=1, crashes=1, seconds=time.monotonic() - started)
        raise
    expected = base.fingerprints - touched
    lost = expected - outcome.fingerprints
    record(name, examples=1, lost=sum(lost.values()), quarantined=len(outcome.quarantined),
           seconds=time.monotonic() - started)
    assert outcome.pending == 0, f"{what}: a payload stayed pending"
    assert not lost, f"{what}: {sum(lost.values())} untouched item(s) lost, e.g. {next(iter(lost))[:300]}"
    for row in outcome.quarantined:
        assert row["stage"] and row["reason"].strip(), f"{what}: quarantined without stage or reason: {row}"
    if "cut" not in what or "payload" not in what:
        assert outcome.accounted >= base.accounted, f"{what}: an item vanished without a report, skip or quarantine"


@pytest.fixture(scope="module", autouse=True)
def _clean_temp() -> Iterator[None]:
    yield
    for folder in Path(tempfile.gettempdir()).glob("bt-fuzz-*"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("name", CONNECTORS)
def test_mutated_recordings_never_crash_and_lose_no_untouched_item(name: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_RANDOM") != "1",
              database=None, suppress_health_check=list(HealthCheck))
    @given(mutation(name))
    def run(example: tuple[list[tuple[str, bytes]], int, Counter, str]) -> None:
        bodies, changed, touched, what = example
        check(name, bodies, changed, touched, what)

    run()
