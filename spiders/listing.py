"""The generic listing spider: listing page → article links → next listing page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from spiders.base import RadarSpider


def select_one(response: Response, selector: str) -> str | None:
    """First match of a CSS selector, or of an XPath when it starts with ``/`` or ``(``."""
    if selector.startswith(("/", "(")):
        return response.xpath(selector).get()
    return response.css(selector).get()


class ListingSpider(RadarSpider):
    """Follows article links matching the source's ``allow`` pattern and paginates with
    ``next_page`` until a listing page holds only stored articles or ``max_pages`` is reached.

    Listing pages are requested conditionally: a page whose articles were all stored last time
    has its ETag / Last-Modified saved, and a 304 answer to them ends the crawl there."""

    name = "listing"
    kind = "listing"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.links = LinkExtractor(allow=self.source.allow, deny=self.source.deny or ())
        self.listing_pages = 0

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """A listing page: requests for new articles and, while there are any, the next page."""
        self.listing_pages += 1
        if self.not_modified(response):
            self.logger.info("pagination stops at %s: not modified since its articles were stored", response.url)
            return
        if not isinstance(response, TextResponse):
            self.logger.warning("listing page %s is not HTML (%s); skipped", response.url,
                                response.headers.get("Content-Type"))
            return
        urls = [link.url for link in self.links.extract_links(response)]
        fresh = self.fresh(urls)
        self.crawler.stats.inc_value("radar/links_known", len(urls) - len(fresh))
        for url in fresh:
            yield scrapy.Request(url, callback=self.parse_article)
        if not fresh:
            reason = "no article links" if not urls else "every article already stored"
            self.logger.info("pagination stops at %s: %s", response.url, reason)
            if urls:
                self.listing_complete(response)
            return
        if self.source.next_page and self.listing_pages < self.source.max_pages:
            href = select_one(response, self.source.next_page)
            if href:
                yield self.follow_listing(response, href.strip())

    def parse_article(self, response: Response) -> list[Any]:
        """An article page: the raw page, with its attachments (a list: see
        ``RadarSpider.with_attachments``)."""
        return list(self.with_attachments(response, self.page_item(response)))
