"""Which jobs the daemon should have, and how to get there from the jobs stored in the database.

Pure: the config in, job specifications and a reconciliation plan out. Jobs live in a
persistent store, so each is a ``module:function`` reference with plain, picklable arguments
(a source name); the running daemon supplies everything else (``scheduler.jobs.context``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

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


class OffsetTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """``inner``'s fire times, each ``seconds`` later. Stored pickled in the job store, so it
    holds only the inner trigger and a number."""

    def __init__(self, inner: BaseTrigger, seconds: int) -> None:
        self.inner = inner
        self.seconds = seconds

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        shift = timedelta(seconds=self.seconds)
        previous = previous_fire_time - shift if previous_fire_time is not None else None
        fire: datetime | None = self.inner.get_next_fire_time(previous, now - shift)
        return fire + shift if fire is not None else None

    def __str__(self) -> str:
        return f"{self.inner} +{self.seconds}s"

    def __repr__(self) -> str:
        return f"<OffsetTrigger {self.inner!r} +{self.seconds}s>"

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": self.inner, "seconds": self.seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.inner = state["inner"]
        self.seconds = state["seconds"]


@lru_cache(maxsize=1024)  # hundreds of sources share a handful of schedules
def period_seconds(schedule: Schedule, timezone: str) -> int:
    """The shortest gap between two runs of ``schedule`` (over a sample of its fire times from
    a fixed date, so the same schedule always gives the same period)."""
    if schedule.every is not None:
        return int(schedule.every.total_seconds())
    trigger = trigger_for(schedule, timezone)
    fire: datetime | None = trigger.get_next_fire_time(None, datetime(2001, 1, 1, tzinfo=trigger.timezone))
    gaps = []
    for _ in range(24):
        if fire is None:
            break
        nxt: datetime | None = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if nxt is None:
            break
        gaps.append(int((nxt - fire).total_seconds()))
        fire = nxt
    return min(gaps) if gaps else 0


def jitter_seconds(job_id: str, schedule: Schedule, timezone: str, jitter: int) -> int:
    """The fixed delay of ``job_id``'s runs after their scheduled time: under ``jitter`` and
    under the schedule's period, the same for the same job on every machine and every start
    (a hash of the id, not a random number), so many sources on one schedule spread out."""
    spread = min(jitter, period_seconds(schedule, timezone)) if jitter > 0 else 0
    if spread <= 1:
        return 0
    digest = hashlib.sha256(job_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % spread


@dataclass(frozen=True)
class JobSpec:
    """One job the config asks for."""

    id: str
    func: str
    schedule: Schedule
    timezone: str
    args: tuple[str, ...] = ()
    start_now: bool = False  # first run at once when the job is new (interval crawls, the outbox)
    offset: int = 0  # seconds each run starts after its scheduled time (``schedule_jitter``)

    @property
    def fingerprint(self) -> str:
        """Everything that makes the job what it is, readable; stored as the job's name, so a
        changed schedule, timezone or target is seen at the next start or reload."""
        args = " ".join(self.args)
        offset = f" +{self.offset}s" if self.offset else ""
        return f"{self.id} → {self.func}({args}) @ {self.schedule.describe()}{offset} [{self.timezone}]"

    @property
    def crawls(self) -> bool:
        """Whether the job is a crawl (or re-check): it runs through the daemon's crawl gate."""
        return self.func in (CRAWL, RECHECK)

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger (its runs ``offset`` seconds late)."""
        trigger = trigger_for(self.schedule, self.timezone)
        return OffsetTrigger(trigger, self.offset) if self.offset else trigger


def desired_jobs(config: Config) -> dict[str, JobSpec]:
    """A crawl job per enabled source (and a re-check job where it has ``recheck``), the digest
    job when a daily or weekly subscription exists, and the outbox job (retries, immediate
    subscriptions)."""
    settings = config.settings
    tz = settings.timezone
    jobs: dict[str, JobSpec] = {}
    jitter = settings.schedule_jitter
    for source in config.select():
        job_id = f"crawl:{source.name}"
        jobs[job_id] = JobSpec(job_id, CRAWL, source.schedule, tz, (source.name,),
                               start_now=source.schedule.every is not None,
                               offset=jitter_seconds(job_id, source.schedule, tz, jitter))
        if source.recheck is not None and source.rechecked:
            job_id = f"recheck:{source.name}"
            jobs[job_id] = JobSpec(job_id, RECHECK, source.recheck, tz, (source.name,),
                                   offset=jitter_seconds(job_id, source.recheck, tz, jitter))
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
