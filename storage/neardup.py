"""The near-duplicate index in the database: LSH band keys per article (table ``near_bands``).

``crawler.dedupe.neardup`` computes the keys; this module stores them and finds the articles that
share one. The index lives in the database, so it survives restarts, is never rebuilt in memory,
and every crawl process on a PostgreSQL database uses the same one. Callers own the transaction.

These run for every stored article, so they send plain SQL through a DB-API cursor of the
session's own connection (so inside its transaction): SQLAlchemy's statement layer costs several
times what these queries themselves do. On PostgreSQL the keys travel as one array parameter,
so a statement's text is the same for any number of keys: psycopg converts and prepares it once
(a text with a placeholder per key was re-parsed by psycopg on every call, a third of what
storing a batch cost). SQLite gets one placeholder per key, in chunks under its limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from crawler.dedupe.stories import rank

_CHUNK = 900  # values bound per statement at most: well under SQLite's and psycopg's limits


def array_literal(values: Iterable[int]) -> str:
    """An ``integer[]`` literal of ``values``, for PostgreSQL statements cast with ``::integer[]``."""
    # an integer[] literal: psycopg adapts a list of ints by checking each one's size, which took
    # longer than the query; a string is passed as it is and cast by the server
    return "{" + ",".join(map(str, values)) + "}"


# PostgreSQL: one text whatever the number of keys
_PG = {
    "insert": "INSERT INTO near_bands (band_key, article_id) SELECT * FROM unnest(%s::integer[], %s::integer[])",
    "delete": "DELETE FROM near_bands WHERE article_id = %s AND band_key = ANY(%s::integer[])",
    "lookup": "SELECT band_key, article_id FROM near_bands WHERE band_key = ANY(%s::integer[])",
    "bodies": "SELECT id, story_id, body FROM articles WHERE story_id IS NOT NULL AND id = ANY(%s::integer[])",
}


@cache
def _sqlite(kind: str, n: int) -> str:
    marks = ", ".join(["?"] * n)
    if kind == "insert":
        return "INSERT INTO near_bands (band_key, article_id) VALUES " + ", ".join(["(?, ?)"] * n)
    if kind == "delete":
        return f"DELETE FROM near_bands WHERE article_id = ? AND band_key IN ({marks})"
    if kind == "lookup":
        return f"SELECT band_key, article_id FROM near_bands WHERE band_key IN ({marks})"
    if kind == "bodies":
        return f"SELECT id, story_id, body FROM articles WHERE story_id IS NOT NULL AND id IN ({marks})"
    raise ValueError(kind)


def cursor(session: Session) -> tuple[Any, str]:
    """A DB-API cursor on the session's connection, and the driver's placeholder (``?`` / ``%s``)."""
    conn = session.connection()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a session's connection is open
    return dbapi.cursor(), "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def add(session: Session, entries: Iterable[tuple[int, Sequence[int]]]) -> None:
    """Index each ``(article_id, band_keys)`` of ``entries``, all in one statement."""
    rows = [(key, article_id) for article_id, keys in entries for key in sorted(set(keys))]
    if not rows:
        return
    cur, mark = cursor(session)
    if mark == "%s":
        cur.execute(_PG["insert"], (array_literal(key for key, _a in rows),
                                    array_literal(article_id for _k, article_id in rows)))
        return
    for chunk in _chunks(rows, _CHUNK // 2):
        cur.execute(_sqlite("insert", len(chunk)), [v for row in chunk for v in row])


def remove(session: Session, article_id: int, keys: Sequence[int]) -> None:
    """Take ``article_id`` out of the index (``keys``: the band keys it was indexed under)."""
    if keys:
        cur, mark = cursor(session)
        unique = sorted(set(keys))
        if mark == "%s":
            cur.execute(_PG["delete"], (article_id, array_literal(unique)))
        else:
            cur.execute(_sqlite("delete", len(unique)), (article_id, *unique))


def _select(session: Session, kind: str, values: Sequence[int]) -> list[tuple[Any, ...]]:
    cur, mark = cursor(session)
    if mark == "%s":
        cur.execute(_PG[kind], (array_literal(values),))
        return list(cur.fetchall())
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(values):
        cur.execute(_sqlite(kind, len(chunk)), chunk)
        found += cur.fetchall()
    return found


def candidates(session: Session, bands: Sequence[Sequence[int]]) -> list[list[int]]:
    """For each band-key list of ``bands``, the indexed articles sharing at least one key with
    it, those sharing the most first (then the oldest), at most ``crawler.dedupe.stories.MAX_CANDIDATES`` each.

    One query for all the lists together: what a batch of new articles costs in round trips
    does not grow with its size.
    """
    wanted = sorted({key for keys in bands for key in keys})
    holders: dict[int, list[int]] = {}
    if wanted:
        for key, article_id in _select(session, "lookup", wanted):
            holders.setdefault(int(key), []).append(int(article_id))
    return [rank(keys, holders) for keys in bands]


def bodies(session: Session, article_ids: Iterable[int]) -> list[tuple[int, int, str]]:
    """``(article_id, story_id, body)`` of those of ``article_ids`` that are in a story."""
    ids = sorted(set(article_ids))
    if not ids:
        return []
    return [(int(r[0]), int(r[1]), str(r[2])) for r in _select(session, "bodies", ids)]


def size(session: Session) -> int:
    """Rows in the index (band keys × articles)."""
    cur, _mark = cursor(session)
    cur.execute("SELECT count(*) FROM near_bands")
    return int(cur.fetchone()[0])
