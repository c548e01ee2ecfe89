"""APScheduler as the daemon runs it: a scheduler that loses no runs, quiet where the daemon
says things itself, and each job run (or skipped run) as one structured log line with metrics."""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from crawler.errors import brief
from scheduler.metrics import Metrics, logfmt

log = logging.getLogger("radar.daemon")


class RadarScheduler(BackgroundScheduler):  # type: ignore[misc]  # APScheduler 3 is untyped
    """APScheduler's background scheduler, minus two ways of losing runs.

    - APScheduler 3 processes due jobs one last time after ``shutdown()`` (its loop checks for
      the stop before waiting, not after): submitting them to the stopped executor fails and
      their next run time moves on, so a run that fell due while running crawls were winding
      down would be lost instead of caught up at the next start. Jobs are processed only while
      running.
    - APScheduler 3 retries a job store it cannot read, but an error while writing a job's next
      run time back (a full disk, a database gone away) ends its scheduling thread: the daemon
      stayed up, heart beating, and never ran a job again. Such an error is logged and the jobs
      are processed again after a pause that doubles while the store keeps failing (10 s up to
      5 min); a job whose next run time could not be saved is still due then, and runs again.
    """

    RETRY_FIRST = 10.0
    RETRY_MAX = 300.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._store_failures: int = 0

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        try:
            result: float | None = super()._process_jobs()
        except Exception as exc:
            pause: float = min(self.RETRY_MAX, self.RETRY_FIRST * 2 ** min(self._store_failures, 10))
            self._store_failures += 1
            log.error("the scheduler could not update its job store (%s); trying again in %.0f s", brief(exc), pause)
            return pause
        if self._store_failures:
            log.info("the scheduler's job store works again")
            self._store_failures = 0
        return result


class QuietScheduler(logging.Filter):
    """Drop APScheduler's warning for a run skipped because the previous one is still going, and
    its traceback of a job that raised: the daemon logs each as a structured line of its own (the
    traceback at debug level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "maximum number of running instances reached" not in message and "raised an exception" not in message


def _job_kind(job_id: str) -> str:
    return job_id.split(":", 1)[0]


def _job_fields(job_id: str) -> dict[str, str]:
    """``crawl:jxnews`` → job=crawl source=jxnews, as the job's own line says it."""
    kind, _, source = job_id.partition(":")
    return {"job": kind, "source": source} if source else {"job": kind}


def report_job_event(event: SchedulerEvent, metrics: Metrics | None) -> None:
    """One structured log line per job run (and per skipped run), plus metrics."""
    if isinstance(event, JobSubmissionEvent):  # max instances: the previous run is still going
        fields: dict[str, Any] = {**_job_fields(event.job_id), "outcome": "skipped",
                                  "reason": "previous run still going",
                                  "scheduled": event.scheduled_run_times[-1].isoformat(timespec="seconds")}
        if metrics is not None:
            metrics.jobs.labels(_job_kind(event.job_id), "skipped").inc()
        log.info(logfmt(fields))
        return
    assert isinstance(event, JobExecutionEvent)
    kind = _job_kind(event.job_id)
    if event.code == EVENT_JOB_MISSED:
        log.warning(logfmt({**_job_fields(event.job_id), "outcome": "missed",
                            "scheduled": event.scheduled_run_time}))
        return
    if event.exception is not None:
        if metrics is not None:
            metrics.jobs.labels(kind, "error").inc()
        log.error(logfmt({**_job_fields(event.job_id), "outcome": "error", "error": brief(event.exception)}))
        log.debug("traceback of job %s:\n%s", event.job_id, event.traceback)
        return
    retval: dict[str, Any] = dict(event.retval or {})
    started = retval.pop("started", None)
    lateness = (started - event.scheduled_run_time).total_seconds() if started else None
    if lateness is not None and metrics is not None:
        metrics.observe_lateness(kind, lateness)
    outcome = str(retval.get("outcome", "done"))
    if metrics is not None:
        metrics.jobs.labels(kind, outcome).inc()
    line = {"job": retval.pop("job", kind), **{k: v for k, v in retval.items()}, "lateness": lateness}
    level = logging.INFO if outcome in ("finished", "done", "skipped", "interrupted", "queued") else logging.WARNING
    log.log(level, logfmt(line))
