"""Stories: which stored articles are the same story, and how many sources carry it.

``crawler.dedupe.stories`` decides which story a new article joins; this module reads what
that decision needs (document keys, candidates from the LSH index ``storage.neardup`` and their
bodies), opens the stories it starts and keeps their counts. Callers own the transaction.
Assignment is serialised across crawl processes until the transaction ends (on PostgreSQL
with a transaction advisory lock, on SQLite by taking the database's write lock), so two
processes storing reposts of one story at the same moment still make one story.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, func, insert, select, text, update
from sqlalchemy.orm import Session

from crawler.dedupe.stories import Joining, MatchKind, decide
from storage import neardup
from storage.models import ArticleRow, ArticleUrlRow, StoryRow

_LOCK = 0x52_41_44_41_52_05  # "RADAR" + issue 5: the advisory lock key of story assignment


@dataclass(frozen=True)
class StoryMatch:
    """Where an article went: its story, how it got there, and the article it matched."""

    story_id: int
    match: MatchKind
    similarity: float | None = None
    matched_article_id: int | None = None


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    else:  # SQLite: a write statement (changing nothing) takes the database's write lock now
        session.execute(text("UPDATE stories SET id = id WHERE 0"))


def _stored_documents(session: Session, keys: set[str]) -> dict[str, tuple[int, int]]:
    """The first stored article in a story for each document key: ``{doc_key: (article_id, story_id)}``."""
    if not keys:
        return {}
    found: dict[str, tuple[int, int]] = {}
    rows = session.execute(
        select(ArticleRow.doc_key, ArticleRow.id, ArticleRow.story_id)
        .where(ArticleRow.doc_key.in_(sorted(keys)), ArticleRow.story_id.is_not(None))
        .order_by(ArticleRow.id))
    for key, article_id, story_id in rows:
        if story_id is not None:  # always (filtered above); for the type checker
            found.setdefault(key, (article_id, story_id))
    return found


def assign(session: Session, joining: Sequence[Joining]) -> list[StoryMatch]:
    """Find the story of each article of ``joining`` (new articles about to be inserted, in
    this order; ``crawler.dedupe.stories.decide`` decides) and open the stories those that
    match nothing start; return where each goes.
    Articles of one batch can join each other's stories, as if stored one by one.

    Deciding before the articles exist lets them be inserted with their story at once: setting
    it afterwards rewrote every new article row (and its eight index entries) on PostgreSQL.
    The stories opened here have no canonical article until :func:`settle` names it. A batch
    costs a fixed number of statements whatever its size (document keys, band-key candidates
    and their bodies are read once for all, new stories inserted in one statement), which is
    what makes storing fast on a networked database. ``matched_article_id`` is ``-1 - n`` for
    the ``n``-th article of ``joining``.
    """
    if not joining:
        return []
    _lock(session)
    documents = _stored_documents(session, {j.doc_key for j in joining if j.doc_key})
    candidates = neardup.candidates(session, [j.near.bands for j in joining])
    stored = neardup.bodies(session, {a for ranked in candidates for a in ranked})
    decided = decide(joining, documents, candidates, stored)
    new_ids = _open_stories(session, [j for j, d in zip(joining, decided, strict=True) if d.match == "first"])
    return [StoryMatch(d.story if d.story > 0 else new_ids[-d.story - 1], d.match, d.similarity, d.matched)
            for d in decided]


def settle(session: Session, canonical: Mapping[int, int], touched: Mapping[int, datetime]) -> None:
    """After the articles :func:`assign` placed are inserted: name each opened story's canonical
    article (``canonical``: story → article) and :func:`refresh` the stories in ``touched``."""
    if canonical:
        cur, mark = neardup.cursor(session)
        if mark == "%s":  # PostgreSQL: one statement for all (executemany runs one per story)
            cur.execute(_SET_CANONICAL_PG, (neardup.array_literal(canonical),
                                            neardup.array_literal(canonical.values())))
        else:
            cur.executemany("UPDATE stories SET article_id = ? WHERE id = ?",
                            [(article, story) for story, article in canonical.items()])
    refresh(session, touched)


def _open_stories(session: Session, opened: Sequence[Joining]) -> list[int]:
    """Insert a story for each of ``opened`` (no canonical article yet); their ids, in order."""
    if not opened:
        return []
    cur, mark = neardup.cursor(session)
    if mark == "%s":  # PostgreSQL: arrays, one short statement whatever the number of stories
        cur.execute(_NEW_STORIES_PG, ([j.title for j in opened], [j.at for j in opened], [j.source for j in opened]))
        # ids come from the sequence row by row in ORDER BY order: sorted, they follow ``opened``
        return sorted(int(row[0]) for row in cur.fetchall())
    # SQLite: the ids are given here, following the highest. assign() took the write lock
    # before reading anything, so no other writer can take one of them meanwhile; one
    # executemany then inserts every story (RETURNING on SQLite promises no row order, and
    # asking SQLAlchemy for parameter order makes it insert one row per statement).
    first = int(session.execute(_LAST_STORY).scalar_one()) + 1
    session.connection().execute(_NEW_STORY, [
        {"id": first + n, "title": j.title, "first_seen_at": j.at, "last_seen_at": j.at, "article_count": 1,
         "source_count": 1, "sources": [j.source]} for n, j in enumerate(opened)])
    return list(range(first, first + len(opened)))


# Prepared once: built per call, SQLAlchemy constructs cost more than these statements run.
_LAST_STORY = select(func.coalesce(func.max(StoryRow.id), 0))
_NEW_STORY = insert(StoryRow)
_NEW_STORIES_PG = ("INSERT INTO stories (title, first_seen_at, last_seen_at, article_count, source_count, sources) "
                   "SELECT v.title, v.at, v.at, 1, 1, json_build_array(v.source) "
                   "FROM unnest(%s::text[], %s::timestamptz[], %s::text[]) WITH ORDINALITY AS v(title, at, source, n) "
                   "ORDER BY v.n RETURNING id")
_SET_CANONICAL_PG = ("UPDATE stories SET article_id = v.article FROM unnest(%s::integer[], %s::integer[]) "
                     "AS v(story, article) WHERE stories.id = v.story")


_SOURCES = (select(ArticleRow.story_id, ArticleUrlRow.source).distinct()
            .join(ArticleUrlRow, ArticleUrlRow.article_id == ArticleRow.id)
            .where(ArticleRow.story_id.in_(bindparam("ids", expanding=True)), ArticleUrlRow.relation != "part"))
_MEMBERS = (select(ArticleRow.story_id, func.count()).where(ArticleRow.story_id.in_(bindparam("ids", expanding=True)))
            .group_by(ArticleRow.story_id))
_RECOUNT = (update(StoryRow).where(StoryRow.id == bindparam("story"))
            .values(article_count=bindparam("members"), source_count=bindparam("count"),
                    sources=bindparam("names"),
                    # timestamps compare correctly as stored on both databases (ISO text on SQLite)
                    last_seen_at=case((StoryRow.last_seen_at < bindparam("at"), bindparam("at")),
                                      else_=StoryRow.last_seen_at)))
_RETITLE = (update(StoryRow).where(StoryRow.id == bindparam("story"))
            .values(title=select(ArticleRow.title).where(ArticleRow.id == StoryRow.article_id).scalar_subquery()))


def refresh(session: Session, touched: Mapping[int, datetime], *, title: bool = False) -> None:
    """Recount the members and sources of each story of ``touched`` and move its ``last_seen_at``
    to the time given for it (after members or exact-copy URLs were added); with ``title``, take
    the canonical article's title again (it was revised). Three statements for any number."""
    if not touched:
        return
    conn = session.connection()
    ids = sorted(touched)
    sources: dict[int, list[str]] = {story: [] for story in ids}
    for story, source in conn.execute(_SOURCES, {"ids": ids}):
        if story is not None:  # always (filtered above); for the type checker
            sources[story].append(source)
    counts = {story: int(count) for story, count in conn.execute(_MEMBERS, {"ids": ids}) if story is not None}
    conn.execute(_RECOUNT, [{"story": story, "members": counts.get(story, 0), "count": len(sources[story]),
                             "names": sorted(sources[story]), "at": touched[story]} for story in ids])
    if title:
        conn.execute(_RETITLE, [{"story": story} for story in ids])
    for obj in list(session.identity_map.values()):  # a loaded copy would now be stale
        if isinstance(obj, StoryRow) and obj.id in touched:
            session.expire(obj)


def members(session: Session, story_id: int) -> list[ArticleRow]:
    """The articles of a story, first seen first."""
    return list(session.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id)
                                .order_by(ArticleRow.fetched_at, ArticleRow.id)))
