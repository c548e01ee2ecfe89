"""Full-text search of articles, exact for any term length (issue 22): the index and its queries.

The index holds each article's character tokens (``crawler.text.search_tokens``): on SQLite a
contentless FTS5 table ``article_search`` (rowid = article id, ``detail=none``), kept by triggers
on ``articles`` that call the ``search_tokens`` SQL function this module registers on every
connection; on PostgreSQL a table ``article_search(article_id, tokens int[])`` with a GIN index,
written by :func:`index_articles` / :func:`reindex` where articles are stored or revised, and
emptied by the foreign key's cascade when an article is deleted. Both change in the article's own
transaction. A query asks the index for candidates newest first and re-checks each exactly on the
folded text, so a hit contains every term and no article containing them is missed.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from crawler.text.search_tokens import (
    PG_QUERY_CLASS,
    Query,
    fold,
    fold_table,
    index_numbers,
    index_text,
    parse_query,
    token_number,
)
from storage.tags import TAG_ESCAPE, tag_like

# PostgreSQL: the newest index rows are tested first, in id order; a query that finds its page of
# hits there never touches the GIN index (common terms: a term in 2 % of the articles fills a page
# of 20 from 1,000 rows); otherwise the GIN index finds them all. Testing a row decompresses its
# tokens, so the window is what a rare term pays before the index, whatever the table's size.
NEWEST_WINDOW = 1000
RELEVANCE_POOL = 500  # relevance ranks this many newest hits


# a token no index holds (private use characters are not word characters): an empty query matches nothing
_NOTHING = '"\ue000"'


def _sqlite_match(query: str | None) -> str:
    try:
        return fts_expression(parse_query(query or "")) or _NOTHING
    except ValueError:
        return _NOTHING


def _sqlite_snippet(title: str | None, body: str | None, query: str | None) -> str:
    try:
        parsed = parse_query(query or "")
    except ValueError:
        return ""
    body = body or ""
    return highlight_snippet(body if any(t in fold(body) for t in parsed.include) else title or "", parsed)


def _sqlite_hit(title: str | None, body: str | None, query: str | None) -> int:
    try:
        parsed = parse_query(query or "")
    except ValueError:
        return 0
    return int(parsed.matches(fold(title or "") + "\n" + fold(body or "")))


def register_functions(conn: sqlite3.Connection) -> None:
    """Give a SQLite connection the search functions: ``search_fold(text)``,
    ``search_tokens(title, body)`` (the index triggers call it), ``search_match(query)`` (an FTS5
    MATCH expression for ``article_search``), ``search_hit(title, body, query)`` (1 when the
    article contains every term and no excluded one) and ``search_snippet(title, body, query)``."""
    conn.create_function("search_fold", 1, lambda t: None if t is None else fold(t), deterministic=True)
    conn.create_function("search_tokens", 2, lambda a, b: index_text(a or "", b or ""), deterministic=True)
    conn.create_function("search_match", 1, _sqlite_match, deterministic=True)
    conn.create_function("search_hit", 3, _sqlite_hit, deterministic=True)
    conn.create_function("search_snippet", 3, _sqlite_snippet, deterministic=True)


def fts_expression(query: Query) -> str:
    """The FTS5 MATCH expression of a query's tokens ('' when no term has a word character)."""
    return " AND ".join('"' + t + '"' for t in query.tokens())


# --- schema (migration 0007) -------------------------------------------------------------------

SQLITE_SCHEMA = [
    "CREATE VIRTUAL TABLE article_search USING fts5(tokens, content='', detail='none', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER article_search_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO article_search(rowid, tokens) VALUES (new.id, search_tokens(new.title, new.body)); END",
    "CREATE TRIGGER article_search_update AFTER UPDATE OF title, body ON articles BEGIN "
    "INSERT INTO article_search(article_search, rowid, tokens) "
    "VALUES ('delete', old.id, search_tokens(old.title, old.body)); "
    "INSERT INTO article_search(rowid, tokens) VALUES (new.id, search_tokens(new.title, new.body)); END",
    "CREATE TRIGGER article_search_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO article_search(article_search, rowid, tokens) "
    "VALUES ('delete', old.id, search_tokens(old.title, old.body)); END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS article_search_insert", "DROP TRIGGER IF EXISTS article_search_update",
               "DROP TRIGGER IF EXISTS article_search_delete", "DROP TABLE IF EXISTS article_search"]


def postgres_schema() -> list[str]:
    """The PostgreSQL statements: the table, its GIN index and the SQL functions."""
    table = fold_table()
    source = "".join(chr(c) for c in table)
    target = "".join(table.values())
    pair = f"ascii(substr(r, i, 1))::bigint * {UNICODE} + ascii(substr(r, i + 1, 1))"
    bigram = f"({UNICODE}::bigint + ({pair}) % {SPACE})"
    return [
        *POSTGRES_TABLE,
        f"CREATE FUNCTION search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        f"$fold$ SELECT translate(t, $a${source}$a$, $b${target}$b$) $fold$",
        # the tokens of the query's included terms (whitespace-separated, '-term' excluded)
        f"""CREATE FUNCTION search_query_tokens(q text) RETURNS integer[] LANGUAGE sql IMMUTABLE AS $f$
        SELECT coalesce(array_agg(DISTINCT tok), '{{}}') FROM (
          SELECT CASE WHEN length(r) = 1 THEN ascii(r) ELSE {bigram}::integer END AS tok
          FROM regexp_split_to_table(search_fold(q), '\\s+') AS term,
               regexp_matches(term, '[{PG_QUERY_CLASS}]+', 'g') AS m,
               LATERAL (SELECT m[1] AS r) AS run,
               generate_series(1, greatest(length(r) - 1, 1)) AS i
          WHERE term <> '' AND left(term, 1) <> '-') toks $f$""",
        """CREATE FUNCTION search_hit(title text, body text, q text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$
        SELECT coalesce(bool_and(CASE WHEN left(term, 1) = '-' AND length(term) > 1
                                      THEN strpos(doc, substr(term, 2)) = 0 ELSE strpos(doc, term) > 0 END), false)
        FROM (SELECT search_fold(coalesce(title, '') || chr(10) || coalesce(body, '')) AS doc) d,
             regexp_split_to_table(search_fold(q), '\\s+') AS term WHERE term <> '' $f$""",
        """CREATE FUNCTION search_articles(q text) RETURNS SETOF articles LANGUAGE sql STABLE AS $f$
        SELECT a.* FROM articles a JOIN article_search s ON s.article_id = a.id
        WHERE s.tokens @> search_query_tokens(q) AND search_hit(a.title, a.body, q)
        ORDER BY a.id DESC $f$""",
    ]


# PostgreSQL's GIN index. An article brings about a thousand keys; GIN appends them to a pending
# list and merges the list into the index once it passes gin_pending_list_limit, sorting the keys
# in work_mem. At the 4 MB defaults a batch of articles is merged in many small sorts, and the
# merges were most of the cost of storing an article. A larger list is also scanned by every
# query until it is merged; 16 MB is the size bench/search.py measured both ways.
PENDING_LIST_KB = 16384
MERGE_WORK_MEM = "64MB"
BUILD_WORK_MEM = "256MB"  # for building the whole index at once (fill)
# The table is partitioned by article id. A merge touches a page for most of the keys it brings,
# and once the index outgrew PostgreSQL's buffers each touched page was read back and written
# whole to the WAL again after every checkpoint: 238 KB of WAL an article, and a rate that fell
# with every article stored. New articles go to the newest partition, whose index stays small.
PARTITION_IDS = 32768
PARTITION_PREFIX = "article_search_p"
POSTGRES_INDEX = (f"CREATE INDEX article_search_tokens ON article_search USING gin (tokens) "
                  f"WITH (gin_pending_list_limit = {PENDING_LIST_KB})")
POSTGRES_TABLE = [
    "CREATE TABLE article_search (article_id integer PRIMARY KEY, tokens integer[] NOT NULL) "
    "PARTITION BY RANGE (article_id)",
    POSTGRES_INDEX,
    # no foreign key: attaching a partition would then lock articles against every writer; an
    # article's deletion takes its tokens with it here instead
    "CREATE FUNCTION article_search_forget() RETURNS trigger LANGUAGE plpgsql AS $f$ "
    "BEGIN DELETE FROM article_search WHERE article_id = OLD.id; RETURN OLD; END $f$",
    "CREATE TRIGGER article_search_forget AFTER DELETE ON articles FOR EACH ROW "
    "EXECUTE FUNCTION article_search_forget()",
]
UNICODE = 0x110000
SPACE = 2**31 - 1 - UNICODE
POSTGRES_DROP = ["DROP FUNCTION IF EXISTS search_articles(text)",
                 "DROP FUNCTION IF EXISTS search_hit(text, text, text)",
                 "DROP FUNCTION IF EXISTS search_query_tokens(text)", "DROP FUNCTION IF EXISTS search_fold(text)",
                 "DROP TRIGGER IF EXISTS article_search_forget ON articles",
                 "DROP FUNCTION IF EXISTS article_search_forget()", "DROP TABLE IF EXISTS article_search"]


def fill(conn: Connection, progress: Callable[[int, int], None] | None = None, batch: int = 2000) -> int:
    """Index every stored article (a new, empty index); returns how many. ``progress(done, total)``
    is called after each batch."""
    postgres = conn.dialect.name != "sqlite"
    if postgres:  # one GIN build from all the rows is many times faster than keeping it row by row
        conn.execute(text("DROP INDEX IF EXISTS article_search_tokens"))
        newest = conn.execute(text("SELECT max(id) FROM articles")).scalar()
        # this transaction holds the table: the partitions are made in it, not beside it
        for number in sorted(set(range((newest or 0) // PARTITION_IDS + 1)) - _partitions(conn)):
            conn.execute(text(_partition_ddl(number, attach=False)))
    total = int(conn.execute(text("SELECT count(*) FROM articles")).scalar_one())
    done, last = 0, 0
    while True:
        rows = conn.execute(text("SELECT id, title, body FROM articles WHERE id > :last ORDER BY id LIMIT :n"),
                            {"last": last, "n": batch}).all()
        if not rows:
            if postgres:
                conn.execute(text(f"SET LOCAL maintenance_work_mem = '{BUILD_WORK_MEM}'"))
                conn.execute(text(POSTGRES_INDEX))
            return done
        index_articles(conn, [(int(r[0]), r[1] or "", r[2] or "") for r in rows], force=True)
        done += len(rows)
        last = int(rows[-1][0])
        if progress is not None:
            progress(done, total)


def stderr_progress(done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\rsearch index [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
    sys.stderr.flush()


# --- keeping it -------------------------------------------------------------------------------

def index_articles(conn: Connection, rows: Sequence[tuple[int, str, str]], *, force: bool = False) -> None:
    """Index new articles ``(id, title, body)``. On SQLite the insert trigger already did (unless
    ``force``, for filling a new index)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        if force:
            conn.execute(text("INSERT INTO article_search(rowid, tokens) VALUES (:id, :tokens)"),
                         [{"id": i, "tokens": index_text(t, b)} for i, t, b in rows])
        return
    if not force:
        ensure_partitions(conn, [i for i, _t, _b in rows])
    conn.execute(text(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'"))  # for the pending list's merge
    # an array literal: psycopg adapts a list of a thousand ints more slowly than PostgreSQL parses it
    conn.execute(text("INSERT INTO article_search (article_id, tokens) VALUES (:id, CAST(:tokens AS integer[]))"),
                 [{"id": i, "tokens": _array(index_numbers(t, b))} for i, t, b in rows])


def _partition(number: int) -> str:
    """The name of the partition that holds article ids from ``number * PARTITION_IDS`` on."""
    return f"{PARTITION_PREFIX}{number}"


def _partitions(conn: Connection) -> set[int]:
    names = conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "WHERE i.inhparent = to_regclass('article_search')")).scalars()
    return {int(name.removeprefix(PARTITION_PREFIX)) for name in names if name.startswith(PARTITION_PREFIX)}


def _partition_ddl(number: int, *, attach: bool) -> str:
    bounds = f"FOR VALUES FROM ({number * PARTITION_IDS}) TO ({(number + 1) * PARTITION_IDS})"
    if attach:
        return f"ALTER TABLE article_search ATTACH PARTITION {_partition(number)} {bounds}"
    return f"CREATE TABLE {_partition(number)} PARTITION OF article_search {bounds}"


def ensure_partitions(conn: Connection, article_ids: Sequence[int]) -> None:
    """PostgreSQL: make sure the partitions that will hold ``article_ids``, and the one after the
    newest, exist. A missing one is made on a connection of its own, committed at once, so that
    the caller's transaction (which may hold article rows) never waits for it: a table made apart
    and attached takes only a lock that writers and readers do not conflict with. Two processes
    making the same partition at once are fine: the second finds it made.

    When the partition after the newest is made, the one before the newest is complete: its
    GIN pending list is merged then. Nothing else would merge it (a list is merged when it
    outgrows its limit, and no new article comes to fill it), and every query reads every
    partition's pending list whole."""
    if conn.dialect.name == "sqlite" or not article_ids:
        return
    wanted = {i // PARTITION_IDS for i in article_ids} | {max(article_ids) // PARTITION_IDS + 1}
    missing = sorted(wanted - _partitions(conn))
    if not missing:
        return
    with conn.engine.connect() as side:
        side = side.execution_options(isolation_level="AUTOCOMMIT")
        side.execute(text("SET lock_timeout = '10s'"))
        try:
            for number in missing:
                _make_partition(side, number)
            for number in sorted({n - 2 for n in missing if n >= 2}):
                side.execute(text(
                    "SELECT gin_clean_pending_list(x.indexrelid) FROM pg_index x "
                    "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am m ON m.oid = i.relam "
                    "WHERE x.indrelid = to_regclass(:table) AND m.amname = 'gin'"),
                    {"table": _partition(number)})
        finally:
            side.execute(text("RESET lock_timeout"))  # the connection goes back to the pool


def _make_partition(side: Connection, number: int, attempts: int = 5) -> None:
    for attempt in range(attempts):
        if number in _partitions(side):
            return
        try:
            side.execute(text(f"CREATE TABLE IF NOT EXISTS {_partition(number)} "
                              "(LIKE article_search INCLUDING ALL)"))
            side.execute(text(_partition_ddl(number, attach=True)))
            return
        except DBAPIError:  # made or attached by another process meanwhile, or a lock timeout
            if attempt == attempts - 1 and number not in _partitions(side):
                raise


def _array(numbers: list[int]) -> str:
    return "{" + ",".join(map(str, numbers)) + "}"


def reindex(conn: Connection, article_id: int, title: str, body: str) -> None:
    """Re-index a revised article (PostgreSQL; on SQLite the update trigger did)."""
    if conn.dialect.name != "sqlite":
        conn.execute(text(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'"))
        conn.execute(text("UPDATE article_search SET tokens = CAST(:tokens AS integer[]) WHERE article_id = :id"),
                     {"id": article_id, "tokens": _array(index_numbers(title, body))})


# --- querying ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """What else a hit must be: events of ``event_type``, a region containing ``region``, from
    ``source`` (its id or its 来源), published (or else fetched) in [since, until), carrying ``tag``."""

    event_type: str | None = None
    region: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tag: str | None = None  # stored with the article from its source's tags (storage.tags)


@dataclass(frozen=True)
class Hit:
    """One article found, with a highlighted snippet and a relevance score."""

    id: int
    title: str
    url: str
    source: str
    published_at: Any
    region: str
    snippet: str
    score: float


_COLUMNS = "a.id, a.title, a.body, a.url, a.source, a.source_name, a.published_at, a.fetched_at, a.region"


def _filters(filters: Filters, params: dict[str, Any]) -> str:
    sql = ""
    if filters.event_type:
        params["etype"] = filters.event_type
        sql += (" AND (EXISTS (SELECT 1 FROM events e WHERE e.article_id = a.id AND e.type = :etype)"
                " OR EXISTS (SELECT 1 FROM event_mentions m JOIN events e ON e.id = m.event_id"
                " WHERE m.article_id = a.id AND e.type = :etype))")
    if filters.region:
        params["region"] = "%" + filters.region + "%"
        sql += (" AND (a.region LIKE :region OR EXISTS (SELECT 1 FROM events e WHERE e.article_id = a.id"
                " AND e.region LIKE :region))")
    if filters.source:
        params["source"] = filters.source
        sql += " AND (a.source = :source OR a.source_name = :source)"
    if filters.tag:
        params["tag"] = tag_like(filters.tag)
        sql += f" AND a.tags LIKE :tag ESCAPE '{TAG_ESCAPE}'"
    if filters.since:
        params["since"] = filters.since
        sql += " AND coalesce(a.published_at, a.fetched_at) >= :since"
    if filters.until:
        params["until"] = filters.until
        sql += " AND coalesce(a.published_at, a.fetched_at) < :until"
    return sql


def _candidates(conn: Connection, query: Query, filters: Filters) -> Iterator[Any]:
    params: dict[str, Any] = {}
    where = _filters(filters, params)
    if conn.dialect.name == "sqlite":
        match = fts_expression(query)
        if not match:  # no word character in any term: only a scan can tell
            yield from conn.execute(text(f"SELECT {_COLUMNS} FROM articles a WHERE 1=1{where} ORDER BY a.id DESC"),
                                    params)
            return
        params["match"] = match
        yield from conn.execute(text(
            f"SELECT {_COLUMNS} FROM article_search s JOIN articles a ON a.id = s.rowid "
            f"WHERE article_search MATCH :match{where} ORDER BY s.rowid DESC"), params)
        return
    params["tokens"] = sorted({token_number(t) for t in query.tokens()})
    newest = conn.execute(text("SELECT max(article_id) FROM article_search")).scalar()
    if newest is None:
        return
    params["floor"] = int(newest) - NEWEST_WINDOW
    stream = {"stream_results": True, "yield_per": 50}
    # ids in order first, each article fetched only when the caller reads that far (the lateral
    # subquery's OFFSET 0 keeps the planner from joining every candidate first)
    select = (f"SELECT {_COLUMNS} FROM ({{}} ORDER BY article_id DESC OFFSET 0) s "
              f"CROSS JOIN LATERAL (SELECT * FROM articles a WHERE a.id = s.article_id{where} OFFSET 0) a "
              f"ORDER BY s.article_id DESC")
    # The planner prices article_search by its heap alone, but each row's tokens live out of line
    # (TOAST) and testing them means decompressing them; it must not pick its plan by that price.
    # The newest rows: walked backwards by id, stopping as soon as the caller has enough.
    for setting in ("enable_bitmapscan", "enable_seqscan"):
        conn.execute(text(f"SET LOCAL {setting} = off"))
    try:
        yield from conn.execute(text(select.format(
            "SELECT article_id FROM article_search WHERE article_id > :floor "
            "AND tokens @> CAST(:tokens AS integer[])")), params, execution_options=stream)
    finally:
        conn.execute(text("SET LOCAL enable_bitmapscan = on"))
    # Older articles: each partition's GIN index, newest partition first, finds its candidates,
    # sorted by id; the caller stops reading once it has enough, so a term with hits in the newest
    # partitions never probes the others. A partition is named, not reached through the parent,
    # and the primary key's range is hidden from the planner ("+ 0"): neither can then stand in
    # for the GIN index.
    conn.execute(text("SET LOCAL enable_indexscan = off"))
    try:
        for number in sorted(_partitions(conn), reverse=True):
            yield from conn.execute(text(select.format(
                f"SELECT article_id FROM {_partition(number)} WHERE article_id + 0 <= :floor "
                "AND tokens @> CAST(:tokens AS integer[])")), params, execution_options=stream)
    finally:
        conn.execute(text("SET LOCAL enable_indexscan = on"))
        conn.execute(text("SET LOCAL enable_seqscan = on"))


def _score(query: Query, title: str, body: str) -> float:
    folded_title, folded_body = fold(title), fold(body)
    score = 0.0
    for term in query.include:
        score += 3.0 * folded_title.count(term) + folded_body.count(term) * 1000.0 / max(len(body), 200)
    return score


def search(conn: Connection, query: str | Query, *, filters: Filters | None = None, sort: str = "recent",
           limit: int = 20) -> list[Hit]:
    """The articles containing every term of ``query`` (and no excluded one) that pass
    ``filters``, newest stored first (``sort="recent"``), or (``"relevance"``) the
    :data:`RELEVANCE_POOL` newest ranked by how often the terms occur, title counting thrice."""
    parsed = parse_query(query) if isinstance(query, str) else query
    wanted = limit if sort == "recent" else max(limit, RELEVANCE_POOL)
    check = conn.dialect.name != "sqlite" or not parsed.exact()
    hits: list[Hit] = []
    for row in _candidates(conn, parsed, filters or Filters()):
        title, body = row.title or "", row.body or ""
        if check and not parsed.matches(fold(title) + "\n" + fold(body)):
            continue
        snippet = highlight_snippet(body if any(t in fold(body) for t in parsed.include) else title, parsed)
        hits.append(Hit(int(row.id), title, row.url, row.source_name or row.source,
                        row.published_at or row.fetched_at, row.region or "", snippet,
                        _score(parsed, title, body)))
        if len(hits) >= wanted:
            break
    if sort == "relevance":
        hits.sort(key=lambda h: (-h.score, -h.id))
    return hits[:limit]


def highlight_snippet(value: str, query: Query) -> str:
    """A snippet of ``value`` around the first hit, terms in 【】."""
    from crawler.text.search_tokens import highlight

    return highlight(value, query, mark=("【", "】"))
