"""Crawls on other machines: the daemon puts each due crawl on a Celery queue (``executor:
queue``), and ``radar worker`` processes on any machine take them and run them against the same
PostgreSQL database.

Why Celery, on RabbitMQ: it is the task queue the operators already know (``celery inspect``,
Flower), it routes by queue name natively, and on RabbitMQ a message a worker took is given
back by the broker the moment that worker's connection drops. Tasks are acknowledged late
(after the crawl) and rejected when the worker process is lost, so a worker killed mid-crawl
has its crawl redelivered to another: at least once. The per-source crawl lock (PostgreSQL
advisory lock, taken by the crawl process) keeps a redelivered or a doubly scheduled crawl
from running while another crawl of the source does: never twice at the same time. Redis works
too, where the redelivery waits for its visibility timeout (set above ``crawl_timeout``).

The routing: a source tagged ``queue:NAME`` goes to queue NAME, the others to ``crawl_queue``;
``radar worker --queue NAME`` takes only the crawls of the queues it names.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celery import Celery, current_task
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crawler.config.settings import Settings
from crawler.config.sources import Config, Source
from crawler.errors import ConfigError, brief
from scheduler.jobs import ChildRegistry, DaemonContext, run_crawl
from scheduler.launcher import Launcher, LauncherError, supported
from scheduler.metrics import Metrics, logfmt
from storage import runs
from storage.db import transaction

log = logging.getLogger("radar.worker")

TASK = "radar.crawl"
QUEUE_TAG = "queue:"
#: Redis only: how long past ``crawl_timeout`` a taken crawl stays invisible before the broker
#: hands it to another worker (RabbitMQ gives it back as soon as the worker's connection drops)
VISIBILITY_MARGIN = 600


def hide_password(url: str) -> str:
    """``amqp://user:***@host//``: a broker URL fit for a log line."""
    return re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:***@", url)


def require_shared_database(settings: Settings) -> None:
    """Refuse a database that workers on other machines cannot reach: a SQLite file."""
    backend = make_url(settings.database_url).get_backend_name()
    if backend == "sqlite":
        raise ConfigError(
            "executor: queue runs crawls on workers that may be on other machines, and they cannot share a "
            f"SQLite file ({settings.database_url}); use a PostgreSQL database_url, or executor: local")


def queue_of(source: Source, settings: Settings) -> str:
    """The queue ``source``'s crawls go to: its ``queue:NAME`` tag, else ``crawl_queue``."""
    for tag in source.tags:
        if tag.startswith(QUEUE_TAG) and tag[len(QUEUE_TAG):]:
            return tag[len(QUEUE_TAG):]
    return settings.crawl_queue


def make_app(settings: Settings) -> Celery:
    """The Celery app on ``broker_url``: late acknowledgement, one message prefetched per worker
    thread, JSON only, no result backend (results are in crawl_runs)."""
    app = Celery("radar", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.crawl_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # confirm_publish: a send returns once RabbitMQ has the message, so a crawl marked sent
        # is on the broker, and one that is not is sent again (send_unsent)
        broker_transport_options={"visibility_timeout": settings.crawl_timeout + VISIBILITY_MARGIN,
                                  "confirm_publish": True},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    app.task(name=TASK, acks_late=True, reject_on_worker_lost=True)(crawl_task)
    return app


# --------------------------------------------------------------------------- the daemon's side


_apps: dict[str, Celery] = {}
_apps_lock = threading.Lock()


def _app(settings: Settings) -> Celery:
    """One Celery app per broker and default queue in this process (it pools its connections)."""
    key = settings.broker_url + "|" + settings.crawl_queue
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            app = _apps[key] = make_app(settings)
        return app


def dispatch(config: Config, source: str, recheck: bool, scheduled: datetime, run_id: int | None = None,
             retries: int = 5) -> str:
    """Put one crawl of ``source`` on its queue (the queued crawl_runs row ``run_id``, when
    there is one); returns the queue's name. Raises when the broker does not take it."""
    settings = config.settings
    app = _app(settings)
    queue = queue_of(config.sources[source], settings)
    app.send_task(TASK, args=(source, recheck, scheduled.isoformat(), run_id), queue=queue,
                  retry=retries > 0, retry_policy={"max_retries": retries, "interval_start": 0.5, "interval_step": 1})
    return queue


#: queued rows being sent by a thread of this process: the tick's and the resend's never both
_sending: set[int] = set()
_sending_lock = threading.Lock()
#: retries of one send (a pooled connection the broker dropped is opened again by the retry)
SEND_RETRIES = 1


def queue_tick(ctx: DaemonContext, job: str, source: str, recheck: bool, scheduled: datetime) -> dict[str, Any]:
    """The daemon's tick of ``source`` with ``executor: queue``: skipped while the source's
    previous crawl is queued or running (coalesced, as a crawl run at home is), else recorded
    as a ``queued`` crawl_runs row and put on the broker. A row the broker does not take now
    stays unsent and :func:`send_unsent` sends it once the broker is back: the tick is kept."""
    with transaction(ctx.factory) as session:
        busy = runs.in_flight(session, source, recheck=recheck)
        run_id = runs.queue_run(session, source, scheduled, recheck=recheck) if busy is None else busy
    if busy is not None:
        return {"source": source, "outcome": "skipped", "reason": "previous run still going", "run": busy}
    sent = _send(ctx.config, ctx.factory, run_id, source, recheck, scheduled, SEND_RETRIES)
    return {"source": source, "outcome": "queued", "queue": queue_of(ctx.config.sources[source], ctx.config.settings),
            "run": run_id, "reason": None if sent else "the broker is away: sent when it is back"}


def send_unsent(config: Config, factory: sessionmaker[Session]) -> int:
    """Send the queued crawls the broker did not take (it was away), oldest first; stop at the
    first it still refuses. Returns how many it sent."""
    with factory() as session:
        unsent = _configured(config, factory, runs.unsent_runs(session))
    sent = 0
    for run_id, source, scheduled, recheck in unsent:
        if not _send(config, factory, run_id, source, recheck, scheduled, SEND_RETRIES):
            break
        sent += 1
    if sent:
        log.info("sent %d queued crawl(s) the broker had not taken", sent)
    return sent


def _send(config: Config, factory: sessionmaker[Session], run_id: int, source: str, recheck: bool,
          scheduled: datetime, retries: int) -> bool:
    """Send the queued row ``run_id`` once, unless another thread is sending it or it was sent."""
    with _sending_lock:
        if run_id in _sending:
            return False
        _sending.add(run_id)
    try:
        with factory() as session:  # sent meanwhile by the other path: not twice
            if run_id not in {r[0] for r in runs.unsent_runs(session)}:
                return True
        try:
            dispatch(config, source, recheck, scheduled, run_id, retries)
        except Exception as exc:
            log.warning("could not queue the crawl of %s (run %d), will send it again: %s", source, run_id,
                        brief(exc))
            return False
        with transaction(factory) as session:
            runs.mark_sent(session, run_id)
        return True
    finally:
        with _sending_lock:
            _sending.discard(run_id)


def _configured(config: Config, factory: sessionmaker[Session],
                rows: list[tuple[int, str, datetime, bool]]) -> list[tuple[int, str, datetime, bool]]:
    """``rows`` of sources still configured; the others' queued rows are closed ``skipped``."""
    kept = []
    for row in rows:
        if row[1] in config.sources:
            kept.append(row)
            continue
        with transaction(factory) as session:
            runs.close_run(session, row[0], status="skipped", reason="no longer configured",
                           now=datetime.now(UTC), exit_code=None, force=True)
    return kept


#: the sent queued rows the previous check found their queue short of (this daemon's checks)
_short: set[int] = set()


def resend_lost(config: Config, factory: sessionmaker[Session]) -> int:
    """Send again the queued crawls whose message the broker no longer holds, so that no
    source's ticks stay skipped behind a ``queued`` row no worker will ever take. Returns how
    many it sent; raises when the broker or the database does not answer.

    A message is lost when the broker loses what it held: a Redis without persistence
    restarted, a queue purged or deleted by hand. Until a worker takes a sent row, its
    message is on its queue, or in the hands of a worker about to take it (tasks are
    acknowledged late and prefetched one per worker thread, so a worker holds no message it is
    not starting). A queue that holds fewer messages than it has sent rows waiting has lost
    the difference: the oldest that many rows are sent again (a broker loses what it held, the
    oldest). A row counts as lost only when two checks in a row found its queue short of it,
    since a message being handed to a worker is on neither side for a moment. A wrong guess
    costs one message more, which the worker skips (its row was taken already), and the queue
    stays short until the lost row is sent again."""
    with factory() as session:
        waiting = _configured(config, factory, runs.sent_runs(session))
    if not waiting:
        _short.clear()
        return 0
    by_queue: dict[str, list[tuple[int, str, datetime, bool]]] = {}
    for row in waiting:
        by_queue.setdefault(queue_of(config.sources[row[1]], config.settings), []).append(row)
    depth = _depths(_app(config.settings), sorted(by_queue))
    short = {row for name, rows in by_queue.items() for row in rows[:max(0, len(rows) - depth[name])]}
    lost = [row for row in short if row[0] in _short]
    _short.clear()
    _short.update(row[0] for row in short if row not in lost)
    for run_id, source, scheduled, recheck in sorted(lost):
        log.warning("the broker no longer holds the queued crawl of %s (run %d): sending it again", source, run_id)
        dispatch(config, source, recheck, scheduled, run_id, SEND_RETRIES)
    return len(lost)


def _depths(app: Celery, names: list[str]) -> dict[str, int]:
    """How many messages wait on each of the queues ``names`` (0 for a queue that does not
    exist); raises when the broker does not answer."""
    depth: dict[str, int] = {}
    with app.connection_for_read() as conn:
        for name in names:
            channel = conn.channel()  # a queue that does not exist yet closes the channel that asked
            try:
                depth[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception:
                depth[name] = 0
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return depth


@dataclass(frozen=True)
class QueueState:
    """What the broker says: crawls waiting per queue, and the workers that answered a ping
    with the queues each takes."""

    depth: dict[str, int]
    workers: dict[str, list[str]]

    def unserved(self) -> list[str]:
        """Queues with crawls waiting and no worker seen that takes them."""
        taken = {q for qs in self.workers.values() for q in qs}
        return sorted(q for q, n in self.depth.items() if n and q not in taken)


def queue_state(config: Config, timeout: float = 1.0) -> QueueState:
    """Ask the broker how many crawls wait on each of ``config``'s queues, and which workers
    taking any of them answer within ``timeout`` seconds."""
    settings = config.settings
    app = _app(settings)
    names = sorted({settings.crawl_queue} | {queue_of(s, settings) for s in config.select()})
    depth = _depths(app, names)
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    # every worker on the broker answers; the ones that take none of these queues serve another
    # deployment (or another test) sharing the broker
    workers = {name: taken for name, queues in replies.items()
               if set(taken := sorted(q["name"] for q in queues)) & set(names)}
    return QueueState(depth, workers)


def report_state(config: Config, metrics: Metrics | None) -> QueueState:
    """Log (and put in the metrics) the queues' depths and the workers seen; warn about a queue
    whose crawls wait with no worker to take them."""
    state = queue_state(config)
    if metrics is not None:
        for name, n in state.depth.items():
            metrics.queue_depth.labels(name).set(n)
        metrics.workers_seen.set(len(state.workers))
    log.info(logfmt({"queues": " ".join(f"{q}={n}" for q, n in state.depth.items()),
                     "workers": " ".join(sorted(state.workers)) or "none"}))
    for name in state.unserved():
        log.warning("%d crawl(s) wait on queue %s and no radar worker seen takes it: start one with "
                    "radar worker --queue %s", state.depth[name], name, name)
    return state


def tend(ctx: DaemonContext, *, report: bool) -> None:
    """The daemon's care of the queue: send again the crawls the broker did not take or lost and,
    with ``report``, log the queues' depths and the workers seen. Failures are logged, not raised."""
    try:
        send_unsent(ctx.config, ctx.factory)
    except Exception as exc:  # the database may be away too; the rows wait for the next try
        log.warning("could not send the queued crawls the broker had not taken: %s", brief(exc))
    try:
        resend_lost(ctx.config, ctx.factory)
    except Exception as exc:  # the broker may be away; lost crawls are found at a later try
        _short.clear()
        log.warning("could not check the broker still holds the queued crawls: %s", brief(exc))
    if report:
        try:
            report_state(ctx.config, ctx.metrics)
        except Exception as exc:  # the broker may be away; crawls sent meanwhile say so themselves
            log.warning("could not ask the broker about its queues: %s", brief(exc))


# --------------------------------------------------------------------------- the worker's side


@dataclass
class WorkerContext:
    """What a worker's crawls need: its config, the database, its crawl children."""

    config: Config
    factory: sessionmaker[Session]
    name: str
    children: ChildRegistry = field(default_factory=ChildRegistry)
    launcher: Launcher | None = None  # forks crawls warm (``warm_crawls``); None: new processes
    crawls_at_once: int = 1  # the worker's concurrency


_worker: WorkerContext | None = None


def install_worker(ctx: WorkerContext | None) -> None:
    """Make ``ctx`` the context of this worker process's crawl tasks."""
    global _worker
    _worker = ctx


def start_launcher(settings: Settings) -> Launcher | None:
    """The process a worker forks its crawls from, as the daemon does (``warm_crawls``); None
    where it cannot start: each crawl is then a new process."""
    if not settings.warm_crawls or not supported():
        return None
    launcher = Launcher()
    try:
        launcher.start()
    except LauncherError as exc:
        log.warning("each crawl starts a new process: %s", exc)
        return None
    return launcher


def worker_name(queues: list[str]) -> str:
    """``radar@HOST-PID``: unique per process, as Celery wants worker names to be."""
    return f"radar@{socket.gethostname()}-{os.getpid()}"


def _redelivered() -> bool:
    """Whether the broker delivered the running task before, to a worker that did not finish it."""
    request = getattr(current_task, "request", None)
    return bool((getattr(request, "delivery_info", None) or {}).get("redelivered"))


def crawl_task(source: str, recheck: bool = False, scheduled: str = "", run_id: int | None = None) -> dict[str, Any]:
    """One crawl taken from the queue, run as the daemon would run it (a child process within
    the time and memory limits, its crawl_runs row closed however it ends). ``run_id``: the
    daemon's queued row, which this worker takes; a second delivery of a message whose row was
    taken already is not run again, unless the broker redelivers it because the worker that
    took it died (the crawl then runs on a row of its own)."""
    ctx = _worker
    if ctx is None:
        raise RuntimeError("no radar worker is running in this process")
    cfg = ctx.config
    started = datetime.now(UTC)
    fields: dict[str, Any] = {"job": "recheck" if recheck else "crawl", "source": source, "worker": ctx.name}
    with transaction(ctx.factory) as session:
        if run_id is not None and not runs.take_queued_run(session, run_id, now=started, worker=ctx.name):
            if not _redelivered():
                log.info(logfmt({**fields, "outcome": "skipped", "run": run_id, "reason": "taken already"}))
                return {**fields, "outcome": "skipped"}
            run_id = None
        if run_id is None:
            run_id = runs.open_worker_run(session, source, started, worker=ctx.name)
    configured = cfg.sources.get(source)
    if configured is None or (recheck and configured.recheck is None):
        with transaction(ctx.factory) as session:
            runs.close_run(session, run_id, status="skipped", reason="not configured on this worker",
                           now=datetime.now(UTC), exit_code=None, force=True)
        log.info(logfmt({**fields, "outcome": "skipped", "reason": "not configured on this worker"}))
        return {**fields, "outcome": "skipped"}
    result = run_crawl(source, cfg.path, cfg.settings, ctx.children, ctx.factory, recheck=recheck,
                       launcher=ctx.launcher, run_id=run_id, crawls_at_once=ctx.crawls_at_once)
    lateness = (started - datetime.fromisoformat(scheduled)).total_seconds() if scheduled else None
    fields.update(outcome=result.status, run=result.run_id, exit=result.exit_code, seconds=result.seconds,
                  pages=result.counts.get("pages", 0), items=result.counts.get("items", 0),
                  new=result.counts.get("new", 0), queued=lateness,
                  reason=result.reason if result.status != "finished" else None)
    log.info(logfmt(fields))
    return fields
