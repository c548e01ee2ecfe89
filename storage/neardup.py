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

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

MAX_CANDIDATES = 20
"""Articles checked for one new body at most, those sharing the most band keys first: reposts of
one story share most of their keys, so a story with many members is not checked member by member."""


@cache
def _statement(kind: str, placeholder: str, n: int) -> str:
    marks = ", ".join([placeholder] * n)
    if kind == "insert":
        return f"INSERT INTO near_bands (band_key, article_id) VALUES ({placeholder}, {placeholder})"
    if kind == "delete":
        return f"DELETE FROM near_bands WHERE article_id = {placeholder} AND band_key IN ({marks})"
    if kind == "candidates":
        return (f"SELECT article_id FROM near_bands WHERE band_key IN ({marks}) AND article_id <> {placeholder} "
                f"GROUP BY article_id ORDER BY count(*) DESC, article_id LIMIT {MAX_CANDIDATES}")
    if kind == "bodies":
        return f"SELECT id, story_id, body FROM articles WHERE story_id IS NOT NULL AND id IN ({marks})"
    raise ValueError(kind)


def cursor(session: Session) -> tuple[Any, str]:
    """A DB-API cursor on the session's connection, and the driver's placeholder (``?`` / ``%s``)."""
    conn = session.connection()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a session's connection is open
    return dbapi.cursor(), "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"


def add(session: Session, article_id: int, keys: Sequence[int]) -> None:
    """Index ``article_id`` under its band ``keys``."""
    if keys:
        cur, mark = cursor(session)
        cur.executemany(_statement("insert", mark, 2), [(k, article_id) for k in sorted(set(keys))])


def remove(session: Session, article_id: int, keys: Sequence[int]) -> None:
    """Take ``article_id`` out of the index (``keys``: the band keys it was indexed under)."""
    if keys:
        cur, mark = cursor(session)
        unique = sorted(set(keys))
        cur.execute(_statement("delete", mark, len(unique)), (article_id, *unique))


def candidates(session: Session, keys: Sequence[int], *, exclude: int = 0) -> list[int]:
    """Articles sharing at least one band key with ``keys`` (``exclude`` left out), those sharing
    the most first, at most :data:`MAX_CANDIDATES`."""
    if not keys:
        return []
    cur, mark = cursor(session)
    unique = sorted(set(keys))
    cur.execute(_statement("candidates", mark, len(unique)), (*unique, exclude))
    return [int(r[0]) for r in cur.fetchall()]


def bodies(session: Session, article_ids: Sequence[int]) -> list[tuple[int, int, str]]:
    """``(article_id, story_id, body)`` of those articles that are in a story, in ``article_ids`` order."""
    if not article_ids:
        return []
    cur, mark = cursor(session)
    cur.execute(_statement("bodies", mark, len(article_ids)), tuple(article_ids))
    rows = {int(r[0]): (int(r[0]), int(r[1]), str(r[2])) for r in cur.fetchall()}
    return [rows[i] for i in article_ids if i in rows]


def size(session: Session) -> int:
    """Rows in the index (band keys × articles)."""
    cur, _mark = cursor(session)
    cur.execute("SELECT count(*) FROM near_bands")
    return int(cur.fetchone()[0])
