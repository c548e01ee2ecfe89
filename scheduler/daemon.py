"""``radar daemon``: crawl each source on its schedule and mail digests on theirs, until SIGTERM.

Pitfalls avoided on purpose:

- the timezone is explicit (jobs ran 8 h off elsewhere when it was implicit);
- late runs are never dropped (``misfire_grace_time=None`` instead of APScheduler's 1 s
  default) but coalesced into one, and jobs live in a persistent store in the database, so a
  run missed while the daemon was down happens once when it is back;
- a source never has two crawls at once (``max_instances=1``);
- one daemon per database (``storage.locks``): a second one refuses to start, so nothing is
  crawled or mailed twice by two schedulers;
- every crawl is a child process with a time and a memory limit (``scheduler.jobs``), forked
  from a process that has loaded Scrapy once (``scheduler.launcher``);
- at most ``max_concurrent_crawls`` crawls at once, one per host, the most overdue first
  (``scheduler.gate``), on threads that do not grow with the number of sources; each source's
  runs start a fixed ``schedule_jitter`` delay after their time (``scheduler.plan``);
- SIGTERM/SIGINT: no new work, running crawls get ``shutdown_grace`` seconds, exit 0;
  SIGHUP or an edited config file: sources and subscriptions reloaded without a restart.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    SchedulerEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from crawler.config.sources import Config, load_config
from crawler.errors import RadarError, brief
from crawler.health.rules import alerts_of
from scheduler import feeds, jobs
from scheduler.engine import QuietScheduler, RadarScheduler, report_job_event
from scheduler.gate import CrawlGate, GatedExecutor, default_limit, extraction_workers, give_back, hosts_of
from scheduler.launcher import Launcher, LauncherError, supported
from scheduler.metrics import Metrics
from scheduler.plan import JobSpec, desired_jobs, reconcile
from storage import outbox, runs
from storage.db import describe, make_engine, open_database, transaction
from storage.locks import DatabaseLock

log = logging.getLogger("radar.daemon")
HEARTBEAT_SECONDS = 15.0
HEALTH_SECONDS = 60.0
#: threads for the jobs that are not crawls (digest, outbox)
OTHER_JOB_THREADS = 4
CRAWLS = "crawls"  # the executor crawl and re-check jobs run on
CONFIG_POLL_SECONDS = 2.0
#: ``executor: queue``: how often crawls the broker did not take are sent again
UNSENT_SECONDS = 5.0


class DaemonAlreadyRunning(RadarError):
    """Another daemon holds this database's daemon lock."""


class Daemon:
    """Owns the scheduler, the crawl child processes, the daemon lock and the metrics server."""

    def __init__(self, config: Config, *, shutdown_grace: float = 30.0, metrics_port: int = 0,
                 metrics_host: str = "127.0.0.1") -> None:
        self.config = config
        self.config_path: Path | None = config.path.resolve() if config.path else None
        self.shutdown_grace = shutdown_grace
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.exit_code = 0
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._config_mtime = self._mtime()
        self.pid = os.getpid()
        self.lock = DatabaseLock(config.settings.database_url, "daemon")
        self.scheduler: RadarScheduler | None = None
        self.ctx: jobs.DaemonContext | None = None
        self.gate: CrawlGate | None = None

    # ------------------------------------------------------------------ lifecycle

    def acquire_lock(self) -> None:
        """Take the daemon lock or raise :class:`DaemonAlreadyRunning` naming the holder."""
        if self.lock.acquire():
            return
        holder = ""
        try:
            engine, factory = open_database(self.config.settings.database_url, migrate_schema=False)
            try:
                with factory() as session:
                    row = runs.daemon_status(session)
                    if row is not None:
                        tz = self.config.settings.tz
                        holder = (f" (pid {row.pid} on {row.host}, running since "
                                  f"{row.started_at.astimezone(tz):%Y-%m-%d %H:%M}, last heartbeat "
                                  f"{row.heartbeat_at.astimezone(tz):%H:%M:%S})")
            finally:
                engine.dispose()
        except Exception:  # the message is a courtesy; the refusal is what matters
            pass
        self.lock.close()
        raise DaemonAlreadyRunning(
            f"another radar daemon is already running on {describe(self.config.settings.database_url)}{holder}; "
            f"only one may run per database ({self.lock.describe()}). Stop it first, or use another database.")

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal handler: stop taking new work; ``run`` then winds down."""
        if signum is not None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
        self._stop.set()

    def request_reload(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """SIGHUP handler: reload the config at the next tick."""
        self._reload.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code (0 on a clean stop)."""
        self.acquire_lock()
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGHUP, self.request_reload)
        settings = self.config.settings
        dispatch = self._queue_dispatch()
        engine, factory = open_database(settings.database_url)  # migrated once, before any child starts
        metrics = Metrics()
        metrics.started.set(time.time())
        children = jobs.ChildRegistry()
        metrics.track_children(lambda: len(children.running()))
        self.ctx = jobs.DaemonContext(config=self.config, factory=factory, children=children,
                                      delivery_lock=DatabaseLock(settings.database_url, "digest"), metrics=metrics,
                                      dispatch=dispatch)
        now = datetime.now(UTC)
        with transaction(factory) as session:
            runs.daemon_started(session, pid=self.pid, host=socket.gethostname(), now=now,
                                lock=self.lock.describe(), config_path=str(self.config_path or ""))
            abandoned = runs.abandon_stale_runs(session, started_before=self._stale_before(now), now=now)
        if abandoned:
            log.warning("closed %d crawl run(s) left open by a process that died", abandoned)
        if self.metrics_port:
            try:
                metrics.serve(self.metrics_port, self.metrics_host, {feeds.PREFIX: feeds.app(lambda: self.config)})
            except OSError as exc:
                self.lock.close()
                raise RadarError(f"cannot serve metrics on {self.metrics_host}:{self.metrics_port}: {exc}") from None
            log.info("metrics on http://%s:%d/metrics", self.metrics_host, self.metrics_port)
        jobs.install(self.ctx)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("apscheduler.scheduler").addFilter(QuietScheduler())
        for executor in ("default", CRAWLS):
            logging.getLogger(f"apscheduler.executors.{executor}").addFilter(QuietScheduler())
        self.scheduler = RadarScheduler(
            timezone=settings.timezone,
            jobstores={"default": SQLAlchemyJobStore(engine=make_engine(settings.database_url))},
            executors={"default": ThreadPoolExecutor(max_workers=OTHER_JOB_THREADS),
                       CRAWLS: GatedExecutor(self._start_gate(), self._hosts_of_job)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES
                                    | EVENT_JOB_MISSED)
        try:
            self.ctx.launcher = self._start_launcher()
            self.scheduler.start(paused=True)
            self.apply(desired_jobs(self.config))
            # the outbox runs at once on every start: digests a crash left unsent go out now
            self.scheduler.modify_job("outbox", next_run_time=datetime.now(UTC))
            self.scheduler.resume()
            jobs_text = ", ".join(f"{j.id} ({j.trigger})" for j in self.scheduler.get_jobs())
            log.info("daemon started, pid %d, timezone %s; jobs: %s", self.pid, settings.timezone, jobs_text)
            self._loop()
        finally:
            self._shutdown(engine)
        return self.exit_code

    def _start_gate(self) -> CrawlGate:
        settings = self.config.settings
        limit = settings.max_concurrent_crawls or default_limit()
        self.gate = CrawlGate(limit)
        if self.ctx is not None:
            self.ctx.crawls_at_once = limit
            if self.ctx.metrics is not None:
                self.ctx.metrics.track_waiting(self.gate.waiting)
        log.info("at most %d crawl(s) at once%s, one per host, %d extraction process(es) each; schedule jitter up "
                 "to %d s", limit, "" if settings.max_concurrent_crawls else " (from CPUs and memory)",
                 extraction_workers(settings.workers, limit), settings.schedule_jitter)
        return self.gate

    def _hosts_of_job(self, job: Any) -> frozenset[str]:
        """The hosts a crawl job fetches from: its source's start URLs' (none for a source gone)."""
        assert self.ctx is not None
        source = self.ctx.config.sources.get(str(job.args[0])) if job.args else None
        return hosts_of(source.start_urls) if source is not None else frozenset()

    def _requeue_waiting(self) -> None:
        if self.gate is not None and self.scheduler is not None:
            give_back(self.scheduler, self.gate.close(wait=False))

    def _queue_dispatch(self) -> Any:
        """``executor: queue``: the function that puts a due crawl on its queue (PostgreSQL only)."""
        settings = self.config.settings
        if settings.executor != "queue":
            return None
        from scheduler import queue  # Celery is loaded only by a daemon that uses it

        try:
            queue.require_shared_database(settings)
        except RadarError:
            self.lock.close()
            raise
        log.info("crawls go to the queue at %s (default queue %s) for radar workers",
                 queue.hide_password(settings.broker_url), settings.crawl_queue)
        return queue.queue_tick

    def _start_launcher(self) -> Launcher | None:
        """The process crawls are forked from (``warm_crawls``), loaded before the first crawl."""
        if not self.config.settings.warm_crawls or self.config.settings.executor == "queue":
            return None
        if not supported():
            log.info("warm crawls need Linux; each crawl starts a new process")
            return None
        launcher = Launcher()
        started = time.monotonic()
        try:
            launcher.start()
        except LauncherError as exc:
            log.warning("each crawl starts a new process: %s", exc)
            return None
        log.info("crawl launcher ready in %.1f s", time.monotonic() - started)
        return launcher

    def _stale_before(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.config.settings.crawl_timeout + jobs.TERM_GRACE + self.shutdown_grace
                               + 60)

    def _loop(self) -> None:
        assert self.ctx is not None
        next_beat = next_health = next_poll = next_send = 0.0
        seen_mtime = self._config_mtime
        while not self._stop.wait(0.5):
            now = time.monotonic()
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            elif now >= next_poll:
                next_poll = now + CONFIG_POLL_SECONDS
                # an editor saving the file truncates, then writes: reload only once the file has
                # stopped changing for a poll interval, never in between
                mtime = self._mtime()
                if mtime != self._config_mtime and mtime == seen_mtime:
                    self.reload()
                seen_mtime = mtime
            if now >= next_beat:
                next_beat = now + HEARTBEAT_SECONDS
                self._heartbeat()
            report = now >= next_health
            if report:
                next_health = now + HEALTH_SECONDS
                self._refresh_health()
            if self.ctx.dispatch is not None and (report or now >= next_send):  # executor: queue
                next_send = now + UNSENT_SECONDS
                from scheduler import queue

                queue.tend(self.ctx, report=report)

    def _heartbeat(self) -> None:
        assert self.ctx is not None
        held = self.lock.keep()
        if held is False:
            log.error("lost the daemon lock (%s) and another process holds it now: stopping", self.lock.describe())
            self.exit_code = 1
            self._stop.set()
            return
        try:
            now = datetime.now(UTC)
            with transaction(self.ctx.factory) as session:
                runs.daemon_heartbeat(session, pid=self.pid, now=now)
                runs.abandon_stale_runs(session, started_before=self._stale_before(now), now=now)
        except Exception as exc:  # the database may be down for a while; jobs report their own errors
            log.warning("heartbeat failed: %s", brief(exc))

    def _refresh_health(self) -> None:
        assert self.ctx is not None and self.ctx.metrics is not None
        try:
            cfg = self.ctx.config
            with self.ctx.factory() as session:
                alerts = alerts_of(runs.histories(session, cfg.select(), runs=cfg.settings.health_history),
                                   cfg.settings, datetime.now(UTC))
                pending = len(outbox.pending_digests(session))
            self.ctx.metrics.set_health([s.name for s in cfg.select()], alerts)
            self.ctx.metrics.outbox_pending.set(pending)
        except Exception as exc:
            log.warning("health refresh failed: %s", brief(exc))

    def _shutdown(self, engine: Any) -> None:
        if self.ctx is not None:
            self.ctx.stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        self._requeue_waiting()
        if self.ctx is not None:
            running = list(self.ctx.children.running())
            if running:
                log.info("stopping %d running crawl(s) (%s); they get %.0f s to finish", len(running),
                         ", ".join(running), self.shutdown_grace)
            self.ctx.children.stop_all(self.shutdown_grace)
            if self.ctx.launcher is not None:
                self.ctx.launcher.close()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.ctx is not None:
            try:
                with transaction(self.ctx.factory) as session:
                    runs.daemon_stopped(session, pid=self.pid, now=datetime.now(UTC))
            except Exception as exc:
                log.warning("could not record the stop: %s", exc)
            if self.ctx.metrics is not None:
                self.ctx.metrics.close()
            self.ctx.delivery_lock.close()
        jobs.install(None)
        engine.dispose()
        self.lock.close()
        log.info("daemon stopped")

    # ------------------------------------------------------------------ jobs and config

    def apply(self, desired: dict[str, JobSpec]) -> str:
        """Reconcile the stored jobs with ``desired``: add new ones, replace changed ones, remove
        deleted ones; unchanged jobs keep their next run time (so missed runs are caught up)."""
        assert self.scheduler is not None
        stored_jobs = self.scheduler.get_jobs()
        stored = {job.id: job.name for job in stored_jobs}
        plan = reconcile(stored, desired)
        for job in stored_jobs:  # jobs stored before the crawl gate ran on the default executor
            if job.id in plan.keep and job.executor != self._executor(desired[job.id]):
                self.scheduler.modify_job(job.id, executor=self._executor(desired[job.id]))
        for job_id in plan.remove + plan.replace:
            self.scheduler.remove_job(job_id)
        now = datetime.now(UTC)
        for job_id in plan.add + plan.replace:
            spec = desired[job_id]
            extra: dict[str, Any] = {}
            if spec.start_now and job_id in plan.add:
                extra["next_run_time"] = now
            self.scheduler.add_job(spec.func, spec.trigger(), args=spec.args, id=spec.id, name=spec.fingerprint,
                                   replace_existing=True, coalesce=True, max_instances=1,
                                   misfire_grace_time=None, executor=self._executor(spec), **extra)
        return plan.describe()

    @staticmethod
    def _executor(spec: JobSpec) -> str:
        return CRAWLS if spec.crawls else "default"

    def _mtime(self) -> int:
        try:
            return self.config_path.stat().st_mtime_ns if self.config_path else 0
        except OSError:
            return 0

    def reload(self) -> None:
        """Re-read the config file; apply new, changed and removed sources and subscriptions. A
        config that does not load leaves the running one in place."""
        assert self.ctx is not None
        self._config_mtime = self._mtime()
        try:
            new = load_config(self.config_path) if self.config_path else self.config
        except RadarError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            return
        if not new.select():
            log.error("config reload refused, keeping the running config: %s has no enabled sources",
                      self.config_path)
            return
        old_url = self.config.settings.database_url
        if new.settings.database_url != old_url:
            log.warning("database_url changed: restart the daemon to switch databases; still using %s",
                        describe(old_url))
            new = Config(settings=new.settings.with_database(old_url), sources=new.sources, path=new.path,
                         subscriptions=new.subscriptions)
        try:
            changes = self.apply(desired_jobs(new))
        except Exception as exc:  # the job store is in the database, which may be full or away
            log.error("config reload could not update the scheduled jobs, keeping the running config; "
                      "trying again in %.0f s: %s", CONFIG_POLL_SECONDS, brief(exc))
            self._config_mtime = 0  # differs from the file's: the config poll reloads again
            return
        self.config = new
        self.ctx.config = new
        log.info("config reloaded from %s: %s", self.config_path, changes or "no job changes")

    def _on_event(self, event: SchedulerEvent) -> None:
        """One structured log line per job run (and per skipped run), plus metrics."""
        report_job_event(event, self.ctx.metrics if self.ctx is not None else None)
