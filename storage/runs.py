"""crawl_runs and daemon_status: writing runs, closing the ones a dead process left open, and
reading what the health rules need (the rules themselves are ``crawler.health.rules``). Callers
own the transaction."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from crawler.config.sources import Source
from crawler.health.rules import RunStats, RunStatus, SourceHistory
from storage.models import ArticleRow, CrawlRunRow, DaemonStatusRow

COUNTERS = ("pages", "items", "new", "duplicates", "errors", "bytes", "requests", "links", "challenges")


@dataclass(frozen=True)
class RunRecord:
    """How a crawl ended, as the Scrapy extension sees it (``spiders.extensions``)."""

    status: RunStatus
    reason: str
    counts: Mapping[str, int]
    errors_by_kind: Mapping[str, int]
    status_counts: Mapping[str, int]
    stats: Mapping[str, Any]


# A crawl process opens and finishes its run with table statements, not ORM objects: the first
# ORM operation of a process configures every mapper (11 ms), and a crawl that finds nothing
# new needs no other (see also storage.queries' listing look-ups).
_RUNS = cast(Table, CrawlRunRow.__table__)


def open_run(session: Session, source: str, started_at: datetime, *, pid: int | None = None, host: str = "") -> int:
    """A new ``running`` crawl_runs row (of the crawl process ``pid`` on ``host``, when known);
    returns its id."""
    values = {"source": source, "started_at": started_at, "status": "running", "pid": pid, "host": host}
    return int(session.execute(insert(_RUNS).values(values).returning(_RUNS.c.id)).scalar_one())


def claim_run(session: Session, run_id: int, *, pid: int, host: str) -> None:
    """The crawl process ``pid`` on ``host`` fills the run the daemon opened."""
    session.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(pid=pid, host=host))


# --------------------------------------------------------------------------- queued crawls
# With ``executor: queue`` the daemon records each crawl it puts on the broker as a ``queued``
# row first: a worker takes that row (``running``) when it starts the crawl, the daemon skips a
# tick while the source's previous crawl is queued or running, as it does when crawls run at
# home, and a row the broker did not accept (it was away) is sent again once it is back.

#: the finish_reason of a ``queued`` row the broker has not accepted yet
UNSENT = "not sent yet: the broker did not answer"
#: what a queued or running row carries in ``stats`` (the crawl process keeps the last two)
RECHECK_KEY, WORKER_KEY, QUEUED_KEY = "radar/recheck", "radar/worker", "radar/queued_seconds"


def queue_run(session: Session, source: str, scheduled: datetime, *, recheck: bool) -> int:
    """A new ``queued`` row for a crawl of ``source`` due at ``scheduled``, not sent yet; its id."""
    values = {"source": source, "started_at": scheduled, "status": "queued", "finish_reason": UNSENT,
              "stats": {RECHECK_KEY: True} if recheck else {}}
    return int(session.execute(insert(_RUNS).values(values).returning(_RUNS.c.id)).scalar_one())


def mark_sent(session: Session, run_id: int) -> None:
    """The broker accepted the queued run ``run_id``."""
    session.execute(update(_RUNS).where(_RUNS.c.id == run_id, _RUNS.c.status == "queued").values(finish_reason=""))


def unsent_runs(session: Session) -> list[tuple[int, str, datetime, bool]]:
    """Queued rows the broker has not accepted: (id, source, scheduled, recheck), oldest first."""
    return _queued(session, sent=False)


def sent_runs(session: Session) -> list[tuple[int, str, datetime, bool]]:
    """Queued rows the broker accepted and no worker has taken yet: (id, source, scheduled,
    recheck), oldest first."""
    return _queued(session, sent=True)


def _queued(session: Session, *, sent: bool) -> list[tuple[int, str, datetime, bool]]:
    unsent = _RUNS.c.finish_reason == UNSENT
    rows = session.execute(select(_RUNS.c.id, _RUNS.c.source, _RUNS.c.started_at, _RUNS.c.stats).where(
        _RUNS.c.status == "queued", ~unsent if sent else unsent).order_by(_RUNS.c.id))
    return [(int(i), str(s), at, bool((stats or {}).get(RECHECK_KEY))) for i, s, at, stats in rows]


def in_flight(session: Session, source: str, *, recheck: bool) -> int | None:
    """The id of a crawl (or, with ``recheck``, a re-check) of ``source`` queued or running now."""
    rows = session.execute(select(_RUNS.c.id, _RUNS.c.stats).where(
        _RUNS.c.source == source, _RUNS.c.status.in_(("queued", "running"))))
    return next((int(i) for i, stats in rows if bool((stats or {}).get(RECHECK_KEY)) == recheck), None)


def take_queued_run(session: Session, run_id: int, *, now: datetime, worker: str) -> bool:
    """The worker ``worker`` starts the queued run ``run_id``: True if it was still queued (a run
    already taken by another delivery of the same message is not run again)."""
    row = session.execute(select(_RUNS.c.started_at, _RUNS.c.stats).where(
        _RUNS.c.id == run_id, _RUNS.c.status == "queued")).first()
    if row is None:
        return False
    stats = {**(row.stats or {}), WORKER_KEY: worker,
             QUEUED_KEY: round((now - row.started_at).total_seconds(), 3)}
    result = session.execute(update(_RUNS).where(_RUNS.c.id == run_id, _RUNS.c.status == "queued").values(
        status="running", started_at=now, finish_reason="", stats=stats))
    return bool(getattr(result, "rowcount", 0))


def open_worker_run(session: Session, source: str, now: datetime, *, worker: str) -> int:
    """A new ``running`` row of a crawl the worker ``worker`` starts without a queued row (a
    message from an older daemon, or one redelivered after its first worker died)."""
    values = {"source": source, "started_at": now, "status": "running", "stats": {WORKER_KEY: worker}}
    return int(session.execute(insert(_RUNS).values(values).returning(_RUNS.c.id)).scalar_one())


def this_host() -> str:
    """The name runs record their process's host by."""
    return socket.gethostname()[:255]


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this host (a zombie, killed and not yet reaped by its
    parent, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def abandon_dead_runs(session: Session, *, now: datetime, host: str | None = None) -> int:
    """Mark ``abandoned`` the ``running`` rows whose crawl process, on this host, is gone (killed,
    out of memory, its machine restarted): nothing will close them otherwise, and the health
    rules count them as failures. Returns how many."""
    host = this_host() if host is None else host
    rows = session.execute(select(_RUNS.c.id, _RUNS.c.pid).where(
        _RUNS.c.status == "running", _RUNS.c.host == host, _RUNS.c.pid.is_not(None)))
    dead = [(run_id, pid) for run_id, pid in rows if process_gone(int(pid))]
    for run_id, pid in dead:
        session.execute(update(_RUNS).where(_RUNS.c.id == run_id, _RUNS.c.status == "running").values(
            status="abandoned", finish_reason=f"the crawl process (pid {pid}) is gone", finished_at=now))
    return len(dead)


def finish_run(session: Session, run_id: int, record: RunRecord, *, finished_at: datetime) -> None:
    """Close a run with the extension's counts (nothing, if the row is gone); the worker that
    ran it, and how long it was queued, stay in its stats."""
    values: dict[str, Any] = {name: int(record.counts.get(name, 0)) for name in COUNTERS}
    before = session.scalar(select(_RUNS.c.stats).where(_RUNS.c.id == run_id)) or {}
    kept = {k: before[k] for k in (WORKER_KEY, QUEUED_KEY) if k in before}
    values.update(finished_at=finished_at, status=record.status, finish_reason=record.reason[:200],
                  errors_by_kind=dict(record.errors_by_kind), status_counts=dict(record.status_counts),
                  stats={**record.stats, **kept})
    session.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(values))


def close_run(session: Session, run_id: int, *, status: RunStatus, reason: str, now: datetime,
              exit_code: int | None, error: str = "", force: bool = False) -> CrawlRunRow | None:
    """What the daemon knows after its crawl child exited: the exit code always; status and reason
    when the child did not close the run itself (it crashed or was killed), or with ``force``
    (the daemon killed it: its own account of the end does not count)."""
    row = session.get(CrawlRunRow, run_id)
    if row is None:
        return None
    row.exit_code = exit_code
    if row.status == "running" or force:
        row.status = status
        row.finish_reason = reason[:200]
        row.finished_at = now
        if error:
            row.error = error[-4000:]
    return row


def abandon_stale_runs(session: Session, *, started_before: datetime, now: datetime) -> int:
    """Close ``running`` rows started before ``started_before``: no crawl lives that long (the
    daemon kills it at ``crawl_timeout``), so their process died without closing them."""
    result = session.execute(
        update(CrawlRunRow)
        .where(CrawlRunRow.status == "running", CrawlRunRow.started_at < started_before)
        .values(status="abandoned", finish_reason="process died without closing the run", finished_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def run_stats(row: CrawlRunRow) -> RunStats:
    """What the health rules and ``radar status`` need of one crawl_runs row."""
    return RunStats(
        started_at=row.started_at, finished_at=row.finished_at, status=cast(RunStatus, row.status),
        finish_reason=row.finish_reason,
        pages=row.pages, items=row.items, new=row.new, errors=row.errors, requests=row.requests, links=row.links,
        challenges=row.challenges, errors_by_kind=dict(row.errors_by_kind or {}), error=row.error,
        not_modified=int((row.status_counts or {}).get("304", 0)),
        recheck=bool((row.stats or {}).get("radar/recheck")),
        listing_requests=int((row.stats or {}).get("radar/listing_requests", 0)),
        listing_failed=int((row.stats or {}).get("radar/listing_failed", 0)),
        worker=str((row.stats or {}).get(WORKER_KEY, "")),
    )


def recent_runs(session: Session, source: str, limit: int) -> list[CrawlRunRow]:
    """The source's latest runs, newest first."""
    return list(session.scalars(select(CrawlRunRow).where(CrawlRunRow.source == source)
                                .order_by(CrawlRunRow.started_at.desc(), CrawlRunRow.id.desc()).limit(limit)))


def never_crawled(session: Session, sources: Sequence[str]) -> list[str]:
    """Those of ``sources`` that no crawl has run for yet (a run still running, or one skipped
    because another process was crawling the source, does not count)."""
    ran = set(session.scalars(select(_RUNS.c.source).distinct().where(
        _RUNS.c.source.in_(list(sources)), _RUNS.c.status.not_in(("queued", "running", "skipped")))))
    return [name for name in sources if name not in ran]


def history(session: Session, source: Source, *, runs: int, garbled_sample: int = 20) -> SourceHistory:
    """What the health rules need to judge ``source``."""
    rows = recent_runs(session, source.name, runs)
    new_times = list(session.scalars(
        select(CrawlRunRow.started_at).where(CrawlRunRow.source == source.name, CrawlRunRow.new > 0,
                                             CrawlRunRow.status == "finished")
        .order_by(CrawlRunRow.started_at.desc()).limit(10)))
    scores = list(session.scalars(select(ArticleRow.garbled_score).where(ArticleRow.source == source.name)
                                  .order_by(ArticleRow.id.desc()).limit(garbled_sample)))
    return SourceHistory(source=source.name, schedule=source.schedule, runs=[run_stats(r) for r in rows],
                         new_item_times=new_times, garbled_scores=scores)


def histories(session: Session, sources: Sequence[Source], *, runs: int) -> list[SourceHistory]:
    """:func:`history` of each source."""
    return [history(session, s, runs=runs) for s in sources]


def queued_runs(session: Session) -> list[tuple[str, datetime, bool]]:
    """The crawls waiting for a worker: (source, queued at, on the broker yet), oldest first."""
    rows = session.execute(select(_RUNS.c.source, _RUNS.c.started_at, _RUNS.c.finish_reason)
                           .where(_RUNS.c.status == "queued").order_by(_RUNS.c.started_at))
    return [(str(source), at, reason != UNSENT) for source, at, reason in rows]


def workers_since(session: Session, since: datetime) -> dict[str, int]:
    """The radar workers that started crawls since ``since``, with how many each."""
    seen: dict[str, int] = {}
    for (stats,) in session.execute(select(_RUNS.c.stats).where(_RUNS.c.started_at >= since,
                                                                _RUNS.c.status != "queued")):
        worker = (stats or {}).get(WORKER_KEY)
        if worker:
            seen[worker] = seen.get(worker, 0) + 1
    return seen


# --------------------------------------------------------------------------- daemon_status


def daemon_started(session: Session, *, pid: int, host: str, now: datetime, lock: str, config_path: str) -> None:
    """Record that this process now runs the daemon."""
    row = session.get(DaemonStatusRow, "daemon")
    if row is None:
        row = DaemonStatusRow(name="daemon")
        session.add(row)
    row.pid, row.host, row.started_at, row.heartbeat_at = pid, host, now, now
    row.stopped_at, row.lock, row.config_path = None, lock, config_path


def daemon_heartbeat(session: Session, *, pid: int, now: datetime) -> None:
    """The daemon is alive."""
    session.execute(update(DaemonStatusRow).where(DaemonStatusRow.name == "daemon", DaemonStatusRow.pid == pid)
                    .values(heartbeat_at=now))


def daemon_stopped(session: Session, *, pid: int, now: datetime) -> None:
    """The daemon stopped cleanly."""
    session.execute(update(DaemonStatusRow).where(DaemonStatusRow.name == "daemon", DaemonStatusRow.pid == pid)
                    .values(heartbeat_at=now, stopped_at=now))


def daemon_status(session: Session) -> DaemonStatusRow | None:
    """The daemon row, if a daemon ever ran on this database."""
    return session.get(DaemonStatusRow, "daemon")
