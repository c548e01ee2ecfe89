"""spiders.known: the spider middleware that keeps stored links and validators out of the
callbacks. The whole crawl is tested in test_incremental, test_frontier and test_end_to_end;
here one listing page's links go through it, against a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.article import Article
from crawler.config.sources import parse_config
from crawler.ingest.ingestor import Ingestor
from spiders.known import CONDITIONAL, KnownPages, Links, WalkStep
from spiders.listing import ListingSpider

LIST = "http://127.0.0.1:9/list/index.html"
NEXT = "http://127.0.0.1:9/list/index_1.html"
STORED, NEW = "http://127.0.0.1:9/art/1.html", "http://127.0.0.1:9/art/2.html"
HEAD = WalkStep(depth=1, stop_when_stored=True, owner=True, record_end=True)


def _setup(url: str) -> tuple[ListingSpider, KnownPages, Ingestor]:
    ingestor = Ingestor.for_url(url)
    ingestor.ingest(Article(url=STORED, title="已存文章", body="正文。" * 40), source="site-a",
                    fetched_at=datetime.now(UTC))
    config = parse_config({"sources": [{"name": "site-a", "kind": "listing", "start_urls": [LIST],
                                        "allow": r"/art/\d+\.html$", "next_page": "a.next::attr(href)",
                                        "schedule": "0 */2 * * *"}]},
                          env={"RADAR_DATABASE_URL": url})
    crawler = get_crawler(ListingSpider)
    spider = ListingSpider.from_crawler(crawler, source="site-a", config=config, ingestor=ingestor)
    crawler.spider = spider
    return spider, KnownPages.from_crawler(crawler), ingestor


def _page(etag: str) -> HtmlResponse:
    return HtmlResponse(LIST, body=b"<html></html>", headers={"ETag": etag}, request=scrapy.Request(LIST))


def _links(spider: ListingSpider, page: HtmlResponse, *urls: str) -> Links:
    return Links([scrapy.Request(u) for u in urls], [spider.follow_listing(page, NEXT)], HEAD)


def test_stored_links_are_dropped_and_the_new_ones_become_pending(sqlite_url: str) -> None:
    spider, known, ingestor = _setup(sqlite_url)
    page = _page('"v1"')
    out = list(known.expand(page, _links(spider, page, STORED, NEW, STORED)))
    assert [r.url for r in out] == [NEW, NEXT]  # the walk goes on: the page had a new article
    assert out[1].meta["walk_depth"] == 2 and out[1].meta[CONDITIONAL]
    assert ingestor.catch_up("site-a", datetime.now(UTC), give_up_after=3).pending == [NEW]
    assert ingestor.page_validators([LIST]) == {}  # not every article stored: nothing to ask next time
    stats: Any = spider.crawler.stats
    assert stats.get_value("radar/links_seen") == 2 and stats.get_value("radar/links_known") == 1
    assert spider.fresh_links == 1


def test_a_page_of_stored_articles_ends_the_walk_and_is_asked_conditionally_next_time(sqlite_url: str) -> None:
    spider, known, _ingestor = _setup(sqlite_url)
    page = _page('"v1"')
    assert list(known.expand(page, _links(spider, page, STORED))) == []
    start = known.request(spider.listing_request(LIST, callback=spider.parse))
    assert start.headers.get("If-None-Match") == b'"v1"'
    assert start.meta["handle_httpstatus_list"] == [304]
    unconditional = known.request(spider.listing_request(LIST, conditional=False))
    assert unconditional.headers.get("If-None-Match") is None
