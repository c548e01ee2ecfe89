"""Search benchmark (issue 22): the character-level index on SQLite and PostgreSQL at scale.

Usage::

    python bench/search.py [--articles N] [--terms 200] [--databases sqlite,postgresql]
                           [--postgres URL] [--json OUT]

Builds a database of N articles (default 1,000,000) from real text: paragraphs of the seed pages,
the cwced answers and the shared GNE pages, recombined (3–12 paragraphs an article, as the crawl
bench's bulk site does), stored through the index-keeping path (SQLite: the FTS5 triggers;
PostgreSQL: ``storage.search.index_articles`` in the same transaction). It prints, per database:

- the insert rate with the index kept up to date;
- the index's build time from scratch (``storage.search.fill``) and its size against the body text's;
- p50/p95 latency of ``storage.search.search`` (LIMIT 20, newest first) for 200 terms sampled from
  the corpus, 1, 2, 3, 4 and 6 characters, half rare and half common, and two-term ANDs; beside
  them the SQL-level way in of docs/search.md (SQLite: MATCH search_match + search_hit; PostgreSQL:
  ``search_articles(q)``), a LIKE scan (LIMIT 20) and, on SQLite, an FTS5 trigram index, with hit counts;
- exactness against a brute-force scan once the first 20,000 articles are in: misses and false hits.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from math import nan
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared" / "pages"
SAMPLE = 20_000
GOALS = {"p50_ms": 50, "p95_ms": 300, "index_ratio": 3.0, "insert_rate": 500}
LENGTHS = (1, 2, 3, 4, 6)
SQL_LEVEL_SQLITE = ("SELECT id FROM articles WHERE id IN (SELECT rowid FROM article_search "
                    "WHERE article_search MATCH search_match(:q)) AND search_hit(title, body, :q) "
                    "ORDER BY id DESC LIMIT 20")
SQL_LEVEL_POSTGRES = "SELECT id FROM search_articles(:q) LIMIT 20"


def paragraphs() -> list[str]:
    """Real paragraphs: the seeds, cwced's cleaned answers, the GNE pages' <p> text."""
    import lxml.html

    from crawler.replica.bulk import paragraphs_of, seed_paragraphs

    texts = [p.read_text(encoding="utf-8") for p in sorted((SHARED / "cwced" / "cleaned").glob("*.txt"))]
    for page in sorted((SHARED / "gne").glob("*.html")):
        try:
            tree = lxml.html.fromstring(page.read_bytes())
        except (ValueError, lxml.etree.ParserError):
            continue
        texts.append("\n".join(p.text_content() for p in tree.iter("p")))
    return list(seed_paragraphs() + paragraphs_of(texts))


def articles(n: int, pool: list[str], seed: int = 7):
    """``n`` articles (title, body), each 3–12 paragraphs drawn without replacement."""
    rng = random.Random(seed)
    for _ in range(n):
        parts = rng.sample(pool, min(len(pool), rng.randint(3, 12)))
        yield parts[0][:30], "\n".join(parts)


def _rows(start: int, batch: list[tuple[str, str]]) -> list[dict[str, Any]]:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return [{"url": f"https://bench.example/{start + i}", "source": "bench", "title": t, "body": b,
             "fetched_at": at + timedelta(seconds=start + i), "checked_at": at, "content_hash": uuid.uuid4().hex,
             "provenance": {}} for i, (t, b) in enumerate(batch)]


def build(url: str, n: int, pool: list[str], on_sample) -> dict[str, float]:
    """Store ``n`` articles through the index-keeping path; calls ``on_sample(engine)`` once the
    first SAMPLE are in. Returns insert timing."""
    from sqlalchemy import insert

    from storage import search
    from storage.db import open_database
    from storage.models import ArticleRow

    engine, _factory = open_database(url)
    done, seconds, body_chars = 0, 0.0, 0
    batch: list[tuple[str, str]] = []
    sampled = False
    for title, body in articles(n, pool):
        batch.append((title, body))
        body_chars += len(body)
        if len(batch) < 500 and done + len(batch) < n:
            continue
        started = time.perf_counter()
        with engine.begin() as conn:
            rows = _rows(done, batch)
            if conn.dialect.name == "sqlite":
                conn.execute(insert(ArticleRow), rows)  # the triggers index each row
            else:
                result = conn.execute(insert(ArticleRow).returning(ArticleRow.id, ArticleRow.url), rows)
                by_url = {u: int(i) for i, u in result}
                search.index_articles(conn, [(by_url[r["url"]], r["title"], r["body"]) for r in rows])
        seconds += time.perf_counter() - started
        done += len(batch)
        batch = []
        if done % 50_000 < 500:
            print(f"  {done:,} articles stored ({done / seconds:,.0f}/s)", file=sys.stderr, flush=True)
        if not sampled and done >= min(SAMPLE, n):
            sampled = True
            on_sample(engine)
    engine.dispose()
    return {"articles": done, "insert_rate": done / seconds, "body_chars": body_chars}


def sample_terms(pool: list[str], docs: list[str], count: int, seed: int = 11) -> list[tuple[str, str, int]]:
    """(query, kind, length) triples: for each length half common, half rare terms (by document
    frequency in ``docs``), and a few two-term ANDs."""
    from crawler.text.search_tokens import fold

    rng = random.Random(seed)
    folded = [fold(d) for d in docs[:2000]]
    out: list[tuple[str, str, int]] = []
    per_length = count // (len(LENGTHS) + 1)
    for length in LENGTHS:
        candidates: set[str] = set()
        while len(candidates) < per_length * 6:
            para = fold(rng.choice(pool))
            if len(para) <= length:
                continue
            at = rng.randrange(0, len(para) - length)
            term = para[at:at + length]
            if all("\u4e00" <= c <= "\u9fff" for c in term):
                candidates.add(term)
        ranked = sorted(candidates, key=lambda t: -sum(t in d for d in folded))
        half = per_length // 2
        out += [(t, "common", length) for t in ranked[:half]]
        out += [(t, "rare", length) for t in ranked[-(per_length - half):]]
    commons = [t for t, kind, n in out if kind == "common" and n == 2]
    rares = [t for t, kind, n in out if kind == "rare" and n >= 3]
    # ANDs: two common terms (many hits), or two rare ones (few or none: the whole index is searched)
    while len(out) < count:
        pick = commons if len(out) % 2 else rares
        out.append((f"{rng.choice(pick)} {rng.choice(pick)}", "and-common" if pick is commons else "and-rare", 0))
    return out


def timed(fn) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def exactness(engine, terms: list[tuple[str, str, int]]) -> dict[str, int]:
    """Misses and false hits of search against a brute-force scan over the first SAMPLE articles."""
    from sqlalchemy import text

    from crawler.text.search_tokens import fold, parse_query
    from storage.search import search

    with engine.connect() as conn:
        docs = [(int(i), fold(t) + "\n" + fold(b)) for i, t, b in conn.execute(text(
            "SELECT id, title, body FROM articles ORDER BY id"))]
        misses = false_hits = 0
        for query, _kind, _n in terms:
            parsed = parse_query(query)
            truth = {i for i, d in docs if parsed.matches(d)}
            found = {h.id for h in search(conn, parsed, limit=len(docs) + 1)}
            misses += len(truth - found)
            false_hits += len(found - truth)
    return {"misses": misses, "false_hits": false_hits, "sample": len(docs), "terms": len(terms)}


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(url: str, terms: list[tuple[str, str, int]], trigram: bool) -> dict[str, Any]:
    """Latency of search, LIKE and (SQLite) FTS5 trigram per term length; sizes; rebuild time."""
    from sqlalchemy import text

    from storage import search
    from storage.db import make_engine

    engine = make_engine(url)
    sqlite = url.startswith("sqlite")
    rows: list[dict[str, Any]] = []
    with engine.connect() as conn:
        if sqlite and trigram:
            started = time.perf_counter()
            conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS trigram USING fts5(body, content='articles', "
                              "content_rowid='id', tokenize='trigram')"))
            conn.execute(text("INSERT INTO trigram(trigram) VALUES ('rebuild')"))
            conn.commit()
            print(f"  trigram index built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        sql_level = text(SQL_LEVEL_SQLITE if sqlite else SQL_LEVEL_POSTGRES)
        for query, kind, length in terms:
            ms, hits = timed(lambda q=query: search.search(conn, q, limit=20))
            ms2, _hits2 = timed(lambda q=query: search.search(conn, q, limit=20))  # warm
            like_terms = query.split()
            like_sql = " AND ".join(f"instr(body, :t{i}) > 0" if sqlite else f"strpos(body, :t{i}) > 0"
                                    for i in range(len(like_terms)))
            params = {f"t{i}": t for i, t in enumerate(like_terms)}
            like_ms, like_rows = timed(lambda s=like_sql, p=params: conn.execute(text(
                f"SELECT id FROM articles WHERE {s} ORDER BY id DESC LIMIT 20"), p).all())
            # the SQL-level way in, as docs/search.md shows it (no quoted phrases there)
            sql_ms, sql_rows = timed(lambda q=query, s=sql_level: conn.execute(s, {"q": q}).all())
            row = {"query": query, "kind": kind, "length": length, "ms": min(ms, ms2), "hits": len(hits),
                   "like_ms": like_ms, "like_hits": len(like_rows), "sql_ms": sql_ms, "sql_hits": len(sql_rows)}
            if sqlite and trigram:
                match = " AND ".join('"' + t + '"' for t in like_terms)
                tri_ms, tri_rows = timed(lambda m=match: conn.execute(text(
                    "SELECT rowid FROM trigram WHERE trigram MATCH :m ORDER BY rowid DESC LIMIT 20"),
                    {"m": m}).all())
                row.update(tri_ms=tri_ms, tri_hits=len(tri_rows))
            rows.append(row)
        sizes = _sizes(conn, sqlite)
    engine.dispose()
    return {"rows": rows, **sizes}


def _sizes(conn, sqlite: bool) -> dict[str, float]:
    from sqlalchemy import text

    body = float(conn.execute(text("SELECT sum(length(CAST(body AS BLOB))) FROM articles" if sqlite
                                   else "SELECT sum(octet_length(body)) FROM articles")).scalar_one())
    if sqlite:
        index = float(conn.execute(text(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'article_search%'")).scalar_one() or 0)
    else:
        index = float(conn.execute(text(  # a partitioned table: the sum of its partitions
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = to_regclass('article_search')")).scalar_one())
    return {"body_bytes": body, "index_bytes": index}


def rebuild(url: str) -> float:
    """Seconds to index every stored article from scratch (what migration 0007 does)."""
    from sqlalchemy import text

    from storage import search
    from storage.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        if url.startswith("sqlite"):
            conn.execute(text("INSERT INTO article_search(article_search) VALUES ('delete-all')"))
        else:
            conn.execute(text("TRUNCATE article_search"))
        started = time.perf_counter()
        search.fill(conn, batch=5000)
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def report(name: str, built: dict[str, float], measured: dict[str, Any], exact: dict[str, int],
           build_s: float) -> list[str]:
    lines = [f"== {name}: {built['articles']:,.0f} articles, body {measured['body_bytes'] / 2**20:,.0f} MiB",
             f"insert rate with the index kept: {built['insert_rate']:,.0f} articles/s (goal ≥ 500)",
             f"index build from scratch: {build_s:,.0f} s; index size {measured['index_bytes'] / 2**20:,.0f} MiB"
             f" = {measured['index_bytes'] / measured['body_bytes']:.2f}× the body text (goal ≤ 3)",
             f"exactness on {exact['sample']:,} articles × {exact['terms']} queries: "
             f"{exact['misses']} misses, {exact['false_hits']} false hits",
             f"{'length':>8} {'kind':>7} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'hits':>6} "
             f"{'SQL p50':>8} {'SQL p95':>8} {'LIKE p50':>9} {'LIKE hits':>9} {'tri p50':>8} {'tri hits':>8}"]
    rows = measured["rows"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = ("AND", r["kind"][4:]) if r["kind"].startswith("and") else (str(r["length"]), r["kind"])
        groups.setdefault(key, []).append(r)
    for length in [str(n) for n in LENGTHS] + ["AND"]:
        for kind in ("common", "rare"):
            group = groups.get((length, kind))
            if not group:
                continue
            p50, p95 = _percentiles([r["ms"] for r in group])
            like50, _ = _percentiles([r["like_ms"] for r in group])
            tri = ([f"{_percentiles([r['tri_ms'] for r in group])[0]:8.1f}",
                    f"{sum(r['tri_hits'] for r in group) / len(group):8.1f}"] if "tri_ms" in group[0]
                   else [f"{'-':>8}", f"{'-':>8}"])
            sql50, sql95 = _percentiles([r["sql_ms"] for r in group]) if "sql_ms" in group[0] else (nan, nan)
            lines.append(f"{length:>8} {kind:>7} {len(group):>3} {p50:8.1f} {p95:8.1f} "
                         f"{sum(r['hits'] for r in group) / len(group):6.1f} {sql50:8.1f} {sql95:8.1f} {like50:9.1f} "
                         f"{sum(r['like_hits'] for r in group) / len(group):9.1f} {' '.join(tri)}")
    by_length: dict[str, list[float]] = {}
    for r in rows:
        by_length.setdefault("AND" if r["kind"].startswith("and") else str(r["length"]), []).append(r["ms"])
    worst = {k: _percentiles(v) for k, v in by_length.items()}
    lines.append("per length p50/p95 ms: " + ", ".join(f"{k}: {a:.1f}/{b:.1f}" for k, (a, b) in worst.items()))
    return lines


def run(database: str, url: str, n: int, pool: list[str], terms_count: int, trigram: bool,
        rebuilding: bool = True) -> dict[str, Any]:
    print(f"{database}: building {n:,} articles", file=sys.stderr, flush=True)
    sample_docs: list[str] = []
    holder: dict[str, Any] = {}

    def on_sample(engine) -> None:
        from sqlalchemy import text

        with engine.connect() as conn:
            sample_docs.extend(b for (b,) in conn.execute(text("SELECT body FROM articles ORDER BY id")))
        holder["terms"] = sample_terms(pool, sample_docs, terms_count)
        holder["exact"] = exactness(engine, holder["terms"])
        print(f"  exactness: {holder['exact']}", file=sys.stderr, flush=True)

    built = build(url, n, pool, on_sample)
    measured = measure(url, holder["terms"], trigram)
    build_s = rebuild(url) if rebuilding else float("nan")
    lines = report(database, built, measured, holder["exact"], build_s)
    print("\n".join(lines), flush=True)
    return {"built": built, "exact": holder["exact"], "build_s": build_s,
            **{k: v for k, v in measured.items() if k != "rows"}, "rows": measured["rows"], "report": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--terms", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-trigram", action="store_true", help="Skip the FTS5 trigram comparison.")
    parser.add_argument("--no-rebuild", action="store_true", help="Skip timing the index built from scratch.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    pool = paragraphs()
    print(f"{len(pool):,} real paragraphs", file=sys.stderr)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        for database in args.databases.split(","):
            if database == "sqlite":
                results[database] = run(database, f"sqlite:///{tmp}/bench.sqlite3", args.articles, pool,
                                        args.terms, not args.no_trigram, not args.no_rebuild)
            else:
                from sqlalchemy import create_engine, text

                schema = "search_bench_" + uuid.uuid4().hex[:8]
                admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                try:
                    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
                    results[database] = run(database, url, args.articles, pool, args.terms, False, not args.no_rebuild)
                finally:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
