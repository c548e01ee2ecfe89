"""Backfill, over real HTTP, on the 30-page listing of the page-number replica (``/xwzx/``, two
articles a page, one a day back from 2025-07-02, paged by number with no 下一页):

- a source's first crawl walks the whole listing, through pages whose articles are stored
  already (under another source here), and a re-crawl stops at the first page;
- a source whose pagination settings change (a ``next_page`` that found nothing, dropped)
  catches up on its next crawl;
- normal runs stop at known pages; ``radar crawl --backfill`` walks the listing again, and
  ``--since`` ends that walk where the listing's dates say;
- re-crawls fetch nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from crawler.replica.patterns import pagenum
from crawler.replica.patterns.pagenum import build_pagenum
from crawler.replica.server import ReplicaSites
from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow
from tests.e2e import radar

LISTING = pagenum.NEWS + "list.shtml"
ARTICLES = pagenum.NEWS_PAGES * pagenum.NEWS_PER_PAGE  # 60


@pytest.fixture(scope="module")
def site() -> Iterator[ReplicaSites]:
    with ReplicaSites(sites={"pagenum": build_pagenum()}) as running:
        yield running


def config(directory: Path, db_url: str, site: ReplicaSites, *sources: dict[str, Any]) -> Path:
    path = directory / "radar.yaml"
    path.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "workers": 0,
                     "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 8,
                                "CONCURRENT_REQUESTS_PER_DOMAIN": 8}},
        "sources": [{"kind": "listing", "start_urls": [site.urls["pagenum"] + LISTING], "schedule": "every: 1h",
                     **source} for source in sources]}), encoding="utf-8")
    return path


class Crawls:
    """Runs ``radar crawl`` on one config and tells what each run fetched and stored."""

    def __init__(self, site: ReplicaSites, db_url: str, path: Path) -> None:
        self.site, self.db_url, self.path = site, db_url, path

    def run(self, *args: str) -> tuple[list[str], list[str]]:
        """Crawl; the listing pages and the article pages it requested."""
        mark = len(self.site.requests)
        done = radar("--config", str(self.path), "crawl", *args)
        assert done.returncode == 0, done.stderr + done.stdout
        paths = [path for _site, path in self.site.requests[mark:]]
        return ([p for p in paths if p.startswith(pagenum.NEWS + "list")],
                [p for p in paths if p.startswith(pagenum.NEWS + "system/")])

    def stored(self, source: str | None = None) -> int:
        engine, factory = open_database(self.db_url, migrate_schema=False)
        with factory() as s:
            query = select(func.count()).select_from(ArticleRow)
            if source:
                query = query.where(ArticleRow.source == source)
            count = int(s.scalar(query) or 0)
        engine.dispose()
        return count

    def last_run(self, source: str) -> CrawlRunRow:
        engine, factory = open_database(self.db_url, migrate_schema=False)
        with factory() as s:
            row = s.scalars(select(CrawlRunRow).where(CrawlRunRow.source == source)
                            .order_by(CrawlRunRow.id.desc())).first()
        engine.dispose()
        assert row is not None
        return row


def listing_pages(n: int) -> list[str]:
    return [LISTING] + [f"{pagenum.NEWS}list_{k}.shtml" for k in range(2, n + 1)]


def test_first_crawl_walks_through_stored_pages_and_a_recrawl_stops_at_page_one(
        site: ReplicaSites, postgres_url: str, tmp_path: Path) -> None:
    """Another source stored the first ten pages' articles (its max_pages); the new one, given no
    pagination settings, walks past them to the end of the listing on its first crawl, and its
    next crawl stops at the first page. On PostgreSQL; the other cases run on SQLite."""
    top = Crawls(site, postgres_url, config(tmp_path, postgres_url, site, {"name": "xwzx-top", "max_pages": 10}))
    listings, _articles = top.run()
    assert sorted(listings) == sorted(listing_pages(10)) and top.stored() == 20
    both = Crawls(site, postgres_url, config(tmp_path, postgres_url, site, {"name": "xwzx-top", "max_pages": 10},
                                             {"name": "xwzx"}))
    listings, articles = both.run("xwzx")
    assert sorted(listings) == sorted(listing_pages(30))
    assert len(articles) == ARTICLES - 20
    assert both.stored("xwzx") == ARTICLES - 20 and both.stored() == ARTICLES
    assert both.last_run("xwzx").stats.get("radar/backfill") == 1
    assert both.run("xwzx") == ([LISTING], [])
    assert "radar/backfill" not in both.last_run("xwzx").stats


def test_a_source_whose_pagination_is_fixed_catches_up(site: ReplicaSites, sqlite_url: str,
                                                        tmp_path: Path) -> None:
    """Its first crawls found no next page (a ``next_page`` that matches nothing, as every source
    without one had before pagination was automatic); once that setting is gone, the next crawl
    walks the whole listing, through the first page's stored articles."""
    stuck = Crawls(site, sqlite_url, config(tmp_path, sqlite_url, site, {"name": "xwzx", "next_page": "a.nowhere"}))
    listings, articles = stuck.run()
    assert listings == [LISTING] and len(articles) == 2 and stuck.stored() == 2
    assert stuck.run() == ([LISTING], [])  # the same settings: a normal run
    fixed = Crawls(site, sqlite_url, config(tmp_path, sqlite_url, site, {"name": "xwzx"}))
    listings, articles = fixed.run()
    assert sorted(listings) == sorted(listing_pages(30))
    assert len(articles) == ARTICLES - 2 and fixed.stored() == ARTICLES
    assert fixed.last_run("xwzx").stats.get("radar/backfill") == 1


def test_backfill_on_demand_and_since(site: ReplicaSites, sqlite_url: str, tmp_path: Path) -> None:
    crawls = Crawls(site, sqlite_url, config(tmp_path, sqlite_url, site, {"name": "xwzx"}))
    # --since 2025-06-16: page 9 lists days 16 and 17 back (06-16, 06-15), page 10 is all older
    listings, articles = crawls.run("--backfill", "--since", "2025-06-16", "xwzx")
    assert sorted(listings) == sorted(listing_pages(10))
    assert len(articles) == 17 and crawls.stored() == 17
    engine, factory = open_database(sqlite_url, migrate_schema=False)
    with factory() as s:
        oldest = s.scalar(select(func.min(ArticleRow.published_at)))
    engine.dispose()
    assert oldest is not None and f"{oldest:%Y-%m-%d}" == "2025-06-16"
    # a normal run stops at the first page, whose articles are known
    assert crawls.run() == ([LISTING], [])
    listings, articles = crawls.run("--backfill", "xwzx")
    assert sorted(listings) == sorted(listing_pages(30))
    assert len(articles) == ARTICLES - 17 and crawls.stored() == ARTICLES
    # a re-crawl fetches nothing new: the first page, which answers 304 (validators kept by the backfill)
    assert crawls.run() == ([LISTING], [])
    assert crawls.last_run("xwzx").stats.get("radar/not_modified") == 1


def test_since_needs_backfill() -> None:
    done = radar("crawl", "--since", "2025-01-01", "x")
    assert done.returncode != 0 and "--since goes with --backfill" in done.stderr
