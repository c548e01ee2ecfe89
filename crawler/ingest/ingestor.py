"""From prepared article to stored rows: dedupe (exact, near-duplicate, story) → store → events.

:mod:`crawler.ingest.prepare` turns a fetched page into a prepared article (extraction, hashes,
fingerprint and, optionally, events: pure, so crawls run it in worker processes); this module
stores it, around one database transaction per batch, so a crash never leaves an article
stored without its events or its story.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawler.article import Article
from crawler.config.sources import Source
from crawler.dedupe.stories import JOINED, MatchKind
from crawler.ingest.prepare import Prepared, Sealed, events_of, prepare_article
from storage import frontier, pages, queries
from storage.db import open_database, transaction
from storage.events import record_events
from storage.pages import RecheckItem
from storage.planner import Statistics
from storage.queries import Validators


def validators_of(headers: dict[str, str]) -> Validators:
    """The ETag / Last-Modified a page was served with (``headers`` keyed in lower case)."""
    return Validators(headers.get("etag", "").strip(), headers.get("last-modified", "").strip())


@dataclass(frozen=True)
class Pending:
    """An article waiting to be stored, with where and when it was fetched. ``article`` is None
    when ``prepared`` is a :class:`~crawler.ingest.prepare.Sealed` holding it, opened where it is
    stored (a big crawl's writer process)."""

    article: Article | None
    source: str
    fetched_at: datetime
    validators: Validators | None = None
    prepared: Prepared | Sealed | None = None
    tags: tuple[str, ...] = ()  # the source's: stored with the article and its events

    @property
    def url(self) -> str:
        """The article's URL, without opening a sealed one."""
        if self.article is not None:
            return self.article.url
        assert self.prepared is not None
        return self.prepared.url if isinstance(self.prepared, Sealed) else self.prepared.article.url

    def opened(self) -> tuple[Article, Prepared | None]:
        """The article and what was prepared of it (None: nothing yet), a sealed one opened."""
        prepared = self.prepared.open() if isinstance(self.prepared, Sealed) else self.prepared
        if self.article is not None:
            return self.article, prepared
        if prepared is None:
            raise ValueError("a pending article needs its article or what was prepared of it")
        return prepared.article, prepared


@dataclass
class IngestResult:
    """What ingesting one article did."""

    status: queries.StoreStatus
    article_id: int
    new_events: int = 0
    events: int = 0
    statuses: list[str] = field(default_factory=list)
    story_id: int | None = None
    story_match: MatchKind | Literal[""] = ""
    revision_id: int | None = None


class Ingestor:
    """Stores articles and their events in one database; one per crawl process."""

    def __init__(self, engine: Engine, factory: sessionmaker[Session]) -> None:
        self.engine = engine
        self.factory = factory
        self.statistics = Statistics(engine)

    @classmethod
    def for_url(cls, url: str) -> Ingestor:
        """Open (and migrate) the database at ``url``."""
        engine, factory = open_database(url)
        return cls(engine, factory)

    def known(self, urls: list[str]) -> set[str]:
        """Those of ``urls`` that already lead to a stored article."""
        with self.factory() as session:
            return queries.known_urls(session, urls)

    def discover(self, source: str, urls: Sequence[str], now: datetime,
                 then: Callable[[list[str]], tuple[str, int] | None] = lambda fresh: None, *,
                 errors: Mapping[str, str] = {}, give_up: Mapping[str, str] = {},
                 settled: Iterable[str] = ()) -> list[str]:
        """A listing page's article links: those to fetch (not stored, not given up), which
        the frontier now holds as pending. In the same transaction: the walk goes on from
        ``then(fresh)`` (a listing URL and its depth; "" ends the walk; None leaves it as it
        is), and what fetching earlier links did is recorded (see :func:`storage.frontier.note`)."""
        with transaction(self.factory) as session:
            if errors or give_up or settled:
                frontier.note(session, source, errors=errors, give_up=give_up, settled=settled, now=now)
            fresh = frontier.discover(session, source, urls, now)
            step = then(fresh)
            if step is not None:
                frontier.advance_walk(session, source, step[0], step[1], now)
        return fresh

    def note(self, source: str, now: datetime, *, errors: Mapping[str, str] = {},
             give_up: Mapping[str, str] = {}, settled: Iterable[str] = ()) -> None:
        """Record what fetching pending links did (see :func:`storage.frontier.note`)."""
        with transaction(self.factory) as session:
            frontier.note(session, source, errors=errors, give_up=give_up, settled=settled, now=now)

    def catch_up(self, source: str, now: datetime, *, give_up_after: int) -> frontier.CatchUp:
        """What a crawl of ``source`` starts with: its pending links and the walk to resume
        (see :func:`storage.frontier.catch_up`)."""
        with transaction(self.factory) as session:
            return frontier.catch_up(session, source, now, give_up_after=give_up_after)

    def ingest(self, article: Article, *, source: str, fetched_at: datetime, validators: Validators | None = None,
               prepared: Prepared | None = None, tags: tuple[str, ...] = ()) -> IngestResult:
        """Store ``article`` and, if it is new or changed, the events it states, with ``tags``.

        ``prepared`` (from :func:`prepare`, for this article) saves recomputing its hash,
        fingerprint and events; events are detected here when it carries none.
        """
        result = self.ingest_many([Pending(article, source, fetched_at, validators, prepared, tags)])[0]
        assert not isinstance(result, Exception)  # a batch of one raises its error instead
        return result

    def ingest_many(self, batch: Sequence[Pending]) -> list[IngestResult | Exception]:
        """Store several articles in one transaction, one result (or error) each, in order.

        Storing a batch costs a fixed number of statements (``storage.queries.store_articles``)
        and one commit, so a crawl stores what arrives within a fraction of a second together.
        If anything fails, the transaction is rolled back and each article is stored again in a
        transaction of its own: an article is still stored whole or not at all, and one bad
        article loses no other. A failing database (full disk, lost connection: SQLAlchemy's
        ``OperationalError``, or the driver's, which is raised as SQLAlchemy's) fails the whole
        batch at once: it raises, with nothing stored.
        """
        if not batch:
            return []
        results: list[IngestResult | Exception] = []
        try:
            with transaction(self.factory) as session:
                stored = self._ingest(session, batch)
            results += stored  # committed
        except Exception as exc:
            if isinstance(exc, self.engine.dialect.loaded_dbapi.OperationalError):
                # the driver's own, from the statements sent through its cursor (storage.neardup)
                raise OperationalError(None, None, exc) from exc
            if len(batch) == 1 or isinstance(exc, OperationalError):
                raise
            for pending in batch:
                try:
                    with transaction(self.factory) as session:
                        one = self._ingest(session, [pending])
                    results += one
                except Exception as exc:
                    results.append(exc)
        self.statistics.grew(sum(1 for r in results if isinstance(r, IngestResult) and r.status == "new"))
        return results

    def _ingest(self, session: Session, batch: Sequence[Pending]) -> list[IngestResult]:
        articles, prepared = [], []
        for pending in batch:
            article, ready = pending.opened()
            articles.append(article)
            prepared.append(ready if ready is not None else prepare_article(article, detect=False))
        outcomes = queries.store_articles(session, [
            queries.ToStore(article, p.source, p.fetched_at, p.validators, ready.digest, ready.near, p.tags)
            for p, article, ready in zip(batch, articles, prepared, strict=True)])
        # stored: no longer pending (committed with the articles, so a link is never neither)
        frontier.forget(session, [article.url for article in articles])
        return [self._record(session, p, article, ready, outcome)
                for p, article, ready, outcome in zip(batch, articles, prepared, outcomes, strict=True)]

    @staticmethod
    def _record(session: Session, pending: Pending, article: Article, prepared: Prepared,
                outcome: queries.StoreOutcome) -> IngestResult:
        """The result of storing one article, with the events of a new or changed one recorded."""
        fetched_at = pending.fetched_at
        result = IngestResult(outcome.status, outcome.article_id, story_id=outcome.story_id,
                              story_match=outcome.story_match, revision_id=outcome.revision_id)
        if outcome.status in ("new", "updated"):
            events = prepared.events if prepared.events is not None else events_of(article)
            published = (article.published_at or fetched_at).date()
            result.events = len(events)
            joined = outcome.story_match in JOINED or outcome.status == "updated"
            result.new_events = record_events(
                session, outcome.article_id, events, published=published, seen_at=fetched_at,
                story_id=outcome.story_id if joined else None, new_article=outcome.status == "new",
                tags=pending.tags)
        return result

    def touch(self, url: str, checked_at: datetime, validators: Validators | None = None) -> bool:
        """The page at ``url`` answered 304 Not Modified: record the check, nothing else."""
        with transaction(self.factory) as session:
            return queries.touch_article(session, url, checked_at, validators)

    def page_validators(self, urls: Sequence[str]) -> dict[str, Validators]:
        """Validators saved for these listing pages (see :meth:`save_page_validators`)."""
        with self.factory() as session:
            return pages.page_validators(session, urls)

    def save_page_validators(self, url: str, source: str, validators: Validators, at: datetime) -> None:
        """Remember a listing page's validators; only for a page whose articles are all stored."""
        if validators.etag or validators.last_modified:
            with transaction(self.factory) as session:
                pages.save_page_validators(session, url, source, validators, at)

    def due_for_recheck(self, source: Source, now: datetime) -> list[RecheckItem]:
        """Stored articles of ``source`` to re-fetch now: those of its last ``recheck_days``."""
        with self.factory() as session:
            return pages.due_for_recheck(session, source.name, now, days=source.recheck_days)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
