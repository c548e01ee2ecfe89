"""One machine, many sources: the daemon runs at most ``max_concurrent_crawls`` crawls at once,
the most overdue first, one per host, on threads that do not grow with the sources; each source's
runs start at a fixed jitter inside its schedule's period."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from crawler.config.sources import parse_schedule
from scheduler.gate import CrawlGate, default_limit, extraction_workers, give_back, hosts_of
from scheduler.plan import JobSpec, OffsetTrigger, jitter_seconds, period_seconds, trigger_for
from storage.db import open_database
from storage.models import CrawlRunRow
from tests.test_daemon import Daemon, wait

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- the gate, in-process


def test_crawls_beyond_the_limit_wait_and_the_most_overdue_starts_first() -> None:
    gate = CrawlGate(2)
    release = threading.Event()
    started: list[str] = []
    lock = threading.Lock()
    peak = [0, 0]  # running now, most at once

    def crawl(name: str) -> Any:
        def run() -> None:
            with lock:
                started.append(name)
                peak[0] += 1
                peak[1] = max(peak[1], peak[0])
            release.wait(10)
            with lock:
                peak[0] -= 1
        return run

    gate.submit("a", T0, frozenset({"a.example"}), crawl("a"))
    gate.submit("b", T0, frozenset({"b.example"}), crawl("b"))
    wait(lambda: len(started) == 2, 10, "two crawls running")
    # due later, due earlier, due in between: they start in order of lateness, not of arrival
    for name, minutes in (("late", 3), ("first", 1), ("mid", 2)):
        gate.submit(name, T0 + timedelta(minutes=minutes), frozenset({f"{name}.example"}), crawl(name))
    assert gate.waiting() == 3 and len(gate.running()) == 2
    release.set()
    wait(lambda: len(started) == 5 and not gate.running(), 10, "all crawls done")
    assert started[2:] == ["first", "mid", "late"]
    assert peak[1] == 2
    assert gate.close() == []


def test_sources_on_one_host_run_one_at_a_time_and_others_pass_them() -> None:
    gate = CrawlGate(3)
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    gates = {name: threading.Event() for name in ("x1", "x2", "y")}

    def crawl(name: str) -> Any:
        def run() -> None:
            with lock:
                events.append(("start", name))
            gates[name].wait(10)
            with lock:
                events.append(("end", name))
        return run

    shared = hosts_of(["http://gov.example:8080/a", "http://GOV.example/b"])
    assert shared == frozenset({"gov.example"})
    gate.submit("x1", T0, shared, crawl("x1"))
    gate.submit("x2", T0, shared, crawl("x2"))  # same host, as overdue: waits for x1
    gate.submit("y", T0 + timedelta(minutes=1), frozenset({"other.example"}), crawl("y"))  # passes x2
    wait(lambda: ("start", "y") in events, 10, "y started")
    assert ("start", "x2") not in events
    gates["y"].set()
    gates["x1"].set()
    wait(lambda: ("start", "x2") in events, 10, "x2 started after x1")
    assert events.index(("end", "x1")) < events.index(("start", "x2"))
    gates["x2"].set()
    wait(lambda: len(events) == 6, 10, "all done")
    gate.close()


def _occupied() -> tuple[CrawlGate, threading.Event]:
    """A gate of one slot, taken by a crawl that runs until the event is set."""
    gate = CrawlGate(1)
    hold = threading.Event()

    def busy() -> None:
        hold.wait(10)

    gate.submit("busy", T0, frozenset(), busy)
    wait(lambda: gate.running(), 10, "the first crawl running")
    return gate, hold


def test_close_returns_what_never_started() -> None:
    gate, hold = _occupied()
    gate.submit("later", T0 + timedelta(minutes=2), frozenset(), lambda: None)
    gate.submit("sooner", T0 + timedelta(minutes=1), frozenset(), lambda: None)
    left = gate.close(wait=False)
    assert [t.key for t in left] == ["sooner", "later"]
    hold.set()
    gate.close()
    with pytest.raises(RuntimeError):
        gate.submit("after", T0, frozenset(), lambda: None)


def _noop() -> None:
    pass


def test_crawls_left_waiting_at_shutdown_fall_due_again_at_their_time() -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        for job_id in ("crawl:a", "crawl:b"):
            scheduler.add_job(_noop, "interval", hours=1, id=job_id, next_run_time=later)
        gate, hold = _occupied()
        gate.submit("crawl:a", T0 + timedelta(minutes=5), frozenset(), _noop)
        give_back(scheduler, gate.close(wait=False))
        hold.set()
        gate.close()
        assert scheduler.get_job("crawl:a").next_run_time == T0 + timedelta(minutes=5)  # runs once at the start
        assert scheduler.get_job("crawl:b").next_run_time == later  # it was not waiting: untouched
    finally:
        scheduler.shutdown(wait=False)


def test_the_default_limit_follows_memory_under_a_ceiling() -> None:
    assert default_limit(cpus=16, available_mib=2048) == 8  # 256 MiB a crawl
    assert default_limit(cpus=4, available_mib=4000) == 15
    assert default_limit(cpus=2, available_mib=16000) == 16  # eight per CPU
    assert default_limit(cpus=64, available_mib=256000) == 24  # and 24 in all
    assert default_limit(cpus=4, available_mib=100) == 1  # never none
    assert default_limit(cpus=2, available_mib=0) == 16  # memory unknown: the CPUs' bound
    assert 1 <= default_limit() <= 24


def test_the_extraction_processes_of_a_crawl_are_the_cpus_its_share_leaves() -> None:
    assert extraction_workers(-1, 16, cpus=2) == 0  # crawls share the CPUs: none
    assert extraction_workers(-1, 2, cpus=2) == 0
    assert extraction_workers(-1, 1, cpus=2) == 2
    assert extraction_workers(-1, 4, cpus=8) == 2
    assert extraction_workers(-1, 1, cpus=32) == 4  # at most four
    assert extraction_workers(3, 16, cpus=2) == 3  # a number set is kept
    assert extraction_workers(0, 1, cpus=8) == 0


# --------------------------------------------------------------------------- jitter


def test_jitter_is_fixed_per_source_inside_the_period_and_can_be_turned_off() -> None:
    hourly, every2 = parse_schedule("0 * * * *"), parse_schedule("*/2 * * * *")
    assert period_seconds(hourly, "Asia/Shanghai") == 3600
    assert period_seconds(every2, "Asia/Shanghai") == 120
    assert period_seconds(parse_schedule("every: 30m"), "UTC") == 1800
    offsets = [jitter_seconds(f"crawl:county-{i}", hourly, "Asia/Shanghai", 600) for i in range(500)]
    assert offsets == [jitter_seconds(f"crawl:county-{i}", hourly, "Asia/Shanghai", 600) for i in range(500)]
    assert all(0 <= o < 600 for o in offsets)
    assert max(offsets.count(o) for o in set(offsets)) <= 5  # spread out, not in one second
    assert all(0 <= jitter_seconds(f"crawl:s{i}", every2, "UTC", 600) < 120 for i in range(100))
    assert jitter_seconds("crawl:x", hourly, "UTC", 0) == 0


def test_an_offset_trigger_fires_late_by_its_offset_and_survives_the_job_store() -> None:
    inner = trigger_for(parse_schedule("0 * * * *"), "UTC")
    trigger = pickle.loads(pickle.dumps(OffsetTrigger(inner, 125)))
    now = datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, now)
    assert first == datetime(2026, 1, 1, 10, 2, 5, tzinfo=UTC)  # 10:00 + 125 s is still ahead
    assert trigger.get_next_fire_time(first, first) == datetime(2026, 1, 1, 11, 2, 5, tzinfo=UTC)
    spec = JobSpec("crawl:a", "scheduler.jobs:crawl_job", parse_schedule("0 * * * *"), "UTC", ("a",), offset=125)
    assert "+125s [UTC]" in spec.fingerprint
    assert isinstance(spec.trigger(), OffsetTrigger)
    assert not isinstance(JobSpec("crawl:a", "x", parse_schedule("0 * * * *"), "UTC").trigger(), OffsetTrigger)


# --------------------------------------------------------------------------- the daemon, real processes


_TOPICS = ("春季森林防火", "农村饮水安全", "校园食品安全", "汛期地质灾害防治", "老旧小区改造")


class NoticeSite(BaseHTTPRequestHandler):
    """A small site of notices behind /index.html that answers slowly, as a remote one does: its
    server's ``notices`` (2) distinct notices, each page after its ``delay`` (0.3 s)."""

    def do_GET(self) -> None:
        time.sleep(getattr(self.server, "delay", 0.3))
        if self.path.startswith("/a/"):
            n = self.path.rsplit("/", 1)[-1].split(".")[0]
            topic = _TOPICS[int(n) % len(_TOPICS)]
            text = "".join(f"第{k}条：{topic}工作第{k}项要求，{n}号文件。" for k in range(30))
            body = (f"<html><head><title>{topic}通知</title></head><body><h1>关于{topic}的通知</h1>"
                    f"<div class='content'><p>{text}</p><p>发布时间：2026-01-0{n}</p></div></body></html>")
        elif self.path == "/index.html":
            count = getattr(self.server, "notices", 2)
            links = "".join(f"<a href='/a/{i}.html'>通知 {i}</a>" for i in range(1, count + 1))
            body = f"<html><body>{links}</body></html>"
        else:
            self.send_error(404)
            return
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


def serve(servers: list[ThreadingHTTPServer]) -> list[ThreadingHTTPServer]:
    """Start ``servers``, each on a thread."""
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return servers


def close(servers: list[ThreadingHTTPServer]) -> None:
    """Stop ``servers`` together (each waits for its poll interval)."""
    stoppers = [threading.Thread(target=s.shutdown) for s in servers]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()
    for s in servers:
        s.server_close()


@pytest.fixture
def sites() -> Iterator[list[str]]:
    """20 site roots: the first two on one host (two ports of 127.0.0.2), the others each on a
    loopback address of its own."""
    servers = serve([ThreadingHTTPServer((f"127.0.0.{i}", 0), NoticeSite) for i in [2, *range(2, 21)]])
    yield [f"http://{s.server_address[0]!s}:{s.server_address[1]}" for s in servers]
    close(servers)


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _overlap(rows: list[CrawlRunRow]) -> int:
    """Most crawls whose [start, finish] overlapped at one moment."""
    edges = sorted([(r.started_at, 1) for r in rows] + [(r.finished_at, -1) for r in rows if r.finished_at],
                   key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_twenty_sources_due_at_once_run_three_at_a_time_one_per_host(sites: list[str], postgres_url: str,
                                                                     tmp_path: Path) -> None:
    limit = 3
    config = tmp_path / "radar.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": postgres_url, "max_concurrent_crawls": limit, "schedule_jitter": 0,
                     "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}},
        "sources": [{"name": f"s{i:02d}", "start_urls": [f"{root}/index.html"], "allow": r"/a/\d+\.html$",
                     "schedule": "every: 1h"} for i, root in enumerate(sites)]}), encoding="utf-8")
    engine, factory = open_database(postgres_url)
    daemon = Daemon(config, {})
    seen_running = seen_threads = 0
    try:
        def all_done() -> bool:
            nonlocal seen_running, seen_threads
            with factory() as session:
                rows = session.scalars(select(CrawlRunRow)).all()
            seen_running = max(seen_running, sum(1 for r in rows if r.status == "running"))
            seen_threads = max(seen_threads, _threads(daemon.proc.pid))
            return len(rows) == len(sites) and all(r.status != "running" for r in rows)

        wait(all_done, 120, "every source crawled once", daemon)
        with factory() as session:
            rows = list(session.scalars(select(CrawlRunRow)).all())
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(30)
        engine.dispose()
    assert sorted(r.source for r in rows) == [f"s{i:02d}" for i in range(len(sites))], daemon.log
    assert all(r.status == "finished" for r in rows), [(r.source, r.status, r.finish_reason) for r in rows]
    assert all(r.items == 2 for r in rows), [(r.source, r.items) for r in rows]
    assert 1 <= seen_running <= limit
    assert _overlap(rows) == limit  # the cap was reached, and never passed
    shared = {r.source: r for r in rows if r.source in ("s00", "s01")}
    first, second = sorted(shared.values(), key=lambda r: r.started_at)
    assert first.finished_at is not None and first.finished_at <= second.started_at
    assert seen_threads <= limit + 12, seen_threads  # the crawl threads are the limit's, not one per source
    assert "at most 3 crawl(s) at once" in daemon.log
    assert f"{extraction_workers(-1, limit)} extraction process(es) each" in daemon.log


@pytest.fixture
def wide_site() -> Iterator[str]:
    """One site of 24 notices: more than a crawl prepares in its own process before it starts
    extraction processes (spiders.pipelines, INLINE_FIRST)."""
    servers = serve([ThreadingHTTPServer(("127.0.0.2", 0), NoticeSite)])
    servers[0].notices, servers[0].delay = 24, 0.0  # type: ignore[attr-defined]
    yield f"http://127.0.0.2:{servers[0].server_address[1]}"
    close(servers)


def test_crawls_sharing_the_cpus_extract_in_their_own_process(wide_site: str, postgres_url: str,
                                                              tmp_path: Path) -> None:
    limit = len(os.sched_getaffinity(0))  # as many crawls at once as CPUs: no CPU left for a pool
    config = tmp_path / "radar.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": postgres_url, "max_concurrent_crawls": limit, "schedule_jitter": 0,
                     "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}},
        "sources": [{"name": "wide", "start_urls": [f"{wide_site}/index.html"], "allow": r"/a/\d+\.html$",
                     "schedule": "every: 1h"}]}), encoding="utf-8")
    engine, factory = open_database(postgres_url)
    daemon = Daemon(config, {})
    try:
        def finished() -> list[CrawlRunRow]:
            with factory() as session:
                return list(session.scalars(select(CrawlRunRow).where(CrawlRunRow.status == "finished")).all())

        runs = wait(finished, 120, "the crawl done", daemon)
    finally:
        daemon.stop()
        engine.dispose()
    assert "0 extraction process(es) each" in daemon.log
    assert runs[0].items == 24
    # every page was prepared in the crawl process: it started no extraction processes
    assert runs[0].stats.get("radar/prepared_inline") == 24, runs[0].stats
