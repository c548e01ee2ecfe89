"""A dry run of a source: its own spider walks a few listing pages and extracts a few articles,
through the same settings and fetch guard as a crawl, and stores nothing.

:func:`probe` runs it (in this process: Scrapy's reactor runs once per process) and returns a
:class:`Probe`. The spider is the source's kind's own, with what touches the database taken
away: no pending links caught up at the start, no stored-link middleware (``spiders.known``), no
pipelines, no run recording. Its listing pages give their links as a crawl's do (``allow`` or
the inferred pattern, and the pagination); the first article links are fetched and extracted
here, with their events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from crawler.config.sources import Config, Source
from spiders.articles import ArticleLinks
from spiders.known import Links

__all__ = ["ArticleSample", "ListingPage", "Probe", "probe"]

#: our components that read or write the database, off for a probe
_NO_STORAGE = {
    "ITEM_PIPELINES": {"spiders.pipelines.ExtractPipeline": None, "spiders.pipelines.StorePipeline": None},
    "SPIDER_MIDDLEWARES": {"spiders.known.KnownPages": None},
    "EXTENSIONS": {"spiders.extensions.CrawlRunRecorder": None},
}


@dataclass
class ListingPage:
    """One listing (or index) page the walk fetched: its answer, the article links it gave (in
    page order), the pages it leads on to, and the article-link pattern used on it."""

    url: str
    status: int = 0
    links: list[str] = field(default_factory=list)
    onward: list[str] = field(default_factory=list)
    allow: str | None = None
    error: str = ""


@dataclass
class ArticleSample:
    """One article as it would be stored: its fields, first lines and events."""

    url: str
    status: int = 0
    title: str = ""
    published_at: datetime | None = None
    source_name: str = ""
    lines: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Probe:
    """What a dry run saw: the first page's answer as fetched (``first_*``), the listing pages
    walked and the articles sampled."""

    source: Source
    pages: list[ListingPage] = field(default_factory=list)
    articles: list[ArticleSample] = field(default_factory=list)
    first_status: int = 0
    first_headers: dict[str, str] = field(default_factory=dict)
    first_body: bytes = b""
    first_encoding: str = ""


def _event_line(event: Any) -> str:
    parts = [event.type, event.stage or event.subtype, event.amount_text, event.region, event.period]
    return " · ".join(p for p in parts if p) + (f" — {event.evidence}" if event.evidence else "")


def _probe_class(base: type[scrapy.Spider], result: Probe, max_listing: int,
                 max_articles: int) -> type[scrapy.Spider]:
    """``base`` (a source kind's spider) walking ``max_listing`` pages and sampling ``max_articles``
    articles into ``result``, with no database."""

    class ProbeSpider(base):  # type: ignore[valid-type,misc]
        probe = result

        async def start(self) -> AsyncIterator[Any]:
            self.sampled: set[str] = set()
            self.listing_asked = len(self.start_urls)
            for url in self.start_urls:
                yield self.listing_request(url, callback=self.parse, errback=self.probe_failed, dont_filter=True,
                                           meta={"handle_httpstatus_all": True})

        def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
            page = ListingPage(response.url, response.status)
            self.probe.pages.append(page)
            if len(self.probe.pages) == 1:
                self.probe.first_status = response.status
                self.probe.first_headers = {k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
                                            for k, v in response.headers.items()}
                self.probe.first_body = response.body
                self.probe.first_encoding = response.encoding if isinstance(response, TextResponse) else ""
            if response.status >= 400 or max_listing == 0:
                page.error = f"HTTP {response.status}" if response.status >= 400 else ""
                return
            links = getattr(self, "article_links", None) or getattr(self, "stories", None)
            # a feed's, sitemap's or API's entries are its articles: no pattern is looked for
            if isinstance(response, TextResponse) and isinstance(links, ArticleLinks) \
                    and self.source.kind in ("listing", "epaper"):
                page.allow = links.allow_for(response)
            for out in super().parse(response, **kwargs):
                if not isinstance(out, Links):
                    continue
                page.links = [r.url for r in out.articles]
                page.onward = [r.url for r in out.onward]
                for request in out.onward:
                    if self.listing_asked < max_listing:
                        self.listing_asked += 1
                        yield request.replace(errback=self.probe_failed, meta={**request.meta,
                                                                                "handle_httpstatus_all": True})
                for url in page.links:
                    if len(self.sampled) < max_articles and url not in self.sampled:
                        self.sampled.add(url)
                        yield scrapy.Request(url, callback=self.sample, errback=self.probe_failed,
                                             meta={"handle_httpstatus_all": True})

        def sample(self, response: Response) -> None:
            got = ArticleSample(response.url, response.status)
            self.probe.articles.append(got)
            if response.status >= 400:
                got.error = f"HTTP {response.status}"
                return
            # imported at the first article: the extractor and the event rules
            from crawler.ingest.prepare import prepare

            try:
                ready = prepare(self.page_item(response), self.source)
            except Exception as exc:  # a page the extractor refuses: said, the probe goes on
                got.error = f"{type(exc).__name__}: {exc}"
                return
            article = ready.article
            got.title, got.published_at, got.source_name = article.title, article.published_at, article.source_name
            got.lines = [line.strip() for line in article.body.splitlines() if line.strip()][:3]
            got.events = [_event_line(e) for e in ready.events or []]

        def probe_failed(self, failure: Any) -> None:
            url = failure.request.url
            error = str(failure.value)[:300]
            if failure.request.callback == self.sample:
                self.probe.articles.append(ArticleSample(url, error=error))
            else:
                self.probe.pages.append(ListingPage(url, error=error))

        def settle_frontier(self) -> None:
            """Nothing is recorded."""

    return ProbeSpider


def probe(config: Config, source: Source, *, max_listing: int = 2, max_articles: int = 3,
          overrides: dict[str, Any] | None = None) -> Probe:
    """Walk up to ``max_listing`` listing pages of ``source`` and extract up to ``max_articles`` of
    their articles, storing nothing; the config's Scrapy settings (politeness, user agent) apply.
    With ``max_listing`` 0 only the first start page is fetched, and kept as it came."""
    from scrapy.crawler import CrawlerProcess

    from spiders.runner import scrapy_settings, spider_of

    settings = scrapy_settings(config, {**_NO_STORAGE, **(overrides or {})})
    result = Probe(source)
    spider_class = _probe_class(spider_of(source), result, max_listing, max_articles)
    process = CrawlerProcess(settings)
    process.crawl(process.create_crawler(spider_class), source=source, config=config)
    process.start()
    return result
