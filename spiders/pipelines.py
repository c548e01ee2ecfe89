"""Thin Scrapy pipelines around the pure chain in ``crawler``: extract, then store.

Each step is a function call; the pipelines only route items, count outcomes in the crawl
stats (which ``CrawlRunRecorder`` writes to ``crawl_runs``) and drop what cannot be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.article import Article
from crawler.extraction import join_continuations
from crawler.ingest import EmptyPage, page_to_article
from crawler.items import PageItem
from spiders.base import RadarSpider


@dataclass
class ExtractedPage:
    """A fetched page together with the article extracted from it."""

    page: PageItem
    article: Article


class _CrawlerPipeline:
    """A pipeline that reaches its spider through the crawler (Scrapy ≥ 2.13 style)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)

    @property
    def spider(self) -> RadarSpider:
        spider = self.crawler.spider
        assert isinstance(spider, RadarSpider)
        return spider


class ExtractPipeline(_CrawlerPipeline):
    """PageItem → ExtractedPage; empty or broken pages are dropped and counted, never fatal."""

    def process_item(self, item: Any) -> ExtractedPage:
        spider = self.spider
        if not isinstance(item, PageItem):
            return item  # type: ignore[no-any-return]
        try:
            article = page_to_article(item, spider.source)
        except EmptyPage as exc:
            spider.crawler.stats.inc_value("radar/empty_page")
            raise DropItem(str(exc)) from None
        except Exception as exc:  # one bad page must not end the crawl
            spider.crawler.stats.inc_value("radar/extract_failed")
            spider.logger.exception("extraction failed for %s", item.url)
            raise DropItem(f"extraction failed for {item.url}: {exc}") from None
        return ExtractedPage(item, article)


class StorePipeline(_CrawlerPipeline):
    """Stores articles and their events; e-paper story parts wait for the end of the crawl so
    that 下转/上接 continuations are joined into one article before storing."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.parts: list[ExtractedPage] = []

    def process_item(self, item: Any) -> Any:
        spider = self.spider
        if not isinstance(item, ExtractedPage):
            return item
        article = item.article
        if item.page.kind == "epaper" and (article.continues_to or article.continued_from):
            self.parts.append(item)
            return item
        self._store(article, item.page, spider)
        return item

    def close_spider(self) -> None:
        if not self.parts:
            return
        spider = self.spider
        fetched = {p.article.url: p.page for p in self.parts}
        for article in join_continuations([p.article for p in self.parts]):
            self._store(article, fetched[article.url], spider)
        self.parts.clear()

    def _store(self, article: Article, page: PageItem, spider: RadarSpider) -> None:
        stats = spider.crawler.stats
        try:
            result = spider.ingestor.ingest(article, source=spider.source.name, fetched_at=page.fetched_at)
        except Exception:
            stats.inc_value("radar/store_failed")
            spider.logger.exception("storing %s failed", article.url)
            raise
        stats.inc_value(f"radar/{result.status}")
        stats.inc_value("radar/events_new", result.new_events)
