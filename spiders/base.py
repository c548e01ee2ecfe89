"""What every Policy Radar spider shares: its source, its database, and page-item building."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.defer import deferred_from_coro

from crawler.config.sources import Config, Source, load_config
from crawler.errors import ConfigError
from crawler.ingest.ingestor import Ingestor
from crawler.items import FetchedFile, PageItem
from spiders.content import HTML, PDF, page_kind
from spiders.guard import Refused
from spiders.known import CONDITIONAL, RECHECK, VALIDATORS, response_headers
from spiders.render import render_settings
from storage.queries import Validators


def stop_crawl(crawler: Crawler, reason: str) -> Any:
    """Close the crawl's spider with ``reason`` (its run then ends as failed, with that reason);
    returns the closing's Deferred, which the caller keeps until it fires."""
    engine = crawler.engine
    assert engine is not None and crawler.spider is not None
    closer = getattr(engine, "close_spider_async", None)
    if closer is not None:  # Scrapy ≥ 2.14
        return deferred_from_coro(closer(reason=reason))
    return engine.close_spider(crawler.spider, reason)


class RadarSpider(scrapy.Spider):
    """Base spider: ``source`` is a :class:`Source` or the name of one in the config file.

    With ``recheck`` it fetches no listing at all: it re-requests the source's recent stored
    articles (``Source.recheck_days``) with their validators, so an unchanged page costs a 304
    and a changed one is stored as a revision.

    Callbacks only parse: which links are stored already, and the validators requests send, are
    ``spiders.known``'s (a spider middleware).
    """

    kind = ""

    def __init__(self, source: Source | str | None = None, config: Config | None = None,
                 ingestor: Ingestor | None = None, recheck: bool | str = False, **kwargs: Any) -> None:
        if source is None:
            raise ConfigError("pass a source: scrapy crawl <spider> -a source=<name>")
        if isinstance(source, str):
            config = config or load_config()
            (source,) = config.select([source])
        if source.kind != self.kind:
            raise ConfigError(f"is a {source.kind!r} source; use the {source.kind!r} spider",
                              source=source.name, key="kind")
        super().__init__(name=self.name, **kwargs)
        self.source = source
        self.config = config or load_config()
        self.fresh_links = 0  # article links this crawl found that are not stored yet
        self.start_urls = list(source.start_urls)
        self._ingestor = ingestor
        # ``scrapy crawl listing -a recheck=1`` passes a string
        self.recheck = recheck if isinstance(recheck, bool) else recheck.lower() in ("1", "true", "yes")
        if self.recheck and not source.rechecked:
            raise ConfigError(source.kind_class.refuses_recheck(), source=source.name, key="recheck")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not crawler.settings.frozen:  # Scrapy applies the settings after creating the spider
            render_settings(crawler.settings, spider.source)
        return spider

    @property
    def ingestor(self) -> Ingestor:
        """The database this crawl stores into (opened on first use)."""
        if self._ingestor is None:
            self._ingestor = Ingestor.for_url(self.config.settings.database_url)
        return self._ingestor

    async def start(self) -> Any:
        """The start pages, conditionally (see :meth:`listing_request`); in re-check mode the
        stored articles that are due instead, with their validators."""
        if self.recheck:
            due = self.ingestor.due_for_recheck(self.source, datetime.now(UTC))
            self.logger.info("re-checking %d stored articles of %s", len(due), self.source.name)
            # marks the run in crawl_runs.stats: it reads no listing page, so finds no links
            self.crawler.stats.set_value("radar/recheck", len(due))
            for item in due:
                yield scrapy.Request(item.url, callback=self.parse_recheck, dont_filter=True, meta={
                    VALIDATORS: Validators(item.etag, item.last_modified), RECHECK: True})
            return
        self.crawler.stats.inc_value("radar/listing_requests", len(self.start_urls))
        for url in self.start_urls:
            yield self.listing_request(url, callback=self.parse, errback=self.listing_failed, dont_filter=True)

    @staticmethod
    def listing_request(url: str, *, conditional: bool = True, **kwargs: Any) -> scrapy.Request:
        """A request for a listing or index page that lets a 304 Not Modified answer reach its
        callback; with ``conditional``, ``spiders.known`` sends the validators saved for it."""
        meta = {**kwargs.pop("meta", {}), CONDITIONAL: conditional, "handle_httpstatus_list": [304]}
        return scrapy.Request(url, meta=meta, **kwargs)

    def follow_listing(self, response: Response, href: str, *, conditional: bool = True) -> scrapy.Request:
        """A request for a page that goes on from ``response`` (see :meth:`listing_request`); it
        walks on in the walk of ``response``, one page deeper. ``spiders.known`` counts it when
        it is made."""
        meta = {"walk": response.meta.get("walk", "head"), "walk_depth": response.meta.get("walk_depth", 1) + 1}
        return self.listing_request(response.urljoin(href), conditional=conditional, callback=self.parse,
                                    errback=self.listing_failed, meta=meta)

    def listing_failed(self, failure: Any) -> None:
        """A listing or index page could not be fetched (counted: when most listing requests of
        a run fail, the ``error_spike`` health rule fires, also on a source's first run)."""
        self.crawler.stats.inc_value("radar/listing_failed")
        self.logger.warning("listing page %s not fetched: %s", failure.request.url, failure.value)

    def not_modified(self, response: Response) -> bool:
        """True (and counted) when ``response`` is a 304: the page is as it was last time."""
        if response.status != 304:
            return False
        self.crawler.stats.inc_value("radar/not_modified")
        return True

    def parse_recheck(self, response: Response) -> list[Any]:
        """A stored article fetched again: a 304 only moves its check time (``spiders.known``);
        a page goes through the pipelines (where an unchanged text only moves its check time too,
        and a changed one becomes a revision). A list: see :meth:`with_attachments`."""
        if self.not_modified(response):
            return []
        return list(self.with_attachments(response, self.page_item(response)))

    def closed(self, reason: str) -> None:
        """Record how many request fingerprints Scrapy's duplicate filter held at the end: it
        grows with the requests of this one crawl (stored URLs are never requested), and goes
        with the crawl process."""
        scheduler = getattr(getattr(self.crawler, "engine", None), "scheduler", None)  # Scrapy ≥ 2.19
        # RFPDupeFilter's own set (its public ``fingerprints`` view is deprecated and copies it)
        seen = getattr(getattr(scheduler, "df", None), "_fingerprints", None)
        if seen is not None:
            self.crawler.stats.set_value("radar/dupefilter_fingerprints", len(seen))
        self.settle_frontier()

    def settle_frontier(self) -> None:
        """Record what fetching pending links did that no listing page has recorded yet (the
        listing spider keeps a frontier; see ``spiders.listing``)."""

    def page_item(self, response: Response, kind: str = "article") -> PageItem:
        """The fetched page as an item, raw bytes and headers included."""
        return PageItem(
            source=self.source.name, url=response.url, body=response.body,
            fetched_at=datetime.now(UTC), status=response.status, headers=response_headers(response), kind=kind,
            referer=(response.request.headers.get("Referer") or b"").decode("latin-1")
            if response.request else "",
        )

    def with_attachments(self, response: Response, item: PageItem) -> Iterator[Any]:
        """Yield ``item`` once its linked documents are downloaded (or failed).

        What the response is comes from its bytes and Content-Type (:func:`spiders.content.page_kind`),
        not from its URL: a PDF becomes an article whose one attachment it is (see
        :meth:`pdf_article`); an image, JSON, an archive or other binary is counted
        (``radar/skipped/<kind>``, and ``radar/not_html``) and skipped.
        The callbacks of article pages and attachments return this as a list, not as generators
        of their own: Scrapy reads and parses the source of a generator callback to warn of a
        ``return`` with a value, and its cached answer is keyed by the bound method, which each
        request holds a new one of: a crawl of bench/crawl.py's 5,000 pages parsed the callbacks'
        source 452 times, 0.15 ms each.
        """
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        kind = page_kind(response.body, content_type)
        if kind == PDF:
            yield self.pdf_article(response, item, content_type)
            return
        if kind != HTML:
            self.logger.warning("article %s is not a web page (%s, Content-Type %r); skipped", response.url, kind,
                                content_type)
            self.crawler.stats.inc_value("radar/not_html")
            self.crawler.stats.inc_value(f"radar/skipped/{kind}")
            return
        # imported at the first article page, not with the spider: the rule's module loads the
        # extractor, which a crawl that finds nothing new never needs in the crawl process
        from crawler.extraction.attachments import MAY_LINK_ATTACHMENT, is_attachment_href

        limit = self.settings.getint("RADAR_MAX_ATTACHMENTS")
        links: list[tuple[str, str]] = []
        # Most article pages link no document at all; a scan of the raw bytes for such a file name
        # spares parsing the page in the crawl process (the workers parse it for extraction).
        if not MAY_LINK_ATTACHMENT.search(response.body):
            yield item
            return
        if not isinstance(response, TextResponse):  # markup served as octet-stream
            response = response.replace(cls=HtmlResponse)
        for a in response.css("a[href]"):
            raw = a.attrib["href"].strip()
            if raw.startswith(("javascript:", "mailto:", "#")) or not is_attachment_href(raw):
                continue
            href = response.urljoin(raw)
            if href not in {u for _, u in links}:
                name = " ".join(a.css("::text").getall()).strip() or unquote(href.rsplit("/", 1)[-1])
                links.append((name, href))
        yield from self._next_attachment(item, links[:limit])

    def pdf_article(self, response: Response, item: PageItem, content_type: str) -> PageItem:
        """``item`` for a PDF served at an article URL: the PDF is its one attachment (its text is
        extracted as every attachment's is), and its page a stub that names the file, so the
        article is stored, titled with the file name, and the PDF's text kept with it."""
        name = unquote(urlsplit(response.url).path.rsplit("/", 1)[-1]) or "document.pdf"
        shown = html.escape(name)
        item.body = (f'<html><head><meta charset="utf-8"><title>{shown}</title></head><body><h1>{shown}</h1>'
                     f"<p>PDF 文件：{shown}（{html.escape(response.url)}，正文见附件）</p></body></html>").encode()
        item.headers = {**item.headers, "content-type": "text/html; charset=utf-8"}
        item.files.append(FetchedFile(name, response.url, response.body, content_type or "application/pdf"))
        self.crawler.stats.inc_value("radar/pdf_article")
        return item

    def _next_attachment(self, item: PageItem, pending: list[tuple[str, str]]) -> Iterator[Any]:
        if not pending:
            yield item
            return
        (name, url), rest = pending[0], pending[1:]
        yield scrapy.Request(
            url, callback=self._got_attachment, errback=self._attachment_failed, dont_filter=True,
            meta={"item": item, "pending": rest, "name": name,
                  "download_maxsize": self.settings.getint("RADAR_ATTACHMENT_MAXSIZE")},
        )

    def _got_attachment(self, response: Response) -> list[Any]:
        item: PageItem = response.meta["item"]
        if response.status == 200:
            ctype = (response.headers.get("Content-Type") or b"").decode("latin-1")
            item.files.append(FetchedFile(response.meta["name"], response.url, response.body, ctype))
        return list(self._next_attachment(item, response.meta["pending"]))

    def _attachment_failed(self, failure: Any) -> list[Any]:
        request = failure.request
        if not failure.check(Refused):  # the guard has counted and logged a refusal
            self.logger.warning("attachment %s not fetched: %s", request.url, failure.value)
            self.crawler.stats.inc_value("radar/attachment_failed")
        return list(self._next_attachment(request.meta["item"], request.meta["pending"]))
