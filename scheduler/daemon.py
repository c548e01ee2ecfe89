"""``radar daemon``: crawl each source on its schedule and mail digests on theirs, until SIGTERM.

Pitfalls avoided on purpose: the timezone is explicit (jobs ran 8 h off elsewhere when it was
implicit); late runs are never dropped (``misfire_grace_time=None`` instead of APScheduler's 1 s
default) but coalesced into one; a source never has two crawls at once (``max_instances=1``).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.sources import Config, Schedule, parse_schedule
from scheduler.jobs import ChildRegistry, run_crawl, run_digest

log = logging.getLogger("radar.daemon")


def trigger_for(schedule: Schedule, timezone: str) -> BaseTrigger:
    """An APScheduler trigger in the configured timezone."""
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=timezone)
    assert schedule.every is not None
    return IntervalTrigger(seconds=int(schedule.every.total_seconds()), timezone=timezone)


class Daemon:
    """Owns the scheduler and the crawl child processes."""

    def __init__(self, config: Config, *, shutdown_grace: float = 30.0, workers: int = 4) -> None:
        self.config = config
        self.settings = config.settings
        self.config_path: Path | None = config.path.resolve() if config.path else None
        self.children = ChildRegistry()
        self.shutdown_grace = shutdown_grace
        self._stop = threading.Event()
        self.scheduler = BackgroundScheduler(
            timezone=self.settings.timezone,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def add_jobs(self) -> None:
        """One job per enabled source, plus the digest job."""
        tz = self.settings.tz
        now = datetime.now(tz)
        for source in self.config.select():
            self.scheduler.add_job(
                run_crawl, trigger_for(source.schedule, self.settings.timezone),
                args=(source.name, self.config_path, self.settings, self.children),
                id=f"crawl:{source.name}", name=f"crawl {source.name}", replace_existing=True,
                # interval sources crawl at once on start; cron sources wait for their time
                next_run_time=now if source.schedule.every is not None else None,
            )
        if self.settings.mail_to:
            digest = parse_schedule(self.settings.digest_schedule, key="digest_schedule")
            self.scheduler.add_job(run_digest, trigger_for(digest, self.settings.timezone),
                                   args=(self.settings,), id="digest", name="digest", replace_existing=True)
        else:
            log.warning("RADAR_MAIL_TO is not set: no digests will be sent")

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal handler: stop taking new work; ``run`` then winds down."""
        if signum is not None:
            log.info("received %s, shutting down", signal.Signals(signum).name)
        self._stop.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code (0 on a clean stop)."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.add_jobs()
        self.scheduler.start()
        jobs = ", ".join(f"{j.name} ({j.trigger})" for j in self.scheduler.get_jobs())
        log.info("daemon started, timezone %s; jobs: %s", self.settings.timezone, jobs)
        while not self._stop.wait(1.0):
            pass
        self.scheduler.pause()
        self.children.stop_all(self.shutdown_grace)
        self.scheduler.shutdown(wait=True)
        log.info("daemon stopped")
        return 0
