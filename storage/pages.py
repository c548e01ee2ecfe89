"""Listing pages' HTTP validators, and the stored article pages a re-check fetches again.
Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session

from crawler.dedupe.urls import canonical_url
from storage.models import ArticleRow, PageValidatorRow
from storage.queries import Validators

# A table statement, not an ORM one: see storage.queries' known-URL look-up.
_VALIDATORS = cast(Table, PageValidatorRow.__table__)


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
    rows = session.execute(select(_VALIDATORS.c.url, _VALIDATORS.c.etag, _VALIDATORS.c.last_modified)
                           .where(_VALIDATORS.c.url.in_(list(by_canonical))))
    for key, etag, last_modified in rows:
        for url in by_canonical[key]:
            out[url] = Validators(etag, last_modified)
    return out


def save_page_validators(session: Session, url: str, source: str, validators: Validators, at: datetime) -> None:
    """Remember a listing page's validators (call only when every article it links to is stored)."""
    key = canonical_url(url)
    values = {"etag": validators.etag[:300], "last_modified": validators.last_modified[:64], "checked_at": at}
    conn = session.connection()
    if not conn.execute(update(_VALIDATORS).where(_VALIDATORS.c.url == key).values(values)).rowcount:
        conn.execute(insert(_VALIDATORS).values(url=key, source=source, **values))
