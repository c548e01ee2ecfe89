"""``radar sql``: run one query, exactly as written, with no way to write.

Nothing here parses the query to decide whether it is safe; the databases decide:

- SQLite: the file is opened read-only (``mode=ro``, ``query_only``) and an authorizer allows
  nothing but reading tables, calling functions and a list of PRAGMAs that only report (no
  ATTACH, no VACUUM INTO, no PRAGMA that sets anything). The sqlite3 module runs one statement.
- PostgreSQL: the query is sent as ``PREPARE … AS <query>`` over the extended protocol, which
  refuses a second statement, and PREPARE accepts only SELECT, VALUES, TABLE, WITH and DML, so
  COPY, DO, CALL, SET and transaction control never run. It is then executed in a READ ONLY
  transaction of a session with ``default_transaction_read_only`` on, so DML fails too.

Both stop the query after ``timeout`` seconds (``statement_timeout`` on PostgreSQL, a progress
handler on SQLite) and fetch at most ``max_rows`` rows, row by row.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from crawler.errors import QueryError
from storage.db import normalize_url
from storage.search import register_functions

__all__ = ["QueryResult", "run_query", "run_readonly"]

MAX_ROWS = 10_000
_EMPTY = "the database is empty: run `radar demo` or `radar crawl` first"
_READ_ONLY = "radar sql is read-only"
_ONE_STATEMENT = "one statement at a time, please"
# a single value SQLite may build (a string or blob): caps what one cell can cost in memory
_SQLITE_MAX_LENGTH = 16_000_000

# SQLite authorizer action codes, by number (sqlite3.h); those allowed are only reading ones
_SQLITE_ACTIONS = (
    "", "CREATE INDEX", "CREATE TABLE", "CREATE TEMP INDEX", "CREATE TEMP TABLE", "CREATE TEMP TRIGGER",
    "CREATE TEMP VIEW", "CREATE TRIGGER", "CREATE VIEW", "DELETE", "DROP INDEX", "DROP TABLE",
    "DROP TEMP INDEX", "DROP TEMP TABLE", "DROP TEMP TRIGGER", "DROP TEMP VIEW", "DROP TRIGGER",
    "DROP VIEW", "INSERT", "PRAGMA", "READ", "SELECT", "TRANSACTION", "UPDATE", "ATTACH", "DETACH",
    "ALTER TABLE", "REINDEX", "ANALYZE", "CREATE VTABLE", "DROP VTABLE", "FUNCTION", "SAVEPOINT",
    "RECURSIVE",
)
_SQLITE_READS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_SCHEMA_TABLES = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
# PRAGMAs that report and change nothing, with or without an argument ...
_PRAGMAS_WITH_ARGUMENT = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
}
# ... and those that only report when given none (``PRAGMA journal_mode`` reads, ``(DELETE)`` sets)
_PRAGMAS_TO_READ = _PRAGMAS_WITH_ARGUMENT | {
    "database_list", "collation_list", "function_list", "module_list", "pragma_list", "compile_options",
    "journal_mode", "user_version", "schema_version", "application_id", "page_count", "page_size",
    "freelist_count", "encoding", "foreign_keys", "data_version", "auto_vacuum", "cache_size",
    "synchronous", "busy_timeout", "query_only", "wal_autocheckpoint", "max_page_count", "mmap_size",
    "journal_size_limit", "locking_mode", "secure_delete", "temp_store", "recursive_triggers",
}

# statements PostgreSQL's PREPARE refuses: a syntax error at one of these words, where the query
# starts, is a refused statement, not a typo (used for the message only)
_NOT_QUERIES = {
    "abort", "alter", "analyze", "begin", "call", "checkpoint", "close", "cluster", "comment", "commit",
    "copy", "create", "deallocate", "declare", "discard", "do", "drop", "end", "execute", "explain",
    "fetch", "grant", "import", "listen", "load", "lock", "move", "notify", "pragma", "prepare",
    "reassign", "refresh", "reindex", "release", "reset", "revoke", "rollback", "savepoint",
    "security", "set", "show", "start", "truncate", "unlisten", "vacuum",
}
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_PREPARED = "radar_sql_query"


@dataclass
class QueryResult:
    """A query's column names and rows; ``truncated`` when it had more rows than were fetched."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False


def run_query(url: str, query: str, *, timezone: str = "Asia/Shanghai", timeout: float = 30.0,
              max_rows: int = MAX_ROWS) -> QueryResult:
    """Run ``query`` (one statement, as written) read-only; at most ``max_rows`` rows.

    Timestamps on PostgreSQL are shown in ``timezone``. A refused statement, a syntax error, a
    query that runs longer than ``timeout`` seconds and any database error raise
    :class:`QueryError` with a one-line message.
    """
    if not query.strip():
        raise QueryError("empty query")
    backend = make_url(normalize_url(url)).get_backend_name()
    if backend == "sqlite":
        return _sqlite(url, query, timeout, max_rows)
    if backend == "postgresql":
        return _postgres(url, query, timezone, timeout, max_rows)
    raise QueryError(f"radar sql supports SQLite and PostgreSQL databases, not {backend}")


def run_readonly(url: str, query: str, *, timezone: str = "Asia/Shanghai") -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of :func:`run_query` with its default limits."""
    result = run_query(url, query, timezone=timezone)
    return result.columns, result.rows


def _take(rows: Iterable[Any], max_rows: int) -> tuple[list[tuple[Any, ...]], bool]:
    """The first ``max_rows`` of ``rows`` and whether there were more (reads one row beyond)."""
    taken: list[tuple[Any, ...]] = []
    for row in rows:
        if len(taken) == max_rows:
            return taken, True
        taken.append(tuple(row))
    return taken, False


def _failed(reason: str) -> QueryError:
    return QueryError(f"query failed: {reason}")


def _timed_out(timeout: float) -> QueryError:
    return _failed(f"stopped after {timeout:g} s (sql_timeout, RADAR_SQL_TIMEOUT)")


# --------------------------------------------------------------------------- SQLite


def _sqlite(url: str, query: str, timeout: float, max_rows: int) -> QueryResult:
    database = make_url(url).database or ""
    path = Path(database).expanduser()
    if database in ("", ":memory:") or not path.is_file():
        raise QueryError(_EMPTY)
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise _failed(_first_line(exc)) from None
    denied: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        conn.execute("PRAGMA query_only=ON")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone() is None:
            raise QueryError(_EMPTY)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _SQLITE_MAX_LENGTH)
        register_functions(conn)  # search_match / search_hit (storage.search)
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        conn.set_authorizer(lambda *args: _authorize(denied, *args))
        cursor = conn.execute(query)
        columns = [d[0] for d in cursor.description or ()]
        rows, truncated = _take(cursor, max_rows) if cursor.description else ([], False)
    except (sqlite3.Error, sqlite3.Warning) as exc:
        message = _first_line(exc)
        if denied or "readonly database" in message:
            raise _failed(f"{_READ_ONLY}: {denied[0] if denied else 'writing'} refused") from None
        if message == "interrupted" and time.monotonic() >= deadline:
            raise _timed_out(timeout) from None
        if "one statement at a time" in message:
            raise _failed(_ONE_STATEMENT) from None
        raise _failed(message) from None
    finally:
        conn.close()
    return QueryResult(columns, rows, truncated)


def _authorize(denied: list[str], action: int, arg1: str | None, arg2: str | None,
               _db: str | None, _trigger: str | None) -> int:
    """SQLITE_OK for reading, SQLITE_DENY for all else (the first refusal is noted in ``denied``)."""
    if action in _SQLITE_READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in (_PRAGMAS_WITH_ARGUMENT if arg2 is not None else _PRAGMAS_TO_READ):
            return sqlite3.SQLITE_OK
    # SQLite itself asks this while reading the schema for a table-valued function (pragma_table_info)
    if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() in _SCHEMA_TABLES and _trigger is None:
        return sqlite3.SQLITE_OK
    name = _SQLITE_ACTIONS[action] if 0 <= action < len(_SQLITE_ACTIONS) else f"action {action}"
    denied.append(f"{name} {arg1}" if arg1 and action != sqlite3.SQLITE_ATTACH else name)
    return sqlite3.SQLITE_DENY


# --------------------------------------------------------------------------- PostgreSQL


def _postgres(url: str, query: str, timezone: str, timeout: float, max_rows: int) -> QueryResult:
    import psycopg

    conninfo = make_url(normalize_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=max(2, round(timeout)))
    except psycopg.Error as exc:
        raise QueryError(f"the database failed: {_first_line(exc)}") from None
    prefix = f"PREPARE {_PREPARED} AS "
    try:
        # session settings, outside any transaction: every transaction of this session is
        # read-only unless one changes it, and the query's is made READ ONLY explicitly too
        conn.execute("SELECT set_config('default_transaction_read_only', 'on', false),"
                     " set_config('statement_timeout', %s, false), set_config('TimeZone', %s, false)",
                     (str(max(1, round(timeout * 1000))), timezone))
        conn.autocommit = False
        conn.read_only = True
        cursor = conn.cursor()
        cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
        if not (row := cursor.fetchone()) or not row[0]:
            raise QueryError(_EMPTY)
        # prepare=True: the extended protocol, which refuses a second statement in the string
        cursor.execute(prefix + query, prepare=True)
        # row by row: memory follows max_rows; closing the stream early cancels the rest
        stream = cursor.stream(f"EXECUTE {_PREPARED}")
        try:
            rows, truncated = _take(stream, max_rows)
        finally:
            stream.close()  # type: ignore[attr-defined]  # a generator, typed as an Iterator
        columns = [d.name for d in cursor.description or ()]
        conn.rollback()
    except psycopg.Error as exc:
        raise _postgres_error(exc, query, len(prefix), timeout) from None
    finally:
        conn.close()
    return QueryResult(columns, rows, truncated)


def _postgres_error(exc: Any, query: str, offset: int, timeout: float) -> QueryError:
    """One line for ``exc``: a refusal says read-only, a typo says syntax error."""
    message = _first_line(exc)
    state = getattr(exc, "sqlstate", None)
    if state == "57014" and "statement timeout" in message:
        return _timed_out(timeout)
    if state == "25006":  # read_only_sql_transaction
        return _failed(f"{_READ_ONLY}: {message}")
    if "multiple commands" in message:
        return _failed(_ONE_STATEMENT)
    position = getattr(exc.diag, "statement_position", None) if state == "42601" else None
    if position and offset:
        at = int(position) - 1 - offset  # characters into the user's query
        start = _LEADING.match(query)
        word = re.match(r"[A-Za-z_]+", query[at:]) if at >= 0 else None
        if start is not None and at == start.end() and word and word.group().lower() in _NOT_QUERIES:
            return _failed(f"{_READ_ONLY}: {word.group().upper()} statements are refused "
                           "(only queries run: SELECT, WITH, VALUES, TABLE)")
    return _failed(message)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
