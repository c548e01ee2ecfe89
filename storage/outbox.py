"""The digest outbox: claim events into a digest row, then mark it sent.

A digest is written (with the events it carries) before anything is sent. Sending marks it
sent; a failure leaves it pending with the error and a ``next_attempt_at`` that backs off, and
the retry sends the same row. Two constraints make duplicates impossible even when two
processes race: the unique ``idempotency_key`` (one digest per subscription, recipient and
period) and the unique ``(recipient, event_id)`` claim (an address gets an event once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crawler.events.model import STAGE_OF_SUBTYPE
from crawler.health.channels import ChannelState
from storage.models import ArticleRow, DigestEventRow, DigestRow, EventMentionRow, EventRow
from storage.tags import any_tag


@dataclass
class EventView:
    """An event with what a reader of the digest needs next to it."""

    event: EventRow
    title: str
    url: str
    published_at: datetime | None
    source: str
    source_count: int


def _like(value: str) -> str:
    """``value`` as a LIKE pattern matching it anywhere, its own % and _ escaped."""
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _contains(column: ColumnElement[str] | InstrumentedAttribute[str], words: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(func.lower(column).like(_like(w.lower()), escape="\\") for w in words))


def _filtered(query: Select[EventRow], *, types: Sequence[str] = (), regions: Sequence[str] = (),
              keywords: Sequence[str] = (), sources: Sequence[str] | None = None, stages: Sequence[str] = (),
              min_amount_cny: float = 0.0, news_only: bool = False, tags: Sequence[str] = (),
              tagged_sources: Sequence[str] = ()) -> Select[EventRow]:
    """``query`` (of events joined with their first article) narrowed by a subscription's filters."""
    if types:
        query = query.where(EventRow.type.in_(list(types)))
    if regions:
        query = query.where(_contains(EventRow.region, regions))
    if keywords:
        query = query.where(or_(_contains(ArticleRow.title, keywords), _contains(EventRow.evidence, keywords)))
    if sources is not None:
        query = query.where(ArticleRow.source.in_(list(sources)))
    if tags:  # rows stored before tags were recorded have none: their source's tags today tell it
        query = query.where(or_(any_tag(EventRow.tags, tags),
                                and_(EventRow.tags == "", ArticleRow.source.in_(list(tagged_sources)))))
    if stages:  # rows stored before stages were recorded have none: their subtype tells it
        subtypes = [sub for sub, stage in STAGE_OF_SUBTYPE.items() if stage in stages]
        query = query.where(or_(EventRow.stage.in_(list(stages)),
                                and_(EventRow.stage == "", EventRow.subtype.in_(subtypes))))
    if min_amount_cny > 0:
        query = query.where(EventRow.amount_cny >= min_amount_cny)
    if news_only:
        query = query.where(EventRow.retrospective.is_(False))
    return query


def unclaimed_events(session: Session, recipient: str, *, types: Sequence[str] = (), regions: Sequence[str] = (),
                     keywords: Sequence[str] = (), exclude: Sequence[int] = (), sources: Sequence[str] | None = None,
                     stages: Sequence[str] = (), min_amount_cny: float = 0.0,
                     news_only: bool = False, tags: Sequence[str] = (),
                     tagged_sources: Sequence[str] = ()) -> list[EventView]:
    """Events no digest has carried to ``recipient`` yet that match the filters, oldest first.

    ``types``: any of these (all when empty). ``regions``: the event's region contains one of
    them (江西 matches 江西省赣州市). ``keywords``: the article title or the evidence sentence (which
    names the parties) contains one of them, case-insensitively. ``exclude``: ids to leave out (a dry run's
    earlier claims). ``sources``: the event's article comes from one of them (None: any; empty:
    none). ``tags``: the event carries one of them (an event stored untagged, before tags were
    stored: its article's source is one of ``tagged_sources``). ``stages``: any of these.
    ``min_amount_cny``: the event states at least this many yuan.
    ``news_only``: no retrospective events. The filters run in SQL, so events an address never wants are never loaded.
    """
    claimed = exists().where(DigestEventRow.event_id == EventRow.id, DigestEventRow.recipient == recipient)
    query = select(EventRow).join(ArticleRow, ArticleRow.id == EventRow.article_id).where(~claimed)
    if exclude:
        query = query.where(EventRow.id.not_in(list(exclude)))
    query = _filtered(query, types=types, regions=regions, keywords=keywords, sources=sources, stages=stages,
                      min_amount_cny=min_amount_cny, news_only=news_only, tags=tags, tagged_sources=tagged_sources)
    events = session.scalars(query.order_by(EventRow.first_seen_at, EventRow.id)).all()
    return views_of(session, list(events))


def recent_events(session: Session, *, since: datetime, limit: int, types: Sequence[str] = (),
                  regions: Sequence[str] = (), keywords: Sequence[str] = (), sources: Sequence[str] | None = None,
                  stages: Sequence[str] = (), min_amount_cny: float = 0.0, news_only: bool = False,
                  tags: Sequence[str] = (), tagged_sources: Sequence[str] = ()) -> list[EventView]:
    """The newest ``limit`` events first seen at ``since`` or later that match the filters (as
    :func:`unclaimed_events` reads them), newest first, whoever they were carried to (a feed)."""
    query = select(EventRow).join(ArticleRow, ArticleRow.id == EventRow.article_id)
    query = _filtered(query.where(EventRow.first_seen_at >= since), types=types, regions=regions,
                      keywords=keywords, sources=sources, stages=stages, min_amount_cny=min_amount_cny,
                      news_only=news_only, tags=tags, tagged_sources=tagged_sources)
    events = session.scalars(query.order_by(EventRow.first_seen_at.desc(), EventRow.id.desc()).limit(limit)).all()
    return views_of(session, list(events))


def views_of(session: Session, events: list[EventRow]) -> list[EventView]:
    """Each event with its first article and how many distinct sources reported it (two queries
    for the lot, however many events)."""
    if not events:
        return []
    ids = [e.id for e in events]
    articles: dict[int, ArticleRow] = {}
    counts: dict[int, int] = {}
    for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = ids[i : i + 500]
        article_ids = list({e.article_id for e in events[i : i + 500]})
        articles.update((a.id, a) for a in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(article_ids))))
        for event_id, n in session.execute(
                select(EventMentionRow.event_id, func.count(func.distinct(ArticleRow.source)))
                .join(ArticleRow, ArticleRow.id == EventMentionRow.article_id)
                .where(EventMentionRow.event_id.in_(chunk)).group_by(EventMentionRow.event_id)):
            counts[event_id] = int(n)
    views = []
    for e in events:
        article = articles.get(e.article_id)
        views.append(EventView(
            event=e,
            title=article.title if article else "",
            url=article.url if article else "",
            published_at=article.published_at if article else None,
            source=article.source if article else "",
            source_count=max(1, counts.get(e.id, 1)),
        ))
    return views


def events_of(session: Session, digest: DigestRow) -> list[EventView]:
    """The events a digest carries."""
    ids = select(DigestEventRow.event_id).where(DigestEventRow.digest_id == digest.id)
    rows = session.scalars(select(EventRow).where(EventRow.id.in_(ids)).order_by(EventRow.id)).all()
    return views_of(session, list(rows))


def digest_by_key(session: Session, key: str) -> DigestRow | None:
    """The digest with this idempotency key, if one was written."""
    return session.scalar(select(DigestRow).where(DigestRow.idempotency_key == key))


def pending_digests(session: Session, *, due_at: datetime | None = None) -> list[DigestRow]:
    """Digests written but not sent, oldest first; with ``due_at`` only those whose backoff is over."""
    query = select(DigestRow).where(DigestRow.status == "pending")
    if due_at is not None:
        query = query.where(or_(DigestRow.next_attempt_at.is_(None), DigestRow.next_attempt_at <= due_at))
    return list(session.scalars(query.order_by(DigestRow.id)))


def write_digest(session: Session, *, key: str, subscription: str, period: str, recipient: str, subject: str,
                 text_body: str, html_body: str, event_ids: Sequence[int], now: datetime) -> DigestRow:
    """Write a pending digest and claim its events for ``recipient`` (the caller commits)."""
    row = DigestRow(idempotency_key=key, recipients=recipient, subject=subject, text_body=text_body,
                    html_body=html_body, status="pending", event_count=len(event_ids), created_at=now,
                    attempts=0, last_error="", next_attempt_at=now, subscription=subscription, period=period)
    session.add(row)
    session.flush()
    session.add_all(DigestEventRow(digest_id=row.id, event_id=i, recipient=recipient) for i in event_ids)
    session.flush()
    return row


def mark_sent(session: Session, digest_id: int, now: datetime) -> None:
    """Record a successful send."""
    row = session.get(DigestRow, digest_id)
    if row is not None:
        row.status = "sent"
        row.sent_at = now
        row.attempts += 1
        row.last_error = ""
        row.next_attempt_at = None


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """Wait after the ``attempts``-th failure: ``base``, 2×, 4× … at most ``cap`` seconds."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def mark_failed(session: Session, digest_id: int, error: str, now: datetime, *, base: float = 60,
                cap: float = 3600) -> DigestRow | None:
    """Record a failed send; the next attempt waits :func:`backoff`."""
    row = session.get(DigestRow, digest_id)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:2000]
        row.next_attempt_at = now + backoff(row.attempts, base=base, cap=cap)
    return row


def claimed_by(session: Session, recipient: str, event_ids: Sequence[int]) -> set[int]:
    """Those of ``event_ids`` already carried to ``recipient``."""
    if not event_ids:
        return set()
    return set(session.scalars(select(DigestEventRow.event_id).where(
        and_(DigestEventRow.recipient == recipient, DigestEventRow.event_id.in_(list(event_ids))))))



def channel_counts(session: Session) -> list[ChannelState]:
    """Per channel recipient (a ``notify:`` URL as written), its digests by state, by URL."""
    channel = DigestRow.recipients.contains("://")
    pending = DigestRow.status == "pending"
    errors: dict[str, str] = {}
    for recipient, error in session.execute(select(DigestRow.recipients, DigestRow.last_error)
                                            .where(channel, pending, DigestRow.last_error != "")
                                            .order_by(DigestRow.id)):
        errors[recipient] = error  # the latest failure's, per channel
    rows = session.execute(
        select(DigestRow.recipients,
               func.sum(case((DigestRow.status == "sent", 1), else_=0)),
               func.sum(case((pending, 1), else_=0)),
               func.sum(case((and_(pending, DigestRow.attempts > 0), 1), else_=0)),
               func.max(DigestRow.sent_at))
        .where(channel).group_by(DigestRow.recipients).order_by(DigestRow.recipients))
    return [ChannelState(url, int(sent or 0), int(waiting or 0), int(failing or 0), last, errors.get(url, ""))
            for url, sent, waiting, failing, last in rows]
