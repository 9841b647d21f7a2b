"""Blocking keys: which stored reports can link to a given report, found by index probes.

Every link rule of ``cluster_reports`` (docs/CLUSTERING.md) needs two reports to share something:

``URL``      the canonical URL (``same_url``, at any time);
``CONTENT``  the words of title and text (``same_content``, within ``gap_days``);
``EVENT``    the agent key and the country (``same_event``, within ``gap_days``);
``BAND``     one of the MinHash LSH band keys (``near_duplicate``, within ``gap_days``).

``report_keys`` (migration 0017) holds one row per report and key, with the report's event
time, so an incremental run reads the reports that share a key with its new ones (and, through
incidents, their members) instead of every report within ``gap_days`` of them: the neighbourhood
then follows the links the new reports can make, not the store's density. A report's keys are
written when it is clustered as a new or changed report, and for every report lacking them by a
full build (and by the migration for the reports stored before it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from enum import IntEnum

from sqlalchemy import Connection, delete, exists, select

from biotracker.db.tables import report_keys, reports
from biotracker.incidents.cluster import Fingerprints, ReportRecord, as_seconds

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_CHUNK = 500
#: records hashed per batch when keying many at once (a full build, the migration)
_BATCH = 20_000


class KeyKind(IntEnum):
    URL = 1
    CONTENT = 2
    EVENT = 3
    BAND = 4


_LOW60 = (1 << 60) - 1


def _mix(kind: KeyKind, value: int) -> int:
    """A signed 64-bit key: the kind in the top bits, 60 bits of the value's fingerprint below
    (kinds never share a key)."""
    key = (kind.value << 60) | (value & _LOW60)
    return key - (1 << 64) if key >= 1 << 63 else key


def _fingerprint(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def record_keys(
    records: Sequence[ReportRecord], prints: Fingerprints
) -> list[tuple[str, KeyKind, int, dt.datetime | None]]:
    """(report id, kind, key, event time) of each key of ``records`` (keys a report cannot link
    by are left out: a report without an event time links by its URL only)."""
    if not records:
        return []
    urls, contents = prints.keys(records)
    _, bands, has = prints.sketch(records)
    out: list[tuple[str, KeyKind, int, dt.datetime | None]] = []
    for i, r in enumerate(records):
        keys: list[tuple[KeyKind, int]] = []
        if urls[i]:
            keys.append((KeyKind.URL, _mix(KeyKind.URL, int(urls[i]))))
        if r.at is not None:
            if contents[i]:
                keys.append((KeyKind.CONTENT, _mix(KeyKind.CONTENT, int(contents[i]))))
            if r.agent is not None and r.country_iso3 is not None:
                keys.append((KeyKind.EVENT, _mix(KeyKind.EVENT, _fingerprint(f"{r.agent}|{r.country_iso3}"))))
            if has[i]:
                keys += [(KeyKind.BAND, _mix(KeyKind.BAND, b << 32 | int(k))) for b, k in enumerate(bands[i])]
        out += [(r.report_id, kind, key, r.at) for kind, key in dict.fromkeys(keys)]
    return out


def store_keys(conn: Connection, records: Sequence[ReportRecord], prints: Fingerprints | None = None) -> None:
    """Replace the stored keys of ``records`` with their current ones (their text may have changed).
    Without ``prints``, records are hashed in batches with fresh fingerprints (bounded memory)."""
    ids = sorted({r.report_id for r in records})
    for i in range(0, len(ids), _CHUNK):
        conn.execute(delete(report_keys).where(report_keys.c.report_id.in_(ids[i : i + _CHUNK])))
    step = len(records) if prints is not None else _BATCH
    for s in range(0, len(records), max(step, 1)):
        part = records[s : s + step]
        keys = record_keys(part, prints if prints is not None else Fingerprints())
        rows = [{"report_id": r, "kind": int(k), "key": v, "at": at} for r, k, v, at in keys]
        if rows:
            conn.execute(report_keys.insert(), rows)


def unkeyed(conn: Connection) -> set[str]:
    """Reports without any stored key (stored since the last full build and never clustered)."""
    has_key = exists().where(report_keys.c.report_id == reports.c.report_id)
    return set(conn.execute(select(reports.c.report_id).where(~has_key)).scalars())


def _intervals(times: Iterable[int], reach: int) -> list[tuple[int, int]]:
    """Event-time ranges within ``reach`` seconds of the given times, overlapping ones merged."""
    out: list[tuple[int, int]] = []
    for t in sorted(times):
        if out and t - reach <= out[-1][1]:
            out[-1] = (out[-1][0], t + reach)
        else:
            out.append((t - reach, t + reach))
    return out


def _time(seconds: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=seconds)


def linkable(
    conn: Connection, seeds: Iterable[ReportRecord], prints: Fingerprints, gap: dt.timedelta
) -> set[str]:
    """Ids of the stored reports that can link to one of ``seeds`` directly: they share a key and
    lie within ``gap`` of such a seed in event time. A URL links at any time; here, as long as the
    report lies within ``gap`` of any seed (reports further away are not probed: the index on
    (key, event time) keeps the probe to the seeds' time ranges however large a templated URL's or
    text's group grows)."""
    times: dict[int, list[int]] = defaultdict(list)  # key -> event times of the seeds having it
    kinds: dict[int, KeyKind] = {}
    for _, kind, key, at in record_keys(list(seeds), prints):
        kinds[key] = kind
        if at is not None:
            times[key].append(as_seconds(at))
    for values in times.values():
        values.sort()
    reach = int(gap.total_seconds())
    found: set[str] = set()
    keys = sorted(kinds)
    cols = (report_keys.c.report_id, report_keys.c.key, report_keys.c.at)
    for low, high in _intervals((t for ts in times.values() for t in ts), reach):
        for i in range(0, len(keys), _CHUNK):
            query = select(*cols).where(
                report_keys.c.key.in_(keys[i : i + _CHUNK]),
                report_keys.c.at >= _time(low),
                report_keys.c.at <= _time(high),
            )
            for rid, key, at in conn.execute(query):
                if rid in found:
                    continue
                if kinds[key] is KeyKind.URL:
                    found.add(rid)
                    continue
                t, near = as_seconds(at), times[key]
                j = bisect_left(near, t - reach)  # the first seed not more than ``gap`` before it
                if j < len(near) and near[j] <= t + reach:
                    found.add(rid)
    return found
