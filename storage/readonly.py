"""``radar sql``: run one query with no way to write.

Two guards: a statement that is not a query is refused with a clear message before it reaches
the database, and the connection itself is read-only (SQLite ``query_only``, PostgreSQL
``READ ONLY`` transaction), so a write hidden in a CTE fails too.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, StatementError

from crawler.errors import QueryError
from storage.db import is_migrated, make_engine

_READ_VERBS = {"select", "with", "explain", "values", "pragma", "show", "table"}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_ASSIGNING_PRAGMA = re.compile(r"^\s*pragma\s+[\w.]+\s*=", re.I)


def check_readonly(query: str) -> str:
    """The query, stripped, if it is a single read statement; otherwise :class:`QueryError`."""
    bare = _COMMENTS.sub(" ", query).strip().rstrip(";").strip()
    if not bare:
        raise QueryError("empty query")
    if ";" in re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", bare):
        raise QueryError("one statement at a time, please")
    verb = bare.split(None, 1)[0].lower()
    if verb not in _READ_VERBS or _ASSIGNING_PRAGMA.match(bare):
        raise QueryError(f"radar sql is read-only: {verb.upper()} statements are refused "
                         "(the crawler and daemon are the only writers)")
    return bare


def run_readonly(url: str, query: str, *, timezone: str = "Asia/Shanghai") -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``query``; timestamps on PostgreSQL are shown in ``timezone``."""
    statement = check_readonly(query)
    engine = make_engine(url)
    dialect = engine.dialect.name

    @event.listens_for(engine, "connect")
    def _readonly(dbapi_conn: Any, _record: Any) -> None:
        if dialect == "postgresql":
            # outside a transaction, or the pool's rollback would undo these session settings
            dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        if dialect == "sqlite":
            cursor.execute("PRAGMA query_only=ON")
        elif dialect == "postgresql":
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cursor.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
        cursor.close()
        if dialect == "postgresql":
            dbapi_conn.autocommit = False

    try:
        if not is_migrated(engine):
            raise QueryError("the database is empty: run `radar demo` or `radar crawl` first")
        with engine.connect() as conn:
            result = conn.execute(text(statement))
            columns = list(result.keys())
            rows = [tuple(r) for r in result]
    except (DBAPIError, StatementError) as exc:
        message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise QueryError(f"query failed: {message}") from None
    finally:
        engine.dispose()
    return columns, rows
