"""``executor: queue`` at scale and under faults, on a real RabbitMQ, PostgreSQL and ``radar
worker`` processes: 30 sources on three workers, each tick run once and shown in ``radar status``
with its worker; a tick whose crawl is still queued is coalesced and a crawl queued too long
raises a health alert; crawls due while the broker is cut off are sent and run once when it is
back; a queued crawl whose message the broker lost is sent again by the daemon and runs once."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kombu.connection import Connection
from sqlalchemy import func, select

from crawler.config.sources import load_config
from scheduler.queue import dispatch, resend_lost
from storage import runs as run_rows
from storage.db import open_database, transaction
from storage.models import ArticleRow
from storage.runs import UNSENT, WORKER_KEY
from tests.e2e import radar
from tests.sockets import TcpProxy
from tests.test_concurrency import NoticeSite, close, serve
from tests.test_daemon import Daemon, wait
from tests.test_worker import BROKER, Worker, _config, _runs, _start_workers, queues, sites, workers

pytestmark = pytest.mark.slow
__all__ = ["queues", "sites", "workers"]  # fixtures this module uses


@pytest.fixture
def thirty_sites() -> Iterator[list[Any]]:
    """Thirty sites of two notices each, each on a loopback address of its own (one host each)."""
    servers = serve([ThreadingHTTPServer((f"127.0.0.{i}", 0), NoticeSite) for i in range(10, 40)])
    for s in servers:
        s.notices, s.delay = 2, 0.02  # type: ignore[attr-defined]
    yield servers
    close(servers)


def _status(config: Path) -> str:
    done = radar("--config", str(config), "status", timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _stored_once(factory: Any) -> int:
    """How many articles are stored, after checking that no URL is stored twice."""
    with factory() as session:
        articles = session.scalar(select(func.count()).select_from(ArticleRow))
        assert articles == session.scalar(select(func.count(func.distinct(ArticleRow.url))))
    return int(articles or 0)


def test_thirty_sources_on_three_workers_each_tick_runs_once_shown_with_its_worker(
        thirty_sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], workers: list[Worker]) -> None:
    config = _config(tmp_path, postgres_url, thirty_sites, queues[0], workers=0)
    engine, factory = open_database(postgres_url)
    workers += [Worker(config, "--queue", queues[0], "--concurrency", "3") for _ in range(3)]
    for w in workers:
        w.ready()
    daemon = Daemon(config, {})
    try:
        wait(lambda: sum(r.status == "finished" for r in _runs(factory)) == 30, 120, "thirty crawls done", daemon)
        runs = _runs(factory)
        wait(lambda: sum(w.log.count("outcome=finished") for w in workers) == 30, 30, "the workers' lines")
        status = _status(config)
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(30)
        engine.dispose()
    # each source's one tick was queued once and ran once, on a row of its own
    assert daemon.log.count("outcome=queued") == 30
    assert len(runs) == 30 and sorted(r.source for r in runs) == sorted(f"s{i}" for i in range(30))
    assert all(r.items == 2 for r in runs) and _stored_once(factory) >= 2  # identical notices are merged
    # the work was spread over the three workers, and each row names its worker
    names = {w.log.split("worker radar@", 1)[1].split(":", 1)[0] for w in workers}
    ran_on = [r.stats.get(WORKER_KEY, "").removeprefix("radar@") for r in runs]
    assert set(ran_on) == names, (ran_on, names)
    for name in names:
        assert f"radar@{name} (" in status, status
    assert "queue: 0 crawl(s) waiting for a radar worker" in status, status
    assert f"finished on radar@{ran_on[0]}" in status, status


def test_a_tick_while_the_crawl_is_queued_is_coalesced_and_a_long_wait_alerts(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], workers: list[Worker]) -> None:
    config = _config(tmp_path, postgres_url, sites[:1], queues[0], schedule="every: 2s", health_queue_wait=1,
                     workers=0)
    engine, factory = open_database(postgres_url)
    daemon = Daemon(config, {})
    try:
        # no worker yet: the first tick's crawl waits on the queue, the next ticks are coalesced
        wait(lambda: [r for r in _runs(factory) if r.status == "queued"], 60, "the crawl queued", daemon)
        daemon.wait_for_more('reason="previous run still going"', 2)
        assert [r.status for r in _runs(factory)] == ["queued"]
        status = _status(config)
        assert "QUEUED" in status and "queue: 1 crawl(s) waiting for a radar worker, the oldest s0" in status, status
        assert "a crawl has waited" in status, status
        _start_workers(workers, config, queues[0])
        wait(lambda: sum(r.status == "finished" for r in _runs(factory)) >= 2, 60, "two crawls done", daemon)
        runs = _runs(factory)
        done = [r for r in runs if r.status == "finished"]
        wait(lambda: workers[0].log.count("outcome=finished") >= len(done), 30, "the worker's lines")
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(30)
        engine.dispose()
    # every row queued ran once (or waits now), never two at once: one worker log line per crawl
    assert daemon.log.count("outcome=queued") == len(runs)
    assert workers[0].log.count("outcome=finished") == len(done)
    assert all(a.finished_at is not None and a.finished_at <= b.started_at for a, b in itertools.pairwise(done))
    assert _stored_once(factory) >= 1


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    """A TCP proxy in front of RabbitMQ: the broker as our processes reach it, which can go away
    without disturbing anyone else's use of the broker. Cut for good after the workers stopped."""
    proxy = TcpProxy(("127.0.0.1", 5672))
    yield proxy
    proxy.cut()


def test_crawls_due_while_the_broker_is_cut_off_run_once_when_it_is_back(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], proxy: TcpProxy,
        workers: list[Worker]) -> None:
    broker = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    config = _config(tmp_path, postgres_url, sites[:2], queues[0], broker_url=broker, workers=0)
    engine, factory = open_database(postgres_url)
    _start_workers(workers, config, queues[0], queues[0])
    proxy.cut()  # the broker goes away under the workers: their connections drop
    daemon = Daemon(config, {})
    try:
        unsent = wait(lambda: [r for r in _runs(factory) if r.status == "queued" and r.finish_reason == UNSENT]
                      if len(_runs(factory)) == 2 else None, 60, "both ticks kept, unsent", daemon)
        assert sorted(r.source for r in unsent) == ["s0", "s1"]
        daemon.wait_for("will send it again")
        proxy.restore()
        wait(lambda: sum(r.status == "finished" for r in _runs(factory)) == 2, 120, "both crawls done", daemon)
        runs = _runs(factory)
        # the workers lost their connections too, and took the crawls once the broker was back
        wait(lambda: sum(w.log.count("outcome=finished") for w in workers) == 2, 30, "the workers' lines")
        assert all("Connection to broker lost" in w.log for w in workers)
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(30)
        engine.dispose()
    assert [r.id for r in runs] == [r.id for r in unsent]  # the kept rows ran, no other
    assert "sent 2 queued crawl(s) the broker had not taken" in daemon.log or daemon.log.count(
        "sent 1 queued crawl(s)") == 2, daemon.log
    assert all(r.items == 4 for r in runs) and _stored_once(factory) >= 4


def _purge(queue: str) -> int:
    """Empty ``queue`` on RabbitMQ, as an operator's ``rabbitmqctl purge_queue`` does; how many
    messages it held."""
    with Connection(BROKER) as conn:  # type: ignore[no-untyped-call]
        return int(conn.channel().queue_purge(queue) or 0)


def test_a_queued_crawl_is_sent_again_only_once_two_checks_found_its_message_gone(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str]) -> None:
    config = load_config(_config(tmp_path, postgres_url, sites[:2], queues[0]))
    engine, factory = open_database(postgres_url)
    try:
        ids = []
        for source in ("s0", "s1"):  # queued and sent, as a tick does
            with transaction(factory) as session:
                ids.append(run_rows.queue_run(session, source, datetime.now(UTC), recheck=False))
            dispatch(config, source, False, datetime.now(UTC), ids[-1])
            with transaction(factory) as session:
                run_rows.mark_sent(session, ids[-1])
        # the broker holds both messages: nothing is sent again, however often it is checked
        assert [resend_lost(config, factory) for _ in range(3)] == [0, 0, 0]
        assert _purge(queues[0]) == 2
        # the first check finds the queue short, the second sends both again, then it is even
        assert [resend_lost(config, factory) for _ in range(3)] == [0, 2, 0]
        assert _purge(queues[0]) == 2
        with transaction(factory) as session:  # one of them taken meanwhile by a worker
            assert run_rows.take_queued_run(session, ids[0], now=datetime.now(UTC), worker="radar@t")
        assert [resend_lost(config, factory) for _ in range(2)] == [0, 1]
        assert _purge(queues[0]) == 1
    finally:
        engine.dispose()


def test_a_queued_crawl_whose_message_the_broker_lost_is_sent_again_and_runs_once(
        sites: list[Any], postgres_url: str, tmp_path: Path, queues: list[str], workers: list[Worker]) -> None:
    config = _config(tmp_path, postgres_url, sites[:1], queues[0], workers=0)
    engine, factory = open_database(postgres_url)
    daemon = Daemon(config, {})
    try:
        queued = wait(lambda: [r for r in _runs(factory) if r.status == "queued" and r.finish_reason == ""], 60,
                      "the crawl on the broker", daemon)
        assert _purge(queues[0]) == 1  # the broker loses it: no worker will ever be given it
        daemon.wait_for("the broker no longer holds the queued crawl of s0")
        _start_workers(workers, config, queues[0])
        wait(lambda: [r.status for r in _runs(factory)] == ["finished"], 60, "the crawl done", daemon)
        wait(lambda: "outcome=finished" in workers[0].log, 30, "the worker's line")
        runs = _runs(factory)
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(30)
        engine.dispose()
    assert [r.id for r in runs] == [queued[0].id] and runs[0].items == 4
    assert daemon.log.count("the broker no longer holds") == 1, daemon.log
    assert workers[0].log.count(" outcome=") == 1, workers[0].log
    assert _stored_once(factory) >= 1
