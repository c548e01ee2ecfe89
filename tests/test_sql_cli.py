"""`radar sql`: read-only, three output formats, clear errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from crawler.article import Article
from crawler.cli import main
from storage import queries
from storage.db import open_database, transaction


@pytest.fixture
def filled(db_url: str) -> str:
    engine, factory = open_database(db_url)
    with transaction(factory) as s:
        for n, title in enumerate(["江西在全省布局建设100个数字经济集聚区", "南宁市集中开工97个重大项目"]):
            queries.store_article(s, Article(url=f"http://x.test/{n}.html", title=title, body=title * 3,
                                             published_at=datetime(2024, 1, n + 1, 2, tzinfo=UTC)),
                                  source="x", fetched_at=datetime(2024, 2, 1, tzinfo=UTC))
    engine.dispose()
    return db_url


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sql", *args], env={"RADAR_DATABASE_URL": url, "RADAR_CONFIG": ""})
    return result.exit_code, result.output


def test_table_csv_json(filled: str) -> None:
    q = "SELECT title, published_at FROM articles ORDER BY published_at DESC LIMIT 5"
    code, out = _run(filled, q)
    assert code == 0, out
    assert out.splitlines()[0].split() == ["title", "published_at"]
    assert "南宁市集中开工97个重大项目" in out.splitlines()[2] and "(2 rows)" in out
    code, out = _run(filled, q, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["title", "published_at"] and rows[1][0] == "南宁市集中开工97个重大项目"
    assert rows[1][1].startswith("2024-01-02 10:00:00")  # stored UTC 02:00 shows as China time
    code, out = _run(filled, q, "--format", "json")
    assert [r["title"] for r in json.loads(out)][1] == "江西在全省布局建设100个数字经济集聚区"


@pytest.mark.parametrize("query", [
    "DELETE FROM articles",
    "update articles set title = 'x'",
    "DROP TABLE articles",
    "SELECT 1; DELETE FROM articles",
    "PRAGMA query_only = OFF",
])
def test_writes_are_refused_with_a_clear_message(filled: str, query: str) -> None:
    code, out = _run(filled, query)
    assert code != 0
    assert "read-only" in out or "one statement" in out
    code, out = _run(filled, "SELECT count(*) AS n FROM articles", "--format", "json")
    assert json.loads(out) == [{"n": 2}]


def test_hidden_write_fails_at_the_database(filled: str) -> None:
    code, out = _run(filled, "WITH gone AS (DELETE FROM articles RETURNING id) SELECT count(*) FROM gone")
    assert code != 0 and "query failed" in out
    code, out = _run(filled, "SELECT count(*) AS n FROM articles", "--format", "json")
    assert json.loads(out) == [{"n": 2}]


def test_bad_sql_is_one_line(filled: str) -> None:
    code, out = _run(filled, "SELECT nope FROM articles")
    assert code == 1 and out.startswith("Error: query failed") and "Traceback" not in out


def test_comments_trailing_semicolons_and_quoted_semicolons_are_fine(filled: str) -> None:
    code, out = _run(filled, "  -- latest\nSELECT 1 AS one;  ", "--format", "json")
    assert code == 0 and json.loads(out) == [{"one": 1}], out
    code, out = _run(filled, "select ';' as semi", "--format", "json")
    assert code == 0 and json.loads(out) == [{"semi": ";"}], out
    code, out = _run(filled, "   ")
    assert code == 1 and "empty query" in out
