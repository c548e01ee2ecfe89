"""What one crawl process holds in memory: the figure ``max_concurrent_crawls``' default rests on
(``scheduler.gate.CRAWL_MEMORY_MIB``).

Usage::

    python bench/crawl_memory.py [--sources 8] [--notices 3] [--setting 'KEY: VALUE'] [--database URL]

A real ``radar daemon`` crawls ``--sources`` replica sites of ``bench/scale.py`` (each answer
after 200–400 ms, politeness on) all at once, each once, forked warm from its launcher as by
default. Every 0.2 s it reads ``/proc/PID/smaps_rollup`` of each process under the daemon and
prints each one's peak RSS, PSS (shared pages divided among the processes sharing them) and USS
(private pages: what one more crawl adds), then the crawls' largest and median peaks; on
PostgreSQL also the server's client connections before and at most during the crawls (the
whole server's: other users' count too).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.pool import NullPool  # noqa: E402

from bench.dedupe import scratch_database  # noqa: E402
from bench.scale import _config, _radar, _settings, _stop, tree  # noqa: E402
from bench.scale_sites import Sites  # noqa: E402


def rollup_kib(pid: int) -> tuple[int, int, int]:
    """RSS, PSS and USS of ``pid``, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    return fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"]


def connections(url: str) -> int:
    """Client connections the PostgreSQL server at ``url`` has now (-1: not PostgreSQL)."""
    if not url.startswith("postgresql"):
        return -1
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:  # this one counts too: one less
            return int(conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                        "WHERE backend_type = 'client backend'")) or 0) - 1
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--notices", type=int, default=3)
    parser.add_argument("--setting", action="append", default=[], metavar="KEY: VALUE")
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="radar-crawl-memory-"))
    sites = Sites(args.sources, args.notices).start()
    peaks: dict[int, tuple[str, int, int, int]] = {}
    with scratch_database(args.database, str(work)) as url:
        config = _config(work, sites, url, "every: 1d", **{"max_concurrent_crawls": args.sources,
                                                             "schedule_jitter": 0, **_settings(args)})
        log = work / "daemon.log"
        before = most = connections(url)
        daemon = _radar(config, log, "daemon")
        try:
            deadline = time.monotonic() + 300
            while log.read_text(errors="replace").count("job=crawl ") < args.sources and time.monotonic() < deadline:
                for pid in tree(daemon.pid):
                    try:
                        rss, pss, uss = rollup_kib(pid)
                        role = "daemon" if pid == daemon.pid else "other"
                    except (OSError, KeyError):
                        continue
                    _, *old = peaks.get(pid, (role, 0, 0, 0))
                    peaks[pid] = (role, max(old[0], rss), max(old[1], pss), max(old[2], uss))
                most = max(most, connections(url))
                time.sleep(0.2)
        finally:
            _stop(daemon)
        text = log.read_text(errors="replace")
    print(f"{args.sources} crawls at once, {args.notices} notices each; finished: {text.count('outcome=finished')}")
    print("| process | peak RSS | peak PSS | peak USS |\n|---|---|---|---|")
    for pid, (role, rss, pss, uss) in sorted(peaks.items()):
        print(f"| {role} {pid} | {rss / 1024:.0f} MiB | {pss / 1024:.0f} MiB | {uss / 1024:.0f} MiB |")
    # the launcher is the daemon's first child; the crawls are the rest
    crawls = [p for pid, p in sorted(peaks.items()) if p[0] == "other"][1:]
    if crawls:
        columns = {"RSS": [c[1] for c in crawls], "PSS": [c[2] for c in crawls], "USS": [c[3] for c in crawls]}
        for name, kib in columns.items():
            values = [v / 1024 for v in kib]
            print(f"crawl {name}: largest {max(values):.0f} MiB, median {statistics.median(values):.0f} MiB")
    if before >= 0:
        print(f"PostgreSQL client connections: {before} before, at most {most} during the crawls")
    sites.loop.call_soon_threadsafe(sites.loop.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
