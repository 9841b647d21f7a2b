"""Group reports into incidents: a pure function over report-like records (no database, no clock).

Four kinds of evidence link two reports (see docs/CLUSTERING.md for the full rules):

``same_url``      the same canonical URL, from different items (exact duplicate);
``same_content``  the same normalised title and text within the time gap (exact duplicate);
``near_duplicate`` MinHash-estimated Jaccard of word shingles >= the threshold, from different
                  sources, within the time gap (a relayed or lightly edited story);
``same_event``    the same agent/disease key and country, at most ``gap_days`` after the previous
                  such report (single linkage in time: a chain of reports, each within the gap of
                  the last, is one incident).

Links are applied in that order (near-duplicates by decreasing similarity). A link is refused when
it would put two different known agents, or two different known countries, into one incident;
a report an analyst has detached (``detached``) takes part in no link. Incidents are the
connected components. Pairs an analyst merged (``merged_pairs``, one report of each incident) are
linked last, whatever the rules say (the analyst's judgement overrides a conflict or the span).
Records are first sorted by (time, report_id), so the result does not
depend on the order they come in; the incident id is derived from the earliest member (the
*seed*), so an incident keeps its id when later reports join it. A report that predates the seed
or bridges two incidents changes that: the merged incident takes the id of the earliest report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from array import array
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from biotracker.incidents.dedup import MinHasher, canonical_url, content_text, similarity
from biotracker.incidents.reliability import (
    SOURCE_TIERS,
    SourceTier,
    best_tier,
    combined_reliability,
    tier_of,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NO_TIME = np.iinfo(np.int64).max // 4


def incident_id_for(report_id: str) -> str:
    """The id of the incident whose earliest report is ``report_id`` (v1's one-report ids agree)."""
    return "inc-" + hashlib.sha256(report_id.encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """What clustering needs of a report. ``at`` is when the event was observed, else published;
    ``agent`` is the agent (or, failing that, disease) key; ``text`` is what follows the title
    (summary and body) for duplicate detection."""

    report_id: str
    source: str
    at: dt.datetime | None
    title: str
    text: str = ""
    url: str | None = None
    agent: str | None = None
    country_iso3: str | None = None


@dataclass(frozen=True)
class ClusterConfig:
    gap_days: float = 14.0
    #: longest an incident may last from its first to its last report (None: no limit); a
    #: season-long epizootic becomes a sequence of incidents rather than one
    max_span_days: float | None = 90.0
    near_duplicate_threshold: float = 0.7
    num_perm: int = 64
    bands: int = 16
    #: how many earlier members of an LSH bucket each report is compared with
    bucket_lookback: int = 3

    def __post_init__(self) -> None:
        if self.gap_days < 0 or not 0 < self.near_duplicate_threshold <= 1:
            raise ValueError("gap_days must be >= 0 and near_duplicate_threshold in (0, 1]")
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})")


class LinkKind(str, Enum):
    SEED = "seed"
    SAME_URL = "same_url"
    SAME_CONTENT = "same_content"
    NEAR_DUPLICATE = "near_duplicate"
    SAME_EVENT = "same_event"
    DETACHED = "detached"
    MERGED = "merged"


_KINDS = list(LinkKind)
_CODE = {k: i for i, k in enumerate(_KINDS)}
DUPLICATE_KINDS = frozenset({LinkKind.SAME_URL, LinkKind.SAME_CONTENT, LinkKind.NEAR_DUPLICATE})


@dataclass(frozen=True, slots=True)
class Link:
    """Why ``report_id`` is in its incident: the link to ``linked_to`` that brought it in."""

    report_id: str
    kind: LinkKind
    linked_to: str | None
    reason: str
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Cluster:
    incident_id: str
    seed: str
    report_ids: tuple[str, ...]  # in (time, report_id) order
    links: tuple[Link, ...]
    sources: tuple[str, ...]
    #: sources with at least one report that is not a duplicate of another source's report
    independent_sources: tuple[str, ...]
    reliability: float
    tier: str | None

    @property
    def corroboration(self) -> int:
        return len(self.independent_sources)


@dataclass
class ClusterResult:
    """Columnar result (one entry per record, in ``records`` order); ``clusters()`` gives objects."""

    records: list[ReportRecord]
    config: ClusterConfig
    label: np.ndarray  # cluster number per record (clusters numbered in seed order)
    parent: np.ndarray  # record index of the link that brought it in, -1 for seeds
    kind: np.ndarray  # LinkKind code per record
    detail: np.ndarray  # days apart (same_event) or estimated Jaccard (near_duplicate)
    duplicate_of: np.ndarray  # earliest report of its duplicate group, -1 when none/itself
    seeds: np.ndarray  # record index of each cluster's seed
    tiers: Mapping[str, SourceTier]
    stats: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seeds)

    def clusters(self) -> Iterator[Cluster]:
        order = np.argsort(self.label, kind="stable")
        bounds = np.flatnonzero(np.diff(self.label[order])) + 1
        for members in np.split(order, bounds):
            if len(members):
                yield self._cluster(members.tolist())

    def _cluster(self, members: list[int]) -> Cluster:
        recs = self.records
        seed = members[0]
        links = tuple(self._link(i) for i in members)
        sources = sorted({recs[i].source for i in members})
        dup = self.duplicate_of
        independent = sorted(
            {recs[i].source for i in members if dup[i] < 0 or recs[dup[i]].source == recs[i].source}
        )
        tiers = [self.tiers.get(s) or tier_of(s) for s in independent]
        best = best_tier(tiers)
        return Cluster(
            incident_id=incident_id_for(recs[seed].report_id),
            seed=recs[seed].report_id,
            report_ids=tuple(recs[i].report_id for i in members),
            links=links,
            sources=tuple(sources),
            independent_sources=tuple(independent),
            reliability=combined_reliability(t.weight for t in tiers),
            tier=best.name if best else None,
        )

    def _link(self, i: int) -> Link:
        recs = self.records
        kind = _KINDS[self.kind[i]]
        p = int(self.parent[i])
        other = recs[p] if p >= 0 else None
        d = int(self.duplicate_of[i])
        dup = recs[d].report_id if d >= 0 else None
        g = self.config.gap_days
        if kind is LinkKind.SEED:
            reason = "earliest report of the incident; the incident id is derived from it"
        elif kind is LinkKind.DETACHED:
            reason = (
                "kept apart by an analyst override (biotracker incidents split); "
                "links to other reports ignored"
            )
        elif other is None:
            raise ValueError(f"{kind} link of report {recs[i].report_id} has no parent report")
        elif kind is LinkKind.MERGED:
            reason = (
                f"merged with the incident of {other.report_id} by an analyst "
                "(an override later clustering runs respect; undo it to separate them again)"
            )
        elif kind is LinkKind.SAME_URL:
            reason = f"exact duplicate of {other.report_id}: same canonical URL {canonical_url(recs[i].url)}"
        elif kind is LinkKind.SAME_CONTENT:
            reason = (
                f"exact duplicate of {other.report_id}: same title and text, {self.detail[i]:.1f} days apart"
            )
        elif kind is LinkKind.NEAR_DUPLICATE:
            reason = (
                f"near-duplicate of {other.report_id} ({other.source}): estimated word-shingle Jaccard "
                f"{self.detail[i]:.2f} >= {self.config.near_duplicate_threshold:.2f}"
            )
        else:
            reason = (
                f"same agent ({recs[i].agent}) and country ({recs[i].country_iso3}) "
                f"as {other.report_id}, "
                f"{self.detail[i]:.1f} days apart (<= {g:g})"
            )
        return Link(recs[i].report_id, kind, other.report_id if other else None, reason, dup)


class _Components:
    """Union-find over record indices (the root of a component is its smallest index, its seed)
    that refuses merges of components with different known agents or countries ("conflict"), or
    whose reports together would span more than ``span`` seconds ("span")."""

    def __init__(
        self, agent: list[int], country: list[int], at: list[int] | None = None, span: int | None = None
    ) -> None:
        self.up = list(range(len(agent)))
        self.agent = agent
        self.country = country
        self.lo = at
        self.hi = list(at) if at is not None else None
        self.span = span

    def find(self, x: int) -> int:
        up = self.up
        while up[x] != x:
            up[x] = up[up[x]]
            x = up[x]
        return x

    def union(self, a: int, b: int, constrained: bool = True) -> bool | str | None:
        """True if merged, None if already together, "conflict" or "span" if refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        if rb < ra:
            ra, rb = rb, ra
        ga, gb, ca, cb = self.agent[ra], self.agent[rb], self.country[ra], self.country[rb]
        if constrained:
            if (ga >= 0 and gb >= 0 and ga != gb) or (ca >= 0 and cb >= 0 and ca != cb):
                return "conflict"
            if self.span is not None and self.lo is not None and self.hi is not None:
                ha, hb = self.hi[ra], self.hi[rb]
                hi = hb if ha == _NO_TIME else ha if hb == _NO_TIME else max(ha, hb)
                if hi != _NO_TIME and hi - min(self.lo[ra], self.lo[rb]) > self.span:
                    return "span"
        self.up[rb] = ra
        self.agent[ra] = ga if ga >= 0 else gb
        self.country[ra] = ca if ca >= 0 else cb
        if self.lo is not None and self.hi is not None:
            self.lo[ra] = min(self.lo[ra], self.lo[rb])
            hi_a, hi_b = self.hi[ra], self.hi[rb]
            self.hi[ra] = hi_b if hi_a == _NO_TIME else hi_a if hi_b == _NO_TIME else max(hi_a, hi_b)
        return True


def _codes(values: Sequence[object | None]) -> np.ndarray:
    table: dict[object, int] = {}
    return np.fromiter(
        (-1 if v is None else table.setdefault(v, len(table)) for v in values),
        dtype=np.int64,
        count=len(values),
    )


def _seconds(at: dt.datetime | None) -> int:
    if at is None:
        return _NO_TIME
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return int((at - _EPOCH).total_seconds())


def _key64(text: str | None) -> int:
    """A 64-bit fingerprint of ``text`` (0 for nothing): compact keys for grouping a million reports."""
    if not text:
        return 0
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") or 1


def _duplicate_edges(
    key: np.ndarray, source: np.ndarray, at: np.ndarray, gap: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges between reports sharing ``key`` (0 = none), each to the previous one in time order.

    A key several reports of one source share is a listing, table page or template, not one
    document, so such groups give no edges. With ``gap``, only reports at most ``gap`` apart.
    """
    idx = np.flatnonzero(key != 0)
    o = idx[np.lexsort((idx, key[idx]))]
    k = key[o]
    same = np.flatnonzero(k[1:] == k[:-1])
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not len(same):
        return empty
    us, vs, ds = [], [], []
    members = np.union1d(same, same + 1)
    bounds = np.flatnonzero(np.diff(k[members]) != 0) + 1
    for group in np.split(o[members], bounds):
        if len(set(source[group].tolist())) != len(group):
            continue
        for a, b in zip(group[:-1].tolist(), group[1:].tolist()):
            if gap is None:
                us.append(group[0])
                vs.append(b)
                ds.append(0.0)
            elif at[b] != _NO_TIME and at[a] != _NO_TIME and at[b] - at[a] <= gap:
                us.append(a)
                vs.append(b)
                ds.append((at[b] - at[a]) / 86400)
    if not us:
        return empty
    return np.asarray(us, dtype=np.int64), np.asarray(vs, dtype=np.int64), np.asarray(ds, dtype=np.float64)


class _Texts(Sequence[str]):
    """The text of each unique content, built when the hasher asks for it (not a million at once)."""

    def __init__(self, recs: list[ReportRecord], first: np.ndarray) -> None:
        self.recs, self.first = recs, first

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, i):  # untyped on purpose: int-only indexing, Sequence also declares slices
        r = self.recs[int(self.first[i])]
        return f"{r.title} {r.text}"


def _sort_key(r: ReportRecord) -> tuple[int, str]:
    return (_seconds(r.at), r.report_id)


def url_key(record: ReportRecord) -> int:
    """The fingerprint of the record's canonical URL (0: none): the ``same_url`` grouping key."""
    return _key64(canonical_url(record.url))


def content_key(record: ReportRecord) -> int:
    """The fingerprint of the record's words (0: none): the ``same_content`` grouping key."""
    return _key64(content_text(record.title, record.text))


class Fingerprints:
    """Each record's URL and content keys and MinHash sketch, computed once and reused by every
    ``cluster_reports`` call given this object: a run clusters nearly the same records once per
    visibility scope, and hashing them is most of the clustering's cost. Keyed by report id (a
    record's fingerprints depend on its fields only), so hold one for one run's records, not
    across runs that may change a report's text."""

    def __init__(self, config: ClusterConfig = ClusterConfig()) -> None:
        self.num_perm, self.bands = config.num_perm, config.bands
        self.hasher = MinHasher(config.num_perm)
        self._keys: dict[str, tuple[int, int]] = {}
        self._row: dict[str, int] = {}
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._sig = np.zeros((0, config.num_perm), dtype=np.uint16)
        self._bk = np.zeros((0, config.bands), dtype=np.uint32)
        self._has = np.zeros(0, dtype=bool)

    def fits(self, config: ClusterConfig) -> bool:
        return (self.num_perm, self.bands) == (config.num_perm, config.bands)

    def keys(self, recs: Sequence[ReportRecord]) -> tuple[np.ndarray, np.ndarray]:
        """URL and content keys of ``recs`` (uint64 arrays in their order)."""
        cache = self._keys
        for r in recs:
            if r.report_id not in cache:
                cache[r.report_id] = (url_key(r), content_key(r))
        pairs = np.array([cache[r.report_id] for r in recs], dtype=np.uint64).reshape(-1, 2)
        return pairs[:, 0].copy(), pairs[:, 1].copy()

    def sketch(self, recs: Sequence[ReportRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What ``MinHasher.sketch`` gives for the texts of ``recs``, hashing only records not seen before."""
        new = [r for r in dict.fromkeys(r.report_id for r in recs) if r not in self._row]
        if new:
            by_id = {r.report_id: r for r in recs}
            texts = [f"{by_id[i].title} {by_id[i].text}" for i in new]
            sig, bk, has = self.hasher.sketch(texts, self.bands)
            start = len(self._has)
            self._row.update((rid, start + k) for k, rid in enumerate(new))
            self._sig = np.concatenate([self._sig, sig])
            self._bk = np.concatenate([self._bk, bk])
            self._has = np.concatenate([self._has, has])
        rows = np.fromiter((self._row[r.report_id] for r in recs), dtype=np.int64, count=len(recs))
        return self._sig[rows], self._bk[rows], self._has[rows]


def cluster_reports(
    records: Sequence[ReportRecord],
    config: ClusterConfig = ClusterConfig(),
    detached: frozenset[str] | set[str] = frozenset(),
    tiers: Mapping[str, SourceTier] | None = None,
    merged_pairs: Collection[tuple[str, str]] = (),
    fingerprints: Fingerprints | None = None,
) -> ClusterResult:
    """Cluster ``records`` into incidents; the same records (in any order) give the same result.
    ``fingerprints`` shared by several calls hashes each record once (the result is the same)."""
    if fingerprints is not None and not fingerprints.fits(config):
        raise ValueError("fingerprints were made for another num_perm/bands than this config")
    recs = sorted(records, key=_sort_key)
    n = len(recs)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ClusterResult(
            [],
            config,
            empty,
            empty,
            empty.astype(np.int8),
            empty.astype(np.float32),
            empty,
            empty,
            dict(tiers) if tiers is not None else dict(SOURCE_TIERS),
            {"reports": 0},
        )
    if len({r.report_id for r in recs}) != n:
        raise ValueError("report ids must be unique; the same report was passed twice")
    at = np.fromiter((_seconds(r.at) for r in recs), dtype=np.int64, count=n)
    timed = at != _NO_TIME
    gap = int(config.gap_days * 86400)
    source = _codes([r.source for r in recs])
    agent = _codes([r.agent for r in recs])
    country = _codes([r.country_iso3 for r in recs])
    is_detached = np.fromiter((r.report_id in detached for r in recs), dtype=bool, count=n)
    stats: dict[str, int] = {}

    # exact duplicates: canonical URL (at any time) -------------------------------------------
    if fingerprints is not None:
        url_keys, content_keys = fingerprints.keys(recs)
    else:
        url_keys = np.fromiter((url_key(r) for r in recs), dtype=np.uint64, count=n)
        content_keys = np.fromiter((content_key(r) for r in recs), dtype=np.uint64, count=n)
    url_edges = _duplicate_edges(url_keys, source, at, None)

    # exact duplicates: same normalised content, within the gap ------------------------------
    content_edges = _duplicate_edges(content_keys, source, np.where(timed, at, _NO_TIME), gap)
    unique_content, first, content = np.unique(content_keys, return_index=True, return_inverse=True)
    content = content.astype(np.int64).reshape(-1)
    if len(unique_content) and unique_content[0] == 0:  # no words at all: no content
        content -= 1
        first = first[1:]
    del url_keys, content_keys, unique_content

    # same event: same agent and country, consecutive reports within the gap ----------------
    keyed = np.flatnonzero((agent >= 0) & (country >= 0) & timed & ~is_detached)
    key = agent[keyed] * (int(country.max()) + 2) + country[keyed]
    order = keyed[np.argsort(key, kind="stable")]  # time order kept inside each key
    skey = agent[order] * (int(country.max()) + 2) + country[order]
    step = np.diff(at[order])
    chain = np.flatnonzero((skey[1:] == skey[:-1]) & (step <= gap))
    event_edges = (order[chain], order[chain + 1], step[chain] / 86400)
    del keyed, key, order, skey, step, chain

    # near duplicates: MinHash LSH over unique contents, across sources, within the gap ---------
    if fingerprints is not None:
        sig, bk, has = fingerprints.sketch([recs[int(i)] for i in first])
    else:
        sig, bk, has = MinHasher(config.num_perm).sketch(_Texts(recs, first), config.bands)
    eligible = np.flatnonzero((content >= 0) & timed & ~is_detached)
    eligible = eligible[has[content[eligible]]]
    # similar pairs as one int64 each (left * n + right, left < right), deduplicated per band
    pairs = np.zeros(0, dtype=np.int64)
    for b in range(config.bands):
        k = bk[content[eligible], b]
        o = eligible[np.argsort(k, kind="stable")]
        ko = bk[content[o], b]
        found = [pairs]
        for back in range(1, config.bucket_lookback + 1):
            left, right = o[:-back], o[back:]
            ok = (ko[:-back] == ko[back:]) & (source[left] != source[right]) & (at[right] - at[left] <= gap)
            if ok.any():
                lo, hi = np.minimum(left[ok], right[ok]), np.maximum(left[ok], right[ok])
                similar = similarity(sig, content[lo], content[hi]) >= config.near_duplicate_threshold - 1e-9
                found.append(lo[similar] * n + hi[similar])  # verified at once: few pairs are kept
        pairs = np.unique(np.concatenate(found))
    del bk, eligible
    near_edges = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if len(pairs):
        u, v = pairs // n, pairs % n
        del pairs
        sim = similarity(sig, content[u], content[v])
        keep = sim >= config.near_duplicate_threshold - 1e-9
        u, v, sim = u[keep], v[keep], sim[keep]
        o = np.lexsort((v, u, -sim))
        near_edges = (u[o], v[o], sim[o].astype(np.float64).round(4))
    del sig
    index = {r.report_id: i for i, r in enumerate(recs)}
    forced = sorted(
        (min(index[a], index[b]), max(index[a], index[b]))
        for a, b in merged_pairs
        if a in index and b in index and a != b and not (is_detached[index[a]] or is_detached[index[b]])
    )
    merged_edges = (
        np.array([a for a, _ in forced], dtype=np.int64),
        np.array([b for _, b in forced], dtype=np.int64),
        np.zeros(len(forced)),
    )
    del index, forced

    # components, in rule order ---------------------------------------------------------------
    span = int(config.max_span_days * 86400) if config.max_span_days is not None else None
    comps = _Components(agent.tolist(), country.tolist(), at.tolist(), span)
    stats["span_cuts"] = 0
    acc_a, acc_b, acc_code, acc_detail = array("q"), array("q"), array("b"), array("f")
    for kind, (us, vs, ds) in (
        (LinkKind.SAME_URL, url_edges),
        (LinkKind.SAME_CONTENT, content_edges),
        (LinkKind.NEAR_DUPLICATE, near_edges),
        (LinkKind.SAME_EVENT, event_edges),
        (LinkKind.MERGED, merged_edges),
    ):
        code = _CODE[kind]
        by_rules = kind is not LinkKind.MERGED
        merged = refused = 0
        for s0 in range(0, len(us), 100_000):
            for a, b, d in zip(
                us[s0 : s0 + 100_000].tolist(), vs[s0 : s0 + 100_000].tolist(), ds[s0 : s0 + 100_000].tolist()
            ):
                if is_detached[a] or is_detached[b]:
                    continue
                done = comps.union(a, b, constrained=by_rules)
                if done is True:
                    acc_a.append(a)
                    acc_b.append(b)
                    acc_code.append(code)
                    acc_detail.append(d)
                    merged += 1
                elif done == "conflict":
                    refused += 1
                elif done == "span":
                    stats["span_cuts"] += 1
        stats[f"{kind.value}_links"] = merged
        stats[f"{kind.value}_refused"] = refused
    del url_edges, content_edges, near_edges, event_edges, merged_edges
    e_a = np.frombuffer(acc_a, dtype=np.int64) if len(acc_a) else np.zeros(0, np.int64)
    e_b = np.frombuffer(acc_b, dtype=np.int64) if len(acc_b) else np.zeros(0, np.int64)
    e_code = np.frombuffer(acc_code, dtype=np.int8) if len(acc_code) else np.zeros(0, np.int8)
    e_detail = np.frombuffer(acc_detail, dtype=np.float32) if len(acc_detail) else np.zeros(0, np.float32)

    root = np.fromiter((comps.find(i) for i in range(n)), dtype=np.int64, count=n)
    del comps

    # duplicate groups (exact or near), each headed by its earliest report -------------------------
    dups = _Components([-1] * n, [-1] * n)
    dup_codes = np.array([_CODE[k] for k in DUPLICATE_KINDS], dtype=np.int8)
    is_dup = np.isin(e_code, dup_codes)
    for a, b in zip(e_a[is_dup].tolist(), e_b[is_dup].tolist()):
        dups.union(a, b, constrained=False)
    duplicate_of = np.fromiter((dups.find(i) for i in range(n)), dtype=np.int64, count=n)
    duplicate_of[duplicate_of == np.arange(n)] = -1
    stats["duplicates"] = int((duplicate_of >= 0).sum())
    del dups

    seeds = np.flatnonzero(root == np.arange(n))  # union keeps the smallest index as root = seed
    label = np.searchsorted(seeds, root)

    # explain: root each component's tree of accepted links at its seed ---------------------------
    parent = np.full(n, -1, dtype=np.int64)
    kind_arr = np.full(n, _CODE[LinkKind.SEED], dtype=np.int8)
    kind_arr[is_detached] = _CODE[LinkKind.DETACHED]
    detail = np.zeros(n, dtype=np.float32)
    if len(e_a):
        ecode, edet = e_code, e_detail
        ends = np.concatenate([e_a, e_b])
        other = np.concatenate([e_b, e_a])
        eidx = np.concatenate([np.arange(len(e_a)), np.arange(len(e_a))])
        o = np.lexsort((other, ends))
        ends, other, eidx = ends[o], other[o], eidx[o]
        start = np.searchsorted(ends, np.arange(n + 1))
        del ends, o
        # numpy's stubs declare ndarray.__buffer__ only for Python >= 3.12, so mypy sees no Buffer here.
        other_l, eidx_l, start_l = memoryview(other), memoryview(eidx), memoryview(start)  # type: ignore[arg-type]
        seen = np.zeros(n, dtype=bool)
        for seed in seeds.tolist():
            if start_l[seed] == start_l[seed + 1]:
                continue
            seen[seed] = True
            queue = deque([seed])
            while queue:
                node = queue.popleft()
                for p in range(start_l[node], start_l[node + 1]):
                    nbr = other_l[p]
                    if not seen[nbr]:
                        seen[nbr] = True
                        parent[nbr] = node
                        kind_arr[nbr] = ecode[eidx_l[p]]
                        detail[nbr] = edet[eidx_l[p]]
                        queue.append(nbr)
    stats["reports"] = n
    stats["incidents"] = len(seeds)
    return ClusterResult(
        recs,
        config,
        label,
        parent,
        kind_arr,
        detail,
        duplicate_of,
        seeds,
        dict(tiers) if tiers is not None else dict(SOURCE_TIERS),
        stats,
    )
