"""``radar status``: the text it prints, from data ``storage.status`` gathers. Pure.

The daemon, how each source's crawls have gone, health alerts, the crawl frontier and the
digest outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from crawler.config.sources import Config
from crawler.health.channels import ChannelState, channel_lines, masked
from crawler.health.rules import FAILED, PENDING, Alert, RunStats, top_errors, trend_arrow
from crawler.health.wording import human
from crawler.text.tables import column_widths, pad_row

HEARTBEAT_LATE = 120  # seconds without a heartbeat after which a daemon counts as gone


@dataclass(frozen=True)
class DaemonState:
    """The daemon row: which process runs (or ran) the daemon, and its last heartbeat."""

    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None


@dataclass(frozen=True)
class SourceRuns:
    """A source's latest runs (newest first) and its latest finished run, even an older one."""

    name: str
    runs: Sequence[RunStats]
    last_ok: RunStats | None = None


@dataclass(frozen=True)
class FrontierState:
    """A source's article links still pending, and those given up (the latest as (url, why))."""

    name: str
    pending: int = 0
    given_up: int = 0
    latest: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class PendingDigest:
    """A digest written but not sent yet."""

    id: int
    recipients: str
    subscription: str
    period: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class SentDigest:
    """The digest sent last."""

    sent_at: datetime
    recipients: str


@dataclass(frozen=True)
class QueueState:
    """``executor: queue``: the crawls waiting for a worker (source, queued at, on the broker
    yet), oldest first, and the workers that ran crawls lately, with how many."""

    queued: Sequence[tuple[str, datetime, bool]] = ()
    workers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusData:
    """Everything ``radar status`` shows: the sources in table order."""

    daemon: DaemonState | None
    sources: Sequence[SourceRuns]
    alerts: Sequence[Alert] = ()
    frontier: Sequence[FrontierState] = ()
    pending: Sequence[PendingDigest] = ()
    last_sent: SentDigest | None = None
    channels: Sequence[ChannelState] = ()
    queue: QueueState | None = None


def daemon_line(daemon: DaemonState | None, tz: tzinfo, now: datetime) -> str:
    """``daemon: running, pid 42 on host since …, heartbeat 5 s ago`` (or why it seems not to run)."""
    if daemon is None:
        return "daemon: never ran on this database"
    since = f"pid {daemon.pid} on {daemon.host}, started {daemon.started_at.astimezone(tz):%Y-%m-%d %H:%M}"
    if daemon.stopped_at is not None:
        return f"daemon: stopped at {daemon.stopped_at.astimezone(tz):%Y-%m-%d %H:%M} ({since})"
    age = now - daemon.heartbeat_at
    if age.total_seconds() > HEARTBEAT_LATE:
        return f"daemon: NOT RUNNING? last heartbeat {human(age)} ago ({since}); it did not stop cleanly"
    return f"daemon: running, {since}, heartbeat {human(age)} ago"


def _when(value: datetime | None, config: Config) -> str:
    return value.astimezone(config.settings.tz).strftime("%m-%d %H:%M") if value else "never"


def _last_error(rows: Sequence[RunStats], config: Config) -> str:
    for r in rows:
        if r.status in FAILED:
            return f"{_when(r.started_at, config)} {r.status}: {r.finish_reason}"[:60]
        if r.errors_by_kind and r.status not in PENDING:
            kinds = {k: v for k, v in r.errors_by_kind.items() if k not in ("attachment_failed",)}
            if kinds:
                return f"{_when(r.started_at, config)} {top_errors(kinds, 2)}"[:60]
    return "-"


def _frontier_lines(frontier: Sequence[FrontierState]) -> list[str]:
    """Per source with any: article links still pending, and those given up, with why."""
    lines: list[str] = []
    for f in frontier:
        if f.pending:
            lines.append(f"{f.name}: {f.pending} article link(s) pending (fetched first by the next crawl)")
        if f.given_up:
            lines.append(f"{f.name}: {f.given_up} article link(s) given up; latest:")
            lines += [f"  {url} ({reason})" for url, reason in f.latest]
    return [*lines, ""] if lines else []


def _queue_lines(queue: QueueState | None, config: Config) -> list[str]:
    """``executor: queue``: how many crawls wait for a worker, the oldest, the workers seen."""
    if queue is None:
        return []
    unsent = sum(1 for *_, sent in queue.queued if not sent)
    line = f"queue: {len(queue.queued)} crawl(s) waiting for a radar worker"
    if queue.queued:
        source, since, _ = queue.queued[0]
        line += f", the oldest {source} since {_when(since, config)}"
    if unsent:
        line += f"; {unsent} not on the broker yet (the daemon sends them when it answers)"
    workers = ", ".join(f"{name} ({n})" for name, n in sorted(queue.workers.items())) or "none"
    return [line, f"workers that started crawls in the last hour (crawls): {workers}", ""]


def _health(name: str, config: Config, alerts: Sequence[Alert], ran: bool) -> str:
    if name not in config.sources:
        return "(not configured)"
    if not config.sources[name].enabled:
        return "(disabled)"
    if alerts:
        return ", ".join(a.rule.upper() for a in alerts)
    return "ok" if ran else "no runs yet"


def render_status(data: StatusData, config: Config, *, now: datetime, runs_shown: int = 8) -> str:
    """The text ``radar status`` prints: ``runs_shown`` runs per source in the trend column."""
    lines = [daemon_line(data.daemon, config.settings.tz, now), ""]
    by_source: dict[str, list[Alert]] = {}
    for a in data.alerts:
        by_source.setdefault(a.source, []).append(a)
    header = ["source", "last run", "last success", "items/run (old→new)", "health", "last error"]
    table = [header]
    for source in data.sources:
        rows, ok, name = source.runs, source.last_ok, source.name
        last = rows[0] if rows else None
        items = [r.items for r in reversed(rows[:runs_shown]) if r.status not in PENDING]
        trend = (" ".join(str(n) for n in items) + " " + trend_arrow(items)).strip() or "-"
        last_run = f"{_when(last.started_at, config)} {last.status}" if last else "never"
        if data.queue is not None:  # where the latest run that started ran
            last_run += f" on {next((r.worker for r in rows if r.worker), '-')}"
        table.append([name, last_run, _when(ok.finished_at or ok.started_at, config) if ok else "never", trend,
                      _health(name, config, by_source.get(name, []), bool(rows)), _last_error(rows, config)])
    widths = column_widths(table)
    lines += [pad_row(r, widths).rstrip() for r in table]
    lines.append("")
    lines += _frontier_lines(data.frontier)
    lines += _queue_lines(data.queue, config)
    if data.alerts:
        lines.append("alerts:")
        for a in data.alerts:
            lines.append(f"  ! {a.line()}  [{a.setting}]")
    else:
        lines.append("alerts: none")
    lines.append("")
    lines += channel_lines(data.channels, config.settings.tz)
    if data.pending:
        for d in data.pending:
            nxt = f", next attempt {_when(d.next_attempt_at, config)}" if d.next_attempt_at else ""
            lines.append(f"digest {d.id} to {masked(d.recipients)} "
                         f"({d.subscription or 'mail_to'} {d.period}): NOT SENT "
                         f"after {d.attempts} attempt(s){nxt}: {d.last_error or 'not tried yet'}")
    else:
        last_sent = data.last_sent
        lines.append(f"digests: all sent; last {_when(last_sent.sent_at, config)} to {masked(last_sent.recipients)}"
                     if last_sent else "digests: none sent yet")
    return "\n".join(lines)
