"""`radar sql` cannot write, run programs, hang or drive the terminal (issue 26, items 1 and 4).

Each test runs the attack of the hostile review against a real SQLite file or a real PostgreSQL
server and checks the database afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crawler.article import Article
from crawler.cli import main
from crawler.extraction import extract
from crawler.ingest.prepare import prepare_article
from storage import queries
from storage.db import open_database, transaction

ESCAPES = "\x1b]0;pwned\x07"  # sets the terminal's window title
CLEAR = "\x1b[2J"  # clears the screen


def _fill(url: str) -> str:
    """``url`` with two articles, one at a URL with a port (for LIKE '%:52948/%')."""
    engine, factory = open_database(url)
    with transaction(factory) as s:
        for n, article_url in enumerate(["http://127.0.0.1:52948/a.html", "http://x.test/b.html"]):
            queries.store_article(s, Article(url=article_url, title=f"标题{n}", body=f"正文{n}" * 5),
                                  source="x", fetched_at=datetime(2024, 2, 1, tzinfo=UTC))
    engine.dispose()
    return url


@pytest.fixture
def filled(db_url: str) -> str:
    return _fill(db_url)


def _run(url: str, *args: str, timeout: str = "30") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["sql", *args], env={
        "RADAR_DATABASE_URL": url, "RADAR_CONFIG": "", "RADAR_SQL_TIMEOUT": timeout})
    return result.exit_code, result.stdout, result.stderr


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM articles")).scalar_one())
    finally:
        engine.dispose()


def _one_line_error(code: int, out: str, err: str) -> str:
    assert code == 1 and not out, (code, out, err)
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --------------------------------------------------------------------------- item 1: both databases


def test_a_second_statement_behind_dollar_quotes_never_runs(filled: str) -> None:
    attack = ("SELECT $$'$$; COMMIT; BEGIN READ WRITE; DELETE FROM articles WHERE id=(SELECT min(id) "
              "FROM articles); COMMIT; SELECT $$'$$")
    err = _one_line_error(*_run(filled, attack))
    # SQLite has no $$ quoting: the first statement is already a syntax error there
    assert "one statement at a time" in err if filled.startswith("postgresql") else "syntax error" in err
    err = _one_line_error(*_run(filled, "SELECT 1; DELETE FROM articles WHERE id=(SELECT min(id) FROM articles)"))
    assert "one statement at a time" in err
    assert _count(filled) == 2


@pytest.mark.parametrize("query", ["COMMIT", "BEGIN READ WRITE", "SET TRANSACTION READ WRITE",
                                   "DO $$BEGIN DELETE FROM articles; END$$"])
def test_a_single_statement_cannot_leave_the_read_only_transaction(filled: str, query: str) -> None:
    err = _one_line_error(*_run(filled, query))
    assert "read-only" in err or "syntax error" in err  # SQLite has no DO: a syntax error there
    assert _count(filled) == 2


def test_a_long_query_is_stopped_after_sql_timeout(filled: str) -> None:
    slow = ("SELECT pg_sleep(60)" if filled.startswith("postgresql") else
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
    started = time.monotonic()
    err = _one_line_error(*_run(filled, slow, timeout="1"))
    assert "stopped after 1 s (sql_timeout" in err
    assert time.monotonic() - started < 30  # 60 s or forever without the timeout


def test_comment_markers_inside_strings_are_left_alone(filled: str) -> None:
    code, out, err = _run(filled, "SELECT 'http://x/*.html' AS p, '*/' AS y -- a real comment", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"p": "http://x/*.html", "y": "*/"}]


def test_a_typo_is_a_syntax_error_not_a_refused_write(filled: str) -> None:
    err = _one_line_error(*_run(filled, "SELEC title FROM articles"))
    assert "syntax error" in err and "read-only" not in err


def test_the_query_reaches_the_database_as_written(filled: str) -> None:
    """No bind-parameter parsing: ':52948' and '%' are text, not placeholders."""
    code, out, err = _run(filled, "SELECT url FROM articles WHERE url LIKE '%:52948/%'", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"url": "http://127.0.0.1:52948/a.html"}]


def test_rows_beyond_max_rows_are_not_fetched_and_stderr_says_so(filled: str) -> None:
    code, out, err = _run(filled, "SELECT id FROM articles ORDER BY id", "--max-rows", "1")
    assert code == 0
    assert out.splitlines()[-1] == "(first 1 rows shown)" and len(out.splitlines()) == 4
    assert "first 1 rows shown" in err
    code, out, err = _run(filled, "SELECT id FROM articles", "--max-rows", "1", "--format", "json")
    assert len(json.loads(out)) == 1 and "first 1 rows shown" in err


# --------------------------------------------------------------------------- item 1: PostgreSQL


def test_copy_to_program_does_not_run(postgres_url: str, postgres_admin: Any) -> None:
    filled = _fill(postgres_url)
    # the test server's role can run programs: the same statement, sent directly, does
    control = Path(f"/tmp/radar-control-{uuid.uuid4().hex}")
    with postgres_admin.connect() as conn:
        conn.execute(text(f"COPY (SELECT 1) TO PROGRAM 'touch {control}'"))
    try:
        assert control.exists()
    finally:
        control.unlink(missing_ok=True)
    marker = Path(f"/tmp/radar-pwned-{uuid.uuid4().hex}")
    err = _one_line_error(*_run(filled, f"SELECT $$'$$; COPY (SELECT 1) TO PROGRAM 'touch {marker}'; SELECT $$'$$"))
    assert "one statement at a time" in err
    for query in (f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'",
                  f"/* x */ copy articles to program 'touch {marker}'"):
        err = _one_line_error(*_run(filled, query))
        assert "read-only" in err and "COPY statements are refused" in err
    assert not marker.exists()


@pytest.mark.parametrize("query", ["DELETE FROM articles",
                                   "WITH gone AS (DELETE FROM articles RETURNING id) SELECT count(*) FROM gone",
                                   "SELECT nextval(pg_get_serial_sequence('articles', 'id'))"])
def test_postgres_writes_are_refused_by_the_read_only_transaction(postgres_url: str, query: str) -> None:
    filled = _fill(postgres_url)
    err = _one_line_error(*_run(filled, query))
    assert "radar sql is read-only: cannot execute" in err and "in a read-only transaction" in err
    assert _count(filled) == 2


# --------------------------------------------------------------------------- item 1: SQLite


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _journal_mode(url: str) -> str:
    with sqlite3.connect(_sqlite_path(url)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


@pytest.fixture
def filled_sqlite(sqlite_url: str) -> str:
    open_database(sqlite_url)[0].dispose()
    return sqlite_url


@pytest.mark.parametrize("query", ["PRAGMA journal_mode(DELETE)", "PRAGMA journal_mode = DELETE",
                                   "pragma main.JOURNAL_MODE=delete", "PRAGMA query_only = OFF",
                                   "PRAGMA foreign_keys=ON", "PRAGMA user_version = 7"])
def test_sqlite_pragmas_that_set_are_refused_in_one_line(filled_sqlite: str, query: str) -> None:
    assert _journal_mode(filled_sqlite) == "wal"
    err = _one_line_error(*_run(filled_sqlite, query))
    assert "read-only" in err and "PRAGMA" in err
    assert _journal_mode(filled_sqlite) == "wal"
    with sqlite3.connect(_sqlite_path(filled_sqlite)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0


def test_sqlite_pragmas_that_report_still_work(filled_sqlite: str) -> None:
    code, out, err = _run(filled_sqlite, "PRAGMA journal_mode", "--format", "json")
    assert code == 0 and json.loads(out) == [{"journal_mode": "wal"}], err
    code, out, err = _run(filled_sqlite, "PRAGMA table_info(articles)", "--format", "csv")
    assert code == 0 and "title" in [row[1] for row in csv.reader(io.StringIO(out))], err
    code, out, err = _run(filled_sqlite, "SELECT name FROM pragma_table_info('articles') WHERE name = 'body'")
    assert code == 0 and "(1 row)" in out, err


def test_sqlite_cannot_write_other_files(filled_sqlite: str, tmp_path: Path) -> None:
    other, copy = tmp_path / "other.db", tmp_path / "copy.db"
    for query in (f"ATTACH '{other}' AS o", f"VACUUM INTO '{copy}'"):
        err = _one_line_error(*_run(filled_sqlite, query))
        assert "read-only" in err
    assert not other.exists() and not copy.exists()


# --------------------------------------------------------------------------- item 4


def test_control_characters_are_stripped_before_an_article_is_stored(db_url: str) -> None:
    page = (f'<html><head><meta name="ArticleTitle" content="关于印发{ESCAPES}数字经济规划的通知{CLEAR}">'
            f'<meta name="ContentSource" content="江西\u202e日报\x9b31m"></head><body>'
            '<h1>关于印发数字经济规划的通知</h1><div class="content">'
            + "".join(f"<p>第{n}段正文{CLEAR}内容，说明数字经济发展的目标和任务。</p>" for n in range(8))
            + "<table><tr><td>项目</td><td>金额</td></tr></table></div></body></html>").encode()
    article = extract(page, "http://x.test/escapes.html")
    assert ESCAPES in article.title  # what extraction finds on the page
    prepared = prepare_article(article, detect=False)
    engine, factory = open_database(db_url)
    with transaction(factory) as s:
        queries.store_article(s, prepared.article, source="x", fetched_at=datetime(2024, 2, 1, tzinfo=UTC),
                              digest=prepared.digest, near=prepared.near)
    engine.dispose()
    code, out, err = _run(db_url, "SELECT title, source_name, body FROM articles", "--format", "json")
    assert code == 0, err
    [row] = json.loads(out)
    assert row["title"] == "关于印发]0;pwned数字经济规划的通知[2J"
    assert row["source_name"] == "江西日报31m"
    assert "\x1b" not in row["body"] and "\n" in row["body"] and "第7段正文[2J内容" in row["body"]


def test_raw_control_characters_already_stored_are_escaped_on_output(db_url: str) -> None:
    engine, factory = open_database(db_url)
    with transaction(factory) as s:  # stored as an older version did, without cleaning
        queries.store_article(s, Article(url="http://x.test/raw.html", title=f"标题{ESCAPES}X{CLEAR}",
                                         body="正文\u202eevil\x9b2J", author="\x7f"),
                              source="x", fetched_at=datetime(2024, 2, 1, tzinfo=UTC))
    engine.dispose()
    query = f"SELECT title, body, author AS \"{CLEAR}\" FROM articles"
    for fmt in ("table", "csv", "json"):
        code, out, err = _run(db_url, query, "--format", fmt)
        assert code == 0, err
        for raw in ("\x1b", "\x07", "\u202e", "\x9b", "\x7f"):
            assert raw not in out, (fmt, out)
        assert "\\u001b]0;pwned\\u0007X\\u001b[2J" in out and "\\u202eevil\\u009b2J" in out
    code, out, _ = _run(db_url, query, "--format", "json")
    assert json.loads(out)[0]["title"] == f"标题{ESCAPES}X{CLEAR}"  # escaped, not changed
