"""The storing process keeps PostgreSQL's planner statistics current as a crawl grows the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from crawler.article import Article
from crawler.ingest.ingestor import Ingestor, Pending
from crawler.replica.seeds import park_items
from storage import planner

NOW = datetime(2025, 7, 2, 9, 30, tzinfo=UTC)


def _articles() -> list[Article]:
    return [Article(url=f"http://park.test/{n}.html", title=item.title, body="\n".join(item.paragraphs))
            for n, item in enumerate(park_items())]


def _reltuples(ingestor: Ingestor) -> float:
    with ingestor.engine.connect() as conn:
        return float(conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'articles'::regclass")).scalar())


def test_tables_are_analysed_once_enough_new_articles_are_stored(db_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "MIN_ROWS", 5)
    ingestor = Ingestor.for_url(db_url)
    articles = _articles()
    assert len(articles) >= 8
    first = ingestor.ingest_many([Pending(a, "cnip-park", NOW) for a in articles[:3]])
    assert all(not isinstance(r, Exception) and r.status == "new" for r in first)
    postgres = ingestor.engine.dialect.name == "postgresql"
    if postgres:
        assert _reltuples(ingestor) < 0  # never analysed: the planner guesses
    ingestor.ingest_many([Pending(a, "cnip-park", NOW + timedelta(minutes=1)) for a in articles[3:8]])
    if postgres:
        assert _reltuples(ingestor) == 8  # 3 + 5 new: due, analysed
        again = ingestor.ingest_many([Pending(a, "cnip-park", NOW) for a in articles[:8]])
        assert {r.status for r in again if not isinstance(r, Exception)} == {"unchanged"}
        assert ingestor.statistics.added == 0  # unchanged pages do not count toward the next
    else:
        assert ingestor.statistics.grew(100) is False  # SQLite plans without statistics
    ingestor.close()


def test_a_failed_analyse_is_reported_once_and_storing_goes_on(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(planner, "MIN_ROWS", 1)
    monkeypatch.setattr(planner, "TABLES", ("no_such_table",))  # ANALYZE fails as it would without rights
    ingestor = Ingestor.for_url(db_url)
    articles = _articles()
    with caplog.at_level("WARNING", logger="storage.planner"):
        for n, article in enumerate(articles[:3]):
            result = ingestor.ingest_many([Pending(article, "cnip-park", NOW + timedelta(minutes=n))])[0]
            assert not isinstance(result, Exception) and result.status == "new"
    warnings = [r for r in caplog.records if "could not analyse" in r.getMessage()]
    assert len(warnings) == (1 if ingestor.engine.dialect.name == "postgresql" else 0)
    ingestor.close()
