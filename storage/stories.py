"""Stories: which stored articles are the same story, and how many sources carry it.

A new article joins the story of

1. an article with the same document key (the same 发文字号 from the same issuer), else
2. the most similar near-duplicate whose *exact* Jaccard similarity reaches
   ``crawler.neardup.JOIN_THRESHOLD`` (candidates come from the LSH index, ``storage.neardup``),

else it opens a story of its own, as its canonical (first-seen) article. Callers own the
transaction; on PostgreSQL, assignment is serialised across crawl processes with a transaction
advisory lock, so two processes storing reposts of one story at the same moment still make one
story (on SQLite the article insert before it already holds the database's write lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, insert, select, text, update
from sqlalchemy.orm import Session

from crawler.neardup import JOIN_THRESHOLD, Fingerprint, jaccard, shingle_set
from storage import neardup
from storage.models import ArticleRow, StoryRow

_LOCK = 0x52_41_44_41_52_05  # "RADAR" + issue 5: the advisory lock key of story assignment


@dataclass(frozen=True)
class StoryMatch:
    """Where an article went: its story, how it got there, and the article it matched."""

    story_id: int
    match: str  # "first" | "near" | "document"
    similarity: float | None = None
    matched_article_id: int | None = None


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})


def _by_document(session: Session, article_id: int, doc_key: str) -> StoryMatch | None:
    if not doc_key:
        return None
    found = session.execute(
        select(ArticleRow.id, ArticleRow.story_id)
        .where(ArticleRow.doc_key == doc_key, ArticleRow.id != article_id, ArticleRow.story_id.is_not(None))
        .order_by(ArticleRow.id).limit(1)
    ).first()
    if found is None:
        return None
    return StoryMatch(found.story_id, "document", None, found.id)


def _by_similarity(session: Session, article_id: int, fp: Fingerprint) -> StoryMatch | None:
    if not fp.indexable:
        return None
    best: StoryMatch | None = None
    for other_id, story_id, body in neardup.candidate_bodies(session, fp.bands, exclude=article_id):
        if best is not None and best.story_id == story_id:
            continue  # one verified member is enough to join a story
        similarity = jaccard(fp.shingles, shingle_set(body))
        if similarity >= JOIN_THRESHOLD and (best is None or similarity > (best.similarity or 0.0)):
            best = StoryMatch(story_id, "near", round(similarity, 4), other_id)
    return best


# Prepared once: built per call, SQLAlchemy constructs cost more than these statements run.
_NEW_STORY = insert(StoryRow).returning(StoryRow.id)
_SET_STORY = "UPDATE articles SET story_id = {0}, story_match = {0}, story_similarity = {0} WHERE id = {0}"


def assign(session: Session, article_id: int, *, title: str, source: str, doc_key: str, near: Fingerprint,
           at: datetime) -> StoryMatch:
    """Put the article ``article_id`` (just inserted) into a story and return where it went."""
    # Core and DB-API statements throughout: this runs for every stored article, and ORM
    # flushes cost several times more than the SQL itself.
    _lock(session)
    match = _by_document(session, article_id, doc_key) or _by_similarity(session, article_id, near)
    if match is None:
        story_id = session.connection().execute(_NEW_STORY, {
            "article_id": article_id, "title": title, "first_seen_at": at, "last_seen_at": at, "article_count": 1,
            "source_count": 1, "sources": [source]}).scalar_one()
        match = StoryMatch(story_id, "first")
    cur, mark = neardup.cursor(session)
    cur.execute(_SET_STORY.format(mark), (match.story_id, match.match, match.similarity, article_id))
    if match.match != "first":
        refresh(session, match.story_id, at=at)
    return match


_SOURCES = ("SELECT DISTINCT u.source FROM article_urls u JOIN articles a ON a.id = u.article_id "
            "WHERE a.story_id = {0} AND u.relation <> 'part'")
_MEMBERS = "SELECT count(*) FROM articles WHERE story_id = {0}"
_RECOUNT = (update(StoryRow).where(StoryRow.id == bindparam("story"))
            .values(article_count=bindparam("members"), source_count=bindparam("count"),
                    sources=bindparam("sources"),
                    # timestamps compare correctly as stored on both databases (ISO text on SQLite)
                    last_seen_at=case((StoryRow.last_seen_at < bindparam("at"), bindparam("at")),
                                      else_=StoryRow.last_seen_at)))
_RETITLE = (update(StoryRow).where(StoryRow.id == bindparam("story"))
            .values(title=select(ArticleRow.title).where(ArticleRow.id == StoryRow.article_id).scalar_subquery()))


def refresh(session: Session, story_id: int | None, *, at: datetime, title: bool = False) -> None:
    """Recount a story's members and sources and move its ``last_seen_at`` to ``at`` (after a
    member or an exact-copy URL was added); with ``title``, take the canonical article's title
    again (it was revised)."""
    if story_id is None:
        return
    conn = session.connection()
    cur, mark = neardup.cursor(session)
    cur.execute(_SOURCES.format(mark), (story_id,))
    sources = sorted(str(r[0]) for r in cur.fetchall())
    cur.execute(_MEMBERS.format(mark), (story_id,))
    members = int(cur.fetchone()[0])
    conn.execute(_RECOUNT, {"story": story_id, "members": members, "count": len(sources), "sources": sources,
                            "at": at})
    if title:
        conn.execute(_RETITLE, {"story": story_id})
    for obj in list(session.identity_map.values()):  # a loaded copy would now be stale
        if isinstance(obj, StoryRow) and obj.id == story_id:
            session.expire(obj)


def members(session: Session, story_id: int) -> list[ArticleRow]:
    """The articles of a story, first seen first."""
    return list(session.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id)
                                .order_by(ArticleRow.fetched_at, ArticleRow.id)))
