"""Thin Scrapy pipelines around the pure chain in ``crawler``: extract, then store.

Each step is a function call; the pipelines only route items, count outcomes in the crawl
stats (which ``CrawlRunRecorder`` writes to ``crawl_runs``) and drop what cannot be used.
Extraction (with hashing, fingerprinting and event detection) runs in worker processes
(``crawler.ingest.pool``; ``RADAR_WORKERS`` of them, 0 = in the crawl process); storing runs in the
crawl process, or, for what the workers prepared, in one more process (``crawler.ingest.writer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import scrapy.utils.defer
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import OperationalError

from crawler.article import Article
from crawler.errors import brief
from crawler.ingest.ingestor import Pending, validators_of
from crawler.ingest.pool import PreparePool, default_workers
from crawler.ingest.prepare import EmptyPage, NotAnArticle, Prepared, Sealed, prepare
from crawler.ingest.writer import StoreFailed, StoreWriter, WriterGone
from crawler.items import PageItem
from spiders.base import RadarSpider, stop_crawl


@dataclass
class ExtractedPage:
    """A fetched page together with the article extracted from it and what its text alone
    determines: hash, fingerprint, events (see ``crawler.ingest.prepare.prepare``). Kept sealed, as
    the worker processes send it: :attr:`article` and :attr:`prepared` open it, and a page
    stored by the writer process goes there unopened."""

    page: PageItem
    sealed: Sealed
    pooled: bool = False  # prepared by the worker processes: the crawl is a big one

    @property
    def prepared(self) -> Prepared:
        """What was prepared of the page (opened at the first access)."""
        return self.sealed.open()

    @property
    def article(self) -> Article:
        """The extracted article."""
        return self.sealed.open().article


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


DATABASE_FAILING = "database_failing"


# Scrapy ≥ 2.14 awaits what a pipeline's close_spider returns (and deprecates Deferreds);
# before, it waited for Deferreds only.
_AWAITS_CLOSE = hasattr(scrapy.utils.defer, "ensure_awaitable")


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ExtractPipeline(_CrawlerPipeline):
    """PageItem → ExtractedPage; empty or broken pages are dropped and counted, never fatal."""

    # Pages prepared in the crawl process before the workers start: most scheduled crawls find a
    # handful of new articles, for which starting worker processes would cost more than it saves.
    # A crawl whose listings already showed this many new article links starts the workers at
    # its first page instead: it would otherwise also load the extractor and the detection rules
    # into the crawl process (half a second of its CPU) for a few pages (bench/crawl.py: a few
    # per cent more pages/s on a first crawl).
    INLINE_FIRST = 16

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        workers = crawler.settings.getint("RADAR_WORKERS")
        self.workers = default_workers() if workers < 0 else workers
        self.pool: PreparePool | None = None
        self.inline = 0

    def close_spider(self) -> None:
        if self.pool is not None:
            PreparePool.release()
            self.pool = None

    async def process_item(self, item: Any) -> ExtractedPage:
        spider = self.spider
        if not isinstance(item, PageItem):
            return item  # type: ignore[no-any-return]
        # a re-check mostly finds unchanged pages: detect events only if the text changed
        detect = not spider.recheck
        many = max(self.inline, spider.fresh_links) >= self.INLINE_FIRST
        if self.pool is None and self.workers and many and _on_asyncio():
            self.pool = PreparePool.acquire(self.workers, spider.config.settings.signal_rules)
        try:
            if self.pool is not None:
                sealed = await self.pool.prepare(item, spider.source, detect=detect)
            else:
                self.inline += 1
                spider.crawler.stats.inc_value("radar/prepared_inline")
                sealed = Sealed(prepare(item, spider.source, detect=detect))
        except NotAnArticle as exc:  # an index page met among article links: not stored, not an error
            spider.crawler.stats.inc_value(f"radar/not_article/{exc.kind}")
            spider.logger.info("not stored: %s", exc)
            raise DropItem(str(exc)) from None
        except EmptyPage as exc:
            spider.crawler.stats.inc_value("radar/empty_page")
            raise DropItem(str(exc)) from None
        except Exception as exc:  # one bad page must not end the crawl
            spider.crawler.stats.inc_value("radar/extract_failed")
            spider.logger.exception("extraction failed for %s", item.url)
            raise DropItem(f"extraction failed for {item.url}: {exc}") from None
        return ExtractedPage(item, sealed, pooled=self.pool is not None)


class StorePipeline(_CrawlerPipeline):
    """Stores articles and their events; e-paper story parts wait for the end of the crawl so
    that 下转/上接 continuations are joined into one article before storing.

    Articles are stored in small batches (``RADAR_STORE_BATCH`` of them, or what arrived within
    ``RADAR_STORE_DELAY`` seconds), one transaction each: see ``Ingestor.ingest_many``. Once
    articles come prepared by the worker processes (a big crawl), the batches go to the writer
    process (``crawler.ingest.writer``), and are counted when it answers; until it has started, and if
    it goes, they are stored here. When the database fails ``STOP_AFTER`` batches in a row (a
    full disk, a server gone away), the crawl stops with the finish reason "database_failing";
    what it could not store is not known as stored, so the next crawl fetches it again.
    """

    STOP_AFTER = 3

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.parts: list[ExtractedPage] = []
        self.batch_size = max(1, crawler.settings.getint("RADAR_STORE_BATCH"))
        self.delay = crawler.settings.getfloat("RADAR_STORE_DELAY")
        self.pending: list[Pending] = []
        self._timer: asyncio.TimerHandle | None = None
        self.database_failures = 0  # batches in a row that the database failed to store
        self.closing = False
        self.stopping: Any = None  # the Deferred of a crawl stopped because the database fails
        self.writer: StoreWriter | None = None
        self.sent = 0  # batches sent to the writer and not answered yet
        self._answered: asyncio.Future[None] | None = None  # set when the last of them is answered

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ExtractedPage):
            return item
        if item.page.kind == "epaper" and (item.article.continues_to or item.article.continued_from):
            self.parts.append(item)
            return item
        if item.pooled and self.writer is None and _on_asyncio():
            self._start_writer()
        # the article stays sealed: opened where it is stored, by the writer when there is one
        self.pending.append(Pending(None, self.spider.source.name, item.page.fetched_at,
                                    validators_of(item.page.headers), item.sealed, self.spider.source.tags))
        if len(self.pending) >= self.batch_size:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.delay, self.flush)
            except RuntimeError:  # not on an asyncio reactor: no timer to wait with
                self.flush()
        return item

    def _start_writer(self) -> None:
        url = self.spider.ingestor.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return  # a database of this process's own: another process would open another one
        self.writer = StoreWriter.acquire(url.render_as_string(hide_password=False),
                                          self.spider.config.settings.signal_rules)

    def _database_failed(self, articles: int, error: str) -> None:
        """One error for the whole batch (not one per article), and after ``STOP_AFTER`` failed
        batches in a row the crawl stops: pages fetched now could not be stored either."""
        spider = self.spider
        spider.crawler.stats.inc_value("radar/store_failed", articles)
        self.database_failures += 1
        spider.logger.error("storing %d article(s) failed: the database is failing (%s); the next crawl fetches "
                            "them again", articles, error)
        if self.database_failures == self.STOP_AFTER and not self.closing:
            spider.logger.error("stopping the crawl of %s: %d batches in a row could not be stored",
                                spider.source.name, self.STOP_AFTER)
            self.stopping = stop_crawl(spider.crawler, DATABASE_FAILING)

    def close_spider(self) -> Any:
        """Store what is left; with a writer, the returned Deferred fires once it has answered
        for every batch (the crawl's counts are complete then) and is released."""
        self.closing = True
        self.flush()
        if self.parts:
            from crawler.extraction import join_continuations  # only e-paper crawls get here

            spider = self.spider
            fetched = {p.article.url: p.page for p in self.parts}
            joined = join_continuations([p.article for p in self.parts])
            self.parts.clear()
            self.pending = [Pending(a, spider.source.name, fetched[a.url].fetched_at,
                                    validators_of(fetched[a.url].headers), tags=spider.source.tags) for a in joined]
            self.flush()
        if self.writer is None:
            return None
        if _AWAITS_CLOSE:
            return self._release_writer()
        return deferred_from_coro(self._release_writer())

    async def _release_writer(self) -> None:
        while self.sent:
            self._answered = asyncio.get_running_loop().create_future()
            await self._answered
        StoreWriter.release()
        self.writer = None

    def flush(self) -> None:
        """Store what is pending (by the writer, when there is one), and count what happened
        in the crawl stats."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        if self.writer is not None and self.writer.submit(batch, partial(self._answer, batch)):
            self.sent += 1
            return
        self._store_here(batch)

    def _store_here(self, batch: Sequence[Pending]) -> None:
        try:
            results: Any = self.spider.ingestor.ingest_many(batch)
        except OperationalError as exc:  # the database is failing (full disk, gone away), not the articles
            results = StoreFailed(brief(exc), database=True)
        except Exception as exc:
            results = [exc] * len(batch)
        self._count(batch, results)

    def _answer(self, batch: Sequence[Pending], results: Any) -> None:
        """The writer's answer for ``batch``: its results, how it failed, or that it is gone."""
        self.sent -= 1
        if isinstance(results, WriterGone):
            self._store_here(batch)
        else:
            if isinstance(results, list):
                self.spider.crawler.stats.inc_value("radar/stored_by_writer", len(batch))
            self._count(batch, results)
        if not self.sent and self._answered is not None and not self._answered.done():
            self._answered.set_result(None)

    def _count(self, batch: Sequence[Pending], results: Any) -> None:
        """Count in the crawl stats what storing ``batch`` did: ``results`` holds one result or
        error per article, or is a :class:`StoreFailed` for the whole batch."""
        spider = self.spider
        stats = spider.crawler.stats
        if isinstance(results, StoreFailed):
            if results.database:
                self._database_failed(len(batch), str(results))
                return
            results = [RuntimeError(str(results))] * len(batch)
        self.database_failures = 0
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                stats.inc_value("radar/store_failed")
                spider.logger.error("storing %s failed: %s", pending.url, result,
                                    exc_info=(type(result), result, result.__traceback__))
                continue
            stats.inc_value(f"radar/{result.status}")
            stats.inc_value("radar/events_new", result.new_events)
            if result.story_match in ("near", "document"):
                stats.inc_value(f"radar/story_{result.story_match}")
