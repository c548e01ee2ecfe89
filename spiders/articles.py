"""Which links of a listing (or e-paper) page are articles: the source's ``allow``, or a pattern
inferred from the page when the source gives none."""

from __future__ import annotations

import scrapy
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.config.sources import Source

#: the crawl stat that keeps the last pattern inferred (it goes into ``crawl_runs.stats``)
INFERRED_STAT = "radar/inferred_allow"


class ArticleLinks:
    """The article links of a source's pages, in page order.

    With ``allow`` they are the links it matches (less ``deny``); without, the links matching
    the pattern :func:`crawler.extraction.links.infer_allow` finds on each page, which is logged
    the first time it is seen and kept in the crawl's stats. ``not_articles`` (the e-paper's
    ``pages``) names links that are never articles, whatever is inferred.
    """

    def __init__(self, spider: scrapy.Spider, source: Source, not_articles: str = "") -> None:
        self.spider = spider
        self.source = source
        self.deny = tuple(p for p in (source.deny, not_articles) if p)
        self.pages_only = bool(not_articles)
        self.given = LinkExtractor(allow=source.allow, deny=self.deny) if source.allow else None
        self.inferred: dict[str | None, LinkExtractor | None] = {}  # pattern → its extractor

    def allow_for(self, response: TextResponse) -> str | None:
        """The pattern of the article links of ``response``: the source's, else the one inferred
        from the page (None: no article list recognised there)."""
        if self.source.allow:
            return self.source.allow
        # imported here: crawler.extraction's package loads the extractor, which a crawl of
        # sources with an ``allow`` that finds nothing new never needs in the crawl process
        from crawler.extraction.links import infer_allow

        pattern = infer_allow(response.text, response.url)
        if pattern not in self.inferred:
            self.inferred[pattern] = LinkExtractor(allow=pattern, deny=self.deny) if pattern else None
            if pattern:
                self.spider.logger.info("%s: article links inferred from %s: allow %r", self.source.name,
                                        response.url, pattern)
                self.spider.crawler.stats.set_value(INFERRED_STAT, pattern)
            else:  # an e-paper's issue index links only its pages: not worth a warning
                log = self.spider.logger.info if self.pages_only else self.spider.logger.warning
                log("%s: no article list recognised on %s; give the source an allow pattern", self.source.name,
                    response.url)
        return pattern

    def __call__(self, response: TextResponse) -> list[str]:
        """The article URLs ``response`` links, in page order, each once."""
        pattern = self.allow_for(response)
        extractor = self.given if self.source.allow else self.inferred.get(pattern)
        if extractor is None:
            return []
        return list(dict.fromkeys(link.url for link in extractor.extract_links(response)))
