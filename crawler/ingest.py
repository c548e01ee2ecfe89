"""From fetched page to stored rows: extract → exact dedupe → store → detect events.

The steps are pure functions (``crawler.extraction``, ``crawler.dedupe``, ``crawler.signals``);
this module strings them together around one database transaction per article, so a crash
never leaves an article stored without its events.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crawler.article import Article, Attachment
from crawler.extraction import attachment_text, extract
from crawler.items import PageItem
from crawler.signals import detect_events
from crawler.sources import Source
from storage import queries
from storage.db import open_database, transaction

log = logging.getLogger(__name__)


class EmptyPage(ValueError):
    """The page yielded no article text (an error page, a login wall, a changed template)."""


def page_to_article(page: PageItem, source: Source) -> Article:
    """Extract one fetched page (extraction also cleans boilerplate out); attachments' text too.

    Raises :class:`EmptyPage` when nothing worth storing is left.
    """
    article = extract(
        page.body, page.url, headers=page.headers, fetched_at=page.fetched_at,
        selectors=source.selectors or None, encoding_hint=source.encoding, region_hint=source.region,
    )
    for file in page.files:
        try:
            text = attachment_text(file.body, file.name, file.content_type)
        except Exception as exc:  # a broken attachment must not lose its article
            log.warning("attachment %s of %s: %s", file.url, page.url, exc)
            text = ""
        article.attachments.append(Attachment(
            name=file.name, url=file.url, sha256=hashlib.sha256(file.body).hexdigest(), text=text,
            content_type=file.content_type, size=len(file.body),
        ))
    if not article.body.strip():
        raise EmptyPage(f"no article text found at {page.url}")
    return article


@dataclass
class IngestResult:
    """What ingesting one article did."""

    status: queries.StoreStatus
    article_id: int
    new_events: int = 0
    events: int = 0
    statuses: list[str] = field(default_factory=list)


class Ingestor:
    """Stores articles and their events in one database; one per crawl process."""

    def __init__(self, engine: Engine, factory: sessionmaker[Session]) -> None:
        self.engine = engine
        self.factory = factory

    @classmethod
    def for_url(cls, url: str) -> Ingestor:
        """Open (and migrate) the database at ``url``."""
        engine, factory = open_database(url)
        return cls(engine, factory)

    def known(self, urls: list[str]) -> set[str]:
        """Those of ``urls`` that already lead to a stored article."""
        with self.factory() as session:
            return queries.known_urls(session, urls)

    def ingest(self, article: Article, *, source: str, fetched_at: datetime) -> IngestResult:
        """Store ``article`` and, if it is new or changed, the events it states."""
        with transaction(self.factory) as session:
            outcome = queries.store_article(session, article, source=source, fetched_at=fetched_at,
                                            part_urls=article.part_urls)
            result = IngestResult(outcome.status, outcome.article_id)
            if outcome.status in ("new", "updated"):
                events = detect_events(article.body, title=article.title, region_hint=article.region)
                published = (article.published_at or fetched_at).date()
                result.events = len(events)
                result.new_events = queries.record_events(
                    session, outcome.article_id, events, published=published, seen_at=fetched_at)
            return result

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
