"""Real reports for the clustering tests: WHO DON headlines as labelled by CGHSS (one row per DON and
country), and reports normalised from the recorded WHO DON, ProMED and HPAI payloads."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib

import pytest

from biotracker.incidents.cluster import ReportRecord
from biotracker.ingest.registry import connector_classes
from biotracker.normalise.run import normalise_payload, report_row
from tests.conftest import FIXTURES

CGHSS = FIXTURES / "extraction" / "cghss_DONdatabase_dev.csv"
PAYLOADS = [
    ("who_don", "page1.json"),
    ("promed", "2021-10-18-1334-promed.csv"),
    ("promed", "2023-07-14-2027-promed.csv"),
    ("hpai_outbreaks", "usa-hpai-mammals.csv"),
    ("hpai_outbreaks", "asia-outbreaks.csv"),
]


def cghss_record(row: dict[str, str]) -> ReportRecord:
    at = dt.datetime.strptime(row["ReportDate"], "%m/%d/%Y").replace(tzinfo=dt.timezone.utc)
    return ReportRecord(report_id=f"who_don:{row['DONid']}:{row['ISO']}", source="who_don", at=at,
                        title=row["Headline"], url=row["Link"], agent=row["DiseaseLevel1"].casefold(),
                        country_iso3=row["ISO"] if row["ISO"] not in {"", "NA"} else None)


@pytest.fixture(scope="session")
def cghss_records() -> list[ReportRecord]:
    with CGHSS.open(encoding="utf-8") as fh:
        records = {}
        for row in csv.DictReader(fh):
            rec = cghss_record(row)
            records.setdefault(rec.report_id, rec)
    return list(records.values())


@pytest.fixture(scope="session")
def real_report_rows() -> list[dict]:
    """Report rows (as stored) normalised from recorded real payloads."""
    classes = connector_classes()
    rows: dict[str, dict] = {}
    for source, name in PAYLOADS:
        body = (FIXTURES / "feeds" / source / name).read_bytes()
        good, _, _ = normalise_payload(classes[source](), body, hashlib.sha256(body).hexdigest())
        rows.update((r.report_id, report_row(r)) for r in good)
    return [rows[k] for k in sorted(rows)]
