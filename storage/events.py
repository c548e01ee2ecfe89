"""Reads and writes of real-world events and their mentions in articles. Callers own the
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crawler.events.keys import event_key, same_event
from crawler.events.model import Event
from storage import neardup
from storage.models import ArticleRow, EventMentionRow, EventRow
from storage.tags import merged, tags_text


def _story_event(session: Session, story_id: int, article_id: int, ev: Event) -> EventRow | None:
    """An event another article of the story already reports that ``ev`` restates."""
    mentioned = (select(EventMentionRow.event_id)
                 .join(ArticleRow, ArticleRow.id == EventMentionRow.article_id)
                 .where(ArticleRow.story_id == story_id, ArticleRow.id != article_id))
    reported = session.scalars(select(EventRow).where(EventRow.id.in_(mentioned), EventRow.type == ev.type)
                               .order_by(EventRow.id))
    return next((row for row in reported if same_event(row, ev)), None)


def record_events(
    session: Session,
    article_id: int,
    events: Sequence[Event],
    *,
    published: date | None,
    seen_at: datetime,
    story_id: int | None = None,
    new_article: bool = False,
    tags: Sequence[str] = (),
) -> int:
    """Attach ``events`` (detected in article ``article_id``) to their real-world event rows.

    An event whose key is already stored gains a mention. So does one that restates an event
    another member of ``story_id`` reports (same type and figures), even when its key differs —
    a repost credited to another region or dated in another month is still one event. Otherwise
    a new event row is made. Mentions this article held before and no longer states are removed
    (a revised page; ``new_article`` says there can be none). The event carries ``tags`` (the
    article's source's) besides those it had. Returns how many new event rows were created.
    """
    if not events and new_article:  # most articles state no event: no statement to make
        return 0
    keep: set[int] = set()
    created = 0
    conn = session.connection()
    cur, mark = neardup.cursor(session)
    for ev in events:
        key = event_key(ev, published)
        cur.execute(f"SELECT id, tags FROM events WHERE event_key = {mark}", (key,))
        found = cur.fetchone()
        event_id: int | None = int(found[0]) if found else None
        had = str(found[1]) if found else None
        if event_id is None and story_id is not None:
            twin = _story_event(session, story_id, article_id, ev)
            event_id, had = (twin.id, twin.tags) if twin is not None else (None, None)
        if event_id is None:
            event_id = conn.execute(_NEW_EVENT, {
                "event_key": key, "article_id": article_id, "type": ev.type, "subtype": ev.subtype,
                "amount_text": ev.amount_text, "amount": ev.amount, "currency": ev.currency,
                "amount_cny": ev.amount_cny, "qualifier": ev.qualifier, "project_count": ev.project_count,
                "growth_pct": ev.growth_pct, "period": ev.period, "region": ev.region, "parties": list(ev.parties),
                "region_from": ev.region_from, "stage": ev.stage, "retrospective": ev.retrospective,
                "details": list(ev.details),
                "evidence": ev.evidence, "confidence": ev.confidence, "rule": ev.rule, "first_seen_at": seen_at,
                "tags": tags_text(tags),
            }).scalar_one()
            created += 1
        elif had is not None and merged(had, tags) != had:  # reported by a source of other tags too
            cur.execute(f"UPDATE events SET tags = {mark} WHERE id = {mark}", (merged(had, tags), event_id))
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


@dataclass(frozen=True)
class Mention:
    """An article that reports an event: where, from which source, since when."""

    url: str
    source: str
    title: str
    seen_at: datetime


def mentions_of(session: Session, event_ids: Sequence[int]) -> dict[int, list[Mention]]:
    """Each event's mentions (its first article and every repost), earliest first."""
    out: dict[int, list[Mention]] = {}
    ids = list(event_ids)
    for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        rows = session.execute(
            select(EventMentionRow.event_id, ArticleRow.url, ArticleRow.source, ArticleRow.title,
                   EventMentionRow.created_at)
            .join(ArticleRow, ArticleRow.id == EventMentionRow.article_id)
            .where(EventMentionRow.event_id.in_(ids[i : i + 500]))
            .order_by(EventMentionRow.created_at, EventMentionRow.id))
        for event_id, url, source, title, created_at in rows:
            out.setdefault(int(event_id), []).append(Mention(url, source, title, created_at))
    return out


# Prepared once (see storage.neardup on why the hot path avoids building statements per call).
_NEW_EVENT = insert(EventRow).returning(EventRow.id)
_NEW_MENTION = insert(EventMentionRow)
