"""``executor: queue`` on a Redis broker that is killed and started again: a redis-server of the
test's own (no persistence, so the crawls waiting on it are lost with it), a daemon and two
``radar worker`` processes on PostgreSQL. Crawls running when the broker dies finish, crawls
that waited on it are sent again by the daemon, and each scheduled crawl runs once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from storage.db import open_database
from tests.test_concurrency import NoticeSite, close, serve
from tests.test_daemon import Daemon, wait
from tests.test_queue_ticks import _stored_once
from tests.test_worker import Worker, _config, _runs, workers

pytestmark = pytest.mark.slow
__all__ = ["workers"]  # a fixture this module uses

REDIS_SERVER = "/usr/bin/redis-server"
QUEUE = "crawl"


class RedisServer:
    """A redis-server on 127.0.0.1:``port`` that keeps nothing on disk: killed, it loses every
    message it held; started again, it answers on the same port, empty."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(self._answers, 30, "redis-server answering")

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"redis-server exited ({self.proc.returncode}): {(self.dir / 'redis.log').read_text()}")
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server, killed at the end (after the workers, which are stopped first)."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()
    server.client.close()


@pytest.fixture
def six_sites() -> Iterator[list[Any]]:
    """Six sites of four notices each, on hosts of their own, slow enough that two workers
    taking one crawl at a time leave the others waiting on the broker for a while."""
    servers = serve([ThreadingHTTPServer((f"127.0.0.{i}", 0), NoticeSite) for i in range(60, 66)])
    for s in servers:
        s.notices, s.delay = 4, 0.4  # type: ignore[attr-defined]
    yield servers
    close(servers)


def test_a_redis_broker_killed_and_restarted_loses_no_crawl_and_runs_none_twice(
        redis_server: RedisServer, six_sites: list[Any], postgres_url: str, tmp_path: Path,
        workers: list[Worker]) -> None:
    config = _config(tmp_path, postgres_url, six_sites, QUEUE, broker_url=redis_server.url, workers=0)
    engine, factory = open_database(postgres_url)
    workers += [Worker(config, "--queue", QUEUE) for _ in range(2)]
    for w in workers:
        w.ready()
    daemon = Daemon(config, {})
    try:
        # crawls running on the workers while the others are sent and wait on the broker
        wait(lambda: (statuses := [r.status for r in _runs(factory) if r.pid or r.finish_reason == ""])
             and statuses.count("running") >= 1 and statuses.count("queued") >= 2, 90,
             "crawls running and others on the broker", daemon)
        assert redis_server.client.llen(QUEUE) >= 1
        redis_server.kill()
        redis_server.start()
        assert redis_server.client.llen(QUEUE) == 0  # the broker came back empty: those crawls are lost
        wait(lambda: [r.status for r in _runs(factory)] == ["finished"] * 6, 120, "six crawls done", daemon)
        wait(lambda: sum(w.log.count("outcome=finished") for w in workers) == 6, 30, "the workers' lines")
        runs = _runs(factory)
    finally:
        daemon.stop()
        engine.dispose()
    # the workers saw the broker go away; the daemon sent the lost crawls again
    assert all("Connection to broker lost" in w.log for w in workers), [w.log for w in workers]
    assert daemon.log.count("the broker no longer holds the queued crawl") >= 1, daemon.log
    # each source's tick ran once, on its own row, to the end: none lost, none twice
    assert sorted(r.source for r in runs) == [f"s{i}" for i in range(6)]
    assert all(r.items == 4 for r in runs), [(r.source, r.items, r.new) for r in runs]
    assert sum(r.new for r in runs) == _stored_once(factory) >= 1  # the sites' identical notices are merged
    assert sum(w.log.count("outcome=finished") for w in workers) == 6
