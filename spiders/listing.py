"""The generic listing spider: listing page → article links → next listing page."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from sqlalchemy.exc import OperationalError

from crawler.config.kinds import ListingKind
from crawler.errors import brief
from crawler.extraction.pagination import listing_dates, next_listing_urls, script_article_urls
from spiders.articles import ArticleLinks
from spiders.base import RadarSpider
from spiders.guard import Refused
from spiders.known import Links, WalkStep
from storage.db import transaction
from storage.frontier import PAGING_STAT, Walk, paged_with, restart_walk


def select_one(response: Response, selector: str) -> str | None:
    """First match of a CSS selector, or of an XPath when it starts with ``/`` or ``(``."""
    if selector.startswith(("/", "(")):
        return response.xpath(selector).get()
    return response.css(selector).get()


class ListingSpider(RadarSpider):
    """Follows article links matching the source's ``allow`` pattern (or inferred, and those a
    CMS keeps in scripts: ``crawler.extraction.pagination``) and paginates with ``next_page``, or
    by the CMS patterns that module knows when it is not given, until a listing page holds only
    stored articles or ``max_pages`` is reached.

    A source never walked to its end (its first crawl, the first after its listing settings
    changed, or after ``radar crawl --backfill``) is backfilled: its walk goes on through pages
    whose articles are all stored, unconditionally, to the last page or ``max_pages``; with
    ``RADAR_BACKFILL_SINCE`` (a date) it ends at a page whose dated articles are all older, and
    articles listed as older are not fetched.

    Listing pages are requested conditionally: a page whose articles were all stored last time
    has its ETag / Last-Modified saved, and a 304 answer to them ends the crawl there. The
    callbacks only parse: ``spiders.known`` drops the stored links, records the frontier and the
    walk, and sends the validators.

    Nothing an interrupted crawl found is lost (``storage.frontier``): the article links a
    listing page shows are pending until their articles are stored, and the next crawl requests
    them first; a walk that did not get to its end is resumed from the page it had reached (past
    pages whose articles are all stored, while the source was never walked to its end). A link
    requested by ``RADAR_GIVE_UP_AFTER`` crawls without being stored is given up, with its last
    error as the reason.
    """

    name = kind = ListingKind.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.article_links = ArticleLinks(self, self.source)
        self.listing_pages = 0
        self.walk = Walk()
        self.resuming = False  # a walk left unfinished is resumed by this crawl
        self.backfilling = False  # the head walk is a backfill: the source was never walked to its end
        # what fetching pending links did, recorded with the next listing page (or at the end)
        self.link_errors: dict[str, str] = {}
        self.not_articles: dict[str, str] = {}
        self.redirected: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ListingSpider:
        spider: ListingSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.item_dropped, signal=signals.item_dropped)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        """The pending links first, the listing page an unfinished walk goes on from, then the
        start pages (see :meth:`RadarSpider.start`)."""
        if not self.recheck:
            for request in self.catch_up():
                yield request
            if self.backfilling:  # not conditional: a 304 would end the backfill at its first page
                self.logger.info("backfilling %s: walking its listing through stored pages, up to %d pages",
                                 self.source.name, self.source.max_pages)
                self.crawler.stats.set_value("radar/backfill", 1)
                self.crawler.stats.inc_value("radar/listing_requests", len(self.start_urls))
                for url in self.start_urls:
                    yield self.listing_request(url, conditional=False, callback=self.parse,
                                               errback=self.listing_failed, dont_filter=True)
                return
        async for request in super().start():
            yield request

    def catch_up(self) -> list[scrapy.Request]:
        """Requests for the source's pending links and for the page its walk resumes from."""
        give_up_after = max(1, self.settings.getint("RADAR_GIVE_UP_AFTER"))
        try:
            caught = self.ingestor.catch_up(self.source.name, datetime.now(UTC), give_up_after=give_up_after)
        except OperationalError as exc:  # the database is failing: crawl from the start pages
            self.logger.error("could not read the pending links of %s: %s", self.source.name, brief(exc))
            return []
        stats = self.crawler.stats
        stats.set_value("radar/pending", len(caught.pending))
        if caught.given_up:
            stats.set_value("radar/given_up", caught.given_up)
            self.logger.warning("%d link(s) of %s given up: requested %d times, never stored", caught.given_up,
                                self.source.name, give_up_after)
        self.walk = self.settings_changed(caught.walk)
        self.backfilling = not (self.walk.completed or self.walk.resume_url)
        requests = [scrapy.Request(url, callback=self.parse_article, errback=self.article_failed, priority=1)
                    for url in caught.pending]
        self.fresh_links += len(caught.pending)
        if caught.walk.resume_url:
            self.resuming = True
            stats.set_value("radar/walk_resumed", caught.walk.resume_depth)
            self.logger.info("resuming the listing walk of %s at page %d: %s", self.source.name,
                             caught.walk.resume_depth, caught.walk.resume_url)
            stats.inc_value("radar/listing_requests")
            requests.append(scrapy.Request(
                caught.walk.resume_url, callback=self.parse, errback=self.listing_failed, dont_filter=True,
                meta={"walk": "resume", "walk_depth": caught.walk.resume_depth}))
        return requests

    def settings_changed(self, walk: Walk) -> Walk:
        """``walk``, or a walk started again (a backfill) when the source's listing settings
        (``next_page``, ``allow``, ``deny``, ``max_pages``) are not those its last walk had: a
        source whose pagination was added or fixed catches up. This crawl's are kept in its
        stats (:data:`~storage.frontier.PAGING_STAT`)."""
        source = self.source
        key = json.dumps([source.next_page, source.allow, source.deny, source.max_pages], ensure_ascii=False)
        self.crawler.stats.set_value(PAGING_STAT, key)
        if not walk.completed or walk.resume_url:
            return walk
        try:
            with transaction(self.ingestor.factory) as session:
                before = paged_with(session, source.name)
                if before is None or before == key:
                    return walk
                restart_walk(session, source.name, datetime.now(UTC))
        except OperationalError as exc:
            self.logger.error("could not compare the listing settings of %s: %s", source.name, brief(exc))
            return walk
        self.logger.info("the listing settings of %s changed since its last walk: walking it again", source.name)
        return Walk()

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """A listing page: its article links and the next page, as :class:`Links` (of which
        ``spiders.known`` requests the new articles and, while there are any, the next page)."""
        self.listing_pages += 1
        if self.not_modified(response):
            self.logger.info("pagination stops at %s: not modified since its articles were stored", response.url)
            return
        if not isinstance(response, TextResponse):
            self.logger.warning("listing page %s is not HTML (%s); skipped", response.url,
                                response.headers.get("Content-Type"))
            return
        yield self.walk_links(response, *self.links_on(response))

    def links_on(self, response: TextResponse) -> tuple[list[str], str]:
        """A listing page's article links, in page order, and the URL of the page after it ("" at
        the last). Kinds whose listings are no HTML pages (a feed, an API) override it.

        The links are those the CMS keeps in scripts (Hanweb datastore records, a jpaas
        ``articleList``; matching ``allow`` when given) and the anchors :class:`ArticleLinks`
        picks, which are not looked for when the source gives no ``allow`` and the scripts
        hold the list. The next page is ``next_page``'s, or the patterns' when it is not given.
        """
        held = self.script_links(response)
        urls = held if held and not self.source.allow else list(dict.fromkeys(held + self.article_links(response)))
        if self.source.next_page:
            href = select_one(response, self.source.next_page)
            return urls, response.urljoin(href.strip()) if href and href.strip() else ""
        found = next_listing_urls(response.text, response.url)
        return urls, found[0] if found else ""

    def script_links(self, response: TextResponse) -> list[str]:
        """The article URLs ``response`` keeps in scripts, less ``deny`` and those ``allow`` (when
        given) does not match."""
        held = script_article_urls(response.text, response.url)
        allow, deny = self.source.allow, self.source.deny
        return [u for u in held if (not allow or re.search(allow, u)) and not (deny and re.search(deny, u))]

    @property
    def since(self) -> date | None:
        """``RADAR_BACKFILL_SINCE`` (``radar crawl --backfill --since``), or None."""
        since = self.settings.get("RADAR_BACKFILL_SINCE") or ""
        return date.fromisoformat(str(since)) if since else None

    def since_filter(self, response: TextResponse, urls: list[str]) -> tuple[list[str], bool]:
        """With ``RADAR_BACKFILL_SINCE``: ``urls`` less those the page dates before it, and
        whether the walk ends here (the page dates its articles, all before it)."""
        since = self.since
        if since is None:
            return urls, False
        dates = self.listed_dates(response)
        kept = [u for u in urls if u not in dates or dates[u] >= since]
        dated = [dates[u] for u in urls if u in dates]
        return kept, bool(dated) and max(dated) < since

    def listed_dates(self, response: TextResponse) -> dict[str, date]:
        """The date the listing page gives each article link it shows (absolute URL → date; links
        without one left out). Kinds whose entries carry their dates (a feed, an API) override it."""
        return listing_dates(response.text, response.url)

    def walk_links(self, response: Response, urls: list[str], next_url: str) -> Links:
        """A page of the source's walk: its article links and the page after it, as :class:`Links`
        (of which ``spiders.known`` requests the new articles and, while there are any, that page)."""
        walk = response.meta.get("walk", "head")
        depth = int(response.meta.get("walk_depth", 1))
        # the head walk (from the start pages) stops at a page whose articles are all stored,
        # unless it is a backfill; a resumed walk of a source never walked to its end goes on
        # past them (pages shift as new articles push older ones down)
        stop_when_stored = self.walk.completed or (walk == "head" and self.resuming)
        step = WalkStep(depth, stop_when_stored,
                        owner=walk == "resume" or not self.resuming,  # the walk whose progress is recorded
                        record_end=not (self.walk.completed and not self.walk.resume_url and depth == 1))
        if isinstance(response, TextResponse):
            urls, ended = self.since_filter(response, urls)
            if ended:
                self.logger.info("backfill of %s ends at %s: its articles are older than %s", self.source.name,
                                 response.url, self.since)
                next_url = ""
        onward = [self.follow_listing(response, next_url, conditional=stop_when_stored)] \
            if next_url and depth < self.source.max_pages else []
        return Links([scrapy.Request(url, callback=self.parse_article, errback=self.article_failed)
                      for url in dict.fromkeys(urls)], onward, step)

    def parse_article(self, response: Response) -> list[Any]:
        """An article page: the raw page, with its attachments (a list: see
        ``RadarSpider.with_attachments``). A page that yields nothing is not an article: its
        link is given up at once."""
        got = list(self.with_attachments(response, self.page_item(response)))
        asked = response.request.meta.get("redirect_urls", [])[:1] if response.request else []
        if asked and asked[0] != response.url:
            self.redirected.add(asked[0])  # stored (if at all) under the URL it redirected to
        if not got:
            self.not_articles[response.url] = "not an article page: " + (
                (response.headers.get("Content-Type") or b"").decode("latin-1") or "no content type")
        return got

    def listing_failed(self, failure: Any) -> None:
        """See :meth:`RadarSpider.listing_failed`; a page to resume a walk from that is gone (404,
        410: the site's pagination shrank) ends that walk, or every crawl would ask for it."""
        super().listing_failed(failure)
        response = getattr(failure.value, "response", None)
        if failure.request.meta.get("walk") == "resume" and response is not None and response.status in (404, 410):
            self.logger.warning("the listing walk of %s ends: %s is gone", self.source.name, failure.request.url)
            try:
                self.ingestor.discover(self.source.name, [], datetime.now(UTC), lambda fresh: ("", 0))
            except OperationalError as exc:
                self.logger.error("could not record the end of the listing walk: %s", brief(exc))

    def article_failed(self, failure: Any) -> None:
        """An article link could not be fetched: its error is recorded and the link stays
        pending, unless the fetch guard refused it: that will not change, so it is given up."""
        if failure.check(Refused):
            self.not_articles[failure.request.url] = f"refused: {failure.value.reason}"
            return
        response = getattr(failure.value, "response", None)  # an HttpError: the answer was an error status
        self.link_errors[failure.request.url] = f"HTTP {response.status}" if response is not None \
            else brief(failure.value)[:300]
        self.logger.warning("article %s not fetched: %s", failure.request.url, failure.value)

    def item_dropped(self, item: Any, response: Response | None, exception: BaseException,
                     spider: Any = None) -> None:
        """An article page that could not be used (empty, extraction failed): its error is
        recorded; the link stays pending."""
        if spider in (None, self) and response is not None:
            self.link_errors[response.url] = str(exception)[:300]

    def settle_frontier(self) -> None:
        if not (self.link_errors or self.not_articles or self.redirected):
            return
        try:
            self.ingestor.note(self.source.name, datetime.now(UTC), errors=self.link_errors,
                               give_up=self.not_articles, settled=self.redirected)
        except OperationalError as exc:  # the links stay pending, only without these notes
            self.logger.error("could not record the fetching of pending links: %s", brief(exc))
