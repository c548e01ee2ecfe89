"""Reads and writes of articles (with their stories, revisions and validators), events and crawl
runs. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from crawler.article import Article
from crawler.dedupe import canonical_url, document_key
from crawler.neardup import Fingerprint, body_keys, fingerprint
from crawler.revisions import describe_change
from storage import neardup, stories
from storage.models import (
    ArticleRevisionRow,
    ArticleRow,
    ArticleUrlRow,
    AttachmentRow,
    EventMentionRow,
    EventRow,
    PageValidatorRow,
)

if TYPE_CHECKING:  # the signals package loads its rules on import; storing needs only the type
    from crawler.signals.model import Event

StoreStatus = Literal["new", "duplicate", "unchanged", "updated"]
_ARTICLE_FIELDS = (
    "title", "body", "published_at", "written_at", "source_name", "author", "doc_number", "issuer",
    "index_no", "category", "region", "encoding", "garbled_score", "epaper_page", "epaper_page_name",
    "provenance",
)


# Fields whose change is named in a revision's summary (the body is diffed paragraph by paragraph).
_REVISION_FIELDS = ("title", "published_at", "source_name", "author", "doc_number", "issuer", "index_no")


@dataclass(frozen=True)
class StoreOutcome:
    """What storing one article did. ``article_id`` is the row the page now belongs to, and
    ``story_id`` that row's story; ``story_match`` says how a new article joined it ("first",
    "near", "document"), ``similarity`` its exact Jaccard to the member it matched, and
    ``revision_id`` the revision an update recorded."""

    status: StoreStatus
    article_id: int
    story_id: int | None = None
    story_match: str = ""
    similarity: float | None = None
    revision_id: int | None = None


@dataclass(frozen=True)
class Validators:
    """The HTTP cache validators a page was served with ("" when the server sent none)."""

    etag: str = ""
    last_modified: str = ""


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


def _apply(row: ArticleRow, article: Article, digest: str) -> None:
    for name in _ARTICLE_FIELDS:
        setattr(row, name, getattr(article, name))
    row.content_hash = digest
    row.doc_key = document_key(article.doc_number, article.issuer)


def _replace_attachments(row: ArticleRow, article: Article) -> None:
    row.attachments = [
        AttachmentRow(name=a.name, url=a.url, sha256=a.sha256, content_type=a.content_type,
                      size=a.size, text=a.text)
        for a in article.attachments
    ]


def _set_validators(row: ArticleRow, validators: Validators | None) -> None:
    if validators is not None:
        row.etag = validators.etag[:300]
        row.last_modified = validators.last_modified[:64]


def store_article(
    session: Session,
    article: Article,
    *,
    source: str,
    fetched_at: datetime,
    part_urls: Sequence[str] = (),
    validators: Validators | None = None,
    digest: str | None = None,
    near: Fingerprint | None = None,
) -> StoreOutcome:
    """Store ``article`` unless it is already known.

    - its canonical URL is known with the same body hash → ``unchanged``: only ``checked_at``
      (and the page's HTTP validators) move;
    - its URL is known with another body → ``updated``: the old text is kept as a revision with
      what changed, the row takes the new text, the near-duplicate index follows;
    - another article has the same body hash → ``duplicate``: the URL is recorded as an alias of
      it, and its story counts the alias's source;
    - otherwise → ``new``, in the story of a near-duplicate or of the same document, or in a
      story of its own (see ``storage.stories``).
    ``part_urls`` are further pages the article was assembled from (e-paper continuations);
    they are recorded so they are not fetched again. ``digest`` and ``near`` (the body's
    ``content_hash`` and ``fingerprint``) are computed here unless given.
    """
    url = canonical_url(article.url)
    if digest is None or near is None:
        digest, near = body_keys(article.body)
    cur, mark = neardup.cursor(session)
    cur.execute(f"SELECT article_id, relation FROM article_urls WHERE url = {mark}", (url,))
    known = cur.fetchone()
    if known is not None:
        article_id, relation = int(known[0]), str(known[1])
        row = session.get(ArticleRow, article_id)
        assert row is not None  # article_urls rows cascade with their article
        row.checked_at = fetched_at
        if row.content_hash == digest or relation != "canonical":
            if relation == "canonical":
                _set_validators(row, validators)
            return StoreOutcome("unchanged", row.id, row.story_id)
        revision = _record_revision(session, row, article, digest, fetched_at)
        neardup.remove(session, row.id, fingerprint(row.body).bands)
        _apply(row, article, digest)
        _replace_attachments(row, article)
        _set_validators(row, validators)
        row.fetched_at = fetched_at
        session.flush()
        neardup.add(session, row.id, near.bands)
        stories.refresh(session, row.story_id, at=fetched_at, title=True)
        return StoreOutcome("updated", row.id, row.story_id, revision_id=revision.id)
    conn = session.connection()
    cur.execute(f"SELECT id, story_id FROM articles WHERE content_hash = {mark} ORDER BY id LIMIT 1", (digest,))
    twin = cur.fetchone()
    if twin is not None:
        twin_id, twin_story = int(twin[0]), (int(twin[1]) if twin[1] is not None else None)
        conn.execute(_NEW_URL, {"url": url, "article_id": twin_id, "source": source, "relation": "duplicate",
                                "first_seen_at": fetched_at})
        _add_part_urls(session, part_urls, twin_id, source, fetched_at)
        stories.refresh(session, twin_story, at=fetched_at)
        return StoreOutcome("duplicate", twin_id, twin_story)
    # a new article: Core statements, no ORM unit of work (this is the path every crawl takes)
    values = {name: getattr(article, name) for name in _ARTICLE_FIELDS}
    values.update(url=url, source=source, fetched_at=fetched_at, checked_at=fetched_at, content_hash=digest,
                  doc_key=document_key(article.doc_number, article.issuer), story_match="",
                  etag=(validators.etag if validators else "")[:300],
                  last_modified=(validators.last_modified if validators else "")[:64])
    article_id = int(conn.execute(_NEW_ARTICLE, values).scalar_one())
    if article.attachments:
        conn.execute(insert(AttachmentRow), [
            {"article_id": article_id, "name": a.name, "url": a.url, "sha256": a.sha256,
             "content_type": a.content_type, "size": a.size, "text": a.text} for a in article.attachments])
    conn.execute(_NEW_URL, {"url": url, "article_id": article_id, "source": source, "relation": "canonical",
                            "first_seen_at": fetched_at})
    _add_part_urls(session, part_urls, article_id, source, fetched_at)
    match = stories.assign(session, article_id, title=article.title, source=source, doc_key=values["doc_key"],
                           near=near, at=fetched_at)
    neardup.add(session, article_id, near.bands)
    return StoreOutcome("new", article_id, match.story_id, match.match, match.similarity)


_NEW_ARTICLE = insert(ArticleRow).returning(ArticleRow.id)
_NEW_URL = insert(ArticleUrlRow)


def _record_revision(session: Session, row: ArticleRow, article: Article, digest: str,
                     at: datetime) -> ArticleRevisionRow:
    change = describe_change(
        row.body, article.body,
        old_fields={name: getattr(row, name) for name in _REVISION_FIELDS},
        new_fields={name: getattr(article, name) for name in _REVISION_FIELDS},
    )
    revision = ArticleRevisionRow(
        article_id=row.id, fetched_at=row.fetched_at, replaced_at=at, title=row.title, body=row.body,
        content_hash=row.content_hash, summary=change.summary, fields=list(change.fields),
        paragraphs_added=change.paragraphs_added, paragraphs_removed=change.paragraphs_removed,
        paragraphs_changed=change.paragraphs_changed, chars_added=change.chars_added,
        chars_removed=change.chars_removed, changes=list(change.changes),
    )
    session.add(revision)
    session.flush()
    return revision


def touch_article(session: Session, url: str, checked_at: datetime, validators: Validators | None = None) -> bool:
    """Record that the page at ``url`` was checked and found unchanged (a 304 answer): only its
    check time (and validators, when the server sent new ones) move. False if it is not stored."""
    known = session.get(ArticleUrlRow, canonical_url(url))
    if known is None:
        return False
    row = session.get(ArticleRow, known.article_id)
    if row is None:
        return False
    row.checked_at = checked_at
    if known.relation == "canonical" and validators is not None and (validators.etag or validators.last_modified):
        _set_validators(row, validators)
    return True


@dataclass(frozen=True)
class RecheckItem:
    """A stored article page due for a re-check, with the validators to send."""

    url: str
    etag: str
    last_modified: str


def due_for_recheck(session: Session, source: str, now: datetime, *, days: int,
                    limit: int | None = None) -> list[RecheckItem]:
    """The stored articles of ``source`` published in the last ``days`` days (undated ones:
    fetched in them), newest first: what a re-check fetches again."""
    since = now - timedelta(days=days)
    query = (
        select(ArticleRow.url, ArticleRow.etag, ArticleRow.last_modified)
        .where(ArticleRow.source == source,
               or_(ArticleRow.published_at >= since,
                   (ArticleRow.published_at.is_(None)) & (ArticleRow.fetched_at >= since)))
        .order_by(ArticleRow.published_at.desc(), ArticleRow.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [RecheckItem(url, etag, last_modified) for url, etag, last_modified in session.execute(query)]


def page_validators(session: Session, urls: Iterable[str]) -> dict[str, Validators]:
    """Stored validators of listing pages, keyed by the URLs as given."""
    by_canonical: dict[str, list[str]] = {}
    for url in urls:
        by_canonical.setdefault(canonical_url(url), []).append(url)
    out: dict[str, Validators] = {}
    if not by_canonical:
        return out
    rows = session.scalars(select(PageValidatorRow).where(PageValidatorRow.url.in_(list(by_canonical))))
    for row in rows:
        for url in by_canonical[row.url]:
            out[url] = Validators(row.etag, row.last_modified)
    return out


def save_page_validators(session: Session, url: str, source: str, validators: Validators, at: datetime) -> None:
    """Remember a listing page's validators (call only when every article it links to is stored)."""
    key = canonical_url(url)
    row = session.get(PageValidatorRow, key)
    if row is None:
        row = PageValidatorRow(url=key, source=source, checked_at=at)
        session.add(row)
    row.etag = validators.etag[:300]
    row.last_modified = validators.last_modified[:64]
    row.checked_at = at


def _add_part_urls(session: Session, urls: Sequence[str], article_id: int, source: str, at: datetime) -> None:
    parts = {canonical_url(u) for u in urls}
    if not parts:
        return
    taken = set(session.scalars(select(ArticleUrlRow.url).where(ArticleUrlRow.url.in_(parts))))
    rows = [{"url": part, "article_id": article_id, "source": source, "relation": "part", "first_seen_at": at}
            for part in sorted(parts - taken)]
    if rows:
        session.connection().execute(_NEW_URL, rows)


def _norm(text: str) -> str:
    from crawler.textnorm import normalize_for_hash

    return normalize_for_hash(text)


def _same_event(row: EventRow, ev: Event) -> bool:
    """Whether a stored event and a detected one state the same thing (type, subtype and every
    figure either states; or, without figures, the same parties or the same evidence)."""
    if (row.type, row.subtype) != (ev.type, ev.subtype):
        return False
    figures = [(row.amount_cny if row.amount_cny is not None else row.amount,
                ev.amount_cny if ev.amount_cny is not None else ev.amount),
               (row.project_count, ev.project_count), (row.growth_pct, ev.growth_pct)]
    stated = [(a, b) for a, b in figures if a is not None or b is not None]
    if stated:
        return all(a is not None and b is not None and abs(a - b) <= 0.005 * max(abs(a), abs(b)) for a, b in stated)
    if row.parties or ev.parties:
        return {_norm(p) for p in row.parties} == {_norm(p) for p in ev.parties}
    return _norm(row.evidence) == _norm(ev.evidence)


def _story_event(session: Session, story_id: int, article_id: int, ev: Event) -> EventRow | None:
    """An event another article of the story already reports that ``ev`` restates."""
    mentioned = (select(EventMentionRow.event_id)
                 .join(ArticleRow, ArticleRow.id == EventMentionRow.article_id)
                 .where(ArticleRow.story_id == story_id, ArticleRow.id != article_id))
    reported = session.scalars(select(EventRow).where(EventRow.id.in_(mentioned), EventRow.type == ev.type)
                               .order_by(EventRow.id))
    return next((row for row in reported if _same_event(row, ev)), None)


def record_events(
    session: Session,
    article_id: int,
    events: Sequence[Event],
    *,
    published: date | None,
    seen_at: datetime,
    story_id: int | None = None,
    new_article: bool = False,
) -> int:
    """Attach ``events`` (detected in article ``article_id``) to their real-world event rows.

    An event whose key is already stored gains a mention. So does one that restates an event
    another member of ``story_id`` reports (same type and figures), even when its key differs —
    a repost credited to another region or dated in another month is still one event. Otherwise
    a new event row is made. Mentions this article held before and no longer states are removed
    (a revised page; ``new_article`` says there can be none). Returns how many new event rows
    were created.
    """
    from crawler.signals.keys import event_key

    keep: set[int] = set()
    created = 0
    conn = session.connection()
    cur, mark = neardup.cursor(session)
    for ev in events:
        key = event_key(ev, published)
        cur.execute(f"SELECT id FROM events WHERE event_key = {mark}", (key,))
        found = cur.fetchone()
        event_id: int | None = int(found[0]) if found else None
        if event_id is None and story_id is not None:
            twin = _story_event(session, story_id, article_id, ev)
            event_id = twin.id if twin is not None else None
        if event_id is None:
            event_id = conn.execute(_NEW_EVENT, {
                "event_key": key, "article_id": article_id, "type": ev.type, "subtype": ev.subtype,
                "amount_text": ev.amount_text, "amount": ev.amount, "currency": ev.currency,
                "amount_cny": ev.amount_cny, "qualifier": ev.qualifier, "project_count": ev.project_count,
                "growth_pct": ev.growth_pct, "period": ev.period, "region": ev.region, "parties": list(ev.parties),
                "evidence": ev.evidence, "confidence": ev.confidence, "rule": ev.rule, "first_seen_at": seen_at,
            }).scalar_one()
            created += 1
        if event_id not in keep:
            cur.execute(f"SELECT 1 FROM event_mentions WHERE event_id = {mark} AND article_id = {mark}",
                        (event_id, article_id))
            if cur.fetchone() is None:
                conn.execute(_NEW_MENTION, {
                    "event_id": event_id, "article_id": article_id, "evidence": ev.evidence, "start": ev.start,
                    "end": ev.end, "rule": ev.rule, "confidence": ev.confidence, "created_at": seen_at})
        keep.add(event_id)
    if not new_article:  # a revised page: mentions it no longer states go
        stale = select(EventMentionRow).where(EventMentionRow.article_id == article_id)
        for mention in session.scalars(stale):
            if mention.event_id not in keep:
                session.delete(mention)
    return created


# Prepared once (see storage.neardup on why the hot path avoids building statements per call).
_NEW_EVENT = insert(EventRow).returning(EventRow.id)
_NEW_MENTION = insert(EventMentionRow)


def articles_per_source(session: Session) -> dict[str, int]:
    """Stored article count by source name."""
    rows = session.execute(select(ArticleRow.source, func.count()).group_by(ArticleRow.source))
    return {source: count for source, count in rows}


def events_per_type(session: Session) -> dict[str, int]:
    """Stored event count by type."""
    rows = session.execute(select(EventRow.type, func.count()).group_by(EventRow.type))
    return {kind: count for kind, count in rows}
