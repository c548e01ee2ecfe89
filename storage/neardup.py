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
    if kind == "insert":  # one statement, one round trip (PostgreSQL), whatever the number of keys
        pairs = ", ".join([f"({placeholder}, {placeholder})"] * n)
        return f"INSERT INTO near_bands (band_key, article_id) VALUES {pairs}"
    if kind == "delete":
        return f"DELETE FROM near_bands WHERE article_id = {placeholder} AND band_key IN ({marks})"
    if kind == "candidate_bodies":
        return (f"SELECT a.id, a.story_id, a.body FROM (SELECT article_id, count(*) AS shared FROM near_bands "
                f"WHERE band_key IN ({marks}) AND article_id <> {placeholder} GROUP BY article_id "
                f"ORDER BY shared DESC, article_id LIMIT {MAX_CANDIDATES}) c JOIN articles a ON a.id = c.article_id "
                f"WHERE a.story_id IS NOT NULL ORDER BY c.shared DESC, a.id")
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
        unique = sorted(set(keys))
        cur.execute(_statement("insert", mark, len(unique)), [v for k in unique for v in (k, article_id)])


def remove(session: Session, article_id: int, keys: Sequence[int]) -> None:
    """Take ``article_id`` out of the index (``keys``: the band keys it was indexed under)."""
    if keys:
        cur, mark = cursor(session)
        unique = sorted(set(keys))
        cur.execute(_statement("delete", mark, len(unique)), (article_id, *unique))


def candidate_bodies(session: Session, keys: Sequence[int], *, exclude: int = 0) -> list[tuple[int, int, str]]:
    """The articles sharing at least one band key with ``keys`` (``exclude`` left out), with their
    story and body, in one query (one round trip): ``(article_id, story_id, body)``, those sharing
    the most keys first, at most :data:`MAX_CANDIDATES`; articles in no story are left out."""
    if not keys:
        return []
    cur, mark = cursor(session)
    unique = sorted(set(keys))
    cur.execute(_statement("candidate_bodies", mark, len(unique)), (*unique, exclude))
    return [(int(r[0]), int(r[1]), str(r[2])) for r in cur.fetchall()]


def size(session: Session) -> int:
    """Rows in the index (band keys × articles)."""
    cur, _mark = cursor(session)
    cur.execute("SELECT count(*) FROM near_bands")
    return int(cur.fetchone()[0])
