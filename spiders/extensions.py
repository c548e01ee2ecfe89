"""Records every crawl in ``crawl_runs``: opened when the spider opens, closed with its counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from spiders.base import RadarSpider
from storage import queries
from storage.db import transaction


def run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """The crawl_runs counters from Scrapy's stats."""
    errors = sum(int(v) for k, v in stats.items()
                 if k in ("log_count/ERROR", "radar/extract_failed", "radar/store_failed")
                 or k.startswith("spider_exceptions/"))
    return {
        "pages": int(stats.get("response_received_count", 0)),
        "items": int(stats.get("item_scraped_count", 0)),
        "new": int(stats.get("radar/new", 0)),
        "duplicates": int(stats.get("radar/duplicate", 0)) + int(stats.get("radar/unchanged", 0)),
        "errors": errors,
        "bytes": int(stats.get("downloader/response_bytes", 0)),
    }


def _jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in stats.items()
            if isinstance(v, (int, float, str, datetime))}


class CrawlRunRecorder:
    """Scrapy extension writing one ``crawl_runs`` row per spider run."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunRecorder:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: RadarSpider) -> None:
        with transaction(spider.ingestor.factory) as session:
            self.run_id = queries.start_run(session, spider.source.name, datetime.now(UTC))

    def spider_closed(self, spider: RadarSpider, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        counts = run_counts(stats)
        status = "finished" if reason == "finished" else "failed"
        with transaction(spider.ingestor.factory) as session:
            queries.finish_run(session, self.run_id, finished_at=datetime.now(UTC), status=status,
                               reason=reason, counts=counts, stats=_jsonable(stats))
        spider.crawler.stats.set_value("radar/run_id", self.run_id)
