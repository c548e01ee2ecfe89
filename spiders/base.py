"""What every Policy Radar spider shares: its source, its database, and page-item building."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from crawler.errors import ConfigError
from crawler.ingest import Ingestor
from crawler.items import FetchedFile, PageItem
from crawler.sources import Config, Source, load_config

_ATTACHMENT = re.compile(r"\.(pdf|docx?|wps|xlsx?|et)$", re.I)


class RadarSpider(scrapy.Spider):
    """Base spider: ``source`` is a :class:`Source` or the name of one in the config file."""

    kind = ""

    def __init__(self, source: Source | str | None = None, config: Config | None = None,
                 ingestor: Ingestor | None = None, **kwargs: Any) -> None:
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
        self.start_urls = list(source.start_urls)
        self._ingestor = ingestor

    @property
    def ingestor(self) -> Ingestor:
        """The database this crawl stores into (opened on first use)."""
        if self._ingestor is None:
            self._ingestor = Ingestor.for_url(self.config.settings.database_url)
        return self._ingestor

    def fresh(self, urls: list[str]) -> list[str]:
        """``urls`` minus those already stored, order kept, duplicates dropped."""
        unique = list(dict.fromkeys(urls))
        known = self.ingestor.known(unique)
        return [u for u in unique if u not in known]

    def page_item(self, response: Response, kind: str = "article") -> PageItem:
        """The fetched page as an item, raw bytes and headers included."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in ((k, response.headers.get(k) or b"") for k in response.headers)}
        return PageItem(
            source=self.source.name, url=response.url, body=response.body,
            fetched_at=datetime.now(UTC), status=response.status, headers=headers, kind=kind,
            referer=(response.request.headers.get("Referer") or b"").decode("latin-1")
            if response.request else "",
        )

    def with_attachments(self, response: Response, item: PageItem) -> Iterator[Any]:
        """Yield ``item`` once its linked documents are downloaded (or failed).

        A response that is not a web page (a PDF linked as an article) is counted and skipped.
        """
        if not isinstance(response, TextResponse):
            self.logger.warning("article %s is not HTML (%s); skipped", response.url,
                                (response.headers.get("Content-Type") or b"").decode("latin-1"))
            self.crawler.stats.inc_value("radar/not_html")
            return
        limit = self.settings.getint("RADAR_MAX_ATTACHMENTS", 5)
        links: list[tuple[str, str]] = []
        for a in response.css("a[href]"):
            href = response.urljoin(a.attrib["href"])
            if _ATTACHMENT.search(urlsplit(href).path) and href not in {u for _, u in links}:
                name = " ".join(a.css("::text").getall()).strip() or unquote(href.rsplit("/", 1)[-1])
                links.append((name, href))
        yield from self._next_attachment(item, links[:limit])

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

    def _got_attachment(self, response: Response) -> Iterator[Any]:
        item: PageItem = response.meta["item"]
        if response.status == 200:
            ctype = (response.headers.get("Content-Type") or b"").decode("latin-1")
            item.files.append(FetchedFile(response.meta["name"], response.url, response.body, ctype))
        yield from self._next_attachment(item, response.meta["pending"])

    def _attachment_failed(self, failure: Any) -> Iterator[Any]:
        request = failure.request
        self.logger.warning("attachment %s not fetched: %s", request.url, failure.value)
        self.crawler.stats.inc_value("radar/attachment_failed")
        yield from self._next_attachment(request.meta["item"], request.meta["pending"])
