"""``radar status``: the daemon, how each source's crawls have gone, health alerts, the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crawler.config.sources import Config
from crawler.health.rules import Alert, human, top_errors, trend_arrow
from storage import frontier, outbox, runs
from storage.models import CrawlRunRow, DigestRow

HEARTBEAT_LATE = 120  # seconds without a heartbeat after which a daemon counts as gone


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def daemon_line(session: Session, config: Config, now: datetime) -> str:
    """``daemon: running, pid 42 on host since …, heartbeat 5 s ago`` (or why it seems not to run)."""
    tz = config.settings.tz
    row = runs.daemon_status(session)
    if row is None:
        return "daemon: never ran on this database"
    since = f"pid {row.pid} on {row.host}, started {row.started_at.astimezone(tz):%Y-%m-%d %H:%M}"
    if row.stopped_at is not None:
        return f"daemon: stopped at {row.stopped_at.astimezone(tz):%Y-%m-%d %H:%M} ({since})"
    age = now - row.heartbeat_at
    if age.total_seconds() > HEARTBEAT_LATE:
        return f"daemon: NOT RUNNING? last heartbeat {human(age)} ago ({since}); it did not stop cleanly"
    return f"daemon: running, {since}, heartbeat {human(age)} ago"


def _when(value: datetime | None, config: Config) -> str:
    return value.astimezone(config.settings.tz).strftime("%m-%d %H:%M") if value else "never"


def _last_error(rows: list[CrawlRunRow], config: Config) -> str:
    for r in rows:
        if r.status in ("failed", "blocked", "killed", "abandoned"):
            return f"{_when(r.started_at, config)} {r.status}: {r.finish_reason}"[:60]
        if r.errors_by_kind and r.status != "running":
            kinds = {k: v for k, v in r.errors_by_kind.items() if k not in ("attachment_failed",)}
            if kinds:
                return f"{_when(r.started_at, config)} {top_errors(kinds, 2)}"[:60]
    return "-"


def _frontier_lines(session: Session, names: list[str]) -> list[str]:
    """Per source with any: article links still pending, and those given up, with why."""
    lines: list[str] = []
    for name in names:
        pending = frontier.pending_count(session, name)
        count, latest = frontier.given_up(session, name)
        if pending:
            lines.append(f"{name}: {pending} article link(s) pending (fetched first by the next crawl)")
        if count:
            lines.append(f"{name}: {count} article link(s) given up; latest:")
            lines += [f"  {g.url} ({g.reason})" for g in latest]
    return [*lines, ""] if lines else []


def status_report(session: Session, config: Config, *, now: datetime, runs_shown: int = 8) -> str:
    """The text ``radar status`` prints. Runs left ``running`` by a crawl process that is gone
    are marked ``abandoned`` first (and committed)."""
    try:
        if runs.abandon_dead_runs(session, now=now):
            session.commit()
    except OperationalError:  # a locked database: shown as it is
        session.rollback()
    lines = [daemon_line(session, config, now), ""]
    configured = config.select()
    names = list(dict.fromkeys([s.name for s in configured]
                               + list(session.scalars(select(CrawlRunRow.source).distinct()))))
    alerts = runs.alerts_now(session, configured, config.settings, now)
    by_source: dict[str, list[Alert]] = {}
    for a in alerts:
        by_source.setdefault(a.source, []).append(a)
    header = ["source", "last run", "last success", "items/run (old→new)", "health", "last error"]
    table = [header]
    for name in names:
        rows = runs.recent_runs(session, name, max(runs_shown, config.settings.health_history))
        last = rows[0] if rows else None
        ok = next((r for r in rows if r.status == "finished"), None)
        if ok is None and rows:
            ok = session.scalar(select(CrawlRunRow).where(CrawlRunRow.source == name, CrawlRunRow.status == "finished")
                                .order_by(CrawlRunRow.started_at.desc()).limit(1))
        items = [r.items for r in reversed(rows[:runs_shown]) if r.status != "running"]
        trend = (" ".join(str(n) for n in items) + " " + trend_arrow(items)).strip() or "-"
        if name not in config.sources:
            health = "(not configured)"
        elif not config.sources[name].enabled:
            health = "(disabled)"
        elif by_source.get(name):
            health = ", ".join(a.rule.upper() for a in by_source[name])
        else:
            health = "ok" if rows else "no runs yet"
        last_run = f"{_when(last.started_at, config)} {last.status}" if last else "never"
        table.append([name, last_run, _when(ok.finished_at or ok.started_at, config) if ok else "never", trend,
                      health, _last_error(rows, config)])
    widths = [max(_width(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        lines.append("  ".join(_pad(v, w) for v, w in zip(r, widths, strict=True)).rstrip())
    lines.append("")
    lines += _frontier_lines(session, names)
    if alerts:
        lines.append("alerts:")
        for a in alerts:
            lines.append(f"  ! {a.line()}  [{a.setting}]")
    else:
        lines.append("alerts: none")
    lines.append("")
    pending = outbox.pending_digests(session)
    if pending:
        for d in pending:
            nxt = f", next attempt {_when(d.next_attempt_at, config)}" if d.next_attempt_at else ""
            lines.append(f"digest {d.id} to {d.recipients} ({d.subscription or 'mail_to'} {d.period}): NOT SENT "
                         f"after {d.attempts} attempt(s){nxt}: {d.last_error or 'not tried yet'}")
    else:
        last_sent = session.scalar(select(DigestRow).where(DigestRow.status == "sent")
                                   .order_by(DigestRow.sent_at.desc()).limit(1))
        lines.append(f"digests: all sent; last {_when(last_sent.sent_at, config)} to {last_sent.recipients}"
                     if last_sent and last_sent.sent_at else "digests: none sent yet")
    return "\n".join(lines)
