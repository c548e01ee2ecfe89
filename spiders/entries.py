"""What the spiders of listings that are no HTML pages share (feeds, sitemaps, JSON APIs): which
entries they keep, and the dates entries carry.

Their entries link articles, which go the listing spider's way from there (``spiders.listing``):
the links are pending in the frontier until stored, stored ones are never fetched again, and the
listing documents are requested conditionally. An entry is kept when its URL matches the
source's ``allow`` (when given) and not its ``deny``, and, with ``max_age_days``, when it is not
dated earlier than that (an undated entry is kept). What an entry says of its page (title, date)
goes with the page as :attr:`crawler.items.PageItem.hints`, for what the page does not say.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.http import Response, TextResponse

from crawler.extraction.dates import parse_date
from crawler.items import PageItem
from spiders.listing import ListingSpider

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time: what a date written without a zone means on a Chinese site."""
#: a Unix time in seconds or milliseconds (JSON APIs send ``"ptime": 1752768000000``)
_EPOCH = re.compile(r"^\d{10}(\d{3})?$")


def entry_date(value: Any) -> datetime | None:
    """An entry's date, aware, or None: an RFC 822 date (RSS), a W3C / ISO 8601 date (Atom,
    sitemaps), a Unix time in seconds or milliseconds, or a date as Chinese pages write it
    (``2025.07.18``, ``2025年7月18日``; China Standard Time when no zone is given)."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if isinstance(value, int | float) or _EPOCH.match(text):
        number = float(text)
        seconds = number / 1000 if number > 1e11 else number
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is not None and when.tzinfo is not None:
        return when
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return parse_date(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=CST)


class EntrySpider(ListingSpider):
    """A listing spider whose listings are documents of entries (see the module's docstring)."""

    name = kind = ""  # a base: Scrapy's spider loader lists only named spiders

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_re = re.compile(self.source.allow) if self.source.allow else None
        self.deny_re = re.compile(self.source.deny) if self.source.deny else None
        days = self.source.max_age_days
        self.oldest = datetime.now(UTC) - timedelta(days=days) if days else None
        self.hints: dict[str, dict[str, str]] = {}  # article URL → what its entry said of it
        self.too_old = 0  # entries skipped by max_age_days

    def kept(self, url: str, when: datetime | None = None, title: Any = "") -> bool:
        """Whether an entry linking ``url``, dated ``when``, is followed (one too old is counted);
        a followed entry's title and date are kept for its page (:meth:`page_item`)."""
        if self.allow_re is not None and not self.allow_re.search(url):
            return False
        if self.deny_re is not None and self.deny_re.search(url):
            return False
        if self.oldest is not None and when is not None and when < self.oldest:
            self.crawler.stats.inc_value("radar/entries_too_old")
            # seen all the same: a feed that only holds old entries has not lost its links
            # (the ``no_links`` health rule)
            self.crawler.stats.inc_value("radar/links_seen")
            self.too_old += 1
            return False
        hints = {"title": title.strip()} if isinstance(title, str) and title.strip() else {}
        if when is not None:
            hints["published_at"] = when.isoformat()
        if hints:
            self.hints[url] = hints
        return True

    def listed_dates(self, response: TextResponse) -> dict[str, date]:
        """The dates of the entries kept so far (in China time), for ``radar crawl --backfill
        --since`` (``spiders.listing``)."""
        return {url: datetime.fromisoformat(hints["published_at"]).astimezone(CST).date()
                for url, hints in self.hints.items() if "published_at" in hints}

    def onward(self, urls: list[str], skipped_before: int, next_url: str) -> str:
        """``next_url``, unless the page's entries were all too old (``max_age_days``): listings
        run newest first, so the pages after it hold older ones still, even in a backfill."""
        if not urls and self.too_old > skipped_before:
            self.logger.info("%s: the entries of a page are all older than %d days; the walk ends there",
                             self.source.name, self.source.max_age_days)
            return ""
        return next_url

    def page_item(self, response: Response, kind: str = "article") -> PageItem:
        """See :meth:`RadarSpider.page_item`; with the hints of the entry that linked the page."""
        item = super().page_item(response, kind)
        asked = (response.request.meta.get("redirect_urls") or [response.url])[0] if response.request else ""
        item.hints = dict(self.hints.get(asked) or self.hints.get(response.url) or {})
        return item


__all__ = ["EntrySpider", "entry_date"]
