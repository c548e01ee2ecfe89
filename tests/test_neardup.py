"""Near-duplicate detection, the pure part: shingles, MinHash (checked against datasketch), LSH band
keys and exact Jaccard, on real text (cwced answers, seed paragraphs); plus the change summaries
of revisions and the fast hash normalisation they all rely on."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from crawler.article import Article
from crawler.dedupe import neardup
from crawler.dedupe.neardup import (
    BANDS,
    JOIN_THRESHOLD,
    MIN_SHINGLES,
    NUM_PERM,
    SEED,
    SHINGLE,
    band_keys,
    fingerprint,
    jaccard,
    shingle_hashes,
    signature,
)
from crawler.dedupe.revisions import REVISION_FIELDS, describe_change, describe_revision
from crawler.replica.text import edit_characters
from crawler.text.normalize import _is_foldable, normalize_for_hash
from tests.e2e import python_child

CWCED = Path(__file__).parent / "data" / "cwced" / "cleaned"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = [p.read_text(encoding="utf-8") for p in sorted(CWCED.glob("*.txt"))]
    return [t for t in out if len(normalize_for_hash(t)) >= 400]


def _reference_jaccard(a: str, b: str, k: int = SHINGLE) -> float:
    sa = {a[i : i + k] for i in range(len(a) - k + 1)}
    sb = {b[i : i + k] for i in range(len(b) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_signature_is_datasketchs_minhash(texts: list[str]) -> None:
    for text in texts[:10]:
        shingles = shingle_hashes(normalize_for_hash(text))
        reference = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)
        reference.update_batch([int(h) >> 32 for h in shingles])
        assert np.array_equal(signature(shingles), reference.hashvalues)


def test_jaccard_is_exact(texts: list[str]) -> None:
    rng = random.Random(5)
    for text in texts[:15]:
        edited = edit_characters(text, 0.03, rng)
        a, b = normalize_for_hash(text), normalize_for_hash(edited)
        expected = _reference_jaccard(a, b)
        assert jaccard(shingle_hashes(a), shingle_hashes(b)) == pytest.approx(expected, abs=1e-3)
        assert 0.5 < expected < 1.0  # a real near-duplicate, not a trivial case


def test_shingles_are_sorted_and_distinct() -> None:
    shingles = shingle_hashes(normalize_for_hash("南宁市集中开工97个重大项目，南宁市集中开工97个重大项目"))
    assert np.all(np.diff(shingles.astype(np.float64)) > 0)
    assert len(shingle_hashes("")) == 0
    assert len(shingle_hashes("南宁")) == 1  # shorter than a shingle: the text itself


def test_band_keys_are_stable_and_banded(texts: list[str]) -> None:
    fp = fingerprint(texts[0])
    assert len(fp.bands) == BANDS == len(set(fp.bands))
    assert all(-(2**31) <= k < 2**31 for k in fp.bands)  # an INTEGER column on both databases
    assert fingerprint(texts[0]).bands == fp.bands  # deterministic (the index is persisted)
    # layout-only differences (spacing, width, punctuation) change nothing
    assert fingerprint(texts[0].replace("，", ",").replace("\n", "\n\n  ")).bands == fp.bands
    # the band number is part of the key: the same values in another band give another key
    sig = signature(fp.shingles)
    rolled = np.roll(sig, neardup.ROWS)
    assert set(band_keys(rolled)).isdisjoint(set(band_keys(sig))) or np.array_equal(rolled, sig)


def test_close_reposts_share_a_band_and_strangers_do_not(texts: list[str]) -> None:
    rng = random.Random(7)
    found = 0
    for text in texts:
        edited = edit_characters(text, 0.01, rng)
        a, b = fingerprint(text), fingerprint(edited)
        assert jaccard(a.shingles, b.shingles) >= 0.8
        found += bool(set(a.bands) & set(b.bands))
    assert found == len(texts)  # P(miss) at Jaccard 0.8 is 0.002 per pair
    prints = [fingerprint(t) for t in texts]
    collisions = [(i, j) for i in range(len(prints)) for j in range(i + 1, len(prints))
                  if set(prints[i].bands) & set(prints[j].bands)]
    assert collisions == []
    similarities = [jaccard(prints[i].shingles, prints[j].shingles)
                    for i in range(len(prints)) for j in range(i + 1, len(prints))]
    assert max(similarities) < JOIN_THRESHOLD / 10


def test_body_keys_are_the_exact_hash_and_the_fingerprint(texts: list[str]) -> None:
    from crawler.dedupe.neardup import body_keys
    from crawler.dedupe.urls import content_hash

    for text in texts[:5]:
        digest, fp = body_keys(text)
        assert digest == content_hash(text)
        assert fp.bands == fingerprint(text).bands and list(fp.shingles) == list(fingerprint(text).shingles)


def test_short_bodies_are_exact_only() -> None:
    fp = fingerprint("南宁市集中开工97个重大项目")
    assert not fp.indexable and fp.bands == ()
    long_enough = fingerprint("南宁市集中开工97个重大项目，总投资772.67亿元，项目涵盖产业发展、基础设施。")
    assert len(long_enough.shingles) >= MIN_SHINGLES and long_enough.indexable and long_enough.bands


def test_fast_hash_normalisation_matches_the_definition() -> None:
    def reference(text: str) -> str:
        text = unicodedata.normalize("NFKC", text).lower()
        return "".join(ch for ch in text if not _is_foldable(ch))

    every_bmp = "".join(chr(c) for c in range(0x20, 0x10000) if not 0xD800 <= c < 0xE000)
    assert normalize_for_hash(every_bmp) == reference(every_bmp)
    rng = random.Random(3)
    for _ in range(300):
        sample = "".join(chr(rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0x3000, 0x3100),
                                         rng.randrange(0x4E00, 0x9FFF), rng.randrange(0xFF00, 0xFFEF),
                                         rng.randrange(0x1F300, 0x1F6FF), rng.randrange(0x20000, 0x2A6DF)]))
                         for _ in range(40))
        assert normalize_for_hash(sample) == reference(sample)


def test_change_summary_counts_paragraphs_and_characters() -> None:
    old = "2021年，杭州外贸进出口总值达7369.0亿元。\n其中出口4647.0亿元。\n进口2722.0亿元。"
    new = "2021年，杭州外贸进出口总值达7369.0亿元，同比增长23.7%。\n进口2722.0亿元。\n（来源：杭州海关）"
    change = describe_change(old, new, old_fields={"title": "旧", "doc_number": ""},
                             new_fields={"title": "新", "doc_number": ""})
    assert (change.paragraphs_changed, change.paragraphs_added, change.paragraphs_removed) == (1, 1, 1)
    assert change.fields == ("title",)
    assert change.chars_added == len("，同比增长23.7%") + len("（来源：杭州海关）")
    assert change.chars_removed == len("其中出口4647.0亿元。")
    ops = [c["op"] for c in change.changes]
    assert sorted(ops) == ["added", "changed", "removed"]
    assert "1 paragraph changed" in change.summary and "fields: title" in change.summary
    assert describe_change(old, old).summary == "no change"


def test_a_revision_names_the_article_fields_that_changed() -> None:
    """describe_revision compares two article versions: body and the named fields, nothing else."""
    from datetime import datetime

    old = Article(url="http://a.test/1", title="旧标题", body="第一段。\n第二段。", doc_number="赣府发〔2025〕3号",
                  published_at=datetime(2025, 7, 1), category="要闻")
    new = Article(url="http://a.test/1", title="新标题", body="第一段。\n第二段。", doc_number="赣府发〔2025〕3号",
                  published_at=datetime(2025, 7, 2), category="通知")
    change = describe_revision(old, new)
    assert change.fields == ("published_at", "title")  # the category is not a revision field
    assert change.summary == "fields: published_at, title"
    assert set(REVISION_FIELDS) >= {"title", "published_at", "doc_number", "issuer"}


def test_a_fingerprint_crosses_processes_whole(texts: list[str]) -> None:
    """Workers pickle fingerprints to the crawl process: what arrives matches what was sent, on
    real text and on a body too short to index."""
    import pickle

    for body in [*texts[:5], "短文"]:
        sent = fingerprint(body)
        got = pickle.loads(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
        assert got.bands == sent.bands and got.indexable == sent.indexable
        assert got.shingles.dtype == np.uint64
        assert np.array_equal(got.shingles, sent.shingles)
        assert jaccard(got.shingles, sent.shingles) == (1.0 if len(sent.shingles) else 0.0)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the thread count from /proc")
def test_fingerprinting_starts_no_blas_threads() -> None:
    # OpenBLAS starts a spinning thread per CPU when numpy loads unless told otherwise; crawl
    # processes and the workers' fork server load numpy only to fingerprint, never for BLAS
    code = (
        "import os\n"
        "os.environ.pop('OPENBLAS_NUM_THREADS', None)\n"
        "from crawler.dedupe.neardup import body_keys\n"
        "body_keys('南昌市招商引资项目集中签约。' * 20)\n"
        "threads = open('/proc/self/status').read().split('Threads:')[1].split()[0]\n"
        "print(threads, os.environ['OPENBLAS_NUM_THREADS'])\n"
    )
    assert python_child(code).split() == ["1", "1"]
    # a user's own setting is left alone
    code = code.replace("os.environ.pop('OPENBLAS_NUM_THREADS', None)", "os.environ['OPENBLAS_NUM_THREADS'] = '2'")
    assert python_child(code).split()[1] == "2"
