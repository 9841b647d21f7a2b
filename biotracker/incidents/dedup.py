"""Duplicate evidence between reports: canonical URLs, content hashes and MinHash signatures.

Exact duplicates share a canonical URL or the same normalised title and text; near-duplicates
(a story relayed by another outlet with a changed word or two) share most word shingles, which
MinHash estimates without comparing every pair. The MinHash here is vectorised with numpy
(multiply-shift hashing of 32-bit shingle hashes, ``minimum.reduceat`` per record) rather than
datasketch's per-object ``MinHash``/``MinHashLSH``: a million datasketch objects with their LSH
band tables need several gigabytes, these arrays need tens of megabytes. Hashes are seeded
constants (crc32, fixed multipliers), never Python's salted ``hash()``, so signatures are the same
in every process.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ref|src|oc|ved|usg)$", re.IGNORECASE)

#: Shingle text budget: enough for a headline and a lead paragraph.
SHINGLE_CHARS = 1000


_URL = re.compile(r"^([A-Za-z]+)://([^/?#]+)([^?#]*)(?:\?([^#]*))?")
_SLASHES = re.compile(r"/{2,}")


def canonical_url(url: str | None) -> str | None:
    """The URL with what does not change the document removed (scheme, ``www.``, case of the host,
    default port, fragment, tracking parameters, trailing slash, parameter order). None for empty
    or non-HTTP addresses. String operations only: it runs a million times in the benchmark."""
    if not url:
        return None
    m = _URL.match(url.strip())
    if m is None or m.group(1).lower() not in {"http", "https"}:
        return None
    host = m.group(2).lower().rsplit("@", 1)[-1].removeprefix("www.")
    host = host.removesuffix(":80").removesuffix(":443")
    path = _SLASHES.sub("/", m.group(3)).rstrip("/") or "/"
    query = m.group(4)
    if query:
        params = sorted(p for p in query.split("&") if p and not _TRACKING.match(p.split("=", 1)[0]))
        query = "&".join(params)
    return f"{host}{path}?{query}" if query else f"{host}{path}"


def words(text: str) -> list[str]:
    """Lower-case word tokens (Unicode letters and digits), the unit of both hashes below."""
    return _WORD.findall(text.lower())


def content_text(title: str, text: str) -> str:
    """Title and text reduced to their words: what two exact duplicates have in common."""
    return " ".join(words(f"{title} {text}"))


class MinHasher:
    """MinHash signatures over word unigrams and bigrams, ``num_perm`` permutations.

    ``signatures(texts)`` returns a ``(len(texts), num_perm)`` uint32 array and a boolean mask of
    texts that had any words (others have no signature and are never near-duplicates).
    """

    def __init__(self, num_perm: int = 64, seed: int = 20241021, batch_shingles: int = 20_000) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
        self.batch_shingles = batch_shingles
        self._token_hash: dict[str, int] = {}

    def _hashes(self, text: str) -> list[int]:
        cache = self._token_hash
        out = []
        for tok in words(text[:SHINGLE_CHARS]):
            h = cache.get(tok)
            if h is None:
                h = cache[tok] = zlib.crc32(tok.encode())
            out.append(h)
        return out

    def signatures(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        n = len(texts)
        sig = np.full((n, self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        has = np.zeros(n, dtype=bool)
        start = 0
        while start < n:
            flat: list[int] = []
            lengths: list[int] = []
            rows: list[int] = []
            i = start
            while i < n and (len(flat) < self.batch_shingles or not rows):
                hashes = self._hashes(texts[i])
                if hashes:
                    flat.extend(hashes)
                    lengths.append(len(hashes))
                    rows.append(i)
                i += 1
            start = i
            if not rows:
                continue
            sig[rows] = self._minhash(np.asarray(flat, dtype=np.uint64), np.asarray(lengths, dtype=np.int64))
            has[rows] = True
        return sig, has

    def sketch(self, texts: Sequence[str], bands: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Compact signatures for a million texts: the low 16 bits of each MinHash value (equal
        values stay equal; unequal ones collide with probability 1/65536, a negligible bias on the
        estimated similarity), 32-bit LSH band keys from the full values, and the has-words mask."""
        n = len(texts)
        sig = np.zeros((n, self.num_perm), dtype=np.uint16)
        keys = np.zeros((n, bands), dtype=np.uint32)
        has = np.zeros(n, dtype=bool)
        step = max(1, self.batch_shingles // 8)
        for s in range(0, n, step):
            part, part_has = self.signatures(_Slice(texts, s, min(n, s + step)))
            sig[s : s + len(part)] = part.astype(np.uint16)
            k = band_keys(part, bands)
            keys[s : s + len(part)] = (k ^ (k >> np.uint64(32))).astype(np.uint32)
            has[s : s + len(part)] = part_has
        return sig, keys, has

    def _minhash(self, uni: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Signatures of records whose unigram hashes are concatenated in ``uni`` (``lengths`` each)."""
        ends = np.cumsum(lengths)
        starts = ends - lengths
        # bigrams: consecutive unigrams inside one record
        inner = np.ones(len(uni), dtype=bool)
        inner[ends - 1] = False
        bi = (uni[:-1][inner[:-1]] * np.uint64(0x9E3779B1) + uni[1:][inner[:-1]]) & np.uint64(0xFFFFFFFF)
        bi_lengths = lengths - 1
        shingles = np.empty(len(uni) + len(bi), dtype=np.uint64)
        # lay out each record's unigrams then its bigrams contiguously
        rec_len = lengths + bi_lengths
        rec_start = np.cumsum(rec_len) - rec_len
        uni_pos = np.repeat(rec_start - starts, lengths) + np.arange(len(uni))
        shingles[uni_pos] = uni
        if len(bi):
            bi_ends = np.cumsum(bi_lengths)
            bi_starts = bi_ends - bi_lengths
            bi_pos = np.repeat(rec_start + lengths - bi_starts, bi_lengths) + np.arange(len(bi))
            shingles[bi_pos] = bi
        hashed = (self.a[:, None] * shingles[None, :] + self.b[:, None]) >> np.uint64(32)
        return np.minimum.reduceat(hashed, rec_start, axis=1).T.astype(np.uint32)


class _Slice(Sequence[str]):
    def __init__(self, items: Sequence[str], start: int, stop: int) -> None:
        self.items, self.start, self.stop = items, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i):  # untyped on purpose: int-only indexing, Sequence also declares slices
        return self.items[self.start + i]


def band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 key per record and band (``(n, bands)``); equal rows of a band give equal keys."""
    n, perms = sig.shape
    rows = perms // bands
    odd = np.random.default_rng(7).integers(1, 2**63, size=rows, dtype=np.uint64)
    mult = odd * np.uint64(2) + np.uint64(1)
    keys = np.zeros((n, bands), dtype=np.uint64)
    for b in range(bands):
        block = sig[:, b * rows : (b + 1) * rows].astype(np.uint64)
        keys[:, b] = (block * mult[None, :]).sum(axis=1, dtype=np.uint64) ^ np.uint64(b)
    return keys


def similarity(sig: np.ndarray, left: np.ndarray, right: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """Estimated Jaccard similarity (share of equal MinHash values) of row pairs."""
    out = np.empty(len(left), dtype=np.float32)
    for s in range(0, len(left), chunk):
        out[s : s + chunk] = (sig[left[s : s + chunk]] == sig[right[s : s + chunk]]).mean(axis=1)
    return out
