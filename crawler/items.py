"""What spiders yield: a fetched page, unparsed. Pipelines turn it into an Article.

A plain dataclass (Scrapy accepts dataclass items through itemadapter), so the core never
imports Scrapy and tests can build items by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class FetchedFile:
    """An attachment downloaded alongside its page."""

    name: str
    url: str
    body: bytes
    content_type: str = ""


@dataclass
class PageItem:
    """One article page as fetched: the raw bytes plus where and when it came from."""

    source: str
    url: str
    body: bytes
    fetched_at: datetime
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "article"  # "article" (listing sources) or "epaper" (newspaper story pages)
    referer: str = ""
    files: list[FetchedFile] = field(default_factory=list)
    # what a feed, sitemap or API entry said of the page (``title``, ``published_at`` in ISO 8601):
    # it fills what the page itself does not say (``crawler.ingest.prepare``)
    hints: dict[str, str] = field(default_factory=dict)
