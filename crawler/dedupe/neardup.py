"""Near-duplicate detection, the pure part: shingles, MinHash signatures, LSH band keys, Jaccard.

A body is normalised as for the exact hash (:func:`crawler.text.normalize.normalize_for_hash`: width,
case, whitespace and punctuation folded), cut into overlapping character ``SHINGLE``-grams,
and each shingle hashed to 64 bits. Two bodies are near-duplicates when the Jaccard similarity
of their shingle sets is at least :data:`JOIN_THRESHOLD`; that similarity is always computed
exactly (:func:`jaccard`) before two articles are joined.

To find the candidates without comparing against every stored article, each body gets a MinHash
signature of :data:`NUM_PERM` values (datasketch's ``affine32`` scheme, computed here in bulk
with numpy; a test checks it equals ``datasketch.MinHash.update_batch`` value for value), cut
into :data:`BANDS` bands of :data:`ROWS` values. Each band is hashed to one 32-bit key; two bodies
sharing any key are candidates. The chance that a pair of Jaccard *s* shares a key is
``1 - (1 - s**ROWS) ** BANDS``: 0.998 at s = 0.8, 0.81 at s = 0.6, 0.02 at s = 0.2, and about
1e-7 for unrelated text (s ≈ 0.01). ``storage.neardup`` keeps the keys in the database.

Nothing here touches the database, the network or the clock.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from typing import TYPE_CHECKING

from crawler.text.normalize import normalize_for_hash

# numpy is imported where it is used, not with this module: every crawl process imports this
# module, and one that finds nothing new never fingerprints a body (a tenth of its start-up).
# Its BLAS is never used here (integer hashing only), but by default OpenBLAS starts a thread
# per CPU when numpy loads, and they spin: 0.08 s of CPU in the crawl process and again in the
# prepare workers' fork server (which inherits this environment), taken from the crawl on a
# small machine. A value the user set wins; a process that loaded numpy already is unaffected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Shingles = npt.NDArray[np.uint64]
    Signature = npt.NDArray[np.uint32]

__all__ = [
    "BANDS",
    "JOIN_THRESHOLD",
    "MIN_SHINGLES",
    "NUM_PERM",
    "ROWS",
    "SHINGLE",
    "Fingerprint",
    "band_keys",
    "body_keys",
    "fingerprint",
    "jaccard",
    "shingle_hashes",
    "shingle_set",
    "signature",
]

SHINGLE = 5
"""Characters per shingle. Chinese words are one to four characters, so a 5-gram spans two or
three words: long enough that unrelated articles on one topic share few shingles, short enough
that a 1 % character edit rate keeps Jaccard around 0.9."""
ROWS = 4
BANDS = 12
NUM_PERM = ROWS * BANDS
SEED = 20250702  # fixed for ever: stored band keys depend on it
JOIN_THRESHOLD = 0.5
"""Exact Jaccard at or above which two bodies are one story. Reposts with a changed header,
footer or 来源 line, a paragraph more or less, or a few per cent of edited characters score
0.6–0.98; different articles on the same topic score below 0.15."""
MIN_SHINGLES = 20
"""Bodies with fewer shingles (about 25 characters of normalised text) are too short to judge:
one edited word decides their Jaccard. They are matched exactly only."""

_PRIME = 0x100000001B3  # FNV-64 prime: a cheap polynomial step over code points


@cache
def _permutations() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    import numpy as np

    # datasketch's permutation parameters for its affine32 scheme (a odd, b; drawn the way its
    # MinHash(NUM_PERM, seed=SEED) draws them), so signatures are the ones datasketch computes;
    # tests/test_neardup.py checks that against datasketch itself. Drawn here rather than taken
    # from datasketch: importing it loads scipy, a second of CPU in every crawl and worker process.
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a[:, None], b[:, None]


def _mix64(h: Shingles) -> Shingles:
    import numpy as np

    # splitmix64 finaliser: spreads the polynomial hash over all 64 bits
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _raw_shingles(normalized: str, k: int = SHINGLE) -> Shingles:
    import numpy as np

    # one 64-bit hash per k-gram, in text order, repeats included (a MinHash does not mind them)
    if not normalized:
        return np.empty(0, dtype=np.uint64)
    codes = np.frombuffer(normalized.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    if len(codes) < k:
        codes = np.concatenate([codes, np.zeros(k - len(codes), dtype=np.uint64)])
    n = len(codes) - k + 1
    prime = np.uint64(_PRIME)
    h = codes[:n] * prime  # array arithmetic wraps modulo 2**64 without warnings
    for j in range(1, k):
        h += codes[j : j + n]
        if j < k - 1:
            h *= prime
    return _mix64(h)


def _distinct(hashes: Shingles) -> Shingles:
    import numpy as np

    # np.unique's general machinery costs ~8x a sort and a mask on arrays this small
    ordered = np.sort(hashes)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def shingle_hashes(normalized: str, k: int = SHINGLE) -> Shingles:
    """The sorted, distinct 64-bit hashes of the ``k``-character shingles of ``normalized``.

    ``normalized`` is text already passed through ``normalize_for_hash``. A text shorter than
    ``k`` characters has one shingle, itself (empty text: none).
    """
    return _distinct(_raw_shingles(normalized, k))


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    import numpy as np

    # MurmurHash3's 32-bit finaliser, as datasketch applies it before its affine permutations
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature(shingles: Shingles) -> Signature:
    """The MinHash signature (:data:`NUM_PERM` uint32 values) of a set of shingle hashes
    (repeats allowed: they change no minimum).

    Each shingle enters as the top 32 bits of its hash; the result equals datasketch's
    ``MinHash(NUM_PERM, seed=SEED)`` after ``update_batch`` of those 32-bit values.
    """
    import numpy as np

    if len(shingles) == 0:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    perm_a, perm_b = _permutations()
    mixed = _fmix32((shingles >> np.uint64(32)).astype(np.uint32))
    permuted = perm_a * mixed  # one row per permutation: a·h + b mod 2**32
    permuted += perm_b
    return np.asarray(permuted.min(axis=1), dtype=np.uint32)


def band_keys(sig: Signature) -> list[int]:
    """One key per band, a signed 32-bit integer (the band number is hashed in, so equal values
    in different bands do not meet); a pair of bodies is a candidate when any key is shared.

    32 bits keep the index small (the rows are most of its size); two different bands share a
    key by chance once in 4 billion, which costs one exact Jaccard check, never a wrong join.
    """
    import numpy as np

    raw = np.ascontiguousarray(sig, dtype="<u4").tobytes()
    width = 4 * ROWS
    keys = []
    for band in range(BANDS):
        digest = hashlib.blake2b(raw[band * width : (band + 1) * width], digest_size=4,
                                 person=band.to_bytes(2, "little")).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))  # fits an INTEGER column
    return keys


def jaccard(a: Shingles, b: Shingles) -> float:
    """Exact Jaccard similarity of two shingle-hash sets (sorted, distinct; 0.0 when both empty)."""
    import numpy as np

    if len(a) == 0 and len(b) == 0:
        return 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


class Fingerprint:
    """What near-duplicate detection needs of one body: its band keys (empty when the body is
    too short to judge) and, computed when first asked for, its distinct shingle hashes."""

    __slots__ = ("_hashes", "_shingles", "bands")

    def __init__(self, hashes: Shingles, bands: tuple[int, ...]) -> None:
        self._hashes = hashes
        self._shingles: Shingles | None = None
        self.bands = bands

    @property
    def shingles(self) -> Shingles:
        """Sorted, distinct shingle hashes (for :func:`jaccard`)."""
        if self._shingles is None:
            self._shingles = _distinct(self._hashes)
        return self._shingles

    @property
    def indexable(self) -> bool:
        """Whether the body is long enough to be matched approximately."""
        return bool(self.bands)

    # Crosses from the worker processes to the crawl process with every article: as raw bytes,
    # since pickling a numpy array (its dtype, shape and reconstructor) costs ten times as much.
    def __getstate__(self) -> tuple[bytes, tuple[int, ...]]:
        return self._hashes.astype("<u8", copy=False).tobytes(), self.bands

    def __setstate__(self, state: tuple[bytes, tuple[int, ...]]) -> None:
        import numpy as np

        raw, self.bands = state
        self._hashes = np.frombuffer(raw, dtype="<u8").astype(np.uint64, copy=False)
        self._shingles = None


def _fingerprint(normalized: str) -> Fingerprint:
    hashes = _raw_shingles(normalized)
    if len(hashes) < MIN_SHINGLES:
        return Fingerprint(hashes, ())
    return Fingerprint(hashes, tuple(band_keys(signature(hashes))))


def fingerprint(body: str) -> Fingerprint:
    """Shingles and band keys of ``body`` (an article's text, not yet normalised)."""
    return _fingerprint(normalize_for_hash(body))


def shingle_set(body: str) -> Shingles:
    """The shingle hashes of ``body`` alone (what checking a candidate's Jaccard needs)."""
    return shingle_hashes(normalize_for_hash(body))


def body_keys(body: str) -> tuple[str, Fingerprint]:
    """``(content_hash(body), fingerprint(body))`` from one normalisation of the text: the exact
    and the near-duplicate key of a body, as storing an article needs both."""
    normalized = normalize_for_hash(body)
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest(), _fingerprint(normalized)
