"""Reads and writes of articles, events and crawl runs. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.article import Article
from crawler.dedupe import canonical_url, content_hash
from crawler.signals.model import Event
from storage.models import (
    ArticleRow,
    ArticleUrlRow,
    AttachmentRow,
    CrawlRunRow,
    EventMentionRow,
    EventRow,
)

StoreStatus = Literal["new", "duplicate", "unchanged", "updated"]
_ARTICLE_FIELDS = (
    "title", "body", "published_at", "written_at", "source_name", "author", "doc_number", "issuer",
    "index_no", "category", "region", "encoding", "garbled_score", "epaper_page", "epaper_page_name",
    "provenance",
)


@dataclass(frozen=True)
class StoreOutcome:
    """What storing one article did. ``article_id`` is the row the page now belongs to."""

    status: StoreStatus
    article_id: int


def known_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """Those of ``urls`` (compared in canonical form) that already lead to a stored article.

    Returns the URLs as given, so callers can filter their own lists.
    """
    by_canonical: dict[str, list[str]] = {}
    for url in urls:
        by_canonical.setdefault(canonical_url(url), []).append(url)
    if not by_canonical:
        return set()
    found: set[str] = set()
    keys = list(by_canonical)
    for i in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
        chunk = keys[i : i + 500]
        for (url,) in session.execute(select(ArticleUrlRow.url).where(ArticleUrlRow.url.in_(chunk))):
            found.update(by_canonical[url])
    return found


def _apply(row: ArticleRow, article: Article) -> None:
    for name in _ARTICLE_FIELDS:
        setattr(row, name, getattr(article, name))
    row.content_hash = content_hash(article.body)


def _replace_attachments(row: ArticleRow, article: Article) -> None:
    row.attachments = [
        AttachmentRow(name=a.name, url=a.url, sha256=a.sha256, content_type=a.content_type,
                      size=a.size, text=a.text)
        for a in article.attachments
    ]


def store_article(
    session: Session,
    article: Article,
    *,
    source: str,
    fetched_at: datetime,
    part_urls: Sequence[str] = (),
) -> StoreOutcome:
    """Store ``article`` unless it is already known.

    - its canonical URL is known with the same body hash → ``unchanged`` (only ``checked_at`` moves);
    - its URL is known with another body → ``updated`` (the row takes the new text);
    - another article has the same body hash → ``duplicate`` (the URL is recorded as an alias);
    - otherwise → ``new``.
    ``part_urls`` are further pages the article was assembled from (e-paper continuations);
    they are recorded so they are not fetched again.
    """
    url = canonical_url(article.url)
    digest = content_hash(article.body)
    known = session.get(ArticleUrlRow, url)
    if known is not None:
        row = session.get(ArticleRow, known.article_id)
        assert row is not None  # article_urls rows cascade with their article
        row.checked_at = fetched_at
        if row.content_hash == digest or known.relation != "canonical":
            return StoreOutcome("unchanged", row.id)
        _apply(row, article)
        _replace_attachments(row, article)
        row.fetched_at = fetched_at
        return StoreOutcome("updated", row.id)
    twin = session.scalar(select(ArticleRow).where(ArticleRow.content_hash == digest).limit(1))
    if twin is not None:
        session.add(ArticleUrlRow(url=url, article_id=twin.id, source=source, relation="duplicate",
                                  first_seen_at=fetched_at))
        _add_part_urls(session, part_urls, twin.id, source, fetched_at)
        return StoreOutcome("duplicate", twin.id)
    row = ArticleRow(url=url, source=source, fetched_at=fetched_at, checked_at=fetched_at)
    _apply(row, article)
    _replace_attachments(row, article)
    session.add(row)
    session.flush()
    session.add(ArticleUrlRow(url=url, article_id=row.id, source=source, relation="canonical",
                              first_seen_at=fetched_at))
    _add_part_urls(session, part_urls, row.id, source, fetched_at)
    session.flush()
    return StoreOutcome("new", row.id)


def _add_part_urls(session: Session, urls: Sequence[str], article_id: int, source: str, at: datetime) -> None:
    for part in {canonical_url(u) for u in urls}:
        if session.get(ArticleUrlRow, part) is None:
            session.add(ArticleUrlRow(url=part, article_id=article_id, source=source, relation="part",
                                      first_seen_at=at))


def record_events(
    session: Session,
    article_id: int,
    events: Sequence[Event],
    *,
    published: date | None,
    seen_at: datetime,
) -> int:
    """Attach ``events`` (detected in article ``article_id``) to their real-world event rows.

    An event whose key is already stored gains a mention; otherwise a new event row is made.
    Mentions this article held before and no longer states are removed (a revised page).
    Returns how many new event rows were created.
    """
    from crawler.signals.keys import event_key

    keep: set[int] = set()
    created = 0
    for ev in events:
        key = event_key(ev, published)
        row = session.scalar(select(EventRow).where(EventRow.event_key == key))
        if row is None:
            row = EventRow(
                event_key=key, article_id=article_id, type=ev.type, subtype=ev.subtype,
                amount_text=ev.amount_text, amount=ev.amount, currency=ev.currency, amount_cny=ev.amount_cny,
                qualifier=ev.qualifier, project_count=ev.project_count, growth_pct=ev.growth_pct,
                period=ev.period, region=ev.region, parties=list(ev.parties), evidence=ev.evidence,
                confidence=ev.confidence, rule=ev.rule, first_seen_at=seen_at,
            )
            session.add(row)
            session.flush()
            created += 1
        mention = session.scalar(select(EventMentionRow).where(
            EventMentionRow.event_id == row.id, EventMentionRow.article_id == article_id))
        if mention is None:
            session.add(EventMentionRow(
                event_id=row.id, article_id=article_id, evidence=ev.evidence, start=ev.start, end=ev.end,
                rule=ev.rule, confidence=ev.confidence, created_at=seen_at,
            ))
            session.flush()
        keep.add(row.id)
    stale = select(EventMentionRow).where(EventMentionRow.article_id == article_id)
    for mention in session.scalars(stale):
        if mention.event_id not in keep:
            session.delete(mention)
    return created


def start_run(session: Session, source: str, started_at: datetime) -> int:
    """Open a crawl_runs row and return its id."""
    row = CrawlRunRow(source=source, started_at=started_at, status="running")
    session.add(row)
    session.flush()
    return row.id


def finish_run(session: Session, run_id: int, *, finished_at: datetime, status: str, reason: str,
               counts: dict[str, int], stats: dict[str, Any], error: str = "") -> None:
    """Close a crawl_runs row with its counts."""
    row = session.get(CrawlRunRow, run_id)
    if row is None:
        return
    row.finished_at = finished_at
    row.status = status
    row.finish_reason = reason
    for name in ("pages", "items", "new", "duplicates", "errors", "bytes"):
        setattr(row, name, int(counts.get(name, 0)))
    row.stats = stats
    row.error = error


def articles_per_source(session: Session) -> dict[str, int]:
    """Stored article count by source name."""
    rows = session.execute(select(ArticleRow.source, func.count()).group_by(ArticleRow.source))
    return {source: count for source, count in rows}


def events_per_type(session: Session) -> dict[str, int]:
    """Stored event count by type."""
    rows = session.execute(select(EventRow.type, func.count()).group_by(EventRow.type))
    return {kind: count for kind, count in rows}
