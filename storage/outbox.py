"""The digest outbox: claim unsent events into a digest row, then mark it sent.

A digest is written (with the events it carries) before anything is sent. Sending marks it
sent; a failure leaves it pending with the error, and the next attempt sends the same row. The
unique ``(recipients, event_id)`` claim means an event is carried by one digest per recipient
list, even when two processes race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ArticleRow, DigestEventRow, DigestRow, EventMentionRow, EventRow


@dataclass
class EventView:
    """An event with what a reader of the digest needs next to it."""

    event: EventRow
    title: str
    url: str
    published_at: datetime | None
    source: str
    source_count: int


def pending_digest(session: Session, recipients: str) -> DigestRow | None:
    """The oldest digest for ``recipients`` written but not yet sent."""
    return session.scalar(
        select(DigestRow).where(DigestRow.recipients == recipients, DigestRow.status == "pending")
        .order_by(DigestRow.id).limit(1)
    )


def unclaimed_events(session: Session, recipients: str) -> list[EventView]:
    """Events no digest for ``recipients`` has carried yet, oldest first."""
    claimed = select(DigestEventRow.event_id).where(DigestEventRow.recipients == recipients)
    events = session.scalars(
        select(EventRow).where(EventRow.id.not_in(claimed)).order_by(EventRow.first_seen_at, EventRow.id)
    ).all()
    return [view_of(session, e) for e in events]


def view_of(session: Session, event: EventRow) -> EventView:
    """The first article of ``event`` and how many distinct sources reported it."""
    article = session.get(ArticleRow, event.article_id)
    sources = session.scalar(
        select(func.count(func.distinct(ArticleRow.source)))
        .join(EventMentionRow, EventMentionRow.article_id == ArticleRow.id)
        .where(EventMentionRow.event_id == event.id)
    )
    return EventView(
        event=event,
        title=article.title if article else "",
        url=article.url if article else "",
        published_at=article.published_at if article else None,
        source=article.source if article else "",
        source_count=int(sources or 1),
    )


def events_of(session: Session, digest: DigestRow) -> list[EventView]:
    """The events a digest carries."""
    ids = select(DigestEventRow.event_id).where(DigestEventRow.digest_id == digest.id)
    rows = session.scalars(select(EventRow).where(EventRow.id.in_(ids)).order_by(EventRow.id)).all()
    return [view_of(session, e) for e in rows]


def write_digest(session: Session, *, recipients: str, key: str, subject: str, text_body: str,
                 html_body: str, event_ids: list[int], now: datetime) -> DigestRow:
    """Write a pending digest and claim its events (the caller commits)."""
    row = DigestRow(idempotency_key=key, recipients=recipients, subject=subject, text_body=text_body,
                    html_body=html_body, status="pending", event_count=len(event_ids), created_at=now,
                    attempts=0, next_attempt_at=now)
    session.add(row)
    session.flush()
    session.add_all(DigestEventRow(digest_id=row.id, event_id=i, recipients=recipients) for i in event_ids)
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


def mark_failed(session: Session, digest_id: int, error: str, now: datetime) -> DigestRow | None:
    """Record a failed send; the next attempt waits 1, 2, 4 … up to 60 minutes."""
    row = session.get(DigestRow, digest_id)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:2000]
        row.next_attempt_at = now + timedelta(minutes=min(60, 2 ** (row.attempts - 1)))
    return row
