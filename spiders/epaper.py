"""The e-paper spider: issue index → pages (版面) → stories."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.config.kinds import EpaperKind
from spiders.articles import ArticleLinks
from spiders.base import RadarSpider
from spiders.known import Links


class EpaperSpider(RadarSpider):
    """Follows page links matching ``pages`` and stores stories matching ``allow``.

    A page whose stories are all stored does not lead on to further pages, so a daily run reads
    the new issue and stops at the archive it already has.
    """

    name = kind = EpaperKind.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages = LinkExtractor(allow=self.source.pages)
        self.stories = ArticleLinks(self, self.source, not_articles=self.source.pages)
        self.pages_seen = 0

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """An index or 版面 page: its stories and further pages, as :class:`Links` (of which
        ``spiders.known`` requests the new stories and, while there are any, the pages)."""
        self.pages_seen += 1
        if self.not_modified(response):
            return
        if not isinstance(response, TextResponse):
            self.logger.warning("e-paper page %s is not HTML; skipped", response.url)
            return
        urls = self.stories(response)
        onward = [self.follow_listing(response, link.url) for link in self.pages.extract_links(response)] \
            if self.pages_seen < self.source.max_pages else []
        yield Links([scrapy.Request(url, callback=self.parse_story) for url in dict.fromkeys(urls)], onward)

    def parse_story(self, response: Response) -> list[Any]:
        """A story page (a list: see ``RadarSpider.with_attachments``)."""
        return list(self.with_attachments(response, self.page_item(response, kind="epaper")))
