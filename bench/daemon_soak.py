"""Soak test of ``radar daemon``: ``every: 1s`` schedules against the replica sites until at least
``--cycles`` crawl jobs have run (default 200), with the digest and outbox jobs running every
second too and mail going to a local SMTP sink.

Prints the daemon's resident memory (RSS) at cycle 10 and at the end (goal: growth ≤ 10 %), the
worst job start lateness, i.e. how long after its scheduled time a job began (goal ≤ 1 s),
taken from the daemon's own structured log lines, and the CPU time per crawl from cycle 10 on:
the daemon's, its crawl launcher's and every crawl child's (with its extraction workers), read
from ``/proc`` (a finished child's time is added to its parent's).

    python bench/daemon_soak.py [--cycles 200] [--database-url URL] [--cold] [--keep]

``--cold`` runs the daemon with ``warm_crawls: false``: each crawl a new Python process that
loads Scrapy and SQLAlchemy itself, instead of a fork of the launcher that has loaded them.
Not part of the test suite: it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.config.settings import load_settings  # noqa: E402
from crawler.replica.demo import demo_config  # noqa: E402
from crawler.replica.server import ReplicaSites  # noqa: E402

CRAWL_LINE = re.compile(r"job=crawl source=(\S+) outcome=(?!skipped)(\S+)")
LATENESS = re.compile(r"\bjob=(\S+).*\blateness=([0-9.]+)")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children, their finished descendants included (Linux)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        # fields[1] is the parent pid; 11..14 are utime, stime, cutime, cstime (stat(5) 14-17)
        if proc.name == str(pid) or fields[1] == str(pid):
            total += sum(int(v) for v in fields[11:15]) / tick
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=200, help="crawl jobs to wait for (default 200)")
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (log, database)")
    parser.add_argument("--cold", action="store_true", help="warm_crawls: false (a new process per crawl)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="radar-soak-"))
    url = args.database_url or f"sqlite:///{work / 'radar.sqlite3'}"
    sites = ReplicaSites().start()
    smtp = None
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        smtp_port = free_port()
        smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
        smtp.start()
    except ImportError:  # the dev extra is not installed: mail goes nowhere, retries are exercised
        smtp_port = 9
    try:
        _cfg, path = demo_config(sites.urls, load_settings({"database_url": url, "data_dir": str(work)}, env={}),
                                 work)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for source in data["sources"]:
            source["schedule"] = "every: 1s"
        data["settings"].update(digest_schedule="every: 1s", outbox_interval=1, mail_to="")
        data["subscriptions"] = [
            {"name": "now", "to": "soak-now@example.org", "frequency": "immediate", "types": ["signing"]},
            {"name": "daily", "to": "soak-daily@example.org"},
        ]
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
        env.update(RADAR_SMTP_HOST="127.0.0.1", RADAR_SMTP_PORT=str(smtp_port),
                   RADAR_WARM_CRAWLS="false" if args.cold else "true")
        log_path = work / "daemon.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(path), "daemon"],
                                    env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=work)
        print(f"daemon pid {proc.pid}, database {url}, log {log_path}", flush=True)
        started = time.monotonic()
        rss_at_10: int | None = None
        cpu_at_10 = 0.0
        samples: list[tuple[int, int]] = []
        cycles = 0
        while cycles < args.cycles:
            if proc.poll() is not None:
                print(log_path.read_text()[-3000:])
                raise SystemExit(f"the daemon exited with {proc.returncode}")
            if time.monotonic() - started > args.timeout:
                raise SystemExit(f"timed out after {args.timeout:.0f}s at cycle {cycles}")
            time.sleep(0.5)
            cycles = len(CRAWL_LINE.findall(log_path.read_text(errors="replace")))
            if rss_at_10 is None and cycles >= 10:
                rss_at_10, cpu_at_10 = rss_kib(proc.pid), tree_cpu(proc.pid)
                samples.append((cycles, rss_at_10))
                print(f"cycle {cycles}: RSS {rss_at_10 / 1024:.1f} MiB", flush=True)
            elif rss_at_10 is not None and cycles - samples[-1][0] >= 25:
                samples.append((cycles, rss_kib(proc.pid)))
                print(f"cycle {cycles}: RSS {samples[-1][1] / 1024:.1f} MiB", flush=True)
        rss_end = rss_kib(proc.pid)
        cpu_per_crawl = (tree_cpu(proc.pid) - cpu_at_10) / max(1, cycles - samples[0][0])
        elapsed = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
        log = log_path.read_text(errors="replace")
        lateness = [(job, float(v)) for job, v in LATENESS.findall(log)]
        outcomes: dict[str, int] = {}
        for _source, outcome in CRAWL_LINE.findall(log):
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert rss_at_10 is not None
        growth = (rss_end - rss_at_10) / rss_at_10 * 100
        worst_job, worst = max(lateness, key=lambda jv: jv[1])
        print()
        ends = ", ".join(f"{k} {v}" for k, v in outcomes.items())
        print(f"crawl cycles:          {cycles} in {elapsed:.0f} s ({ends}), "
              f"{'each a new process' if args.cold else 'forked warm'}")
        print(f"CPU per crawl:         {cpu_per_crawl:.2f} s (daemon, launcher, crawls and their workers)")
        print(f"jobs run:              {len(lateness)} (crawl, digest and outbox)")
        print(f"RSS at cycle 10:       {rss_at_10 / 1024:.1f} MiB")
        print(f"RSS at the end:        {rss_end / 1024:.1f} MiB")
        print(f"RSS growth:            {growth:+.1f} %  (goal ≤ 10 %)")
        print(f"job start lateness:    median {statistics.median(v for _j, v in lateness) * 1000:.0f} ms, "
              f"worst {worst * 1000:.0f} ms ({worst_job})  (goal ≤ 1000 ms)")
        print(f"daemon exit code:      {code} after SIGTERM")
        print(f"tracebacks in the log: {log.count('Traceback')}")
        ok = growth <= 10 and worst <= 1.0 and code == 0
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        sites.stop()
        if smtp is not None:
            smtp.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
