"""``radar status`` rendered from plain data (crawler.health.render), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.config.sources import Config, parse_config
from crawler.health.render import (
    DaemonState,
    FrontierState,
    PendingDigest,
    SentDigest,
    SourceRuns,
    StatusData,
    daemon_line,
    render_status,
)
from crawler.health.rules import Alert, RunStats

NOW = datetime(2025, 7, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def config() -> Config:
    entry = {"start_urls": ["http://gov.test/"], "allow": "/a/", "schedule": "every: 1h"}
    return parse_config({"settings": {"timezone": "Asia/Shanghai"}, "sources": [
        {"name": "jx-gov", **entry}, {"name": "off", "enabled": False, **entry}]}, env={})


def run(hours_ago: int, status: str = "finished", items: int = 3, **kw: object) -> RunStats:
    at = NOW - timedelta(hours=hours_ago)
    return RunStats(started_at=at, finished_at=at + timedelta(minutes=1), status=status, items=items,
                    **kw)  # type: ignore[arg-type]


def test_the_daemon_line_says_whether_it_runs() -> None:
    tz = config().settings.tz
    alive = DaemonState(42, "box", NOW - timedelta(days=1), NOW - timedelta(seconds=5))
    assert daemon_line(None, tz, NOW) == "daemon: never ran on this database"
    assert daemon_line(alive, tz, NOW) == "daemon: running, pid 42 on box, started 2025-07-01 12:00, heartbeat 5 s ago"
    late = DaemonState(42, "box", NOW - timedelta(days=1), NOW - timedelta(minutes=10))
    assert daemon_line(late, tz, NOW).startswith("daemon: NOT RUNNING? last heartbeat 10 min ago")
    stopped = DaemonState(42, "box", NOW - timedelta(days=1), NOW, stopped_at=NOW - timedelta(hours=1))
    assert daemon_line(stopped, tz, NOW).startswith("daemon: stopped at 2025-07-02 11:00")


def test_the_table_aligns_columns_and_judges_each_source() -> None:
    runs = [run(0, "failed", finish_reason="crashed: exit code 1"), *[run(h, items=h) for h in range(1, 9)]]
    data = StatusData(
        daemon=None,
        sources=[SourceRuns("jx-gov", runs, last_ok=runs[1]), SourceRuns("off", []),
                 SourceRuns("gone", [run(2, errors_by_kind={"timeout": 4, "attachment_failed": 9})])],
        alerts=[Alert("jx-gov", "failing", "the last 3 crawls failed", "health_failures")],
        frontier=[FrontierState("jx-gov", pending=2, given_up=1, latest=[("http://gov.test/a/1", "404")])],
    )
    lines = render_status(data, config(), now=NOW).splitlines()
    header, gov, off, gone = lines[2:6]
    assert header.index("last run") == gov.index("07-02 12:00") == off.index("never")
    assert "FAILING" in gov and "crashed: exit code 1" in gov and "7 6 5 4 3 2 1 3 ↓" in gov  # 8 latest, oldest first
    assert "(disabled)" in off and "never" in off
    assert "(not configured)" in gone and "timeout" in gone
    assert "attachment_failed" not in gone
    assert "jx-gov: 2 article link(s) pending (fetched first by the next crawl)" in lines
    assert "  http://gov.test/a/1 (404)" in lines
    assert "  ! jx-gov: failing — the last 3 crawls failed  [health_failures]" in lines
    assert lines[-1] == "digests: none sent yet"


def test_the_outbox_lines() -> None:
    pending = PendingDigest(7, "a@b.test", "", "daily", 2, NOW + timedelta(minutes=30), "SMTP down")
    text = render_status(StatusData(None, [], pending=[pending]), config(), now=NOW)
    assert text.endswith("digest 7 to a@b.test (mail_to daily): NOT SENT after 2 attempt(s), "
                         "next attempt 07-02 12:30: SMTP down")
    sent = render_status(StatusData(None, [], last_sent=SentDigest(NOW, "a@b.test")), config(), now=NOW)
    assert sent.endswith("digests: all sent; last 07-02 12:00 to a@b.test")
    assert "alerts: none" in sent
