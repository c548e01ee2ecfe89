"""The daemon's jobs. Each crawl is a child process: Scrapy's reactor cannot restart in-process,
and a crashing, hanging or memory-hungry crawl must not take the daemon down with it.

Jobs sit in a persistent job store, so they are referenced as ``scheduler.jobs:crawl_job`` with
a source name for argument; what they need at run time (config, database, child registry,
metrics, the digest lock) is the :class:`DaemonContext` the running daemon installs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy.orm import Session, sessionmaker

from crawler.config.settings import Settings
from crawler.config.sources import Config
from crawler.config.subscriptions import effective_subscriptions
from crawler.digest.delivery import MAILED, DeliveryResult, deliver
from crawler.errors import brief
from crawler.health.rules import RunStatus
from scheduler import feeds
from scheduler.gate import extraction_workers
from scheduler.launcher import Launcher, LauncherError
from scheduler.metrics import Metrics
from storage import runs
from storage.db import transaction
from storage.locks import DatabaseLock

log = logging.getLogger("radar.jobs")

#: longest a crawl child gets to close cleanly after SIGTERM when it overran its time limit
TERM_GRACE = 10.0


def term_grace(crawl_timeout: float) -> float:
    """Seconds between SIGTERM and SIGKILL for a crawl that overran ``crawl_timeout``: a tenth of
    it, between 1 and :data:`TERM_GRACE` (a hung download would hold Scrapy's clean stop)."""
    return min(TERM_GRACE, max(1.0, crawl_timeout / 10))


class Child(Protocol):
    """A crawl child process: a ``subprocess.Popen``, or a :class:`scheduler.launcher.WarmChild`."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def communicate(self, *, timeout: float | None = None) -> tuple[bytes, Any]: ...

    def kill(self) -> None: ...


class ChildRegistry:
    """The crawl processes now running, so shutdown can stop them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: dict[str, Child] = {}
        self.stopping = False

    def add(self, name: str, proc: Child) -> None:
        with self._lock:
            self._children[name] = proc

    def remove(self, name: str) -> None:
        with self._lock:
            self._children.pop(name, None)

    def running(self) -> dict[str, Child]:
        with self._lock:
            return dict(self._children)

    def stop_all(self, grace: float) -> None:
        """SIGTERM every child (Scrapy then stops taking requests, finishes those in flight and
        records the run as interrupted), SIGKILL what is left after ``grace`` seconds."""
        self.stopping = True
        children = self.running()
        for proc in children.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _signal_group(proc: Child, signum: int) -> None:
    """Signal the child's process group (it has one of its own: a new session when started as a
    new process, a new group when forked by the launcher), its extraction workers with it."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


#: Share of the crawl time limit a crawl child waits for another crawl of its source (a manual
#: ``radar crawl``, or the source's crawl when this is its re-check) before it gives up as
#: skipped. Waiting, not skipping at once: a re-check scheduled every day and a crawl every hour
#: fall due at the same moment each day, and a re-check that always lost would never run.
LOCK_WAIT_SHARE = 0.5


def crawl_args(source: str, config_path: Path | None, memory_mb: int, run_id: int | None = None,
               recheck: bool = False, wait: float = 0.0) -> list[str]:
    """The ``radar`` arguments of a crawl child (it limits its own memory: setting limits
    between fork and exec is unsafe in a threaded parent)."""
    cmd = []
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    cmd += ["crawl", "--quiet", "--memory-mb", str(memory_mb), "--watch-parent"]
    if wait > 0:
        cmd += ["--wait", f"{wait:g}"]
    if run_id is not None:
        cmd += ["--run-id", str(run_id)]
    if recheck:
        cmd.append("--recheck")
    return [*cmd, source]


def cold_command(args: list[str]) -> list[str]:
    """The command line of ``radar <args>`` started cold: a new Python process."""
    return [sys.executable, "-m", "crawler.cli", *args]


_COLD_REASONS: set[str] = set()  # why crawls started cold, as logged


def start_child(args: list[str], env: dict[str, str], launcher: Launcher | None = None) -> Child:
    """Start ``radar <args>``: forked warm by ``launcher`` when there is one that works, else as
    a new process. Either way in a process group of its own, stdout and stderr on one pipe."""
    if launcher is not None:
        try:
            return launcher.spawn(args, env)
        except LauncherError as exc:
            # a launcher that cannot start says so at every spawn: once in the log is enough
            reason = str(exc)
            log.log(logging.DEBUG if reason in _COLD_REASONS else logging.WARNING,
                    "starting the crawl as a new process: %s", reason)
            _COLD_REASONS.add(reason)
    return subprocess.Popen(cold_command(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


#: how running out of address space shows in a Python process's output: Python's own error, the
#: C library's, a shared library (numpy's OpenBLAS for one) that cannot be mapped, OpenSSL's, and
#: CPython's complaint about C code that failed without raising, which is what an allocation
#: failing deep in an extension (or in click's main) looks like under the crawl's memory limit,
#: and a thread whose stack cannot be mapped
_OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "failed to map segment from shared object",
                  "malloc failure", "returned NULL without setting an exception",
                  "error return without exception set", "can't start new thread")


def failure_reason(exit_code: int, output: str, memory_mb: int) -> str:
    """Why a crawl child that did not close its run ended: signal, memory limit or exit code."""
    out_of_memory = any(sign in output for sign in _OUT_OF_MEMORY)
    if exit_code < 0:
        if exit_code == -signal.SIGABRT and out_of_memory:
            # CPython aborts when it runs out again while handling running out ("Fatal Python
            # error: _PyErr_NormalizeException: Cannot recover from MemoryErrors ...", seen at 60 MiB)
            return f"memory limit: ran out of its {memory_mb} MiB"
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"crashed: killed by {name}"
    if out_of_memory:
        return f"memory limit: ran out of its {memory_mb} MiB"
    last = next((line.strip() for line in reversed(output.strip().splitlines()) if line.strip()), "")
    return f"crashed: exit code {exit_code}" + (f": {last[:150]}" if last else "")


def _kept(output: str, head: int = 1000, tail: int = 3000) -> str:
    """What of a crawl child's output goes on record: its end (the traceback, the last log
    lines) and its beginning, where a fatal error names itself before the stacks it dumps."""
    if len(output) <= head + tail:
        return output
    return f"{output[:head]}\n[… {len(output) - head - tail} characters …]\n{output[-tail:]}"


@dataclass
class CrawlResult:
    """How one crawl child ended, as recorded in its crawl_runs row."""

    source: str
    run_id: int
    exit_code: int
    status: RunStatus
    reason: str
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    new_events: int = 0
    output: str = ""


def run_crawl(source: str, config_path: Path | None, settings: Settings, children: ChildRegistry,
              factory: sessionmaker[Session], *, recheck: bool = False,
              launcher: Launcher | None = None, run_id: int | None = None,
              crawls_at_once: int = 1) -> CrawlResult:
    """Crawl ``source`` in a child process within the time and memory limits (forked by
    ``launcher`` when given: see :func:`start_child`), with the extraction processes of one of
    ``crawls_at_once`` crawls (:func:`scheduler.gate.extraction_workers`).

    The crawl_runs row is opened here, before the child starts, and the child fills it in; when
    the child cannot (it crashed, ran out of memory, hung and was killed) this closes it with
    the reason, so every run is on record however it ended. ``run_id``: a ``running`` row
    opened already (a queued crawl a worker took).
    """
    started = time.monotonic()
    if run_id is None:
        with transaction(factory) as session:
            run_id = runs.open_run(session, source, datetime.now(UTC))
    env = dict(os.environ, RADAR_DATABASE_URL=settings.database_url,
               RADAR_WORKERS=str(extraction_workers(settings.workers, crawls_at_once)))
    try:
        proc = start_child(crawl_args(source, config_path, settings.crawl_memory_mb, run_id, recheck,
                                      wait=settings.crawl_timeout * LOCK_WAIT_SHARE), env, launcher)
    except OSError as exc:  # no process at all (fork failed, interpreter gone): still on record
        with transaction(factory) as session:
            runs.close_run(session, run_id, status="failed", reason=f"could not start: {exc}"[:200],
                           now=datetime.now(UTC), exit_code=None)
        return CrawlResult(source, run_id, -1, "failed", f"could not start: {exc}", time.monotonic() - started)
    child = f"recheck:{source}" if recheck else source
    children.add(child, proc)
    overran = False
    try:
        try:
            raw, _ = proc.communicate(timeout=settings.crawl_timeout)
        except subprocess.TimeoutExpired:
            overran = True
            _signal_group(proc, signal.SIGTERM)
            try:
                raw, _ = proc.communicate(timeout=term_grace(settings.crawl_timeout))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                raw, _ = proc.communicate()
    finally:
        children.remove(child)
    code = proc.wait()  # known by now: communicate() waited for it
    output = _kept(raw.decode("utf-8", "replace")) if raw else ""
    status: RunStatus
    if overran:
        status, reason, force = "killed", f"time limit: killed after {settings.crawl_timeout}s", True
    elif children.stopping:
        status, reason, force = "interrupted", "daemon shutdown", False
    else:
        status, reason, force = "failed", failure_reason(code, output, settings.crawl_memory_mb), False
    with transaction(factory) as session:
        row = runs.close_run(session, run_id, status=status, reason=reason, now=datetime.now(UTC), exit_code=code,
                             # kept only when this closes the run: the child did not give its own account
                             error=output if code != 0 else "", force=force)
        assert row is not None
        counts = {name: int(getattr(row, name)) for name in runs.COUNTERS}
        result = CrawlResult(source, run_id, code, cast(RunStatus, row.status), row.finish_reason,
                             time.monotonic() - started, counts, int((row.stats or {}).get("radar/events_new", 0)),
                             output)
    return result


# --------------------------------------------------------------------------- the running daemon


@dataclass
class DaemonContext:
    """What jobs need from the running daemon. ``config`` is replaced on reload."""

    config: Config
    factory: sessionmaker[Session]
    children: ChildRegistry
    delivery_lock: DatabaseLock
    metrics: Metrics | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    launcher: Launcher | None = None  # forks crawls warm (``warm_crawls``); None: new processes
    crawls_at_once: int = 1  # the crawl gate's limit
    #: ``executor: queue``: puts a crawl on its queue for a worker (context, job, source,
    #: recheck, scheduled) and returns the job's outcome fields; None: crawls run here
    dispatch: Callable[[DaemonContext, str, str, bool, datetime], dict[str, Any]] | None = None


_context: DaemonContext | None = None


def install(ctx: DaemonContext | None) -> None:
    """Make ``ctx`` the context of the jobs of this process (None: uninstall)."""
    global _context
    _context = ctx


def context() -> DaemonContext:
    """The running daemon's context."""
    if _context is None:
        raise RuntimeError("no daemon is running in this process")
    return _context


def _outcome(job: str, started: datetime, **fields: Any) -> dict[str, Any]:
    return {"job": job, "started": started, **fields}


def _mail(ctx: DaemonContext, frequencies: Collection[str], retry: str) -> list[DeliveryResult]:
    results = deliver(ctx.factory, ctx.config, frequencies=frequencies, retry=retry, lock=ctx.delivery_lock,
                      require_subscriptions=False)
    if ctx.metrics is not None:
        for r in results:
            if r.status in MAILED:
                ctx.metrics.digests.labels(r.status).inc()
    for r in results:
        if r.status == "failed":
            log.warning("digest %s to %s not sent, will retry: %s", r.key, r.recipient, r.error)
    return results


def _mail_fields(results: list[DeliveryResult]) -> dict[str, int]:
    return {name: sum(1 for r in results if r.status == name) for name in MAILED}


def crawl_job(source: str) -> dict[str, Any]:
    """Scheduled crawl of ``source``; then the immediate subscriptions, when it found events."""
    return _crawl_source("crawl", source, recheck=False)


def recheck_job(source: str) -> dict[str, Any]:
    """Scheduled re-check of ``source``'s recent articles for revisions (its ``recheck`` key)."""
    return _crawl_source("recheck", source, recheck=True)


def _crawl_source(job: str, source: str, *, recheck: bool) -> dict[str, Any]:
    started = datetime.now(UTC)
    ctx = context()
    if ctx.stopping.is_set():
        return _outcome(job, started, source=source, outcome="skipped", reason="shutting down")
    cfg = ctx.config
    configured = cfg.sources.get(source)
    if configured is None or not configured.enabled or (recheck and configured.recheck is None):
        return _outcome(job, started, source=source, outcome="skipped", reason="no longer configured")
    if ctx.dispatch is not None:
        return _outcome(job, started, **ctx.dispatch(ctx, job, source, recheck, started))
    result = run_crawl(source, cfg.path, cfg.settings, ctx.children, ctx.factory, recheck=recheck,
                       launcher=ctx.launcher, crawls_at_once=ctx.crawls_at_once)
    fields = _outcome(job, started, source=source, outcome=result.status, run=result.run_id,
                      exit=result.exit_code, seconds=result.seconds, pages=result.counts.get("pages", 0),
                      items=result.counts.get("items", 0), new=result.counts.get("new", 0),
                      errors=result.counts.get("errors", 0), events=result.new_events,
                      reason=result.reason if result.status != "finished" else None)
    fields.update(_write_feeds(ctx))
    if recheck:  # crawl metrics and immediate mail follow the source's regular crawls
        return fields
    if ctx.metrics is not None:
        ctx.metrics.crawl_done(source, result.status, result.seconds, result.counts, time.time())
    immediate = any(s.frequency == "immediate" for s in effective_subscriptions(cfg.settings, cfg.subscriptions))
    if result.new_events and immediate and not ctx.stopping.is_set():
        fields.update(_mail_fields(_mail(ctx, ("immediate",), "none")))
    return fields


def _write_feeds(ctx: DaemonContext) -> dict[str, int]:
    """Rewrite the subscriptions' feed files (``feeds_dir``); a failure is logged, and the job's
    outcome stands (the next crawl writes them again)."""
    if not ctx.config.settings.feeds_dir:
        return {}
    try:
        return {"feeds": len(feeds.write_feeds(ctx.factory, ctx.config))}
    except Exception as exc:  # a full disk, a directory we may not write, the database away
        log.warning("feeds not written to %s: %s", feeds.feeds_dir(ctx.config.settings), brief(exc))
        return {}


def digest_job() -> dict[str, Any]:
    """Scheduled digest: daily and weekly subscriptions whose period is due, and due retries."""
    started = datetime.now(UTC)
    ctx = context()
    if ctx.stopping.is_set():
        return _outcome("digest", started, outcome="skipped", reason="shutting down")
    results = _mail(ctx, ("daily", "weekly"), "due")
    return _outcome("digest", started, outcome="done", **_mail_fields(results),
                    nothing=sum(1 for r in results if r.status in ("nothing", "exists", "not-due")))


def outbox_job() -> dict[str, Any]:
    """Frequent: due retries of unsent digests, and the immediate subscriptions."""
    started = datetime.now(UTC)
    ctx = context()
    if ctx.stopping.is_set():
        return _outcome("outbox", started, outcome="skipped", reason="shutting down")
    results = _mail(ctx, ("immediate",), "due")
    # executor: queue: workers run the crawls, so the feeds follow the outbox's runs instead
    written = _write_feeds(ctx) if ctx.dispatch is not None else {}
    return _outcome("outbox", started, outcome="done", **_mail_fields(results), **written)
