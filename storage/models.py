"""The schema. Every table here is created by an Alembic migration in ``storage/migrations``.

Reading order follows the data flow: articles (with their URLs and attachments) → events (one
row per real-world event, with one mention per article that reports it) → digests (the outbox)
and crawl_runs (one row per crawl of a source).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
    UniqueConstraint,
    false,
)
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
    # the source's tags when the article was stored, as ",a,b," (storage.tags)
    tags: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # dedupe (issue 5): the story the article belongs to, how it joined it ("first" = it opened
    # the story, "near" = near-duplicate of a member, "document" = same 发文字号 and issuer) and
    # the exact Jaccard similarity to the member it matched; the 发文字号 key; the page's HTTP
    # validators, sent back when the page is re-checked
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL", use_alter=True), index=True)
    story_match: Mapped[str] = mapped_column(String(16), default="")
    story_similarity: Mapped[float | None] = mapped_column(Float)
    doc_key: Mapped[str] = mapped_column(String(300), default="", index=True)
    etag: Mapped[str] = mapped_column(String(300), default="")
    last_modified: Mapped[str] = mapped_column(String(64), default="")

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
    region_from: Mapped[str] = mapped_column(String(16), default="", server_default="")
    stage: Mapped[str] = mapped_column(String(16), default="", server_default="")
    retrospective: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # the tags of every source that reported it, as ",a,b," (storage.tags)
    tags: Mapped[str] = mapped_column(String(500), default="", server_default="")
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
    # running|finished|failed|killed|interrupted|abandoned|skipped
    status: Mapped[str] = mapped_column(String(16), default="running")
    finish_reason: Mapped[str] = mapped_column(String(200), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # crawl health (issue 6): requests sent, article links seen on listing/index pages (zero where
    # there used to be some means the template changed), challenge/WAF pages, errors by kind
    # ({"http_503": 3, "TimeoutError": 2, …}), HTTP status counts ({"200": 40, "404": 1}), and
    # the exit code of the daemon's crawl child process
    requests: Mapped[int] = mapped_column(Integer, default=0)
    links: Mapped[int] = mapped_column(Integer, default=0)
    challenges: Mapped[int] = mapped_column(Integer, default=0)
    errors_by_kind: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    status_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    # the crawl process (issue 26): a ``running`` row whose process is gone is ``abandoned``
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255), default="")


class DigestRow(Base):
    """The digest outbox: a message is written here before it is sent, and marked sent after.

    One row per recipient and period: ``idempotency_key`` is ``subscription|recipient|period``
    and unique, so the same digest can never be created twice; a pending row is retried (same
    content, same Message-ID) at ``next_attempt_at`` until it is sent.
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
    subscription: Mapped[str] = mapped_column(String(64), default="")
    period: Mapped[str] = mapped_column(String(64), default="")  # daily:2025-07-02 | weekly:2025-W27 | immediate:<id>


class DigestEventRow(Base):
    """Which events a digest carries, per recipient address; an event reaches an address in one
    digest only, whichever of the address's subscriptions claims it first."""

    __tablename__ = "digest_events"
    __table_args__ = (UniqueConstraint("recipient", "event_id", name="uq_digest_events_recipient_event"),)

    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)


# --- dedupe: stories, near-duplicate index, revisions, HTTP validators (issue 5) ---------------


class StoryRow(Base):
    """One story, however many pages carry it: reposts with another header or 来源, near-duplicates
    and the same 发文字号 posted by several governments. Members are the articles whose
    ``story_id`` points here; the canonical one is the first seen. ``source_count`` counts the
    crawl sources whose URLs lead to a member (exact copies at other URLs included)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(AwareDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(AwareDateTime)
    article_count: Mapped[int] = mapped_column(Integer, default=1)
    source_count: Mapped[int] = mapped_column(Integer, default=1)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)  # crawl source names, sorted


class NearBandRow(Base):
    """The near-duplicate index: one row per LSH band key of an article's MinHash signature
    (``crawler.dedupe.neardup``). Kept in the database so it survives restarts and is shared by every
    crawl process. No ``rowid`` on SQLite and no index beyond the key, to stay small (a few
    hundred bytes per article); rows are removed by key when an article's text changes."""

    __tablename__ = "near_bands"
    __table_args__ = ({"sqlite_with_rowid": False},)

    band_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # no foreign key (migration 0004): checking it per row was most of what indexing cost
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ArticleRevisionRow(Base):
    """An earlier text of an article whose page changed: the old title and body, when it had
    been fetched, when the change was seen, and what changed."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(AwareDateTime)  # when the old text was fetched
    replaced_at: Mapped[datetime] = mapped_column(AwareDateTime)  # when the new text was seen
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[str] = mapped_column(Text, default="")  # one line, e.g. "正文: 1 paragraph changed …"
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)  # metadata fields that changed
    paragraphs_added: Mapped[int] = mapped_column(Integer, default=0)
    paragraphs_removed: Mapped[int] = mapped_column(Integer, default=0)
    paragraphs_changed: Mapped[int] = mapped_column(Integer, default=0)
    chars_added: Mapped[int] = mapped_column(Integer, default=0)
    chars_removed: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{"op", "old", "new"}]


class PageValidatorRow(Base):
    """ETag / Last-Modified of a listing page, saved only when every article it linked to was
    stored: a later 304 then means there is still nothing new on it."""

    __tablename__ = "page_validators"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(300), default="")
    last_modified: Mapped[str] = mapped_column(String(64), default="")
    checked_at: Mapped[datetime] = mapped_column(AwareDateTime)


# --- the frontier: links found and not stored yet, listing walks not finished (issue 26) ------


class FrontierRow(Base):
    """An article link a listing page showed that is not stored yet. It stays here, pending,
    until its article is stored (the row goes in the transaction that stores it) or it is given
    up: ``given_up_reason`` says why (fetched ``attempts`` times and never stored, not an
    article page), and ``radar status`` shows it. Crawls fetch pending links first."""

    __tablename__ = "frontier"
    __table_args__ = (Index("ix_frontier_source_given_up", "source", "given_up_at"),)

    # url first: storing an article takes its URL out of every source's frontier by URL
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)  # canonical
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    discovered_at: Mapped[datetime] = mapped_column(AwareDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # crawls that requested it
    last_attempt_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    given_up_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    given_up_reason: Mapped[str] = mapped_column(Text, default="")


class ListingWalkRow(Base):
    """Where a source's walk through its listing pages stands. ``resume_url`` is the listing
    page an unfinished walk goes on from (with its depth, page 1 being the start URL); "" once
    a walk reached a page whose articles were all stored, the last page or ``max_pages``.
    ``completed_at`` is when a walk last got there: None means the source was never walked to
    the end, so a resumed walk goes on past pages that are all stored (a backfill)."""

    __tablename__ = "listing_walks"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    resume_url: Mapped[str] = mapped_column(String(2048), default="")
    resume_depth: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


# --- daemon: job store, subscriptions, health (issue 6) -----------------------------------------


class SchedulerJobRow(Base):
    """APScheduler's persistent job store, exactly as ``SQLAlchemyJobStore`` defines it.

    Declared here so the migration creates it (APScheduler then only reads and writes it); a
    job is a pickled reference to a ``scheduler.jobs`` function with plain arguments.
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class DaemonStatusRow(Base):
    """The daemon of this database: who runs it and when it last showed signs of life.

    Written by ``radar daemon`` at start, every heartbeat and at a clean stop; read by
    ``radar status`` and by a second daemon explaining why it refuses to start. The lock that
    keeps a second daemon out is not this row (a row cannot vanish when a process is killed)
    but a PostgreSQL advisory lock or a file lock next to the SQLite file.
    """

    __tablename__ = "daemon_status"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # "daemon"
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(AwareDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(AwareDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    lock: Mapped[str] = mapped_column(Text, default="")  # how the lock is held, for messages
    config_path: Mapped[str] = mapped_column(Text, default="")
