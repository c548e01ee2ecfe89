"""The feed spider: an RSS 2.0 or Atom feed → its entries' article pages.

feedparser reads the feed (RSS 0.9x–2.0, RSS 1.0 and Atom; relative links resolved against the
feed's URL; dates in the formats feeds really use). Each entry's link is an article, fetched and
extracted like a listing's: the page, not the entry's summary, is the article. A page that cannot
be fetched stays pending and is asked for again by the next crawls, until
``give_up_after`` crawls gave up on it; nothing is stored from the entry alone, whose summary is
often a teaser or empty. A feed paged the RFC 5005 way (``<atom:link rel="next">``) is followed
up to ``max_pages``.
"""

from __future__ import annotations

from calendar import timegm
from datetime import UTC, datetime
from typing import Any

import feedparser
from scrapy.http import TextResponse

from crawler.config.kinds import FeedKind
from spiders.entries import EntrySpider, entry_date


def published_of(entry: Any) -> datetime | None:
    """An entry's date, aware. Read from its text first: feedparser takes a date written without
    a zone (``2025-07-02 11:48:00``, as Chinese CMSs write ``<pubDate>``) for UTC, where the
    site means China Standard Time (:func:`spiders.entries.entry_date`)."""
    when = entry_date(entry.get("published") or entry.get("updated"))
    if when is not None:
        return when
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(timegm(parsed), UTC) if parsed else None


class FeedSpider(EntrySpider):
    """Follows the entries of an RSS or Atom feed (see the module's docstring)."""

    name = kind = FeedKind.name

    def links_on(self, response: TextResponse) -> tuple[list[str], str]:
        """The feed's entry links, in feed order, and its next page (RFC 5005), if any."""
        feed = feedparser.parse(response.body, response_headers={
            "content-location": response.url,
            "content-type": (response.headers.get("Content-Type") or b"").decode("latin-1")})
        if not feed.entries and feed.get("bozo"):
            self.crawler.stats.inc_value("radar/not_a_feed")
            self.logger.warning("%s is not a feed: %s", response.url, feed.get("bozo_exception"))
            return [], ""
        urls, skipped = [], self.too_old
        for entry in feed.entries:
            link = entry.get("link") or entry.get("id") or ""
            if link.startswith(("http://", "https://")) and self.kept(link, published_of(entry), entry.get("title")):
                urls.append(link)
        next_url = next((link.get("href", "") for link in feed.feed.get("links", []) if link.get("rel") == "next"), "")
        return urls, self.onward(urls, skipped, next_url)


__all__ = ["FeedSpider", "published_of"]
