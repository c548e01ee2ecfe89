"""Scale bench (issue 25): many sources on one machine, and one round on 1, 2, 4 workers.

Usage::

    python bench/scale.py [--sources 60] [--schedule '*/2 * * * *'] [--seconds 300] [--database URL]
    python bench/scale.py --sources 1000 --period 30 --seconds 1200 [--cap N] [--jitter S]
    python bench/scale.py --workers 1,2,4 --sources 300 --concurrency 8 --database postgresql+psycopg://…

Each source is a replica site of its own on a loopback address (127.0.x.y, so one host per
source) served by one asyncio thread of this process: an index of ``--notices`` notice links and
the notices, whose text is real paragraphs of the seed pages and the cwced answers
(``crawler.replica.bulk``, as ``bench/crawl.py`` builds its site), each answer after 200–400 ms,
as a remote site answers. Politeness stays on: Policy Radar's default download delay,
AutoThrottle and robots.txt.

**One machine** (the default): a real ``radar daemon`` with default settings (the concurrency
cap from CPUs and memory, ``schedule_jitter`` 600 s) runs all the sources on one schedule for
``--seconds``. Every 2 s it samples ``/proc``: the daemon's process tree (processes, resident
memory summed over the tree, shared pages counted per process), the daemon's own threads and
RSS, the 1-minute load average and the crawls running. Then it reads the daemon's job lines:
start lateness (from the jittered scheduled time; includes the wait for a slot), crawl
durations, skipped ticks. CPU per crawl is the tree's CPU time (daemon, launcher, crawls, their
extraction workers) over the crawls finished. It prints the figures and the issue's goals,
each ``ok`` or ``MISS``.

**Many workers** (``--workers 1,2,4``, PostgreSQL and RabbitMQ needed): for each count, a
daemon with ``executor: queue`` and that many ``radar worker --concurrency C`` processes
(``--concurrency``, default 1) run one round of the sources (``every: 1d``: each crawled once),
timed from the daemon's first tick (its start-up left out) to the last crawl finished. Prints
the throughput, its ratio to one worker's (goal ≥ 0.8 × k), and each worker's CPU and peak RSS
(with its launcher and crawls). ``--setting 'KEY: VALUE'`` sets any other setting, in both modes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.daemon_soak import tree_cpu  # noqa: E402
from bench.dedupe import scratch_database  # noqa: E402
from bench.scale_sites import Sites  # noqa: E402

CRAWL_LINE = re.compile(r"job=crawl source=(\S+) outcome=(\w+)(.*)$", re.M)
FIELD = re.compile(r"\b(\w+)=([0-9.]+)\b")
SKIPPED = 'reason="previous run still going"'
BROKER = "amqp://guest:guest@127.0.0.1:5672//"


# --------------------------------------------------------------------------- /proc


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants now."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                children.setdefault(int(_stat(int(proc.name))[1]), []).append(int(proc.name))
            except (OSError, IndexError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Peaks:
    """The largest values seen of a process tree while sampling."""

    processes: int = 0
    tree_rss_mib: float = 0.0
    rss_mib: float = 0.0  # the root process's own
    threads: int = 0
    load: float = 0.0
    in_flight: int = 0
    in_flight_samples: list[int] = field(default_factory=list)

    def sample(self, pid: int, in_flight: int) -> None:
        pids = tree(pid)
        rss = 0
        for p in pids:
            try:
                rss += status_kib(p, "VmRSS")
            except OSError:
                continue
        self.processes = max(self.processes, len(pids))
        self.tree_rss_mib = max(self.tree_rss_mib, rss / 1024)
        self.rss_mib = max(self.rss_mib, status_kib(pid, "VmRSS") / 1024)
        self.threads = max(self.threads, status_kib(pid, "Threads"))
        self.load = max(self.load, float(Path("/proc/loadavg").read_text().split()[0]))
        self.in_flight = max(self.in_flight, in_flight)
        self.in_flight_samples.append(in_flight)


# --------------------------------------------------------------------------- helpers


def _config(work: Path, sites: Sites, db_url: str, schedule: str, **settings: object) -> Path:
    path = work / "radar.yaml"
    path.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "data_dir": str(work), **settings},
        "sources": [{"name": f"site{i:04d}", "start_urls": [sites.url(i)], "allow": r"/a/\d+\.html$",
                     "schedule": schedule} for i in range(len(sites.hosts))],
    }, allow_unicode=True), encoding="utf-8")
    return path


def _settings(args: argparse.Namespace) -> dict[str, object]:
    """The settings given with ``--setting KEY: VALUE``."""
    return dict(yaml.safe_load(f"{{{', '.join(args.setting)}}}")) if args.setting else {}


def _env() -> dict[str, str]:
    """The environment of the daemon and the workers: this checkout's code, no RADAR_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    env["PYTHONPATH"] = str(ROOT)  # they start in the work folder, where the editable install's path wins
    return env


def _radar(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), *args],
                                env=_env(), stdout=out, stderr=subprocess.STDOUT, cwd=config.parent)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _running(db_url: str) -> Generator[int, None, None]:
    """Crawls running now, per call (crawl_runs)."""
    from sqlalchemy import func, select

    from storage.db import open_database
    from storage.models import CrawlRunRow

    engine, factory = open_database(db_url, migrate_schema=False)
    try:
        while True:
            try:
                with factory() as s:
                    yield int(s.scalar(select(func.count()).select_from(CrawlRunRow)
                                       .where(CrawlRunRow.status == "running")) or 0)
            except Exception:  # the daemon has not created the tables yet
                yield 0
    finally:
        engine.dispose()


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``values``, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def goal(ok: bool) -> str:
    return "ok" if ok else "MISS"


# --------------------------------------------------------------------------- one machine


def one_machine(args: argparse.Namespace, work: Path, db_url: str) -> int:
    sites = Sites(args.sources, args.notices).start()
    if args.period:  # a cron schedule every --period minutes whose first tick is the next minute
        first = (time.gmtime().tm_min + 1) % args.period
        args.schedule = f"{','.join(str(m) for m in range(first, 60, args.period))} * * * *"
    settings: dict[str, object] = {"max_concurrent_crawls": args.cap} if args.cap else {}
    if args.jitter is not None:
        settings["schedule_jitter"] = args.jitter
    settings.update(_settings(args))
    config = _config(work, sites, db_url, args.schedule, **settings)
    log = work / "daemon.log"
    cpus = len(os.sched_getaffinity(0))
    print(f"{args.sources} sources on {args.schedule!r}, {args.notices} notices each, 200–400 ms a page, "
          f"politeness on; {args.seconds:.0f} s; {cpus} CPUs; database {db_url.split('@')[-1]}; settings "
          f"{settings or 'default'}", flush=True)
    daemon = _radar(config, log, "daemon")
    peaks = Peaks()
    running = _running(db_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.seconds:
            if daemon.poll() is not None:
                print(log.read_text(errors="replace")[-3000:])
                return 1
            peaks.sample(daemon.pid, next(running))
            time.sleep(2)
        cpu, elapsed = tree_cpu(daemon.pid), time.monotonic() - started
    finally:
        _stop(daemon)
        running.close()
    text = log.read_text(errors="replace")
    lines = CRAWL_LINE.findall(text)
    done = [dict(FIELD.findall(rest)) for _s, outcome, rest in lines if outcome != "skipped"]
    lateness = [float(f["lateness"]) for f in done if "lateness" in f]
    seconds = [float(f["seconds"]) for f in done if "seconds" in f]
    skipped = text.count(SKIPPED)
    load_goal = 2 * cpus
    limit = re.search(r"at most (\d+) crawl\(s\) at once", text)
    print(f"\ncrawls started: {len(done)} (cap {limit.group(1) if limit else '?'} at once), ticks skipped: {skipped}")
    print(f"crawls in flight: max {peaks.in_flight}, mean {statistics.fmean(peaks.in_flight_samples or [0]):.1f}")
    print(f"processes (daemon tree): max {peaks.processes}; tree RSS max {peaks.tree_rss_mib:.0f} MiB "
          "(shared pages counted per process)")
    print(f"crawl duration: p50 {pct(seconds, .5):.1f} s, max {max(seconds, default=float('nan')):.1f} s")
    print(f"CPU per crawl: {cpu / max(1, len(seconds)):.2f} s (daemon, launcher, crawls, their workers); "
          f"the daemon's tree used {cpu / elapsed:.2f} CPUs on average (the load average is the machine's)")
    print("\ngoals:")
    p95 = pct(lateness, .95)
    print(f"  start lateness p50 {pct(lateness, .5):.1f} s, p95 {p95:.1f} s, max "
          f"{max(lateness, default=float('nan')):.1f} s   p95 ≤ 60 s: {goal(p95 <= 60)}")
    print(f"  ticks skipped for lack of capacity: {skipped}   none: {goal(skipped == 0)}")
    print(f"  load average (1 min) max {peaks.load:.1f}   ≤ {load_goal}: {goal(peaks.load <= load_goal)}")
    print(f"  daemon RSS max {peaks.rss_mib:.0f} MiB   ≤ 300 MB: {goal(peaks.rss_mib * 1.048576 <= 300)}")
    print(f"  daemon threads max {peaks.threads}   ≤ 64: {goal(peaks.threads <= 64)}")
    sites.loop.call_soon_threadsafe(sites.loop.stop)
    ok = p95 <= 60 and skipped == 0 and peaks.load <= load_goal and peaks.rss_mib * 1.048576 <= 300 \
        and peaks.threads <= 64
    return 0 if ok else 1


# --------------------------------------------------------------------------- many workers


@dataclass
class Round:
    workers: int
    seconds: float
    crawls: int
    cpu: list[float]
    rss_mib: list[float]


def one_round(args: argparse.Namespace, work: Path, db_url: str, sites: Sites, k: int) -> Round:
    from kombu.connection import Connection
    from sqlalchemy import func, select

    from storage.db import open_database
    from storage.models import CrawlRunRow

    engine, factory = open_database(db_url)
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    config = _config(work, sites, db_url, "every: 1d", executor="queue", broker_url=BROKER, crawl_queue=queue,
                     **_settings(args))
    log = work / f"round-{k}.log"
    workers = [_radar(config, log, "worker", "--concurrency", str(args.concurrency)) for _ in range(k)]
    peaks = [Peaks() for _ in workers]
    deadline = time.monotonic() + 120
    while log.read_text(errors="replace").count(" ready.") < k and time.monotonic() < deadline:
        time.sleep(0.5)
    daemon = _radar(config, log, "daemon")
    while "daemon started" not in log.read_text(errors="replace") and daemon.poll() is None:
        time.sleep(0.2)  # the round starts with the daemon's first tick, not with its start-up
    started = time.monotonic()
    try:
        finished = 0
        while finished < args.sources and time.monotonic() - started < args.seconds:
            for w, p in zip(workers, peaks, strict=True):
                p.sample(w.pid, 0)
            time.sleep(1)
            with factory() as s:
                finished = int(s.scalar(select(func.count()).select_from(CrawlRunRow)
                                        .where(CrawlRunRow.status.not_in(("queued", "running")))) or 0)
        elapsed = time.monotonic() - started
        cpu = [tree_cpu(w.pid) for w in workers]
    finally:
        _stop(daemon)
        for w in workers:
            _stop(w)
        engine.dispose()
        with Connection(BROKER) as conn:  # type: ignore[no-untyped-call]
            conn.channel().queue_delete(queue)
    return Round(k, elapsed, finished, cpu, [p.tree_rss_mib for p in peaks])


def many_workers(args: argparse.Namespace, work: Path, db_url: str) -> int:
    if not db_url.startswith("postgresql"):
        raise SystemExit("--workers needs --database postgresql://… (each round makes a schema of its own there)")
    sites = Sites(args.sources, args.notices).start()
    counts = [int(k) for k in args.workers.split(",")]
    print(f"one round of {args.sources} sources, {args.notices} notices each, 200–400 ms a page, politeness on; "
          f"workers of --concurrency {args.concurrency}; {len(os.sched_getaffinity(0))} CPUs", flush=True)
    rounds = []
    for k in counts:  # each round in a schema of its own: no stored articles, no jobs, no runs
        with scratch_database(db_url, str(work)) as url:
            rounds.append(one_round(args, work, url, sites, k))
    base = rounds[0].crawls / rounds[0].seconds / rounds[0].workers
    ok = True
    print("\n| workers | round | crawls | throughput | × one worker | goal ≥ 0.8 × k | CPU per worker | "
          "peak RSS per worker |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rounds:
        rate = r.crawls / r.seconds
        ratio = rate / base
        met = ratio >= 0.8 * r.workers and r.crawls == args.sources
        ok &= met
        print(f"| {r.workers} | {r.seconds:.1f} s | {r.crawls} | {rate:.2f} crawls/s | {ratio:.2f} | {goal(met)} | "
              f"{statistics.fmean(r.cpu):.1f} s ({sum(r.cpu) / max(1, r.crawls):.2f} s a crawl) | "
              f"{max(r.rss_mib):.0f} MiB |")
    sites.loop.call_soon_threadsafe(sites.loop.stop)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=60)
    parser.add_argument("--schedule", default="*/2 * * * *", help="every source's schedule (one machine)")
    parser.add_argument("--seconds", type=float, default=300, help="how long to run (one machine); a round's limit")
    parser.add_argument("--notices", type=int, default=3, help="notices per site")
    parser.add_argument("--cap", type=int, default=0, help="max_concurrent_crawls (default: the daemon's own)")
    parser.add_argument("--jitter", type=int, default=None, help="schedule_jitter (default: the daemon's own)")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY: VALUE",
                        help="another setting, e.g. 'workers: 0'; repeatable")
    parser.add_argument("--period", type=int, default=0, help="instead of --schedule: every N minutes (a divisor "
                        "of 60), the first tick the next minute")
    parser.add_argument("--workers", default="", help="e.g. 1,2,4: the many-workers bench instead")
    parser.add_argument("--concurrency", type=int, default=1, help="crawls at once per worker (many workers)")
    parser.add_argument("--database", default="", help="default: SQLite in a temporary folder; PostgreSQL: in a "
                        "schema of its own, dropped afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="radar-scale-"))
    db_url = args.database or f"sqlite:///{work / 'radar.sqlite3'}"
    try:
        if args.workers:
            return many_workers(args, work, db_url)
        with scratch_database(db_url, str(work)) as url:
            return one_machine(args, work, url)
    finally:
        print(f"kept {work}") if args.keep else shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
