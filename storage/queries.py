"""Reads and writes of articles (with their stories, revisions and validators) and counts of what
is stored. Events are in ``storage.events``, listing validators and re-checks in
``storage.pages``. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from crawler.article import Article
from crawler.dedupe.neardup import Fingerprint, body_keys, fingerprint
from crawler.dedupe.revisions import describe_revision
from crawler.dedupe.stories import Joining, MatchKind
from crawler.dedupe.urls import canonical_url, document_key
from storage import neardup, search, stories
from storage.models import (
    ArticleRevisionRow,
    ArticleRow,
    ArticleUrlRow,
    AttachmentRow,
    EventRow,
)
from storage.tags import tags_text

StoreStatus = Literal["new", "duplicate", "unchanged", "updated"]
_ARTICLE_FIELDS = (
    "title", "body", "published_at", "written_at", "source_name", "author", "doc_number", "issuer",
    "index_no", "category", "region", "encoding", "garbled_score", "epaper_page", "epaper_page_name",
    "provenance",
)


@dataclass(frozen=True)
class StoreOutcome:
    """What storing one article did. ``article_id`` is the row the page now belongs to, and
    ``story_id`` that row's story; ``story_match`` says how a new article joined it ("first",
    "near", "document"), ``similarity`` its exact Jaccard to the member it matched, and
    ``revision_id`` the revision an update recorded."""

    status: StoreStatus
    article_id: int
    story_id: int | None = None
    story_match: MatchKind | Literal[""] = ""
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
    return {url for found in _known(session, list(by_canonical)) for url in by_canonical[found]}


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


@dataclass(frozen=True)
class ToStore:
    """An article to store: where and when it was fetched, the validators its page came with,
    and its body's ``content_hash`` and ``fingerprint`` when already computed (else computed here)."""

    article: Article
    source: str
    fetched_at: datetime
    validators: Validators | None = None
    digest: str | None = None
    near: Fingerprint | None = None
    tags: tuple[str, ...] = ()  # the source's, stored with a new article (storage.tags)


def store_article(session: Session, article: Article, *, source: str, fetched_at: datetime,
                  validators: Validators | None = None, digest: str | None = None,
                  near: Fingerprint | None = None, tags: tuple[str, ...] = ()) -> StoreOutcome:
    """:func:`store_articles` for one article."""
    return store_articles(session, [ToStore(article, source, fetched_at, validators, digest, near, tags)])[0]


def store_articles(session: Session, items: Sequence[ToStore]) -> list[StoreOutcome]:
    """Store each article of ``items`` unless it is already known; one outcome each, in order.

    - its canonical URL is known with the same body hash → ``unchanged``: only ``checked_at``
      (and the page's HTTP validators) move;
    - its URL is known with another body → ``updated``: the old text is kept as a revision with
      what changed, the row takes the new text, the near-duplicate index follows;
    - another article has the same body hash → ``duplicate``: the URL is recorded as an alias of
      it, and its story counts the alias's source;
    - otherwise → ``new``, in the story of a near-duplicate or of the same document, or in a
      story of its own (see ``storage.stories``).
    An article's ``part_urls`` (pages an e-paper story was assembled from) are recorded so they
    are not fetched again. The outcome is the same as storing the articles one by one in this
    order; new articles are written together, in a fixed number of statements per batch.
    """
    outcomes: list[StoreOutcome | None] = [None] * len(items)
    urls = [canonical_url(item.article.url) for item in items]
    known = _known(session, urls)
    fresh: list[int] = []  # positions of articles at URLs unknown so far, to write together
    for n, url in enumerate(urls):
        if url in known:
            _store_fresh(session, items, urls, fresh, outcomes)
            fresh = []
            outcomes[n] = _store_known(session, items[n], url, *known[url])
        else:
            fresh.append(n)
            known[url] = (-1, "canonical")  # the same URL again later in the batch is known by then
    _store_fresh(session, items, urls, fresh, outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


# The look-ups a crawl makes before it stores anything (known URLs, listing pages' validators)
# are table statements, not ORM ones: the first ORM operation of a process configures every
# mapper (11 ms), and a crawl that finds nothing new needs no other.
_URLS = cast(Table, ArticleUrlRow.__table__)


def _known(session: Session, urls: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Those of ``urls`` (canonical) that are stored: ``{url: (article_id, relation)}``."""
    found: dict[str, tuple[int, str]] = {}
    unique = sorted(set(urls))
    for i in range(0, len(unique), 500):  # stay under SQLite's bound-parameter limit
        rows = session.execute(select(_URLS.c.url, _URLS.c.article_id, _URLS.c.relation)
                               .where(_URLS.c.url.in_(unique[i : i + 500])))
        found.update({url: (article_id, relation) for url, article_id, relation in rows})
    return found


def _keys(item: ToStore) -> tuple[str, Fingerprint]:
    if item.digest is None or item.near is None:
        return body_keys(item.article.body)
    return item.digest, item.near


def _store_known(session: Session, item: ToStore, url: str, article_id: int, relation: str) -> StoreOutcome:
    if article_id < 0:  # stored earlier in this batch: look it up now
        article_id, relation = _known(session, [url])[url]
    row = session.get(ArticleRow, article_id)
    assert row is not None  # article_urls rows cascade with their article
    digest, near = _keys(item)
    article, fetched_at = item.article, item.fetched_at
    row.checked_at = fetched_at
    if row.content_hash == digest or relation != "canonical":
        if relation == "canonical":
            _set_validators(row, item.validators)
        return StoreOutcome("unchanged", row.id, row.story_id)
    revision = _record_revision(session, row, article, digest, fetched_at)
    neardup.remove(session, row.id, fingerprint(row.body).bands)
    _apply(row, article, digest)
    _replace_attachments(row, article)
    _set_validators(row, item.validators)
    row.fetched_at = fetched_at
    session.flush()
    search.reindex(session.connection(), row.id, row.title, row.body)
    neardup.add(session, [(row.id, near.bands)])
    if row.story_id is not None:
        stories.refresh(session, {row.story_id: fetched_at}, title=True)
    return StoreOutcome("updated", row.id, row.story_id, revision_id=revision.id)


def _store_fresh(session: Session, items: Sequence[ToStore], urls: Sequence[str], positions: Sequence[int],
                 outcomes: list[StoreOutcome | None]) -> None:
    """Store the articles at ``positions`` (their URLs all unknown and distinct) as new articles
    or as exact copies of stored ones (or of one earlier among them); fill in their outcomes."""
    if not positions:
        return
    keys = {n: _keys(items[n]) for n in positions}
    twins = _by_hash(session, {digest for digest, _near in keys.values()})
    new: list[int] = []
    first_of: dict[str, int] = {}  # body hash -> position of the new article with it
    for n in positions:
        digest = keys[n][0]
        if digest not in twins and digest not in first_of:
            first_of[digest] = n
            new.append(n)
    matches = stories.assign(session, [
        Joining(items[n].article.title, items[n].source,
                        document_key(items[n].article.doc_number, items[n].article.issuer), keys[n][1],
                        items[n].fetched_at) for n in new])
    ids = _insert_articles(session, items, urls, new, keys, matches)
    # every URL row before stories are counted: a story counts the sources of its members' URLs
    url_rows = [{"url": urls[n], "article_id": ids[n], "source": items[n].source, "relation": "canonical",
                 "first_seen_at": items[n].fetched_at} for n in new]
    copies: dict[int, tuple[int, int | None]] = {}  # position -> (article, story) its body copies
    story_of = {ids[n]: match.story_id for n, match in zip(new, matches, strict=True)}
    for n in positions:
        if n not in ids:
            original = twins.get(keys[n][0])
            if original is None:  # a copy of one of the new articles
                twin = ids[first_of[keys[n][0]]]
                original = (twin, story_of[twin])
            copies[n] = original
            url_rows.append({"url": urls[n], "article_id": original[0], "source": items[n].source,
                             "relation": "duplicate", "first_seen_at": items[n].fetched_at})
    owners = {**ids, **{n: article_id for n, (article_id, _story) in copies.items()}}
    url_rows += _part_url_rows(session, items, positions, owners, taken={str(row["url"]) for row in url_rows})
    if url_rows:
        session.connection().execute(_NEW_URL, url_rows)
    touched: dict[int, datetime] = {}
    canonical: dict[int, int] = {}
    for n, match in zip(new, matches, strict=True):
        outcomes[n] = StoreOutcome("new", ids[n], match.story_id, match.match, match.similarity)
        if match.match == "first":
            canonical[match.story_id] = ids[n]
        else:
            touched[match.story_id] = max(items[n].fetched_at, touched.get(match.story_id, items[n].fetched_at))
    for n, (article_id, story) in copies.items():
        outcomes[n] = StoreOutcome("duplicate", article_id, story)
        if story is not None:
            touched[story] = max(items[n].fetched_at, touched.get(story, items[n].fetched_at))
    stories.settle(session, canonical, touched)
    neardup.add(session, [(ids[n], keys[n][1].bands) for n in new])


def _insert_articles(session: Session, items: Sequence[ToStore], urls: Sequence[str], new: Sequence[int],
                     keys: dict[int, tuple[str, Fingerprint]], matches: Sequence[stories.StoryMatch]) -> dict[int, int]:
    """Insert the articles at positions ``new`` (with their attachments and the stories
    ``matches`` gives them) in one statement each; returns their ids by position."""
    if not new:
        return {}
    rows = []
    for n, match in zip(new, matches, strict=True):
        item = items[n]
        values = {name: getattr(item.article, name) for name in _ARTICLE_FIELDS}
        values.update(url=urls[n], source=item.source, fetched_at=item.fetched_at, checked_at=item.fetched_at,
                      content_hash=keys[n][0], doc_key=document_key(item.article.doc_number, item.article.issuer),
                      story_id=match.story_id, story_match=match.match, story_similarity=match.similarity,
                      tags=tags_text(item.tags),
                      etag=(item.validators.etag if item.validators else "")[:300],
                      last_modified=(item.validators.last_modified if item.validators else "")[:64])
        rows.append(values)
    conn = session.connection()
    # matched by URL (unique), not by order: asking for rows in parameter order makes SQLAlchemy
    # insert one row per statement on SQLite, which promises no order for RETURNING
    by_url = {url: int(article_id) for article_id, url in conn.execute(_NEW_ARTICLE, rows)}
    ids = {n: by_url[urls[n]] for n in new}
    search.index_articles(conn, [(ids[n], items[n].article.title, items[n].article.body) for n in new])
    attachments = [{"article_id": ids[n], "name": a.name, "url": a.url, "sha256": a.sha256,
                    "content_type": a.content_type, "size": a.size, "text": a.text}
                   for n in new for a in items[n].article.attachments]
    if attachments:
        conn.execute(insert(AttachmentRow), attachments)
    return ids


def _by_hash(session: Session, digests: set[str]) -> dict[str, tuple[int, int | None]]:
    """The first stored article of each body hash: ``{digest: (article_id, story_id)}``."""
    found: dict[str, tuple[int, int | None]] = {}
    if digests:
        rows = session.execute(select(ArticleRow.content_hash, ArticleRow.id, ArticleRow.story_id)
                               .where(ArticleRow.content_hash.in_(sorted(digests))).order_by(ArticleRow.id))
        for digest, article_id, story_id in rows:
            found.setdefault(digest, (article_id, story_id))
    return found


def _part_url_rows(session: Session, items: Sequence[ToStore], positions: Sequence[int], owners: dict[int, int],
                   taken: set[str]) -> list[dict[str, object]]:
    """URL rows for the e-paper pages the articles at ``positions`` were joined from, but for
    URLs already stored or ``taken``."""
    wanted = {n: {canonical_url(u) for u in items[n].article.part_urls} for n in positions}
    every = set().union(*wanted.values()) - taken
    if not every:
        return []
    taken |= _known(session, sorted(every)).keys()
    rows: list[dict[str, object]] = []
    for n in positions:
        for part in sorted(wanted[n] - taken):
            taken.add(part)
            rows.append({"url": part, "article_id": owners[n], "source": items[n].source, "relation": "part",
                         "first_seen_at": items[n].fetched_at})
    return rows


_NEW_ARTICLE = insert(ArticleRow).returning(ArticleRow.id, ArticleRow.url)
_NEW_URL = insert(ArticleUrlRow)


def _record_revision(session: Session, row: ArticleRow, article: Article, digest: str,
                     at: datetime) -> ArticleRevisionRow:
    change = describe_revision(row, article)
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


def articles_per_source(session: Session) -> dict[str, int]:
    """Stored article count by source name."""
    rows = session.execute(select(ArticleRow.source, func.count()).group_by(ArticleRow.source))
    return {source: count for source, count in rows}


def events_per_type(session: Session) -> dict[str, int]:
    """Stored event count by type."""
    rows = session.execute(select(EventRow.type, func.count()).group_by(EventRow.type))
    return {kind: count for kind, count in rows}
