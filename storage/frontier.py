"""The frontier: article links discovered and not stored yet, and where a listing walk stands.

A link a listing page shows is *pending* from the moment it is discovered until its article is
stored (:func:`forget`, in the transaction that stores it), it turns out not to be an article
page, or it is given up after ``give_up_after`` crawls requested it without storing it; a
given-up link keeps its reason for ``radar status``. A crawl requests its source's pending
links first (:func:`catch_up`), so nothing a killed crawl, a failing database or a dead
connection kept from being stored is lost.

A walk through a source's listing pages records the page it goes on from before it requests
it (:func:`advance_walk`), so a walk that did not reach a page whose articles were all stored,
the last page or ``max_pages`` is resumed from there by the next crawl. Callers own the
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crawler.dedupe.urls import canonical_url
from storage.models import CrawlRunRow, FrontierRow, ListingWalkRow
from storage.queries import known_urls

_FRONTIER = cast(Table, FrontierRow.__table__)
_WALKS = cast(Table, ListingWalkRow.__table__)
_RUNS = cast(Table, CrawlRunRow.__table__)
PAGING_STAT = "radar/paging"
"""The key of ``crawl_runs.stats`` that holds the listing settings a crawl walked with."""
_CHUNK = 500  # stay under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Walk:
    """Where a source's listing walk stands: the page to resume from ("" when none) and its
    depth, and whether a walk ever reached its end."""

    resume_url: str = ""
    resume_depth: int = 0
    completed: bool = False


@dataclass(frozen=True)
class CatchUp:
    """What a crawl starts with: the pending links to request first, the walk to resume, and
    how many links were given up just now."""

    pending: list[str]
    walk: Walk
    given_up: int = 0


@dataclass(frozen=True)
class GivenUp:
    """A link given up, for ``radar status``."""

    url: str
    attempts: int
    reason: str
    at: datetime


def _canonical(urls: Iterable[str]) -> dict[str, str]:
    """``{canonical: first URL given}``."""
    out: dict[str, str] = {}
    for url in urls:
        out.setdefault(canonical_url(url), url)
    return out


def _rows(session: Session, source: str, keys: Sequence[str]) -> dict[str, datetime | None]:
    """The frontier rows of ``source`` among canonical ``keys``: ``{url: given_up_at}``."""
    found: dict[str, datetime | None] = {}
    for i in range(0, len(keys), _CHUNK):
        rows = session.execute(select(_FRONTIER.c.url, _FRONTIER.c.given_up_at).where(
            _FRONTIER.c.source == source, _FRONTIER.c.url.in_(keys[i : i + _CHUNK])))
        found.update({url: given_up for url, given_up in rows})
    return found


def discover(session: Session, source: str, urls: Sequence[str], now: datetime) -> list[str]:
    """Those of ``urls`` (distinct, order kept) not stored and not given up; the ones the frontier
    does not hold yet are added to it, pending, as requested once (the caller requests them)."""
    stored = known_urls(session, urls)
    by_key = _canonical(u for u in urls if u not in stored)
    held = _rows(session, source, list(by_key))
    fresh_keys = [key for key in by_key if held.get(key, None) is None]
    new = [{"source": source, "url": key, "discovered_at": now, "attempts": 1, "last_attempt_at": now,
            "last_error": "", "given_up_at": None, "given_up_reason": ""} for key in fresh_keys if key not in held]
    if new:
        session.connection().execute(insert(_FRONTIER), new)
    keep = set(fresh_keys)
    return [u for u in dict.fromkeys(urls) if u not in stored and canonical_url(u) in keep]


def forget(session: Session, urls: Iterable[str]) -> None:
    """Take ``urls`` out of every source's frontier: their articles are stored now."""
    keys = sorted(_canonical(urls))
    for i in range(0, len(keys), _CHUNK):
        session.connection().execute(delete(_FRONTIER).where(_FRONTIER.c.url.in_(keys[i : i + _CHUNK])))


def note(session: Session, source: str, *, errors: Mapping[str, str] = {}, give_up: Mapping[str, str] = {},
         settled: Iterable[str] = (), now: datetime) -> None:
    """Record what fetching pending links of ``source`` did: the last error of each of
    ``errors``; ``give_up`` links given up now, each with its reason (not an article page);
    ``settled`` links taken out (fetched under another URL, a redirect's end)."""
    conn = session.connection()
    for url, error in errors.items():
        conn.execute(update(_FRONTIER).where(_FRONTIER.c.source == source, _FRONTIER.c.url == canonical_url(url))
                     .values(last_error=error[:500]))
    for url, reason in give_up.items():
        conn.execute(update(_FRONTIER).where(_FRONTIER.c.source == source, _FRONTIER.c.url == canonical_url(url))
                     .values(given_up_at=now, given_up_reason=reason[:500]))
    settled = sorted(_canonical(settled))
    if settled:
        conn.execute(delete(_FRONTIER).where(_FRONTIER.c.source == source, _FRONTIER.c.url.in_(settled)))


def catch_up(session: Session, source: str, now: datetime, *, give_up_after: int) -> CatchUp:
    """Start a crawl of ``source``: links requested ``give_up_after`` times without being stored
    are given up (with their last error as the reason); the others are returned, oldest first,
    counted as requested once more; and the walk to resume."""
    rows = list(session.execute(
        select(_FRONTIER.c.url, _FRONTIER.c.attempts, _FRONTIER.c.last_error)
        .where(_FRONTIER.c.source == source, _FRONTIER.c.given_up_at.is_(None))
        .order_by(_FRONTIER.c.discovered_at, _FRONTIER.c.url)))
    conn = session.connection()
    pending = [url for url, attempts, _error in rows if attempts < give_up_after]
    spent = [(url, attempts, error) for url, attempts, error in rows if attempts >= give_up_after]
    for url, attempts, error in spent:
        reason = f"not stored after {attempts} attempts: {error or 'fetched, never stored'}"
        conn.execute(update(_FRONTIER).where(_FRONTIER.c.source == source, _FRONTIER.c.url == url)
                     .values(given_up_at=now, given_up_reason=reason[:500]))
    for i in range(0, len(pending), _CHUNK):
        conn.execute(update(_FRONTIER).where(_FRONTIER.c.source == source,
                                             _FRONTIER.c.url.in_(pending[i : i + _CHUNK]))
                     .values(attempts=_FRONTIER.c.attempts + 1, last_attempt_at=now))
    return CatchUp(pending, walk(session, source), len(spent))


def walk(session: Session, source: str) -> Walk:
    """Where the listing walk of ``source`` stands."""
    row = session.execute(select(_WALKS.c.resume_url, _WALKS.c.resume_depth, _WALKS.c.completed_at)
                          .where(_WALKS.c.source == source)).first()
    if row is None:
        return Walk()
    return Walk(row.resume_url, row.resume_depth, row.completed_at is not None)


def advance_walk(session: Session, source: str, resume_url: str, depth: int, now: datetime) -> None:
    """The walk of ``source`` goes on from ``resume_url`` (at ``depth``), or, with "", ended."""
    values: dict[str, object] = {"resume_url": resume_url[:2048], "resume_depth": depth if resume_url else 0,
                                 "updated_at": now}
    if not resume_url:
        values["completed_at"] = now
    conn = session.connection()
    if not conn.execute(update(_WALKS).where(_WALKS.c.source == source).values(values)).rowcount:
        conn.execute(insert(_WALKS).values(source=source, **values))


def restart_walk(session: Session, source: str, now: datetime) -> None:
    """Make the next crawl of ``source`` backfill: its walk starts again from the start pages, as
    a walk of a source never walked to its end (``radar crawl --backfill``)."""
    session.connection().execute(update(_WALKS).where(_WALKS.c.source == source).values(
        resume_url="", resume_depth=0, completed_at=None, updated_at=now))


def paged_with(session: Session, source: str, runs: int = 20) -> str | None:
    """The listing settings (:data:`PAGING_STAT`) the latest of the last ``runs`` runs of
    ``source`` that recorded them walked with, or None."""
    rows = session.execute(select(_RUNS.c.stats).where(_RUNS.c.source == source)
                           .order_by(_RUNS.c.id.desc()).limit(runs))
    return next((str(stats[PAGING_STAT]) for (stats,) in rows if stats and PAGING_STAT in stats), None)


def given_up(session: Session, source: str, limit: int = 3) -> tuple[int, list[GivenUp]]:
    """How many links of ``source`` were given up, and the latest ``limit`` of them."""
    count = int(session.scalar(select(func.count()).select_from(_FRONTIER).where(
        _FRONTIER.c.source == source, _FRONTIER.c.given_up_at.is_not(None))) or 0)
    rows = session.execute(
        select(_FRONTIER.c.url, _FRONTIER.c.attempts, _FRONTIER.c.given_up_reason, _FRONTIER.c.given_up_at)
        .where(_FRONTIER.c.source == source, _FRONTIER.c.given_up_at.is_not(None))
        .order_by(_FRONTIER.c.given_up_at.desc(), _FRONTIER.c.url).limit(limit))
    return count, [GivenUp(url, attempts, reason, at) for url, attempts, reason, at in rows]


def pending_count(session: Session, source: str) -> int:
    """How many links of ``source`` are pending (discovered, not stored, not given up)."""
    return int(session.scalar(select(func.count()).select_from(_FRONTIER).where(
        _FRONTIER.c.source == source, _FRONTIER.c.given_up_at.is_(None))) or 0)
