"""Which jobs the daemon should have, and how to get there from the jobs stored in the database.

Pure: the config in, job specifications and a reconciliation plan out. Jobs live in a
persistent store, so each is a ``module:function`` reference with plain, picklable arguments
(a source name); the running daemon supplies everything else (``scheduler.jobs.context``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config.sources import Config, Schedule, parse_schedule
from crawler.config.subscriptions import effective_subscriptions

CRAWL = "scheduler.jobs:crawl_job"
RECHECK = "scheduler.jobs:recheck_job"
DIGEST = "scheduler.jobs:digest_job"
OUTBOX = "scheduler.jobs:outbox_job"


def trigger_for(schedule: Schedule, timezone: str) -> BaseTrigger:
    """An APScheduler trigger in the configured timezone (never the machine's implicit one)."""
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone=timezone)
    assert schedule.every is not None
    return IntervalTrigger(seconds=int(schedule.every.total_seconds()), timezone=timezone)


@dataclass(frozen=True)
class JobSpec:
    """One job the config asks for."""

    id: str
    func: str
    schedule: Schedule
    timezone: str
    args: tuple[str, ...] = ()
    start_now: bool = False  # first run at once when the job is new (interval crawls, the outbox)

    @property
    def fingerprint(self) -> str:
        """Everything that makes the job what it is, readable; stored as the job's name, so a
        changed schedule, timezone or target is seen at the next start or reload."""
        args = " ".join(self.args)
        return f"{self.id} → {self.func}({args}) @ {self.schedule.describe()} [{self.timezone}]"

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger."""
        return trigger_for(self.schedule, self.timezone)


def desired_jobs(config: Config) -> dict[str, JobSpec]:
    """A crawl job per enabled source (and a re-check job where it has ``recheck``), the digest
    job when a daily or weekly subscription exists, and the outbox job (retries, immediate
    subscriptions)."""
    settings = config.settings
    tz = settings.timezone
    jobs: dict[str, JobSpec] = {}
    for source in config.select():
        jobs[f"crawl:{source.name}"] = JobSpec(f"crawl:{source.name}", CRAWL, source.schedule, tz, (source.name,),
                                               start_now=source.schedule.every is not None)
        if source.recheck is not None and source.rechecked:
            jobs[f"recheck:{source.name}"] = JobSpec(f"recheck:{source.name}", RECHECK, source.recheck, tz,
                                                     (source.name,))
    subs = effective_subscriptions(settings, config.subscriptions)
    if any(s.frequency in ("daily", "weekly") for s in subs):
        jobs["digest"] = JobSpec("digest", DIGEST, parse_schedule(settings.digest_schedule, key="digest_schedule"),
                                 tz)
    jobs["outbox"] = JobSpec("outbox", OUTBOX, Schedule(every=timedelta(seconds=max(1, settings.outbox_interval))),
                             tz, start_now=True)
    return jobs


@dataclass(frozen=True)
class Plan:
    """Job ids to add, replace (changed), remove (no longer configured) and keep untouched (their
    stored next run time stands, so runs missed while the daemon was down happen once now)."""

    add: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``+crawl:a ~digest -crawl:b`` (empty when nothing changes)."""
        return " ".join([f"+{i}" for i in self.add] + [f"~{i}" for i in self.replace] + [f"-{i}" for i in self.remove])


def reconcile(stored: Mapping[str, str], desired: Mapping[str, JobSpec]) -> Plan:
    """The plan from ``stored`` (job id → stored fingerprint) to ``desired``."""
    plan = Plan()
    for job_id, spec in desired.items():
        if job_id not in stored:
            plan.add.append(job_id)
        elif stored[job_id] != spec.fingerprint:
            plan.replace.append(job_id)
        else:
            plan.keep.append(job_id)
    plan.remove.extend(j for j in stored if j not in desired)
    return plan
