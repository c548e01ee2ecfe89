"""How many crawls the daemon runs at once, and which waiting one starts next.

The daemon used to hand every due crawl to a thread of its own, and so started them all at
once: 60 sources on one schedule were 60 crawl processes on 2 CPUs, each taking many times as
long as alone. The :class:`CrawlGate` runs at most ``limit`` crawls at once on ``limit``
threads of its own (threads do not grow with the number of sources); the crawls due beyond that
wait, none dropped, and the most late starts first. Sources that share a host run one at a
time: Scrapy's per-domain politeness holds only inside one crawl process, so two sources on
one site crawled together would double the request rate on it.

:class:`GatedExecutor` is the APScheduler executor in front of the gate. A waiting crawl counts
as a running instance of its job, so a tick that falls due while it waits is coalesced into it,
as a tick that falls due while it runs is.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from apscheduler.executors.base import BaseExecutor, run_job

from crawler.errors import brief

log = logging.getLogger("radar.daemon")

#: what one crawl process is reckoned to need, for the default limit: a crawl forked warm peaks
#: well under it (docs/benchmarks.md, *Scale*), which leaves room for larger pages
CRAWL_MEMORY_MIB = 256
#: crawls at once per CPU at most, by default: a crawl spends most of its life waiting on sites
#: (politeness, latency) and keeps a CPU busy about a tenth of it, so this many keep the CPUs
#: short of full with room for the daemon, the database and the extraction
CRAWLS_PER_CPU = 8
#: crawls at once at most, by default, however large the machine: each holds up to three
#: database connections (PostgreSQL allows 100 by default) and a thread of the daemon
MAX_DEFAULT_LIMIT = 24


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_limit(cpus: int | None = None, available_mib: int | None = None) -> int:
    """Crawls at once when ``max_concurrent_crawls`` is 0. Crawls wait on the network, so what
    bounds them is memory: as many as the available memory holds at :data:`CRAWL_MEMORY_MIB`
    each, at most :data:`CRAWLS_PER_CPU` per CPU and :data:`MAX_DEFAULT_LIMIT`, at least one.
    Memory unknown (not Linux): the CPU bound."""
    cpus = cpus if cpus is not None else _cpus()
    if available_mib is None:
        available_mib = _available_mib()
    ceiling = min(CRAWLS_PER_CPU * cpus, MAX_DEFAULT_LIMIT)
    by_memory = available_mib // CRAWL_MEMORY_MIB if available_mib else ceiling
    return max(1, min(ceiling, by_memory))


def extraction_workers(configured: int, crawls_at_once: int, cpus: int | None = None) -> int:
    """The extraction processes each crawl of a daemon or worker running up to ``crawls_at_once``
    crawls starts: ``configured`` (the ``workers`` setting) unless it is -1, the default. Then
    a share of the CPUs when fewer crawls than CPUs run at once (at most four), else none: crawls
    that share the CPUs gain nothing from processes of their own, and each would fork them."""
    if configured >= 0:
        return configured
    cpus = cpus if cpus is not None else _cpus()
    return min(4, cpus // max(1, crawls_at_once)) if crawls_at_once < cpus else 0


def _available_mib() -> int:
    """MemAvailable from /proc/meminfo; 0 where there is none (not Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def hosts_of(urls: Iterable[str]) -> frozenset[str]:
    """The host names ``urls`` are on (lower case, without port): what politeness is kept per."""
    out = set()
    for url in urls:
        host = urlsplit(url).hostname
        if host:
            out.add(host)
    return frozenset(out)


@dataclass(order=True)
class Ticket:
    """A crawl waiting for its turn: ordered by when it was due, then by when it came."""

    due: datetime
    seq: int
    key: str = field(compare=False)
    hosts: frozenset[str] = field(compare=False)
    run: Callable[[], None] = field(compare=False, repr=False)


class CrawlGate:
    """Runs submitted crawls on ``limit`` threads: at most ``limit`` at once, never two on one
    host at once, the earliest due first among those whose hosts are free."""

    def __init__(self, limit: int, name: str = "crawl") -> None:
        if limit < 1:
            raise ValueError("a crawl gate needs a limit of at least 1")
        self.limit = limit
        self._cond = threading.Condition()
        self._waiting: list[Ticket] = []
        self._busy_hosts: set[str] = set()
        self._running: dict[str, Ticket] = {}
        self._closed = False
        self._seq = itertools.count()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(limit)]
        for thread in self._threads:
            thread.start()

    def submit(self, key: str, due: datetime, hosts: frozenset[str], run: Callable[[], None]) -> None:
        """Queue ``run`` (which must not raise) to start when a slot and its hosts are free."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the crawl gate is closed")
            self._waiting.append(Ticket(due, next(self._seq), key, hosts, run))
            self._waiting.sort()
            self._cond.notify_all()

    def waiting(self) -> int:
        """Crawls submitted and not started yet."""
        with self._cond:
            return len(self._waiting)

    def running(self) -> list[str]:
        """Keys of the crawls running now."""
        with self._cond:
            return list(self._running)

    def _take(self) -> Ticket | None:
        with self._cond:
            while True:
                if self._closed:
                    return None
                for i, ticket in enumerate(self._waiting):
                    if not ticket.hosts & self._busy_hosts:
                        del self._waiting[i]
                        self._busy_hosts |= ticket.hosts
                        self._running[f"{ticket.key}#{ticket.seq}"] = ticket
                        return ticket
                self._cond.wait()

    def _work(self) -> None:
        while (ticket := self._take()) is not None:
            try:
                ticket.run()
            except Exception:  # run() reports its own errors; a slot must never be lost
                log.exception("crawl %s failed in the gate", ticket.key)
            finally:
                with self._cond:
                    self._busy_hosts -= ticket.hosts
                    self._running.pop(f"{ticket.key}#{ticket.seq}", None)
                    self._cond.notify_all()

    def close(self, wait: bool = True) -> list[Ticket]:
        """Start nothing more; return the crawls that were still waiting (the earliest due first)
        and, with ``wait``, return only once the running ones have finished."""
        with self._cond:
            self._closed = True
            left, self._waiting = self._waiting, []
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()
        return left


class GatedExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 is untyped
    """An APScheduler executor that runs jobs through a :class:`CrawlGate`; ``hosts`` names the
    hosts a job's crawl fetches from."""

    def __init__(self, gate: CrawlGate, hosts: Callable[[Any], frozenset[str]]) -> None:
        super().__init__()
        self.gate = gate
        self._hosts = hosts
        self.left: list[Ticket] = []  # what was still waiting at shutdown

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def run() -> None:
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException:
                _, exc, tb = sys.exc_info()
                self._run_job_error(job.id, exc, tb)
            else:
                self._run_job_success(job.id, events)

        try:
            hosts = self._hosts(job)
        except Exception:  # an unknown source: it is skipped when it runs, on no host
            hosts = frozenset()
        self.gate.submit(job.id, run_times[-1], hosts, run)

    def shutdown(self, wait: bool = True) -> None:
        self.left += self.gate.close(wait)


def give_back(scheduler: Any, left: list[Ticket]) -> None:
    """Crawls still waiting for a slot at shutdown never ran: their jobs fall due again at
    their scheduled time, so the next start catches each up once."""
    for ticket in left:
        try:
            job = scheduler.get_job(ticket.key)
            if job is not None and (job.next_run_time is None or ticket.due < job.next_run_time):
                scheduler.modify_job(ticket.key, next_run_time=ticket.due)
        except Exception as exc:  # the job store may be away; the run is then lost, and said so
            log.warning("could not keep the waiting crawl %s for the next start: %s", ticket.key, brief(exc))
    if left:
        log.info("%d crawl(s) still waiting for a slot will run at the next start", len(left))
