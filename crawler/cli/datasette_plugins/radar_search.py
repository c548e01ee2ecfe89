"""Datasette plugin: the search functions of ``storage.search`` on every connection, so the
``search`` canned query (and any SQL typed in Datasette) finds Chinese text as ``radar search`` does."""

from __future__ import annotations

import sqlite3

from datasette import hookimpl

from storage.search import register_functions


@hookimpl  # type: ignore[untyped-decorator]  # datasette ships no type hints
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Register search_match, search_hit, search_snippet and search_fold."""
    register_functions(conn)
