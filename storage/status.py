"""``radar status``: what it shows, read from the database (``crawler.health.render`` prints it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.config.sources import Config
from crawler.health.render import (
    DaemonState,
    FrontierState,
    PendingDigest,
    QueueState,
    SentDigest,
    SourceRuns,
    StatusData,
)
from crawler.health.rules import alerts_of
from storage import frontier, outbox, runs
from storage.models import CrawlRunRow, DigestRow

#: how far back ``radar status`` looks for the workers that ran crawls
WORKERS_SEEN = timedelta(hours=1)


def _daemon(session: Session) -> DaemonState | None:
    row = runs.daemon_status(session)
    if row is None:
        return None
    return DaemonState(row.pid, row.host, row.started_at, row.heartbeat_at, row.stopped_at)


def _source_runs(session: Session, name: str, limit: int) -> SourceRuns:
    rows = runs.recent_runs(session, name, limit)
    ok = next((r for r in rows if r.status == "finished"), None)
    if ok is None and rows:
        ok = session.scalar(select(CrawlRunRow).where(CrawlRunRow.source == name, CrawlRunRow.status == "finished")
                            .order_by(CrawlRunRow.started_at.desc()).limit(1))
    return SourceRuns(name, [runs.run_stats(r) for r in rows], runs.run_stats(ok) if ok is not None else None)


def _frontier(session: Session, name: str) -> FrontierState:
    count, latest = frontier.given_up(session, name)
    return FrontierState(name, frontier.pending_count(session, name), count, [(g.url, g.reason) for g in latest])


def status_data(session: Session, config: Config, *, now: datetime, runs_shown: int = 8) -> StatusData:
    """What ``radar status`` shows at ``now``: configured sources first, then any other that ran."""
    configured = config.select()
    names = list(dict.fromkeys([s.name for s in configured]
                               + list(session.scalars(select(CrawlRunRow.source).distinct()))))
    limit = max(runs_shown, config.settings.health_history)
    histories = runs.histories(session, configured, runs=config.settings.health_history)
    pending = [PendingDigest(d.id, d.recipients, d.subscription, d.period, d.attempts, d.next_attempt_at,
                             d.last_error) for d in outbox.pending_digests(session)]
    last_sent = None
    if not pending:
        row = session.scalar(select(DigestRow).where(DigestRow.status == "sent")
                             .order_by(DigestRow.sent_at.desc()).limit(1))
        if row is not None and row.sent_at is not None:
            last_sent = SentDigest(row.sent_at, row.recipients)
    return StatusData(
        daemon=_daemon(session),
        sources=[_source_runs(session, name, limit) for name in names],
        alerts=alerts_of(histories, config.settings, now),
        frontier=[_frontier(session, name) for name in names],
        pending=pending,
        last_sent=last_sent,
        channels=outbox.channel_counts(session),
        queue=QueueState(runs.queued_runs(session), runs.workers_since(session, now - WORKERS_SEEN))
        if config.settings.executor == "queue" else None,
    )
