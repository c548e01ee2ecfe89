"""Many machines: ``executor: queue`` puts due crawls on a real RabbitMQ, ``radar worker``
processes take them by queue name and run them against one PostgreSQL; a worker killed
mid-crawl has its crawl completed by another, nothing stored twice; SQLite is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kombu.connection import Connection
from sqlalchemy import func, select

from crawler.config.sources import load_config
from scheduler.queue import dispatch
from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow
from tests.e2e import radar
from tests.test_concurrency import NoticeSite, close, serve
from tests.test_daemon import Daemon, wait

pytestmark = pytest.mark.slow
BROKER = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def sites() -> Iterator[list[Any]]:
    """Three sites of four notices each, on hosts of their own."""
    servers = serve([ThreadingHTTPServer((f"127.0.0.{i}", 0), NoticeSite) for i in (2, 3, 4)])
    for s in servers:
        s.notices, s.delay = 4, 0.1  # type: ignore[attr-defined]
    yield servers
    close(servers)


def _root(server: Any) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@pytest.fixture
def queues() -> Iterator[list[str]]:
    """Queue names of this test's own, deleted afterwards."""
    names = [f"t{uuid.uuid4().hex[:8]}", f"gov-{uuid.uuid4().hex[:8]}"]
    yield names
    with Connection(BROKER) as conn:  # type: ignore[no-untyped-call]
        channel = conn.channel()
        for name in names:
            channel.queue_delete(name)


def _config(tmp_path: Path, db_url: str, servers: list[Any], queue: str, tags: dict[int, list[str]] | None = None,
            schedule: str = "every: 1h", **settings: Any) -> Path:
    path = tmp_path / "radar.yaml"
    path.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "executor": "queue", "broker_url": BROKER, "crawl_queue": queue,
                     "schedule_jitter": 0, "crawl_timeout": 120,
                     "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}, **settings},
        "sources": [{"name": f"s{i}", "start_urls": [f"{_root(s)}/index.html"], "allow": r"/a/\d+\.html$",
                     "schedule": schedule, "tags": (tags or {}).get(i, [])} for i, s in enumerate(servers)]}),
        encoding="utf-8")
    return path


class Worker:
    """A ``radar worker`` process whose log goes to a file."""

    def __init__(self, config: Path, *args: str) -> None:
        self.log_path = config.parent / f"worker-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "worker",
                                          "--concurrency", "1", *args], env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> None:
        wait(lambda: " ready." in self.log or self.proc.poll() is not None, 60, "the worker ready")
        assert self.proc.poll() is None, self.log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def _start_workers(workers: list[Worker], config: Path, *queues: str) -> None:
    """One worker per queue name in ``queues``, each ready to take crawls."""
    workers += [Worker(config, "--queue", q) for q in queues]
    for w in workers:
        w.ready()


def _ancestors(pid: int) -> list[int]:
    out = []
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        out.append(pid)
    return out


def _runs(factory: Any) -> list[CrawlRunRow]:
    with factory() as session:
        return list(session.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id)).all())


def test_the_daemon_queues_crawls_and_each_worker_takes_only_its_queues(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], workers: list[Worker]) -> None:
    default, gov = queues
    config = _config(tmp_path, postgres_url, sites, default, tags={2: ["county", f"queue:{gov}"]})
    engine, factory = open_database(postgres_url)
    _start_workers(workers, config, default, gov)
    daemon = Daemon(config, {})
    try:
        wait(lambda: sum(r.status == "finished" for r in _runs(factory)) == 3, 90, "three crawls done", daemon)
        runs = _runs(factory)
        wait(lambda: sum(w.log.count(" outcome=") for w in workers) == 3, 30, "the workers' lines")
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(30)
        engine.dispose()
    assert sorted(r.source for r in runs) == ["s0", "s1", "s2"]  # each scheduled crawl ran once
    assert all(r.items == 4 for r in runs), [(r.source, r.items) for r in runs]
    with factory() as session:  # no URL stored twice (the sites' identical notices are another matter)
        articles = session.scalar(select(func.count()).select_from(ArticleRow))
        assert articles == session.scalar(select(func.count(func.distinct(ArticleRow.url))))
    assert "outcome=queued" in daemon.log and f"queue={gov}" in daemon.log
    # the daemon asks the broker: the queues' depths and the two workers seen
    queue_line = next(line for line in daemon.log.splitlines() if "queues=" in line)
    assert f"{default}=" in queue_line and f"{gov}=" in queue_line and queue_line.count("radar@") == 2, queue_line
    general, county = workers[0].log, workers[1].log
    assert "source=s0 " in general and "source=s1 " in general and "source=s2 " not in general
    assert "source=s2 " in county and "source=s0 " not in county
    assert "outcome=finished" in county


def test_a_worker_killed_mid_crawl_has_its_crawl_completed_by_another_nothing_twice(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], workers: list[Worker]) -> None:
    sites[0].delay = 1.5  # a crawl of about 6 s: long enough to kill its worker in the middle
    config = _config(tmp_path, postgres_url, sites[:1], queues[0])
    engine, factory = open_database(postgres_url)
    try:
        _start_workers(workers, config, queues[0], queues[0])
        dispatch(load_config(config), "s0", False, datetime.now(UTC))
        running = wait(lambda: [r for r in _runs(factory) if r.status == "running" and r.pid], 60,
                       "the crawl running")
        ancestors = _ancestors(running[0].pid)  # the worker, or its launcher's parent
        victim = next(w for w in workers if w.proc.pid in ancestors)
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait()
        survivor = next(w for w in workers if w is not victim)
        # the broker gave the unacknowledged crawl to the other worker, which ran it to the end
        # (after the killed worker's crawl process, stopping by itself, let go of the source lock)
        wait(lambda: "source=s0 " in survivor.log, 90, "the crawl completed elsewhere")
        assert "outcome=finished" in survivor.log, survivor.log
        with factory() as session:
            articles = session.scalar(select(func.count()).select_from(ArticleRow))
            urls = session.scalar(select(func.count(func.distinct(ArticleRow.url))))
        assert articles == urls == 4, [(r.status, r.finish_reason, r.pages, r.items, r.new, r.duplicates, r.stats)
                                       for r in _runs(factory)]
        assert len(_runs(factory)) == 2 and all(r.status != "running" for r in _runs(factory))
    finally:
        engine.dispose()


def test_the_per_source_lock_holds_across_workers(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], workers: list[Worker]) -> None:
    sites[0].delay = 0.5
    config = _config(tmp_path, postgres_url, sites[:1], queues[0])
    engine, factory = open_database(postgres_url)
    try:
        _start_workers(workers, config, queues[0], queues[0])
        cfg = load_config(config)
        for _ in range(2):  # two ticks of one source at once, on two workers
            dispatch(cfg, "s0", False, datetime.now(UTC))
        wait(lambda: sum(w.log.count("source=s0 ") for w in workers) == 2, 90, "both crawls ended")
        assert sorted(w.log.count("source=s0 ") for w in workers) == [1, 1], [w.log for w in workers]
        # the second took the lock when the first let it go: it found the articles stored, or
        # gave up as skipped; either way the articles were stored once
        statuses = sorted(r.status for r in _runs(factory))
        assert statuses in (["finished", "finished"], ["finished", "skipped"]), statuses
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(ArticleRow)) == 4
    finally:
        engine.dispose()


def test_remote_workers_refuse_sqlite(sites: list[Any], tmp_path: Path, queues: list[str]) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'radar.db'}", sites[:1], queues[0])
    for command in ("worker", "daemon"):
        done = radar("--config", str(config), command, timeout=60)
        assert done.returncode != 0
        assert "cannot share a SQLite file" in done.stderr + done.stdout, done.stderr
