"""The near-duplicate index in the database: LSH band keys per article (table ``near_bands``).

``crawler.neardup`` computes the keys; this module stores them and finds the articles that
share one. The index lives in the database, so it survives restarts, is never rebuilt in memory,
and every crawl process on a PostgreSQL database uses the same one. Callers own the transaction.

These run for every stored article, so they send plain SQL through a DB-API cursor of the
session's own connection (so inside its transaction): integers only, the same text on SQLite and
PostgreSQL but for the placeholder. SQLAlchemy's statement layer costs several times what these
queries themselves do on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

MAX_CANDIDATES = 20
"""Articles checked for one new body at most, those sharing the most band keys first: reposts of
one story share most of their keys, so a story with many members is not checked member by member."""
_CHUNK = 900  # values bound per statement at most: well under SQLite's and psycopg's limits


@cache
def _statement(kind: str, placeholder: str, n: int) -> str:
    marks = ", ".join([placeholder] * n)
    if kind == "insert":  # one statement, one round trip (PostgreSQL), whatever the number of keys
        pairs = ", ".join([f"({placeholder}, {placeholder})"] * n)
        return f"INSERT INTO near_bands (band_key, article_id) VALUES {pairs}"
    if kind == "delete":
        return f"DELETE FROM near_bands WHERE article_id = {placeholder} AND band_key IN ({marks})"
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


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def add(session: Session, entries: Iterable[tuple[int, Sequence[int]]]) -> None:
    """Index each ``(article_id, band_keys)`` of ``entries``, all in one statement."""
    rows = [(key, article_id) for article_id, keys in entries for key in sorted(set(keys))]
    if rows:
        cur, mark = cursor(session)
        for i in range(0, len(rows), _CHUNK // 2):
            chunk = rows[i : i + _CHUNK // 2]
            cur.execute(_statement("insert", mark, len(chunk)), [v for row in chunk for v in row])


def remove(session: Session, article_id: int, keys: Sequence[int]) -> None:
    """Take ``article_id`` out of the index (``keys``: the band keys it was indexed under)."""
    if keys:
        cur, mark = cursor(session)
        unique = sorted(set(keys))
        cur.execute(_statement("delete", mark, len(unique)), (article_id, *unique))


def candidates(session: Session, bands: Sequence[Sequence[int]]) -> list[list[int]]:
    """For each band-key list of ``bands``, the indexed articles sharing at least one key with
    it, those sharing the most first (then the oldest), at most :data:`MAX_CANDIDATES` each.

    One query for all the lists together: what a batch of new articles costs in round trips
    does not grow with its size.
    """
    wanted = sorted({key for keys in bands for key in keys})
    holders: dict[int, list[int]] = {}
    if wanted:
        cur, mark = cursor(session)
        for chunk in _chunks(wanted):
            cur.execute(_statement("lookup", mark, len(chunk)), chunk)
            for key, article_id in cur.fetchall():
                holders.setdefault(int(key), []).append(int(article_id))
    ranked = []
    for keys in bands:
        shared: dict[int, int] = {}
        for key in set(keys):
            for article_id in holders.get(key, ()):
                shared[article_id] = shared.get(article_id, 0) + 1
        ranked.append(sorted(shared, key=lambda a: (-shared[a], a))[:MAX_CANDIDATES])
    return ranked


def bodies(session: Session, article_ids: Iterable[int]) -> list[tuple[int, int, str]]:
    """``(article_id, story_id, body)`` of those of ``article_ids`` that are in a story."""
    ids = sorted(set(article_ids))
    found: list[tuple[int, int, str]] = []
    if ids:
        cur, mark = cursor(session)
        for chunk in _chunks(ids):
            cur.execute(_statement("bodies", mark, len(chunk)), chunk)
            found += [(int(r[0]), int(r[1]), str(r[2])) for r in cur.fetchall()]
    return found


def size(session: Session) -> int:
    """Rows in the index (band keys × articles)."""
    cur, _mark = cursor(session)
    cur.execute("SELECT count(*) FROM near_bands")
    return int(cur.fetchone()[0])
