"""Contributions: validate everything, archive the request raw as a feed payload, normalise it.

The order is the pipeline's own: nothing is parsed before its bytes are in the raw archive, and
reports come out of the normalise stage's own functions through the ``contributions`` connector
like any feed's (for the request's payload only, so a contribution costs the same on any store size).
Validation runs first and covers the whole request, so a bad item stores nothing at all.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select, update

from biotracker.access import Principal
from biotracker.config import Settings
from biotracker.db.tables import organisations, reports, source_health, users
from biotracker.db.upsert import upsert
from biotracker.errors import BiotrackerError
from biotracker.ingest.connector import Connector
from biotracker.ingest.registry import connector_classes
from biotracker.normalise.run import normalise_payload, store_outcome
from biotracker.raw.archive import store_payload
from biotracker.schema import Tlp
from biotracker.schema.contribution import Contribution

SOURCE = "contributions"
MAX_REPORTS_PER_REQUEST = 1000


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field, located like FastAPI's own 422 answers: ["reports", 2, "tlp"]."""

    loc: tuple[str | int, ...]
    msg: str


class ContributionInvalid(BiotrackerError):
    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems))
        self.problems = list(problems)


def parse_contributions(body: Any) -> tuple[list[Contribution], bool]:
    """The contributions of a request body (one object, or ``{"reports": [...]}``) and whether it was a batch."""
    batch = isinstance(body, dict) and "reports" in body
    if batch:
        extra = sorted(set(body) - {"reports"})
        if extra:
            raise ContributionInvalid([FieldProblem((extra[0],), "unexpected field next to 'reports'")])
        items = body["reports"]
        if not isinstance(items, list) or not items:
            raise ContributionInvalid([FieldProblem(("reports",), "must be a non-empty list of reports")])
        if len(items) > MAX_REPORTS_PER_REQUEST:
            raise ContributionInvalid(
                [FieldProblem(("reports",), f"at most {MAX_REPORTS_PER_REQUEST} reports per request")]
            )
    elif isinstance(body, dict):
        items = [body]
    else:
        raise ContributionInvalid([FieldProblem(("body",), "must be a JSON object")])
    parsed: list[Contribution] = []
    problems: list[FieldProblem] = []
    for index, item in enumerate(items):
        prefix: tuple[str | int, ...] = ("reports", index) if batch else ()
        try:
            parsed.append(Contribution.model_validate(item))
        except ValidationError as exc:
            problems += [FieldProblem(prefix + tuple(e["loc"]), e["msg"]) for e in exc.errors()]
    if problems:
        raise ContributionInvalid(problems)
    return parsed, batch


#: CSV columns that hold lists: values separated by ";".
LIST_COLUMNS = ("share_with", "share_users")


def rows_from_csv(body: bytes) -> list[dict[str, Any]]:
    """Contributions from a CSV upload (header row of ``Contribution`` field names; empty cell = unset)."""
    import csv
    import io

    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContributionInvalid([FieldProblem(("body",), f"CSV must be UTF-8 ({exc.reason})")]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict[str, Any]] = []
    try:
        for line in reader:
            if None in line:
                raise ContributionInvalid(
                    [FieldProblem(("line", reader.line_num), "more cells than header columns")]
                )
            row: dict[str, Any] = {k: v for k, v in line.items() if v is not None and v.strip() != ""}
            for column in LIST_COLUMNS:
                if column in row:
                    row[column] = [part.strip() for part in row[column].split(";") if part.strip()]
            rows.append(row)
    except csv.Error as exc:
        raise ContributionInvalid(
            [FieldProblem(("line", reader.line_num), f"unreadable CSV: {exc}")]
        ) from None
    if not rows:
        raise ContributionInvalid([FieldProblem(("body",), "CSV needs a header row and at least one report")])
    return rows


def check_names(engine: Engine, items: Sequence[Contribution], batch: bool) -> None:
    """Every organisation and user a share list names must exist (a typo would share with nobody).

    Only the names the request uses are looked up (by primary key), never the whole tables."""
    wanted_orgs = {o for item in items for o in item.share_with}
    wanted_users = {u for item in items for u in item.share_users}
    orgs: set[str] = set()
    names: set[str] = set()
    if wanted_orgs or wanted_users:
        with engine.connect() as conn:
            if wanted_orgs:
                query = select(organisations.c.name).where(organisations.c.name.in_(sorted(wanted_orgs)))
                orgs = set(conn.execute(query).scalars())
            if wanted_users:
                query = select(users.c.username).where(users.c.username.in_(sorted(wanted_users)))
                names = set(conn.execute(query).scalars())
    problems = []
    for index, item in enumerate(items):
        prefix: tuple[str | int, ...] = ("reports", index) if batch else ()
        problems += [
            FieldProblem(prefix + ("share_with",), f"no organisation named {o!r}")
            for o in item.share_with
            if o not in orgs
        ]
        problems += [
            FieldProblem(prefix + ("share_users",), f"no user named {u!r}")
            for u in item.share_users
            if u not in names
        ]
    if problems:
        raise ContributionInvalid(problems)


def envelope(principal: Principal, items: Sequence[Mapping[str, Any]], now: dt.datetime) -> bytes:
    """The bytes archived for one request: the items as sent, and who sent them."""
    doc = {
        "contribution": {
            "organisation": principal.org,
            "user": principal.username,
            "received_at": now.isoformat(),
        },
        "reports": list(items),
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")


def item_of(principal: Principal, contribution: Contribution, contribution_id: str) -> dict[str, Any]:
    item = contribution.model_dump(mode="json", exclude_defaults=True) | {"contribution_id": contribution_id}
    item["tlp"] = contribution.tlp
    if Tlp(contribution.tlp) is Tlp.RED and principal.username not in contribution.share_users:
        item["share_users"] = sorted({*contribution.share_users, principal.username})  # its author is cleared
    return item


def archive_and_normalise(
    settings: Settings,
    engine: Engine,
    principal: Principal,
    items: Sequence[Mapping[str, Any]],
    now: dt.datetime,
) -> list[str]:
    """Store the envelope raw, normalise it, and return the report ids it produced.

    The pipeline's order and code (``store_payload``, ``normalise_payload``, ``store_outcome``) for
    this one payload only: the raw row is committed first; the reports, the payload's "normalised"
    mark and the source's counters follow in short transactions. Nothing here reads a table whole
    (``normalise_pending`` would list every pending payload and recount every source's reports:
    seconds on a large store, under a lock that serialises contributions). Should the second step
    fail, the payload stays pending and the next ``biotracker normalise`` picks it up.
    """
    body = envelope(principal, items, now)
    ids = [f"{SOURCE}:{item['contribution_id']}" for item in items]
    with engine.begin() as conn:
        record, _ = store_payload(
            conn,
            settings.raw_dir,
            source=SOURCE,
            url=f"api:/api/v1/reports#{ids[0]}",
            body=body,
            http_status=201,
            fetched_at=now,
            content_type="application/json",
        )
    connector = _connector()
    good, bad, _skipped = normalise_payload(connector, body, record.sha256, now)
    with engine.connect() as conn:
        known = set(conn.execute(select(reports.c.report_id).where(reports.c.report_id.in_(ids))).scalars())
    stored, bad = store_outcome(engine, connector, record.sha256, good, bad)
    added = sum(1 for r in stored if r.report_id not in known)
    _count_in_health(engine, added, len(bad))
    missing = sorted(set(ids) - {r.report_id for r in stored})
    if missing:
        raise BiotrackerError(
            f"contributions {missing} were archived but not normalised (see `biotracker quarantine` for the reason)"
        )
    return ids


@cache
def _connector() -> Connector:
    """The ``contributions`` connector (stateless; found once per process, not per request)."""
    return connector_classes()[SOURCE]()


def _count_in_health(engine: Engine, added: int, quarantined: int) -> None:
    """Add this request's reports and quarantined items to the ``contributions`` row of
    ``source_health`` (one row locked for a moment; the pipeline's full recount agrees)."""
    if not added and not quarantined:
        return
    with engine.begin() as conn:
        conn.execute(
            update(source_health)
            .where(source_health.c.source == SOURCE)
            .values(
                items=source_health.c["items"] + added,
                quarantined=source_health.c.quarantined + quarantined,
            )
        )


def ensure_health_row(engine: Engine) -> None:
    """Create the ``contributions`` row of ``source_health`` up front (insert-or-ignore), so concurrent
    contributions only ever update it."""
    with engine.begin() as conn:
        upsert(
            conn,
            source_health,
            [{"source": SOURCE, "payloads": 0, "items": 0, "quarantined": 0, "failures": 0}],
            update=False,
        )


def warm_up() -> None:
    """Normalise a sample contribution in memory (nothing is stored), so that what normalising needs
    (vocabularies, gazetteer, cue lexicon: about a second to load) is loaded before the server takes
    requests and the first contribution a server process receives is as quick as the others.
    ``serve`` calls it; test servers skip it."""
    from biotracker.access import Role

    now = dt.datetime.now(dt.UTC)
    sample = {
        "contribution_id": "0" * 32,
        "title": "Anthrax in cattle near Utrecht",
        "text": "Three cattle died of anthrax; Bacillus anthracis was confirmed by the laboratory.",
        "country_iso3": "NLD",
        "reported_at": now.isoformat(),
    }
    body = envelope(Principal(username="warm-up", org="warm-up", role=Role.CONTRIBUTOR), [sample], now)
    normalise_payload(_connector(), body, "0" * 64, now)


def new_contribution_id() -> str:
    return secrets.token_hex(16)


def contribute_body(
    settings: Settings, engine: Engine, principal: Principal, body: Any, now: dt.datetime
) -> list[str]:
    """The whole contribution path for one request body (the API's and the contribute page's): validate
    every item and every share-list name, then archive raw and normalise. Raises
    :class:`ContributionInvalid` (nothing stored) or returns the new report ids."""
    items, batch = parse_contributions(body)
    check_names(engine, items, batch)
    payload = [item_of(principal, item, new_contribution_id()) for item in items]
    return archive_and_normalise(settings, engine, principal, payload, now)


def withdraw(
    settings: Settings, engine: Engine, principal: Principal, row: Mapping[str, Any], now: dt.datetime
) -> list[str]:
    """Archive and normalise the tombstone of a contributed report ``row`` (a ``reports`` row the
    caller's organisation originated): its content goes, its id and marking stay."""
    tombstone = {
        "contribution_id": row["source_id"],
        "withdrawn_at": now.isoformat(),
        "reported_at": (row["published_at"] or now).isoformat(),
        "tlp": row["tlp"],
        "share_with": list(row["share_with"] or []),
        "share_users": list(row["share_users"] or []),
    }
    return archive_and_normalise(settings, engine, principal, [tombstone], now)


def correct(
    settings: Settings,
    engine: Engine,
    principal: Principal,
    row: Mapping[str, Any],
    body: Any,
    now: dt.datetime,
) -> list[str]:
    """Replace the contributed report ``row`` with the corrected version in ``body`` (same id)."""
    items, batch = parse_contributions(body)
    if batch:
        raise ContributionInvalid([FieldProblem(("reports",), "correct one report at a time")])
    check_names(engine, items, batch)
    payload = [item_of(principal, items[0], row["source_id"])]
    return archive_and_normalise(settings, engine, principal, payload, now)
