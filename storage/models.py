"""The schema. Every table here is created by an Alembic migration in ``storage/migrations``.

Reading order follows the data flow: articles (with their URLs and attachments) → events (one
row per real-world event, with one mention per article that reports it) → digests (the outbox)
and crawl_runs (one row per crawl of a source).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import AwareDateTime


class Base(DeclarativeBase):
    """Declarative base of all Policy Radar tables."""


class ArticleRow(Base):
    """A stored article: cleaned text plus metadata, one row per canonical URL."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(AwareDateTime, index=True)
    written_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    fetched_at: Mapped[datetime] = mapped_column(AwareDateTime)
    checked_at: Mapped[datetime] = mapped_column(AwareDateTime)
    source_name: Mapped[str] = mapped_column(String(200), default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    doc_number: Mapped[str] = mapped_column(String(200), default="", index=True)
    issuer: Mapped[str] = mapped_column(String(500), default="")
    index_no: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    encoding: Mapped[str] = mapped_column(String(32), default="")
    garbled_score: Mapped[float] = mapped_column(Float, default=0.0)
    epaper_page: Mapped[int | None] = mapped_column(Integer)
    epaper_page_name: Mapped[str] = mapped_column(String(200), default="")
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    attachments: Mapped[list[AttachmentRow]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="AttachmentRow.id"
    )


class ArticleUrlRow(Base):
    """Every URL known to lead to an article: its canonical URL, exact duplicates found at other
    URLs, and the pages an e-paper story was joined from. Crawls look URLs up here, so a page
    already stored is never fetched again on a normal run."""

    __tablename__ = "article_urls"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(16))  # canonical | duplicate | part
    first_seen_at: Mapped[datetime] = mapped_column(AwareDateTime)


class AttachmentRow(Base):
    """A document linked from an article (PDF, DOCX …) with its extracted text."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500), default="")
    url: Mapped[str] = mapped_column(String(2048))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    content_type: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")

    article: Mapped[ArticleRow] = relationship(back_populates="attachments")


class EventRow(Base):
    """One real-world event (a signing, an opening or a trade figure), however many articles report it.

    ``event_key`` identifies the event across reposts; ``article_id`` is the first article that
    reported it; the figures are those of that first mention.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(300), unique=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), index=True)
    subtype: Mapped[str] = mapped_column(String(32), default="")
    amount_text: Mapped[str] = mapped_column(String(100), default="")
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="")
    amount_cny: Mapped[float | None] = mapped_column(Float)
    qualifier: Mapped[str] = mapped_column(String(16), default="")
    project_count: Mapped[int | None] = mapped_column(Integer)
    growth_pct: Mapped[float | None] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(64), default="")
    region: Mapped[str] = mapped_column(String(200), default="", index=True)
    parties: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    rule: Mapped[str] = mapped_column(String(100), default="")
    first_seen_at: Mapped[datetime] = mapped_column(AwareDateTime, index=True)

    mentions: Mapped[list[EventMentionRow]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventMentionRow.id"
    )


class EventMentionRow(Base):
    """An article's report of an event, with the evidence sentence and its offsets in the body."""

    __tablename__ = "event_mentions"
    __table_args__ = (UniqueConstraint("event_id", "article_id", name="uq_event_mentions_event_article"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    evidence: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[int] = mapped_column(Integer, default=0)
    end: Mapped[int] = mapped_column(Integer, default=0)
    rule: Mapped[str] = mapped_column(String(100), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime)

    event: Mapped[EventRow] = relationship(back_populates="mentions")


class CrawlRunRow(Base):
    """One crawl of one source: when, how much, and how it ended."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(AwareDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|finished|failed|killed
    finish_reason: Mapped[str] = mapped_column(String(200), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class DigestRow(Base):
    """The digest outbox: a message is written here before it is sent, and marked sent after.

    ``idempotency_key`` is unique, so the same digest can never be created twice; a pending
    row is retried (same content) until it is sent.
    """

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    recipients: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|sent
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class DigestEventRow(Base):
    """Which events a digest carries, per recipient list; an event is claimed by one digest only."""

    __tablename__ = "digest_events"
    __table_args__ = (UniqueConstraint("recipients", "event_id", name="uq_digest_events_recipients_event"),)

    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    recipients: Mapped[str] = mapped_column(String(1000))


# --- dedupe: stories, near-duplicate index, revisions, HTTP validators (issue 5) ---------------


# --- daemon: job store, subscriptions, health (issue 6) -----------------------------------------
