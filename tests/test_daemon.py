"""`radar daemon` as a real process against a real SMTP server: crawls on schedule, mails each event
once, survives SMTP outages and SIGKILL without losing or doubling a digest, refuses to run twice
on one database, catches up missed runs once, reloads on SIGHUP, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow, DigestEventRow, DigestRow, EventRow, SchedulerJobRow
from tests.conftest import MailSink, _drop_schema, _Handler, _postgres_schema_url, free_port, smtp_env
from tests.e2e import radar, write_config
from tests.sockets import TcpProxy, silent_server

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- helpers


def _config(replica: Any, db_url: str, tmp_path: Path, sources: dict[str, str],
            subscriptions: list[dict[str, Any]] | None = None, extra_sources: list[dict[str, Any]] | None = None,
            **settings: Any) -> Path:
    """The demo config cut down to ``sources`` (name → schedule), with ``subscriptions``."""
    settings.setdefault("schedule_jitter", 0)  # runs on the dot: the tests wait for them
    path = write_config(replica.urls, db_url, tmp_path, **settings)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["sources"] = [{**s, "schedule": sources[s["name"]]} for s in data["sources"] if s["name"] in sources]
    data["sources"] += extra_sources or []
    data["settings"]["mail_to"] = ""
    if subscriptions is not None:
        data["subscriptions"] = subscriptions
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class Daemon:
    """A ``radar daemon`` child process whose log goes to a file (a pipe nobody reads would fill),
    or with ``piped`` to a pipe that a thread reads (for a daemon that cannot write files)."""

    def __init__(self, config: Path, env: dict[str, str], *args: str, piped: bool = False) -> None:
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
        full_env.update(env)
        self._log = self.log_path.open("wb")
        self._lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "--config", str(config), "daemon", "--shutdown-grace", "5", *args],
            env=full_env, stdout=subprocess.PIPE if piped else self._log, stderr=subprocess.STDOUT)
        if piped:
            out = self.proc.stdout
            assert out is not None
            threading.Thread(target=lambda: self._lines.extend(line.decode("utf-8", "replace") for line in out),
                             daemon=True).start()

    @property
    def log(self) -> str:
        if self.proc.stdout is not None:
            return "".join(self._lines)
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        wait(lambda: text in self.log, timeout, f"{text!r} in the daemon log", self)

    def wait_for_more(self, text: str, times: int = 2, timeout: float = 90) -> None:
        """Wait until ``text`` has been logged ``times`` more times: so many more runs of a job
        (a check that nothing happens again waits for the runs that could do it, not for time)."""
        seen = self.log.count(text)
        wait(lambda: self.log.count(text) >= seen + times, timeout, f"{times} more {text!r} in the daemon log", self)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._log.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons started by a test; any still running at the end are killed."""
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.kill()


def wait(predicate: Callable[[], Any], timeout: float, what: str, daemon: Daemon | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if daemon is not None and daemon.proc.poll() is not None:
            pytest.fail(f"the daemon exited ({daemon.proc.returncode}) while waiting for {what}:\n{daemon.log}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f"\n{daemon.log}" if daemon else ""))


def query(db_url: str, fn: Callable[[Any], Any]) -> Any:
    engine, factory = open_database(db_url, migrate_schema=False)
    try:
        with factory() as s:
            return fn(s)
    except Exception:
        return None  # the daemon has not created the tables yet
    finally:
        engine.dispose()


def finished_runs(db_url: str) -> dict[str, int]:
    rows = query(db_url, lambda s: s.execute(select(CrawlRunRow.source, func.count())
                                             .where(CrawlRunRow.status == "finished")
                                             .group_by(CrawlRunRow.source)).all())
    return dict(rows or [])


def running_runs(db_url: str) -> int | None:
    """Crawl runs the daemon has opened that their crawl has not closed (None: not readable)."""
    count = query(db_url, lambda s: s.scalar(select(func.count()).select_from(CrawlRunRow)
                                             .where(CrawlRunRow.status == "running")))
    return None if count is None else int(count)


def digests(db_url: str) -> list[tuple[str, str, int]]:
    """(idempotency_key, status, attempts) of every digest."""
    return query(db_url, lambda s: [(d.idempotency_key, d.status, d.attempts) for d in
                                    s.scalars(select(DigestRow).order_by(DigestRow.id))]) or []


def start_smtp(sink: MailSink) -> Any:
    from aiosmtpd.controller import Controller

    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    return controller


IMMEDIATE = [{"name": "now", "to": "analyst@example.org", "frequency": "immediate"}]


def smtp(sink: MailSink, **overrides: str) -> dict[str, str]:
    """The SMTP environment without RADAR_MAIL_TO: these tests declare their subscriptions."""
    env = {k: v for k, v in smtp_env(sink).items() if k != "RADAR_MAIL_TO"}
    env.update(overrides)
    return env


# --------------------------------------------------------------------------- tests


def test_daemon_crawls_mails_each_event_once_and_stops_cleanly(
        replica: Any, sqlite_url: str, tmp_path: Path, smtp_server: MailSink, daemons: list[Daemon]) -> None:
    config = _config(replica, sqlite_url, tmp_path, {"cnip-park": "every: 4s", "jxnews": "every: 4s"},
                     [*IMMEDIATE, {"name": "boss", "to": "boss@example.org", "types": ["signing", "trade"]}],
                     digest_schedule="every: 2s")
    port = free_port()
    d = Daemon(config, smtp(smtp_server), "--metrics-port", str(port))
    daemons.append(d)

    def settled() -> bool:
        runs = finished_runs(sqlite_url)
        if len(runs) < 2 or min(runs.values()) < 2:
            return False
        events = query(sqlite_url, lambda s: s.scalar(select(func.count()).select_from(EventRow))) or 0
        carried = query(sqlite_url, lambda s: s.scalar(select(func.count()).select_from(DigestEventRow).where(
            DigestEventRow.recipient == "analyst@example.org"))) or 0
        return (events > 0 and carried == events and all(st == "sent" for _k, st, _a in digests(sqlite_url))
                and any(m["To"] == "boss@example.org" for m in smtp_server.messages))

    wait(settled, 120, "two crawls of each source and every event mailed", d)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    status = radar("--config", str(config), "status")
    assert d.stop(signal.SIGTERM) == 0, d.log

    # each event reached analyst@ once (immediately, after the crawl that found it)
    to_analyst = [m for m in smtp_server.messages if m["To"] == "analyst@example.org"]
    keys = [m["X-Policy-Radar-Digest"] for m in to_analyst]
    assert len(keys) == len(set(keys)) and all(k.startswith("now|analyst@example.org|immediate:") for k in keys)
    # boss@ has a daily subscription: one digest, though the digest job ran every 2 s
    to_boss = [m for m in smtp_server.messages if m["To"] == "boss@example.org"]
    assert len(to_boss) == 1 and to_boss[0]["X-Policy-Radar-Digest"].startswith("boss|boss@example.org|daily:")
    assert "opening" not in to_boss[0]["Subject"]

    assert 'radar_crawl_runs_total{source="cnip-park",status="finished"}' in metrics
    assert "radar_job_lateness_seconds_bucket" in metrics and "process_resident_memory_bytes" in metrics
    assert status.returncode == 0 and "daemon: running" in status.stdout and "cnip-park" in status.stdout

    # every run on record with its health counters; the second still sees the (known) article links
    # and keeps the listing's validators, so any later one (a slow machine settles after more runs)
    # is answered 304 and sees none
    runs = query(sqlite_url, lambda s: s.scalars(select(CrawlRunRow).where(CrawlRunRow.source == "cnip-park",
                                                                          CrawlRunRow.status == "finished")
                                                 .order_by(CrawlRunRow.id)).all())
    assert len(runs) >= 2 and runs[0].new > 0 and runs[-1].new == 0
    assert runs[0].links > 0 and runs[1].links > 0 and runs[1].status_counts.get("200")
    assert all(r.requests > 0 and r.exit_code == 0 and ((r.links > 0 and r.status_counts.get("200"))
                                                         or r.status_counts.get("304")) for r in runs)

    log = d.log
    assert "daemon stopped" in log and "Traceback" not in log
    # every crawl forked warm from the launcher (warm_crawls), none fell back to a new process
    assert "crawl launcher ready" in log and "as a new process" not in log
    assert "job=crawl source=cnip-park outcome=finished" in log and "lateness=" in log
    assert "job=digest outcome=done" in log
    assert "daemon: stopped at" in radar("--config", str(config), "status").stdout


def test_a_second_daemon_on_the_same_database_refuses(
        replica: Any, db_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    config = _config(replica, db_url, tmp_path, {"cnip-park": "every: 1h"})
    first = Daemon(config, {})
    daemons.append(first)
    first.wait_for("daemon started")
    second = subprocess.run([sys.executable, "-m", "crawler.cli", "--config", str(config), "daemon"],
                            capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("RADAR_")})
    assert second.returncode == 1
    assert "another radar daemon is already running" in second.stderr
    assert f"pid {first.proc.pid}" in second.stderr and "Traceback" not in second.stderr
    assert first.proc.poll() is None  # the first one is untouched
    # a daemon killed outright leaves no stale lock behind
    first.kill()
    third = Daemon(config, {})
    daemons.append(third)
    third.wait_for("daemon started")
    assert third.stop(signal.SIGINT) == 0, third.log


def test_smtp_down_then_back_is_delivered_once(
        replica: Any, db_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    sink = MailSink("127.0.0.1", free_port())  # nothing listens there yet
    config = _config(replica, db_url, tmp_path, {"cnip-park": "every: 1h"}, IMMEDIATE,
                     digest_retry_base=1, digest_retry_max=2, outbox_interval=1, smtp_timeout=5)
    d = Daemon(config, smtp(sink))
    daemons.append(d)
    wait(lambda: any(attempts >= 2 for _k, status, attempts in digests(db_url)), 90,
         "a digest that failed twice", d)
    status = radar("--config", str(config), "status")
    assert "NOT SENT after" in status.stdout and "Connection refused" in status.stdout
    controller = start_smtp(sink)
    try:
        wait(lambda: (ds := digests(db_url)) and all(st == "sent" for _k, st, _a in ds), 60, "all digests sent", d)
        d.wait_for_more("job=outbox outcome=done")  # two more outbox runs: nothing may go out again
        assert d.stop() == 0, d.log
    finally:
        controller.stop()
    sent = digests(db_url)
    keys = [m["X-Policy-Radar-Digest"] for m in sink.messages]
    assert sorted(keys) == sorted(k for k, _s, _a in sent)  # every digest once, none twice
    assert max(a for _k, _s, a in sent) >= 3  # failures counted, then the success
    assert "digests: all sent" in radar("--config", str(config), "status").stdout


def test_killed_between_written_and_sent_is_sent_once_after_restart(
        replica: Any, db_url: str, tmp_path: Path, smtp_server: MailSink, daemons: list[Daemon]) -> None:
    config = _config(replica, db_url, tmp_path, {"cnip-park": "every: 1h"}, IMMEDIATE, smtp_timeout=60)
    with silent_server() as stalled:  # accepts the SMTP connection, never greets: the send hangs
        first = Daemon(config, smtp(smtp_server, RADAR_SMTP_PORT=str(stalled.port)))
        daemons.append(first)
        wait(lambda: digests(db_url) and stalled.connections, 90, "a digest written and its send under way", first)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    written = digests(db_url)
    assert written and all(status == "pending" and attempts == 0 for _k, status, attempts in written)

    second = Daemon(config, smtp(smtp_server))
    daemons.append(second)
    wait(lambda: (ds := digests(db_url)) and all(st == "sent" for _k, st, _a in ds), 60, "the digests sent", second)
    time.sleep(1.5)
    assert second.stop() == 0, second.log
    keys = [m["X-Policy-Radar-Digest"] for m in smtp_server.messages]
    assert {k for k, _s, _a in written} <= set(keys)  # what was written before the kill went out …
    assert len(keys) == len(set(keys)) == len(digests(db_url))  # … once, like everything else
    assert len({m["Message-ID"] for m in smtp_server.messages}) == len(keys)


def test_a_missed_run_is_caught_up_once_and_config_changes_reload(
        replica: Any, sqlite_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    config = _config(replica, sqlite_url, tmp_path, {"cnip-park": "every: 1h"})
    first = Daemon(config, {})
    daemons.append(first)
    wait(lambda: finished_runs(sqlite_url).get("cnip-park") == 1, 60, "the first crawl", first)
    assert first.stop() == 0

    # as if the daemon had been down for three hours: three runs missed
    missed = datetime.now(UTC) - timedelta(hours=3)
    engine, factory = open_database(sqlite_url, migrate_schema=False)
    with factory() as s, s.begin():
        job = s.get(SchedulerJobRow, "crawl:cnip-park")
        assert job is not None
        state = pickle.loads(job.job_state)
        state["next_run_time"] = missed
        s.execute(update(SchedulerJobRow).where(SchedulerJobRow.id == job.id).values(
            next_run_time=missed.timestamp(), job_state=pickle.dumps(state)))
    engine.dispose()
    second = Daemon(config, {})
    daemons.append(second)
    wait(lambda: finished_runs(sqlite_url).get("cnip-park") == 2, 60, "the caught-up crawl", second)
    time.sleep(3)
    assert finished_runs(sqlite_url).get("cnip-park") == 2  # once, not three times

    # saving the file: a source added to it is scheduled without a restart (SIGHUP does the same);
    # a file that does not load is refused and the running config kept
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    good = yaml.safe_load(write_config(replica.urls, sqlite_url, tmp_path / "full").read_text(encoding="utf-8"))
    data["sources"].append({**next(s for s in good["sources"] if s["name"] == "jxnews"), "schedule": "every: 1h"})
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    second.wait_for("config reloaded")
    assert "+crawl:jxnews" in second.log
    wait(lambda: finished_runs(sqlite_url).get("jxnews") == 1, 60, "the new source crawled", second)
    config.write_text("sources: [{name: Broken}]\n", encoding="utf-8")
    second.proc.send_signal(signal.SIGHUP)
    second.wait_for("config reload failed, keeping the running config")
    jobs = query(sqlite_url, lambda s: sorted(s.scalars(select(SchedulerJobRow.id))))
    assert jobs == ["crawl:cnip-park", "crawl:jxnews", "outbox"]
    assert second.stop() == 0, second.log


def test_sigterm_gives_a_running_crawl_its_grace_then_exits_0(
        replica: Any, sqlite_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    with silent_server() as site:
        config = _config(replica, sqlite_url, tmp_path, {}, extra_sources=[
            {"name": "hangs", "start_urls": [f"http://127.0.0.1:{site.port}/list.html"], "allow": "/a/",
             "schedule": "every: 1h"}])
        d = Daemon(config, {})
        daemons.append(d)
        wait(lambda: site.connections, 60, "the crawl under way", d)
        started = time.monotonic()
        assert d.stop(signal.SIGTERM) == 0, d.log
        # shutdown grace 5 s, then the crawl is killed: not held up to its download timeout (60 s)
        assert time.monotonic() - started < 45
    (status, reason) = query(sqlite_url, lambda s: s.execute(select(CrawlRunRow.status, CrawlRunRow.finish_reason)
                                                             .where(CrawlRunRow.source == "hangs")).one())
    assert status == "interrupted" and reason in ("daemon shutdown", "shutdown")
    assert "stopping 1 running crawl(s) (hangs)" in d.log


class _Outage:
    """A park site with its two newest articles held back, a daemon crawling it every 3 s into
    ``db_url`` (``daemon_url``: the same database, as the daemon reaches it) and mailing each
    event at once; :meth:`run` takes the database away, publishes the two articles, and gives
    the database back."""

    def __init__(self, db_url: str, tmp_path: Path, smtp_server: MailSink, daemons: list[Daemon],
                 daemon_url: str = "") -> None:
        from crawler.replica import build_sites

        self.db_url, self.tmp_path, self.smtp_server, self.daemons = db_url, tmp_path, smtp_server, daemons
        self.daemon_url = daemon_url or db_url
        self.park = build_sites()["park"]
        self.listing = self.park["/news/list_1.html"].body
        self.hidden = re.sub(rb'<li class="news-item">.*?</li>\s*<li class="news-item">.*?</li>\s*', b"",
                             self.listing, count=1, flags=re.S)
        assert self.hidden.count(b'class="news-item"') == self.listing.count(b'class="news-item"') - 2
        self.articles = sum(1 for r in self.park.values() if r.expected)

    def count(self, model: Any) -> int:
        return int(query(self.db_url, lambda s: s.scalar(select(func.count()).select_from(model))) or 0)

    def all_mailed(self) -> bool:
        carried = query(self.db_url, lambda s: s.scalar(select(func.count()).select_from(DigestEventRow))) or 0
        return carried == self.count(EventRow) > 0 and all(st == "sent" for _k, st, _a in digests(self.db_url))

    def run(self, take_away: Callable[[Daemon], None], give_back: Callable[[Daemon], None]) -> Daemon:
        from crawler.replica.server import ReplicaSites

        with ReplicaSites(sites={"park": self.park}) as site:
            site.set_page("park", "/news/list_1.html", self.hidden)  # the two newest not published yet
            config = self.tmp_path / "radar.yaml"
            config.write_text(yaml.safe_dump({
                "settings": {"database_url": self.daemon_url,
                             "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}},
                "sources": [{"name": "cnip-park", "start_urls": [f"{site.urls['park']}/news/list_1.html"],
                             "allow": r"/news/\d{4}-\d{2}-\d{2}/\d+\.html$", "next_page": "a.next::attr(href)",
                             "selectors": {"body": "div.article-content"}, "schedule": "every: 3s"}],
                "subscriptions": IMMEDIATE}, allow_unicode=True), encoding="utf-8")
            d = Daemon(config, smtp(self.smtp_server), piped=True)
            self.daemons.append(d)
            wait(lambda: self.count(ArticleRow) == self.articles - 2 and self.all_mailed(), 90,
                 "the published articles mailed", d)
            events_before = self.count(EventRow)
            take_away(d)
            site.set_page("park", "/news/list_1.html", self.listing)  # … and two new articles appear
            d.wait_for("heartbeat failed")
            assert d.proc.poll() is None and self.count(ArticleRow) == self.articles - 2
            give_back(d)
            wait(lambda: self.count(ArticleRow) == self.articles and self.count(EventRow) > events_before
                 and self.all_mailed(), 120, "the new articles stored and their events mailed", d)
            d.wait_for_more("job=crawl source=cnip-park outcome=finished")  # nothing may be stored or sent again
            assert d.stop() == 0, d.log
        assert "Traceback" not in d.log and "Exception in thread" not in d.log, d.log
        keys = [m["X-Policy-Radar-Digest"] for m in self.smtp_server.messages]
        assert len(keys) == len(set(keys)) == len(digests(self.db_url))  # every digest once, none twice
        assert self.count(ArticleRow) == self.articles
        return d


def test_a_full_disk_is_logged_outlived_and_loses_nothing(
        sqlite_url: str, tmp_path: Path, smtp_server: MailSink, daemons: list[Daemon]) -> None:
    """The disk fills up under a running daemon, while a source publishes new articles: every
    write to the database fails (the kernel's file size limit, as on a full disk). The daemon
    logs it and keeps running; once there is room again it crawls the new articles and mails
    each of their events once. (APScheduler's own thread used to die on the first failed write
    of a job's next run time, and the daemon then never ran a job again.)"""

    def fill(d: Daemon) -> None:
        resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        # Only the daemon's disk is full: a crawl it forked before has room, and would store the
        # new articles if it fetched the listing after they appear. They appear once no crawl is
        # under way; the daemon cannot open the run of another.
        wait(lambda: running_runs(sqlite_url) == 0, 120, "the crawl under way to end", d)

    def free(d: Daemon) -> None:
        d.wait_for("could not update its job store")
        resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    d = _Outage(sqlite_url, tmp_path, smtp_server, daemons).run(fill, free)
    assert "the scheduler's job store works again" in d.log


def test_a_database_server_that_goes_away_and_comes_back(
        postgres_admin: Any, tmp_path: Path, smtp_server: MailSink, daemons: list[Daemon]) -> None:
    """PostgreSQL goes away under a running daemon (every connection dropped, new ones refused,
    through a proxy on loopback) while a source publishes new articles; the daemon logs it, keeps
    running and, once the server is back, takes its lock again, crawls the new articles and mails
    each of their events once."""
    schema, url = _postgres_schema_url(postgres_admin)
    direct = make_url(url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432))
    try:
        outage = _Outage(url, tmp_path, smtp_server, daemons,
                         daemon_url=direct.set(port=proxy.port).render_as_string(hide_password=False))
        d = outage.run(lambda _d: proxy.cut(), lambda _d: proxy.restore())
    finally:
        proxy.cut()
        _drop_schema(postgres_admin, schema)
    assert "job=crawl source=cnip-park outcome=error" in d.log or "Error getting due jobs" in d.log, d.log


class _FillsTheDiskOnFirstMail(_Handler):
    """Accepts mail; on the first message, fills the disk of process ``pids[0]`` (the kernel's
    file size limit) before answering: SMTP has the digest, the database cannot mark it sent."""

    def __init__(self, sink: MailSink, pids: list[int]) -> None:
        super().__init__(sink)
        self.pids = pids

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.sink.messages:
            resource.prlimit(self.pids[0], resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        return await super().handle_DATA(server, session, envelope)


def test_a_digest_sent_as_the_disk_fills_is_marked_later_and_never_sent_again(
        replica: Any, sqlite_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    from aiosmtpd.controller import Controller

    sink, pids = MailSink("127.0.0.1", free_port()), list[int]()
    controller = Controller(_FillsTheDiskOnFirstMail(sink, pids), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        config = _config(replica, sqlite_url, tmp_path, {"cnip-park": "every: 1h"}, IMMEDIATE,
                         outbox_interval=1, digest_retry_base=1, digest_retry_max=2)
        d = Daemon(config, smtp(sink), piped=True)
        daemons.append(d)
        pids.append(d.proc.pid)
        wait(lambda: sink.messages, 90, "the first digest at the SMTP server", d)
        d.wait_for_more("job=outbox outcome=")  # outbox runs meanwhile: it may not send the digest again
        assert len(sink.messages) == 1 and d.proc.poll() is None
        resource.prlimit(d.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait(lambda: (ds := digests(sqlite_url)) and all(st == "sent" for _k, st, _a in ds), 60, "the digest marked", d)
        d.wait_for_more("job=outbox outcome=done")
        assert d.stop() == 0, d.log
    finally:
        controller.stop()
    keys = [m["X-Policy-Radar-Digest"] for m in sink.messages]
    assert len(keys) == len(set(keys)) == len(digests(sqlite_url)) == 1, keys
    assert "was sent but the database refused to mark it" in d.log and "marked sent (it was sent at" in d.log
