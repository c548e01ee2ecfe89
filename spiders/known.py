"""Known pages: what a crawl need not fetch, and what it may ask "changed since?", kept out of
the spiders' callbacks in a spider middleware, the way scrapy-deltafetch does it.

- A listing or index page's callback yields one :class:`Links`: requests for the article links
  the page shows and for the pages that go on from it. :class:`KnownPages` turns it into the
  requests to make: those for stored articles (and links given up) are dropped, and a page whose
  articles are all stored gets its validators saved and leads no further (a listing walk: see
  :class:`WalkStep` and ``spiders.listing``; the frontier it keeps: ``storage.frontier``).
- A request whose meta says :data:`CONDITIONAL` is sent with its URL's saved validators, and one
  that carries :data:`VALIDATORS` with those, as If-None-Match / If-Modified-Since; either lets a
  304 Not Modified answer reach its callback.
- A stored article re-checked (:data:`RECHECK`) that answers 304 has its check time moved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from sqlalchemy.exc import OperationalError

from crawler.config.sources import Source
from crawler.errors import brief
from crawler.ingest.ingestor import Ingestor, validators_of
from storage.queries import Validators

#: meta key: send the validators saved for the request's URL (a listing or index page)
CONDITIONAL = "radar_conditional"
#: meta key: send these :class:`Validators` (a stored article re-checked)
VALIDATORS = "radar_validators"
#: meta key: a stored article re-checked; a 304 answer moves its check time
RECHECK = "radar_recheck"


@dataclass(frozen=True)
class WalkStep:
    """Where a listing page stands in its source's walk (``spiders.listing``): its ``depth``;
    whether the walk stops here when the page's articles are all stored (``stop_when_stored``);
    whether where this walk stands is recorded (``owner``); and whether, going no further, its
    end is recorded (``record_end``: not for a first page of a source walked to its end before)."""

    depth: int
    stop_when_stored: bool
    owner: bool
    record_end: bool


@dataclass
class Links:
    """What one listing or index page links to, as its callback yields it: a request for each
    distinct article link in page order (``articles``) and for the pages that go on from it
    (``onward``: the next listing page while under ``max_pages``, an e-paper's other pages);
    ``walk`` for a page of a listing walk, which keeps a frontier."""

    articles: list[scrapy.Request]
    onward: list[scrapy.Request] = field(default_factory=list)
    walk: WalkStep | None = None


class _Spider(Protocol):
    """What :class:`KnownPages` uses of a spider (``spiders.base.RadarSpider``)."""

    source: Source
    fresh_links: int
    logger: Any

    @property
    def ingestor(self) -> Ingestor: ...


class _Walking(_Spider, Protocol):
    """A spider with a frontier (``spiders.listing.ListingSpider``): what fetching its links
    did, recorded with the next listing page."""

    link_errors: dict[str, str]
    not_articles: dict[str, str]
    redirected: set[str]


def response_headers(response: Response) -> dict[str, str]:
    """Response headers as ``{lower-case name: value}``."""
    return {k.decode("latin-1").lower(): (v[-1] if v else b"").decode("latin-1")
            for k, v in response.headers.items()}


def with_validators(request: scrapy.Request, validators: Validators | None) -> scrapy.Request:
    """``request`` sending ``validators`` back, and letting a 304 answer reach its callback."""
    headers: dict[str, str] = {}
    if validators is not None and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators is not None and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    for name, value in headers.items():
        request.headers[name] = value
    request.meta["handle_httpstatus_list"] = [304]
    return request


class KnownPages:
    """The spider middleware described in the module's docstring. It is the spiders' nearest
    (``spiders.settings``), so the other middlewares see the requests it lets through."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownPages:
        return cls(crawler)

    @property
    def spider(self) -> _Spider:
        return cast(_Spider, self.crawler.spider)

    @property
    def stats(self) -> StatsCollector:
        assert self.crawler.stats is not None
        return self.crawler.stats

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for o in start:
            yield self.request(o) if isinstance(o, scrapy.Request) else o

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if response is not None and response.status == 304 and response.meta.get(RECHECK):
            self.spider.ingestor.touch(response.url, datetime.now(UTC), validators_of(response_headers(response)))
        async for o in result:
            if isinstance(o, Links):
                for request in self.expand(response, o):
                    yield request
            else:
                yield self.request(o) if isinstance(o, scrapy.Request) else o

    def request(self, request: scrapy.Request) -> scrapy.Request:
        """``request``, conditional when its meta asks for it (:data:`CONDITIONAL`, :data:`VALIDATORS`)."""
        if request.meta.get(VALIDATORS) is not None:
            return with_validators(request, request.meta[VALIDATORS])
        if request.meta.get(CONDITIONAL):
            return with_validators(request, self.spider.ingestor.page_validators([request.url]).get(request.url))
        return request

    def expand(self, response: Response, links: Links) -> Iterator[scrapy.Request]:
        """The requests a page's :class:`Links` come to: its articles not stored yet, then the
        pages that go on from it, unless its articles are all stored."""
        by_url = {r.url: r for r in links.articles}
        urls = list(by_url)
        if links.walk is None:
            fresh = self.fresh(urls)
            go_on = bool(fresh) or not urls
        else:
            fresh, go_on = self.walk_on(urls, links)
            self.stats.inc_value("radar/links_known", len(urls) - len(fresh))
        for url in fresh:
            yield self.request(by_url[url])
        if links.walk is not None and not fresh:
            reason = "no article links" if not urls else "every article already stored"
            self.spider.logger.info("pagination %s at %s: %s", "goes on" if go_on else "stops", response.url, reason)
        if urls and not fresh:
            self.save_validators(response)
        if go_on:
            for request in links.onward:
                self.stats.inc_value("radar/listing_requests")
                yield self.request(request)

    def fresh(self, urls: list[str]) -> list[str]:
        """``urls`` (distinct) minus those already stored. All of them count as links seen: a
        page that suddenly has none is how a changed template shows (the ``no_links`` rule)."""
        self.stats.inc_value("radar/links_seen", len(urls))
        known = self.spider.ingestor.known(urls)
        fresh = [u for u in urls if u not in known]
        self.spider.fresh_links += len(fresh)
        return fresh

    def walk_on(self, urls: list[str], links: Links) -> tuple[list[str], bool]:
        """A listing page's articles to fetch (not stored, not given up: pending in the frontier
        from now on) and whether the walk goes on; where the walk stands is recorded in one
        transaction with what fetching earlier links did (see ``Ingestor.discover``)."""
        step = links.walk
        assert step is not None
        spider = cast(_Walking, self.spider)
        next_url = links.onward[0].url if links.onward else ""
        go_on = False

        def then(fresh: list[str]) -> tuple[str, int] | None:
            nonlocal go_on
            go_on = bool(next_url) and bool(fresh or not step.stop_when_stored)
            if not step.owner:
                return None
            if go_on:
                return next_url, step.depth + 1
            return ("", 0) if step.record_end else None

        self.stats.inc_value("radar/links_seen", len(urls))
        errors, spider.link_errors = spider.link_errors, {}
        give_up, spider.not_articles = spider.not_articles, {}
        settled, spider.redirected = spider.redirected, set()
        try:
            fresh = spider.ingestor.discover(spider.source.name, urls, datetime.now(UTC), then,
                                             errors=errors, give_up=give_up, settled=settled)
        except OperationalError as exc:
            fresh = self._fresh_unrecorded(urls, exc)
            then(fresh)  # decides whether the walk goes on; where it stands is not recorded
            # kept for the next listing page's transaction
            spider.link_errors = {**errors, **spider.link_errors}
            spider.not_articles = {**give_up, **spider.not_articles}
            spider.redirected |= settled
        spider.fresh_links += len(fresh)
        return fresh, go_on

    def _fresh_unrecorded(self, urls: list[str], exc: OperationalError) -> list[str]:
        """The database could not record a listing page's links (a full disk, say): they are
        fetched all the same, as before the frontier, and the store pipeline decides whether
        the crawl goes on (it stops a crawl whose batches cannot be stored). Links it cannot
        even read as stored are all fetched: a failing database stores none of them anyway."""
        self.spider.logger.warning("the links of a listing page could not be recorded as pending (%s); "
                                   "fetching them without", brief(exc))
        self.stats.inc_value("radar/frontier_failed")
        try:
            known = self.spider.ingestor.known(urls)
        except OperationalError:
            known = set()
        return [u for u in urls if u not in known]

    def save_validators(self, response: Response) -> None:
        """Every article this page links to is stored: save its validators, so the next crawl
        can ask "changed since?" and stop at a 304."""
        self.spider.ingestor.save_page_validators(response.url, self.spider.source.name,
                                                  validators_of(response_headers(response)), datetime.now(UTC))


__all__ = ["CONDITIONAL", "RECHECK", "VALIDATORS", "KnownPages", "Links", "WalkStep", "response_headers",
           "with_validators"]
