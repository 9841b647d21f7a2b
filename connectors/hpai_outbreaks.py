"""Highly pathogenic avian influenza (HPAI) outbreak tables compiled by fbranda/avian-flu.

Five CSV tables with different columns (Europe events, Africa and Asia WOAH situation-report
periods, US mammal detections, WHO human H5N1 cases by year); ``records`` tags each row with its
table, found from the header, and ``to_report`` maps each table's columns to the schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

from biotracker.errors import RecordError
from biotracker.ingest.connector import BadRecord, CsvConnector
from biotracker.ingest.fields import LATITUDE, LONGITUDE, parse_coordinate, parse_count
from biotracker.normalise.geo import country_iso3
from biotracker.schema import Report, SourceKind, Tlp, as_utc
from biotracker.schema.models import iso3_codes

_BASE = "https://raw.githubusercontent.com/fbranda/avian-flu/main"

#: Header signature -> table name.
_TABLES = {
    "Confirmed date": "europe",
    "Start date collected": "woah_period",
    "Date Detected": "us_mammals",
    "Year": "human_cases",
}

#: WOAH classification -> host class used across Biotracker.
_HOSTS = {
    "farm": "poultry",
    "backyard": "poultry",
    "domestic birds": "poultry",
    "captive birds": "captive birds",
    "wild birds": "wild birds",
}


def _strain(text: str) -> str:
    text = text.strip().removeprefix("A(").removesuffix(")")
    return text or "not typed"


def _host(classification: str) -> str:
    """The project's host class for a WOAH classification ("Farm" -> poultry); unknown ones as written."""
    value = classification.strip().lower()
    return _HOSTS.get(value, value)


def _date(text: str, column: str) -> dt.datetime:
    try:
        return as_utc(dt.date.fromisoformat(text.strip()))
    except ValueError:
        raise RecordError(f"{column} {text!r} is not an ISO date (YYYY-MM-DD)") from None


def _iso3(name: str) -> str:
    code = country_iso3(name)
    if code is None:
        raise RecordError(f"country {name!r} is not a known country name; add an alias to the geo vocabulary")
    return code


class HpaiOutbreaks(CsvConnector):
    """HPAI events in birds and mammals and human H5N1 cases, as published CSV tables."""

    name = "hpai_outbreaks"
    title = "HPAI outbreak tables (Europe, Africa, Asia, US mammals, human H5N1 cases)"
    kind = SourceKind.VETERINARY
    url = f"{_BASE}/Europe/europe-outbreaks.csv"
    primary_key = ("_key",)
    cursor_field = None  # snapshot tables: every fetch returns the whole table
    tlp = Tlp.CLEAR
    terms = "https://github.com/fbranda/avian-flu (data compiled from ADIS, WOAH, USDA APHIS and WHO)"
    cadence = "@daily"

    def start_urls(self, window: object) -> list[str]:
        return [
            f"{_BASE}/Europe/europe-outbreaks.csv",
            f"{_BASE}/Africa/africa-outbreaks.csv",
            f"{_BASE}/Asia/asia-outbreaks.csv",
            f"{_BASE}/Americas/USA/hpai-mammals.csv",
            f"{_BASE}/human-cases.csv",
        ]

    def records(self, body: bytes) -> Iterator[dict[str, Any] | BadRecord]:
        seen: dict[str, int] = {}
        table: str | None = None
        for item in super().records(body):
            if isinstance(item, BadRecord):
                yield item
                continue
            if table is None:
                table = next((t for col, t in _TABLES.items() if col in item), None)
                if table is None:
                    raise RecordError(
                        f"unknown HPAI table with columns {sorted(item)[:8]}; update the connector"
                    )
            values = [table] + [str(v) for k, v in item.items() if k != "_line"]
            digest = hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:16]
            seen[digest] = seen.get(digest, 0) + 1  # identical rows stay distinct, in file order
            yield item | {"_table": table, "_key": f"{table}:{digest}:{seen[digest]}"}

    def to_report(self, record: dict[str, Any]) -> Report | None:
        table = record.get("_table")
        key = self.record_id(record)
        if table == "europe":
            return self._europe(key, record)
        if table == "woah_period":
            return self._woah_period(key, record)
        if table == "us_mammals":
            return self._us_mammals(key, record)
        if table == "human_cases":
            return self._human_cases(key, record)
        raise RecordError(f"record has no known _table ({table!r})")

    def _report(self, key: str, **fields: Any) -> Report:
        return Report(
            source=self.name, source_id=key, language="en", tlp=self.tlp, disease="Avian influenza", **fields
        )

    def _europe(self, key: str, r: dict[str, Any]) -> Report | None:
        outbreaks = parse_count(r["Outbreaks"], "Outbreaks", required=True)
        if outbreaks == 0:
            return None
        when = _date(r["Confirmed date"], "Confirmed date")
        strain = _strain(r["HPAI strain"])
        host = _host(r["WOAH Classification"])
        return self._report(
            key,
            url=f"{_BASE}/Europe/europe-outbreaks.csv",
            title=f"HPAI {strain} in {host}, {r['Country'].strip()} ({outbreaks} outbreak{'s' * (outbreaks > 1)})",
            published_at=when,
            observed_at=when,
            pathogen=f"Influenza A virus ({strain})",
            host=host,
            country_iso3=_iso3(r["Country"]),
            lat=parse_coordinate(r["Lat"], LATITUDE, "Lat", strict=False),
            lon=parse_coordinate(r["Long"], LONGITUDE, "Long", strict=False),
            evidence={"outbreaks": outbreaks},
        )

    def _woah_period(self, key: str, r: dict[str, Any]) -> Report | None:
        outbreaks = parse_count(r["New outbreaks"], "New outbreaks", required=True)
        if outbreaks == 0:
            return None
        end = _date(r["End date collected"], "End date collected")
        strain = _strain(r["HPAI strain"])
        host = _host(r["WOAH Classification"])
        # Some rows swap the ISO and numeric code columns ("704","VNM"): take whichever is a real code.
        codes = [r["ISO code"].strip().upper(), r["Country code"].strip().upper()]
        iso = next((c for c in codes if c in iso3_codes()), None) or _iso3(r["Country"])
        region = r["Region"].strip().lower()
        return self._report(
            key,
            url=f"{_BASE}/{region.title()}/{region}-outbreaks.csv",
            title=f"HPAI {strain} in {host}, {r['Country'].strip()}: {outbreaks} new outbreaks "
            f"({r['Start date collected']} to {r['End date collected']})",
            published_at=end,
            observed_at=end,
            pathogen=f"Influenza A virus ({strain})",
            host=host,
            country_iso3=iso,
            lat=parse_coordinate(r["Lat"], LATITUDE, "Lat", strict=False),
            lon=parse_coordinate(r["Long"], LONGITUDE, "Long", strict=False),
            evidence={"outbreaks": outbreaks},
        )

    def _us_mammals(self, key: str, r: dict[str, Any]) -> Report:
        detected = _date(r["Date Detected"], "Date Detected")
        try:
            collected = _date(r["Date Collected"], "Date Collected")
        except RecordError:
            collected = detected
        species = r["Species"].strip()
        strain = _strain(r["HPAI Strain"])
        return self._report(
            key,
            url=f"{_BASE}/Americas/USA/hpai-mammals.csv",
            title=f"HPAI {strain} detected in {species.lower()}, {r['County'].strip()} County, {r['State'].strip()}, USA",
            published_at=detected,
            observed_at=collected,
            pathogen=f"Influenza A virus ({strain})",
            host=species.lower(),
            country_iso3="USA",
            admin_area=f"{r['State'].strip()}, {r['County'].strip()}",
            cases=1,
        )

    def _human_cases(self, key: str, r: dict[str, Any]) -> Report | None:
        cases = parse_count(r["Cases"], "Cases", required=True)
        deaths = parse_count(r["Deaths"], "Deaths", required=True)
        if cases == 0 and deaths == 0:
            return None
        year = parse_count(r["Year"], "Year", required=True)
        if not 1990 <= year <= 2100:
            raise RecordError(f"Year {year} is outside 1990-2100")
        # The table is yearly: the report stands at the year's last day, when the count is complete.
        when = as_utc(dt.date(year, 12, 31))
        return self._report(
            key,
            url=r.get("Source") or f"{_BASE}/human-cases.csv",
            title=f"Human avian influenza A(H5N1): {cases} cases, {deaths} deaths in {r['Country'].strip()} in {year}",
            published_at=when,
            observed_at=when,
            pathogen="Influenza A virus (H5N1)",
            host="human",
            country_iso3=_iso3(r["Country"]),
            lat=parse_coordinate(r["Lat"], LATITUDE, "Lat", strict=False),
            lon=parse_coordinate(r["Long"], LONGITUDE, "Long", strict=False),
            cases=cases,
            deaths=deaths,
        )
