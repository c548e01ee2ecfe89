"""Near-duplicate benchmark: recall by Jaccard band, precision, docs/s and index size, in one run.

Usage::

    python bench/dedupe.py [--fillers N] [--database URL] [--batch N] [--seed S] [--json OUT]

Documents are real text: the cwced answers (``../shared/pages/cwced``, else the copy in
``tests/data/cwced``) and the seed stories, then articles recombined from their paragraphs
(3–8 paragraphs, each from another article, no paragraph used twice). Four in five of these
originals get one to four reposts, each with one or more of the edits portals make:

* ``header``: a 来源 / date line on top and a 责任编辑 / 原标题 / hotline line at the bottom
  (lines of the real pages' templates, with real site names);
* ``truncate``: the text cut after 50–90 % of its characters, at a sentence end;
* ``add`` / ``drop``: one paragraph added (from another article) or dropped;
* ``edit``: 1–5 % of the characters substituted, deleted or inserted (the article's own characters);
* ``reorder``: two paragraphs swapped, or all shuffled.

Around them, ``--fillers`` unrelated articles (default 20,000; random sentences of the same text
regrouped) fill the index, as a real one is mostly articles without a repost. Every document is
stored in a fresh database as a crawl stores it (``crawler.ingest.ingestor.Ingestor.ingest_many``, one
transaction per batch of ``--batch`` documents, by default the crawl's ``RADAR_STORE_BATCH``), in
random order. Then:

* recall per Jaccard band: of the pairs of documents derived from one original, by their exact
  Jaccard, the share that ended up in one story;
* precision: of the pairs sharing a story, the share derived from one original; plus the largest
  Jaccard between different originals (the same-topic negatives the threshold must keep apart);
* docs/s of the dedupe step alone (fingerprint, candidate lookup in the database index, exact
  Jaccard of each candidate, story assignment, index insert) and of the whole store, one process;
* index size: the ``near_bands`` table (rows and bytes) scaled to 100,000 and 1,000,000 articles.

Goals: recall ≥ 0.98 for Jaccard ≥ 0.8, precision ≥ 0.995, ≥ 2,000 docs/s, ≤ 1 GB per million.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crawler.article import Article  # noqa: E402
from crawler.config.settings import Settings  # noqa: E402
from crawler.dedupe.neardup import JOIN_THRESHOLD, fingerprint, jaccard  # noqa: E402
from crawler.replica.bulk import SOURCES  # noqa: E402
from crawler.replica.seeds import (  # noqa: E402  # noqa: E402
    continued_stories,
    dajiang,
    ganzhou_plan,
    park_boilerplate,
    park_items,
    qingshanhu,
    xize,
)
from crawler.replica.text import edit_characters, plain, sentences  # noqa: E402

STORE_BATCH = Settings().store_batch

DEFAULT_CWCED = REPO.parent / "shared" / "pages" / "cwced"
FALLBACK_CWCED = REPO / "tests" / "data" / "cwced"
BANDS = ((0.9, 1.01), (0.8, 0.9), (0.7, 0.8), (0.6, 0.7), (0.5, 0.6), (0.0, 0.5))
GOALS = {"recall_08": 0.98, "precision": 0.995, "docs_per_s": 2000, "bytes_per_million": 1 << 30}
EDITS = ("header", "truncate", "add", "drop", "edit", "reorder")


@dataclass
class Doc:
    """One document of the stream: its family (the original it derives from) and its edits."""

    family: int
    paragraphs: list[str]
    edits: tuple[str, ...] = ()
    title: str = ""

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


def real_documents(cwced: Path) -> list[list[str]]:
    """The real articles: every cwced answer and every seed story, as paragraph lists."""
    docs = []
    for path in sorted((cwced / "cleaned").glob("*.txt")):
        paras = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if sum(map(len, paras)) >= 200:
            docs.append(paras)
    stories = [xize().paragraphs, dajiang().story.paragraphs, ganzhou_plan().paragraphs]
    stories += [c.front + c.back for c in continued_stories()]
    stories += [item.paragraphs for item in park_items()]
    stories += [s.paragraphs for s in qingshanhu().stories]
    docs += [[plain(p) for p in story] for story in stories if sum(map(len, story)) >= 200]
    return docs


def _template_lines() -> tuple[list[str], list[str]]:
    """Header and footer lines as the replica's real-page templates print them."""
    bp = park_boilerplate()
    heads = [f"来源：{s}" for s in SOURCES] + [f"2025-07-02 15:26:31 来源：{s}" for s in SOURCES]
    heads += [f"（文章来源：{s}）" for s in SOURCES]
    feet = ["【责任编辑：网络编辑】", f"{bp.hotline_title} {bp.hotline}", bp.contribute, bp.invest_hotline]
    return heads, feet


def derive(doc: list[str], edits: tuple[str, ...], rng: random.Random, pool: list[str], title: str) -> list[str]:
    """``doc`` with ``edits`` applied (see the module doc)."""
    heads, feet = _template_lines()
    out = list(doc)
    for edit in edits:
        if edit == "header":
            out = [rng.choice(heads), *out, rng.choice([*feet, f"（原标题：{title}）"])]
        elif edit == "truncate":
            text = "\n".join(out)
            keep = int(len(text) * rng.uniform(0.5, 0.9))
            cut = text[:keep]
            last = max(cut.rfind("。"), cut.rfind("\n"))
            out = (cut[: last + 1] if last > len(cut) // 2 else cut).split("\n")
        elif edit == "add":
            out.insert(rng.randrange(len(out) + 1), rng.choice(pool))
        elif edit == "drop" and len(out) > 2:
            del out[rng.randrange(len(out))]
        elif edit == "edit":
            out = edit_characters("\n".join(out), rng.uniform(0.01, 0.05), rng).split("\n")
        elif edit == "reorder" and len(out) > 2:
            if rng.random() < 0.5:
                i, j = rng.sample(range(len(out)), 2)
                out[i], out[j] = out[j], out[i]
            else:
                rng.shuffle(out)
    return [p for p in out if p.strip()]


def _title(paragraphs: list[str]) -> str:
    first = sentences(paragraphs[0])
    return (first[0] if first else paragraphs[0])[:30]


def build_stream(fillers: int, cwced: Path, seed: int) -> tuple[list[Doc], int, int]:
    """The shuffled stream: labelled originals with their reposts, and ``fillers`` unrelated
    articles around them. Returns it with the number of real articles and of labelled documents.

    Labelled originals are the real articles, then articles recombined from their paragraphs
    (40–300 characters, each from a different real article, each paragraph used once), so no two
    originals share text beyond the real articles' own overlaps. Four in five get one to four
    reposts. Fillers (the bulk of the index, for speed and size) regroup random *sentences* of
    all the text into paragraphs: they share single sentences with everything, as articles on
    one topic do, and are their own family each.
    """
    rng = random.Random(seed)
    real = real_documents(cwced)
    pool = [(n, p) for n, doc in enumerate(real) for p in dict.fromkeys(doc) if 40 <= len(p) <= 300]
    rng.shuffle(pool)
    originals = [list(d) for d in real]
    while pool:
        picked: dict[int, str] = {}
        want = rng.randint(3, 8)
        rest = []
        for n, paragraph in pool:
            if len(picked) < want and n not in picked:
                picked[n] = paragraph
            else:
                rest.append((n, paragraph))
        pool = rest
        if len(picked) >= 3:
            originals.append(list(picked.values()))
        else:
            break
    paragraphs = [p for doc in real for p in doc if 40 <= len(p) <= 300]
    stream: list[Doc] = []
    for family, paras in enumerate(originals):
        title = _title(paras)
        stream.append(Doc(family, paras, (), title))
        if rng.random() < 0.8:
            for _ in range(rng.randint(1, 4)):
                edits = tuple(rng.sample(EDITS, rng.choice((1, 1, 2, 2, 3))))
                stream.append(Doc(family, derive(paras, edits, rng, paragraphs, title), edits, title))
    labelled = len(stream)
    # 12–120 characters: text without 。 would make one "sentence" of a whole page, and two
    # fillers sharing it would be one text
    all_sentences = [x for doc in real for p in doc for x in sentences(p) if 12 <= len(x) <= 120]
    for k in range(fillers):
        picked_sentences = rng.sample(all_sentences, rng.randint(12, 36))
        paras = ["".join(picked_sentences[i : i + 3]) for i in range(0, len(picked_sentences), 3)]
        stream.append(Doc(len(originals) + k, paras, (), _title(paras)))
    rng.shuffle(stream)
    return stream, len(real), labelled


class Timer:
    """Wraps functions to add up the time spent in them (outermost calls only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        return timed


@dataclass
class Result:
    stories: dict[int, int] = field(default_factory=dict)  # doc index -> story id
    store_seconds: float = 0.0
    dedupe_seconds: float = 0.0
    index_rows: int = 0
    index_bytes: int = 0
    articles: int = 0


def run_store(stream: list[Doc], db_url: str, batch: int) -> Result:
    """Store every document the way a crawl does (``Ingestor.ingest_many``, ``batch`` per
    transaction as ``RADAR_STORE_BATCH``); time the dedupe step inside it."""
    from sqlalchemy import func, select, text

    import storage.neardup as index
    import storage.stories as stories
    from crawler.dedupe.neardup import body_keys
    from crawler.ingest.ingestor import Ingestor, Pending
    from crawler.ingest.prepare import Prepared
    from storage.models import ArticleRow, NearBandRow

    timer = Timer()
    keys = timer.wrap(body_keys)  # a crawl's workers do this part
    stories.assign = timer.wrap(stories.assign)  # type: ignore[assignment]
    stories.settle = timer.wrap(stories.settle)  # type: ignore[assignment]
    index.add = timer.wrap(index.add)  # type: ignore[assignment]
    ingestor = Ingestor.for_url(db_url)
    result = Result()
    at = datetime(2025, 7, 2, tzinfo=UTC)
    start = time.perf_counter()
    for first in range(0, len(stream), batch):
        pending = []
        for i, doc in enumerate(stream[first : first + batch], start=first):
            article = Article(url=f"http://bench.test/{i}.html", title=doc.title, body=doc.body)
            digest, near = keys(doc.body)
            pending.append(Pending(article, f"site-{i % 7}", at + timedelta(seconds=i),
                                   prepared=Prepared(article, digest, near, events=[])))
        for i, outcome in enumerate(ingestor.ingest_many(pending), start=first):
            assert not isinstance(outcome, Exception) and outcome.story_id is not None, outcome
            result.stories[i] = outcome.story_id
    result.store_seconds = time.perf_counter() - start
    result.dedupe_seconds = timer.seconds
    with ingestor.factory() as session:
        result.index_rows = int(session.scalar(select(func.count()).select_from(NearBandRow)) or 0)
        result.articles = int(session.scalar(select(func.count()).select_from(ArticleRow)) or 0)
        if ingestor.engine.dialect.name == "postgresql":
            result.index_bytes = int(session.scalar(text("SELECT pg_total_relation_size('near_bands')")) or 0)
        else:
            result.index_bytes = int(session.scalar(text(
                "SELECT sum(pgsize) FROM dbstat WHERE name = 'near_bands'")) or 0)
    ingestor.close()
    return result


def evaluate(stream: list[Doc], result: Result) -> dict[str, Any]:
    """Recall per Jaccard band over same-family pairs; precision over same-story pairs."""
    prints = [fingerprint(d.body).shingles for d in stream]
    families: dict[int, list[int]] = defaultdict(list)
    for i, doc in enumerate(stream):
        families[doc.family].append(i)
    bands = {b: [0, 0] for b in BANDS}  # found, total
    by_edit: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for members in families.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                sim = jaccard(prints[i], prints[j])
                same = result.stories[i] == result.stories[j]
                band = next(b for b in BANDS if b[0] <= sim < b[1])
                bands[band][0] += same
                bands[band][1] += 1
                if sim >= 0.8:
                    for edit in set(stream[i].edits) | set(stream[j].edits):
                        by_edit[edit][0] += same
                        by_edit[edit][1] += 1
    by_story: dict[int, list[int]] = defaultdict(list)
    for i, story in result.stories.items():
        by_story[story].append(i)
    true_pairs = false_pairs = 0
    worst: list[tuple[float, int, int]] = []
    for members in by_story.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if stream[i].family == stream[j].family:
                    true_pairs += 1
                else:
                    false_pairs += 1
                    worst.append((jaccard(prints[i], prints[j]), i, j))
    return {"bands": bands, "by_edit": dict(by_edit), "true_pairs": true_pairs, "false_pairs": false_pairs,
            "false_examples": sorted(worst, reverse=True)[:5]}


def hardest_negatives(real: list[Doc]) -> tuple[float, int]:
    """The largest exact Jaccard between two different real articles, and how many pairs."""
    prints = [fingerprint(d.body).shingles for d in real]
    best, pairs = 0.0, 0
    for i in range(len(prints)):
        for j in range(i + 1, len(prints)):
            best = max(best, jaccard(prints[i], prints[j]))
            pairs += 1
    return best, pairs


@contextmanager
def scratch_database(url: str, folder: str) -> Iterator[str]:
    """A fresh SQLite file in ``folder`` (no ``url``), or a schema of its own in the PostgreSQL
    database at ``url``, dropped afterwards."""
    if not url:
        yield f"sqlite:///{folder}/dedupe.sqlite3"
        return
    from sqlalchemy import create_engine, text

    from storage.db import normalize_url

    url = normalize_url(url)
    if not url.startswith("postgresql"):
        yield url
        return
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"radar_bench_{random.randrange(1 << 32):08x}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fillers", type=int, default=20000, help="unrelated articles around the labelled ones")
    parser.add_argument("--database", default="",
                        help="SQLAlchemy URL (default: a fresh SQLite file); PostgreSQL: a scratch schema in it")
    parser.add_argument("--cwced", type=Path, default=DEFAULT_CWCED if DEFAULT_CWCED.exists() else FALLBACK_CWCED)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=STORE_BATCH,
                        help=f"documents per transaction (default: the crawl's RADAR_STORE_BATCH, {STORE_BATCH})")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    stream, real_count, labelled = build_stream(args.fillers, args.cwced, args.seed)
    reposts = sum(1 for d in stream if d.edits)
    real_originals = [d for d in stream if not d.edits and d.family < real_count]
    mean = sum(len(d.body) for d in stream) // len(stream)
    print(f"stream: {len(stream)} documents, mean {mean} characters: {labelled - reposts} originals "
          f"({real_count} real articles, the rest recombined from their paragraphs), {reposts} reposts of them, "
          f"{len(stream) - labelled} unrelated fillers")
    with tempfile.TemporaryDirectory(prefix="radar-dedupe-") as tmp, scratch_database(args.database, tmp) as db_url:
        result = run_store(stream, db_url, args.batch)
        backend = db_url.split(":", 1)[0].split("+")[0]
    scores = evaluate(stream, result)
    negative, negative_pairs = hardest_negatives(real_originals)

    print(f"\nrecall by exact Jaccard of the pair (shingles of {__import__('crawler.dedupe.neardup').neardup.SHINGLE} "
          f"characters; join threshold {JOIN_THRESHOLD}):")
    print(f"  {'Jaccard':<11}{'pairs':>8}{'joined':>9}{'recall':>9}")
    recall_08 = [0, 0]
    for (lo, hi), (found, total) in scores["bands"].items():
        label = f"{lo:.1f}–{min(hi, 1.0):.1f}"
        print(f"  {label:<11}{total:>8}{found:>9}{(found / total if total else float('nan')):>9.3f}")
        if lo >= 0.8:
            recall_08[0] += found
            recall_08[1] += total
    r08 = recall_08[0] / recall_08[1]
    print(f"  recall for Jaccard ≥ 0.8: {r08:.4f}  (goal ≥ {GOALS['recall_08']})  "
          f"{'ok' if r08 >= GOALS['recall_08'] else 'MISSED'}")
    print("  by edit (pairs with Jaccard ≥ 0.8): " + ", ".join(
        f"{edit} {found / total:.3f} ({total})" for edit, (found, total) in sorted(scores["by_edit"].items())))
    pairs = scores["true_pairs"] + scores["false_pairs"]
    precision = scores["true_pairs"] / pairs if pairs else 1.0
    print(f"\nprecision: {scores['true_pairs']} of {pairs} same-story pairs derive from one original = "
          f"{precision:.4f}  (goal ≥ {GOALS['precision']})  {'ok' if precision >= GOALS['precision'] else 'MISSED'}")
    for sim, i, j in scores["false_examples"]:
        print(f"  false pair: Jaccard {sim:.3f}: {stream[i].title!r} / {stream[j].title!r}")
    print(f"same-topic negatives: largest Jaccard between two different real articles = {negative:.3f} "
          f"over {negative_pairs} pairs (join threshold {JOIN_THRESHOLD})")

    n = len(stream)
    dedupe_rate = n / result.dedupe_seconds
    print(f"\nspeed ({backend}, one process, {args.batch} documents per transaction):")
    print(f"  dedupe step (fingerprint, index lookup, exact Jaccard, story, index insert): "
          f"{dedupe_rate:,.0f} docs/s  (goal ≥ {GOALS['docs_per_s']:,})  "
          f"{'ok' if dedupe_rate >= GOALS['docs_per_s'] else 'MISSED'}")
    print(f"  whole store (plus article row, URL, commit): {n / result.store_seconds:,.0f} docs/s")
    per_doc = result.index_bytes / max(1, result.articles)
    million = per_doc * 1_000_000
    print(f"\nindex: {result.index_rows:,} band rows for {result.articles:,} stored articles, "
          f"{result.index_bytes / 1e6:.1f} MB = {per_doc:.0f} bytes/article")
    print(f"  per 100k articles: {per_doc * 100_000 / 1e6:.1f} MB; per million: {million / 1e9:.2f} GB  "
          f"(goal ≤ 1 GB)  {'ok' if million <= GOALS['bytes_per_million'] else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({
            "documents": n, "recall_08": r08, "precision": precision, "dedupe_docs_per_s": dedupe_rate,
            "store_docs_per_s": n / result.store_seconds, "index_bytes_per_article": per_doc,
            "bands": {f"{lo}-{hi}": v for (lo, hi), v in scores["bands"].items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
