"""The sitemap spider: a sitemap index → its sitemaps (news and plain) → their article pages.

It reads sitemaps with Scrapy's sitemap utilities (``scrapy.utils.sitemap``: the XML parser that
``SitemapSpider`` uses, gzip included, and ``Sitemap:`` lines of a robots.txt). ``SitemapSpider``
itself is not the base: it requests every URL a sitemap lists, where a crawl of ours hands a
page's links to ``spiders.known`` (stored URLs dropped, links pending in the frontier, validators
saved), and its parser drops a news sitemap's ``<news:publication_date>``.

An entry's date is its ``<news:publication_date>`` (Google's news sitemap extension), else its
``<lastmod>``; with ``max_age_days``, older entries are skipped, and so are the sitemaps of an
index whose ``<lastmod>`` is older (nothing in them changed since). A sitemap whose URLs are all
stored gets its validators saved: the next crawl's conditional request for it answers 304. At
most ``max_pages`` sitemap documents are read per crawl.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import scrapy
from lxml import etree
from scrapy.http import Response
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.config.kinds import SitemapKind
from spiders.entries import EntrySpider, entry_date
from spiders.known import Links, WalkStep

#: Google's news sitemap namespace (https://www.google.com/schemas/sitemap-news/0.9)
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


class _Sitemap(Sitemap):
    """Scrapy's parser, keeping the ``<news:…>`` fields of each ``<url>`` (as ``news_<name>``),
    which it reads only one level deep."""

    def _process_sitemap_element(self, elem: etree._Element) -> dict[str, Any] | None:
        news = {f"news_{etree.QName(el).localname}": (el.text or "").strip()
                for el in elem.iter(f"{{{NEWS_NS}}}*") if len(el) == 0}
        entry = super()._process_sitemap_element(elem)
        if entry is not None:
            entry.update(news)
        return entry


class SitemapSpider(EntrySpider):
    """Follows a sitemap index's sitemaps and the article URLs they list (see the module's
    docstring)."""

    name = kind = SitemapKind.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sitemaps_requested = len(self.start_urls)

    def catch_up(self) -> list[scrapy.Request]:
        """See ``ListingSpider.catch_up``. Sitemaps are no walk, so there is none to backfill: each
        crawl reads them whole (conditionally, but for the start URLs)."""
        requests = super().catch_up()
        self.backfilling = False
        return requests

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """A robots.txt, sitemap index or sitemap: the sitemaps it names, or the article URLs it
        lists, as :class:`Links` (of which ``spiders.known`` requests what is new)."""
        self.listing_pages += 1
        if self.not_modified(response):
            return
        if response.url.endswith("/robots.txt"):
            yield Links([], self._onward(response, sitemap_urls_from_robots(response.body, base_url=response.url)))
            return
        sitemap = self._sitemap(response)
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            self.crawler.stats.inc_value("radar/not_a_sitemap")
            self.logger.warning("%s is not a sitemap; skipped", response.url)
            return
        if sitemap.type == "sitemapindex":
            oldest = self.oldest
            yield Links([], self._onward(response, (
                e["loc"] for e in sitemap
                if oldest is None or (when := entry_date(e.get("lastmod"))) is None or when >= oldest)))
            return
        # a <loc> must be absolute; a relative one (some CMSs write them) is read against the sitemap's
        located = ((response.urljoin(e["loc"]), e) for e in sitemap)
        urls = [url for url, e in located if url.startswith(("http://", "https://")) and self.kept(
            url, entry_date(e.get("news_publication_date") or e.get("lastmod")), e.get("news_title"))]
        # links pending in the frontier; a sitemap is no step of a listing walk (owner=False)
        yield Links([scrapy.Request(url, callback=self.parse_article, errback=self.article_failed)
                     for url in dict.fromkeys(urls)], [], WalkStep(1, True, owner=False, record_end=False))

    def _onward(self, response: Response, urls: Iterable[str]) -> list[scrapy.Request]:
        """Requests for the sitemaps ``response`` names, while under ``max_pages`` in all."""
        out = []
        for url in dict.fromkeys(urls):
            if self.sitemaps_requested >= self.source.max_pages:
                self.logger.warning("%s: more sitemaps than max_pages (%d); %s and later ones not read",
                                    self.source.name, self.source.max_pages, url)
                break
            self.sitemaps_requested += 1
            out.append(self.follow_listing(response, url))
        return out

    def _sitemap(self, response: Response) -> _Sitemap | None:
        """The sitemap ``response`` holds (gunzipped when it came compressed, ``.xml.gz``), or
        None when it holds no XML."""
        body = response.body
        if gzip_magic_number(response):
            try:
                body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception as exc:  # a truncated or oversized archive
                self.logger.warning("sitemap %s could not be decompressed: %s", response.url, exc)
                return None
        try:
            return _Sitemap(body)
        except (etree.XMLSyntaxError, StopIteration):
            return None


__all__ = ["SitemapSpider"]
