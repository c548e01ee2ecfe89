"""Prometheus metrics of the daemon (``radar daemon --metrics-port N``), and the one structured
log line each job writes.

Labels are bounded: source names (from the config), job kinds, outcomes, health rules.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.exposition import ThreadingWSGIServer

from crawler.health.rules import Alert

#: a WSGI application: (environ, start_response) → body chunks
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Quiet(WSGIRequestHandler):
    """No access log on stderr (the daemon's log is for its jobs)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Metrics:
    """The daemon's metrics in a registry of their own (process metrics included)."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise here
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.crawls = Counter("radar_crawl_runs", "Crawl runs by source and how they ended",
                              ["source", "status"], registry=r)
        self.crawl_seconds = Histogram("radar_crawl_duration_seconds", "Wall time of a crawl child process",
                                       ["source"], registry=r,
                                       buckets=(1, 2, 5, 10, 30, 60, 300, 900, 3600, float("inf")))
        self.crawl_counts = Counter("radar_crawl_items", "Pages, items, new items, duplicates and errors crawled",
                                    ["source", "kind"], registry=r)
        self.last_success = Gauge("radar_source_last_success_timestamp_seconds",
                                  "When the source's last successful crawl ended (Unix time)", ["source"], registry=r)
        self.source_ok = Gauge("radar_source_healthy", "1 when no health rule fires for the source, else 0",
                               ["source"], registry=r)
        self.alerts = Gauge("radar_source_alerts", "Health rules firing, by source and rule", ["source", "rule"],
                            registry=r)
        self.jobs = Counter("radar_jobs", "Scheduler job runs by job kind and outcome", ["job", "outcome"],
                            registry=r)
        self.lateness = Histogram("radar_job_lateness_seconds", "How late a job started after its scheduled time",
                                  ["job"], registry=r,
                                  buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 60, 300, float("inf")))
        self.worst_lateness = Gauge("radar_job_lateness_max_seconds", "Worst job start lateness since the start",
                                    registry=r)
        self.digests = Counter("radar_digests", "Digest deliveries by status", ["status"], registry=r)
        self.outbox_pending = Gauge("radar_outbox_pending", "Digests written but not sent yet", registry=r)
        self.children = Gauge("radar_crawl_children", "Crawl child processes running now", registry=r)
        self.waiting = Gauge("radar_crawls_waiting", "Crawls due and waiting for a slot (max_concurrent_crawls)",
                             registry=r)
        self.queue_depth = Gauge("radar_queue_depth", "executor: queue: crawls waiting on each queue", ["queue"],
                                 registry=r)
        self.workers_seen = Gauge("radar_workers_seen", "executor: queue: radar workers that answered a ping",
                                  registry=r)
        self.started = Gauge("radar_daemon_start_time_seconds", "When the daemon started (Unix time)", registry=r)
        self._worst = 0.0
        self._lock = threading.Lock()
        self._server: Any = None

    def observe_lateness(self, job: str, seconds: float) -> None:
        """A job started ``seconds`` after its scheduled time."""
        self.lateness.labels(job).observe(max(0.0, seconds))
        with self._lock:
            if seconds > self._worst:
                self._worst = seconds
                self.worst_lateness.set(seconds)

    def crawl_done(self, source: str, status: str, seconds: float, counts: Mapping[str, int],
                   finished_at: float | None) -> None:
        """One crawl ended."""
        self.crawls.labels(source, status).inc()
        self.crawl_seconds.labels(source).observe(seconds)
        for kind in ("pages", "items", "new", "duplicates", "errors"):
            self.crawl_counts.labels(source, kind).inc(int(counts.get(kind, 0)))
        if status == "finished" and finished_at is not None:
            self.last_success.labels(source).set(finished_at)

    def set_health(self, sources: Iterable[str], alerts: Iterable[Alert]) -> None:
        """Replace the health gauges with the alerts firing now."""
        firing = list(alerts)
        self.alerts.clear()
        bad = set()
        for alert in firing:
            self.alerts.labels(alert.source, alert.rule).set(1)
            bad.add(alert.source)
        for source in sources:
            self.source_ok.labels(source).set(0 if source in bad else 1)

    def serve(self, port: int, host: str = "127.0.0.1", routes: Mapping[str, WSGIApp] | None = None) -> None:
        """Serve ``/metrics`` on ``host:port`` in a thread, and each of ``routes`` (path prefix →
        WSGI application: the daemon's ``/feeds/``) beside it."""
        metrics = make_wsgi_app(self.registry)
        prefixes = dict(routes or {})

        def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = str(environ.get("PATH_INFO", ""))
            routed = next((a for prefix, a in prefixes.items() if path.startswith(prefix)), metrics)
            return routed(environ, start_response)

        server = make_server(host, port, dispatch, ThreadingWSGIServer, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        self._server = server

    def track_children(self, count: Callable[[], int]) -> None:
        """Report the running crawl children through ``count``."""
        self.children.set_function(lambda: float(count()))

    def track_waiting(self, count: Callable[[], int]) -> None:
        """Report the crawls waiting for a slot through ``count``."""
        self.waiting.set_function(lambda: float(count()))

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


_BARE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")


def logfmt(fields: Mapping[str, Any]) -> str:
    """``job=crawl source=jxnews outcome=finished seconds=2.31`` — values quoted when they need it;
    floats with 3 decimals; None left out."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        if not _BARE.match(text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)
