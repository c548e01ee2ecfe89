"""Crawl benchmark: a bare Scrapy spider against the full Policy Radar pipeline, then a re-crawl.

Usage::

    python bench/crawl.py [--articles N] [--repeat N] [--database URL] [--json OUT]

Serves a replica news site of N article pages (default 5,000; ``crawler.replica.bulk``: real
paragraphs of the seed pages and of the cwced answers, recombined, one article in ten a repost
of an earlier one) on 127.0.0.1, then, each crawl in a child process of its own (Scrapy's
reactor runs once per process):

1. a bare Scrapy spider that only follows links (listing pages → article pages, next page);
2. ``radar crawl`` into an empty database: fetch, extract, dedupe, store, detect;
   1 and 2 run back to back ``--repeat`` times (default 5), each pipeline crawl into a database
   of its own, and the pair with the median ratio is the one reported (this shared machine's
   speed drifts between runs: a single pair's ratio moved from 0.32 to 0.56, and at one code
   pairs ranged 0.53–0.83 and the median of three 0.59–0.75 over eight runs);
3. the crawl again over the unchanged site, against the median pair's database, as the daemon
   runs it: forked from its warm launcher (``scheduler.launcher``, started beforehand as at the
   daemon's start) with the daemon's arguments. Its listing page holds only stored articles, so
   it stops there and saves the page's validators. Then a third time, as a new ``radar crawl``
   process with the same arguments (now answered 304), which pays Python's, Scrapy's and
   SQLAlchemy's start-up.

It prints each pair's pages/s and ratio, the median ratio (goal ≥ 0.6), the CPU time per page of
the median pair (crawl process, extraction workers with the writer, and this process serving the site; read
from ``/proc``) with the most pages/s the machine's CPUs allow the pipeline, then for 3 the
article pages fetched again (goal ≤ 2 % of the articles) and its wall time as a fraction of 2's
(goal ≤ 5 %), and the third crawl's. pages/s is responses received over Scrapy's elapsed time
(spider open → close); wall time is the whole child process, start-up included (the crawl's own
share is printed too): for 3, from the request to the launcher to the exit code the daemon
reads. The bare spider gets Policy Radar's Scrapy settings less its pipelines and extensions;
politeness (download delay, AutoThrottle, per-host concurrency) is lifted for the loopback site
only, the same for both. The project's modules are byte-compiled first, as an installed wheel's are.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CWCED = REPO.parent / "shared" / "pages" / "cwced"
FALLBACK_CWCED = REPO / "tests" / "data" / "cwced"
ARTICLE = r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$"
GOALS = {"ratio": 0.6, "refetch": 0.02, "recrawl_time": 0.05}

# Lifted politeness, for the loopback bench only; both spiders get exactly these.
LOOPBACK = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "LOG_LEVEL": "WARNING",
}


def _bare_child(start_url: str, out: str, mode: str = "radar") -> None:
    """Child process: a spider that follows links and does nothing else, with Policy Radar's own
    Scrapy settings (less its pipelines and extensions) and the same loopback overrides; with
    ``mode`` "defaults", with Scrapy's defaults instead (robots.txt obeyed, loopback overrides)."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor
    from scrapy.settings import Settings

    class Bare(scrapy.Spider):
        name = "bare"
        links = LinkExtractor(allow=ARTICLE)

        async def start(self) -> Any:
            yield scrapy.Request(start_url, dont_filter=True)

        def parse(self, response: Any, **kwargs: Any) -> Any:
            for link in self.links.extract_links(response):
                yield scrapy.Request(link.url, callback=self.parse_article)
            href = response.css("a.next::attr(href)").get()
            if href:
                yield response.follow(href, callback=self.parse)

        def parse_article(self, response: Any) -> Any:
            return None

    settings = Settings()
    if mode == "radar":
        settings.setmodule("spiders.settings", priority="project")
        settings.setdict({"ITEM_PIPELINES": {}, "EXTENSIONS": {}, "SPIDER_MODULES": []}, priority="cmdline")
    else:
        settings.setdict({"ROBOTSTXT_OBEY": True, "TELNETCONSOLE_ENABLED": False}, priority="cmdline")
    settings.setdict(LOOPBACK, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Bare)
    process.crawl(crawler)
    if mode == "radar":
        gc.freeze()  # as spiders.runner does before a crawl
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    Path(out).write_text(json.dumps({k: v for k, v in stats.items() if isinstance(v, (int, float))}))


class TreeCpu(threading.Thread):
    """CPU seconds of a process and of its descendants, read from ``/proc`` every 50 ms while
    they run: the extraction workers and the writer are children of multiprocessing's fork server, which no
    ``rusage`` of ours counts. ``root`` and ``rest`` are 0 where there is no ``/proc``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.seen: dict[int, float] = {}
        self.done = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.children_lists = Path(f"/proc/self/task/{threading.get_native_id()}/children").exists()

    def _tree(self) -> set[int]:
        """The process and its descendants, from each thread's ``children`` list (the fork
        server is started by a helper thread); where the kernel has no such lists, every
        process's parent from a scan of ``/proc``. The scan read some 100 files each time, 3 ms
        of this process's CPU every 50 ms: a twentieth of a CPU taken from the crawl measured,
        and counted as serving the site."""
        if not self.children_lists:
            return self._tree_by_scan()
        tree, todo = {self.pid}, [self.pid]
        while todo:
            pid = todo.pop()
            try:
                threads = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue  # gone meanwhile
            for tid in threads:
                try:
                    children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
                except OSError:
                    continue
                for child in map(int, children):
                    if child not in tree:
                        tree.add(child)
                        todo.append(child)
        return tree

    def _tree_by_scan(self) -> set[int]:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
            if not entry.name.isdigit():
                continue
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue  # gone meanwhile
        tree = {self.pid}
        for _ in range(4):  # crawl process -> fork server -> workers
            tree |= {pid for pid, parent in parents.items() if parent in tree}
        return tree

    def _sample(self) -> None:
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            cpu = (int(fields[11]) + int(fields[12])) / self.tick
            self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))

    def run(self) -> None:
        while not self.done.wait(0.05):
            self._sample()

    @property
    def root(self) -> float:
        return self.seen.get(self.pid, 0.0)

    @property
    def rest(self) -> float:
        return sum(v for pid, v in self.seen.items() if pid != self.pid)


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str], TreeCpu]:
    start = time.perf_counter()
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        cpu = TreeCpu(child.pid)
        cpu.start()
        out, err = child.communicate()
        cpu.done.set()
    took = time.perf_counter() - start
    done = subprocess.CompletedProcess(cmd, child.returncode, out, err)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return took, done, cpu


def _run_warm(launcher: Any, args: list[str], env: dict[str, str]) -> float:
    """Wall time of ``radar <args>`` forked by ``launcher``, from the request to the exit code."""
    start = time.perf_counter()
    child = launcher.spawn(args, env)
    out, _ = child.communicate()
    took = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"radar {' '.join(args)} (warm) failed ({child.returncode}):\n{out[-3000:].decode()}")
    return took


def _last_run_stats(db_url: str) -> dict[str, Any]:
    from sqlalchemy import select

    from storage.db import open_database
    from storage.models import CrawlRunRow

    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        row = s.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id.desc()).limit(1)).one()
        stats = dict(row.stats)
    engine.dispose()
    return stats


def _paragraphs(cwced: Path) -> tuple[str, ...]:
    from crawler.replica.bulk import paragraphs_of, seed_paragraphs

    texts = [p.read_text(encoding="utf-8") for p in sorted((cwced / "cleaned").glob("*.txt"))]
    return seed_paragraphs() + paragraphs_of(texts)


@dataclass
class Pair:
    """One bare crawl and one pipeline crawl, run back to back (the machine's speed drifts)."""

    bare_pages: int
    bare_elapsed: float  # Scrapy's elapsed_time_seconds: spider open → close
    bare_wall: float  # the whole child process, start-up included
    bare_cpu: TreeCpu
    bare_served: float  # CPU this process spent serving the site meanwhile
    full_wall: float
    full_cpu: TreeCpu
    full_served: float
    full_stats: dict[str, Any]  # the pipeline crawl's run, as crawl_runs recorded it
    first_fetches: int

    @property
    def bare_rate(self) -> float:
        return self.bare_pages / self.bare_elapsed

    @property
    def full_pages(self) -> int:
        return int(self.full_stats["response_received_count"])

    @property
    def full_elapsed(self) -> float:
        return float(self.full_stats["elapsed_time_seconds"])

    @property
    def full_rate(self) -> float:
        return self.full_pages / self.full_elapsed

    @property
    def ratio(self) -> float:
        return self.full_rate / self.bare_rate


def _config(tmp: str, n: int, db_url: str, start_url: str) -> Path:
    import yaml

    config = Path(tmp) / f"bench-{n}.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "data_dir": tmp, "scrapy": LOOPBACK},
        "sources": [{"name": "bulk", "kind": "listing", "start_urls": [start_url], "allow": ARTICLE,
                     "next_page": "a.next::attr(href)", "schedule": {"every": "1d"},
                     "max_pages": 100000, "region": "江西省"}],
    }, allow_unicode=True), encoding="utf-8")
    return config


def _pair(sites: Any, start_url: str, tmp: str, n: int, db_url: str, env: dict[str, str]) -> tuple[Pair, list[str]]:
    out = Path(tmp) / "bare.json"
    served = time.process_time()  # this process serves the site (ReplicaSites' thread)
    bare_wall, _, bare_cpu = _run([sys.executable, __file__, "--child", start_url, str(out), "radar"], env)
    bare_served = time.process_time() - served
    bare = json.loads(out.read_text())
    mark = len(sites.requests)
    served = time.process_time()
    config = _config(tmp, n, db_url, start_url)
    crawl = [sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl", "--quiet"]
    full_wall, _, full_cpu = _run(crawl, env)
    full_served = time.process_time() - served
    return Pair(
        bare_pages=int(bare["response_received_count"]), bare_elapsed=float(bare["elapsed_time_seconds"]),
        bare_wall=bare_wall, bare_cpu=bare_cpu, bare_served=bare_served,
        full_wall=full_wall, full_cpu=full_cpu, full_served=full_served, full_stats=_last_run_stats(db_url),
        first_fetches=sum(1 for _site, p in sites.requests[mark:] if re.search(ARTICLE, p)),
    ), crawl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file per pair)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="bare/pipeline pairs to run, back to back; the ratio printed is their median "
                             "(default 5, or 1 with --database: each pipeline crawl needs an empty database)")
    parser.add_argument("--cwced", type=Path, default=DEFAULT_CWCED if DEFAULT_CWCED.exists() else FALLBACK_CWCED)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=3, metavar=("START_URL", "OUT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _bare_child(*args.child)
        return 0
    if args.repeat is None:
        args.repeat = 1 if args.database else 5
    if args.repeat < 1 or (args.database and args.repeat != 1):
        parser.error("--repeat must be 1 with --database (every pipeline crawl needs an empty database), "
                     "and at least 1")

    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites
    from scheduler.jobs import cold_command, crawl_args
    from scheduler.launcher import Launcher, supported

    if not supported():
        parser.error("the re-crawl is measured as the daemon runs it, forked warm: that needs Linux (os.pidfd_open)")

    # Every crawl is a fresh process that imports the project's modules. An installed wheel has
    # their bytecode; an editable install under PYTHONDONTWRITEBYTECODE (as on the development
    # machines) compiles them from source in every process, a tenth of a re-crawl's wall time.
    for package in ("crawler", "spiders", "storage", "scheduler"):
        compileall.compile_dir(REPO / package, quiet=1)

    pages = build_bulk_site(args.articles, _paragraphs(args.cwced))
    articles = [p for p in pages if re.search(ARTICLE, p)]
    reposts = sum(1 for p in articles if (pages[p].expected or {}).get("repost_of"))
    with tempfile.TemporaryDirectory(prefix="radar-bench-") as tmp, \
            ReplicaSites(sites={"bulk": pages}) as sites:
        base = sites.urls["bulk"]
        start_url = f"{base}/bulk/index.html"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}

        out = Path(tmp) / "plain.json"
        _run([sys.executable, __file__, "--child", start_url, str(out), "defaults"], env)
        plain = json.loads(out.read_text())
        plain_rate = plain["response_received_count"] / plain["elapsed_time_seconds"]

        pairs: list[tuple[Pair, str, list[str]]] = []
        for i in range(args.repeat):
            db_url = args.database or f"sqlite:///{tmp}/bench-{i}.sqlite3"
            pair, crawl = _pair(sites, start_url, tmp, i, db_url, env)
            pairs.append((pair, db_url, crawl))
        # the median pair is the one reported in full, and re-crawled
        ordered = sorted(pairs, key=lambda p: p[0].ratio)
        median, db_url, crawl = ordered[len(ordered) // 2]

        # the daemon's own arguments (less the run row it opens first), forked warm as it forks them
        daemon_args = crawl_args("bulk", Path(crawl[crawl.index("--config") + 1]), memory_mb=2048)
        with Launcher() as launcher:
            mark = len(sites.requests)
            again_wall = _run_warm(launcher, daemon_args, env)
        again = _last_run_stats(db_url)
        refetched = sum(1 for _site, p in sites.requests[mark:] if re.search(ARTICLE, p))
        again_requests = len(sites.requests) - mark
        # and once more as a new process: the listing page now answers 304 to the validators saved
        mark = len(sites.requests)
        third_wall, _, _cpu = _run(cold_command(daemon_args), env)
        third = _last_run_stats(db_url)
        third_refetched = sum(1 for _site, p in sites.requests[mark:] if re.search(ARTICLE, p))

    full = median.full_stats
    ratio = median.ratio
    print(f"replica: {len(articles)} article pages ({reposts} of them reposts), {len(pages) - len(articles)} "
          "other pages, on 127.0.0.1")
    if len(pairs) > 1:
        print(f"{len(pairs)} pairs, each a bare crawl then a pipeline crawl (this shared machine's speed drifts):")
        for n, (pair, _url, _cmd) in enumerate(pairs, 1):
            print(f"  pair {n}: bare {pair.bare_rate:7.1f} pages/s, pipeline {pair.full_rate:6.1f} pages/s, "
                  f"ratio {pair.ratio:.2f}")
        print("the median pair:")
    print(f"bare Scrapy spider    : {median.bare_pages:6d} pages in {median.bare_elapsed:6.1f} s = "
          f"{median.bare_rate:6.1f} pages/s  "
          f"(process {median.bare_wall:.1f} s)")
    print(f"  (the same spider with Scrapy's default settings: {plain_rate:6.1f} pages/s; its CONCURRENT_ITEMS = 100 "
          "starts 100 asyncio tasks per callback)")
    print(f"Policy Radar pipeline : {median.full_pages:6d} pages in {median.full_elapsed:6.1f} s = "
          f"{median.full_rate:6.1f} pages/s  (process {median.full_wall:.1f} s)")
    print(f"  stored {full.get('radar/new', 0)} new articles ({full.get('radar/story_near', 0)} joined the story of a "
          f"near-duplicate), {full.get('radar/duplicate', 0)} exact copies, {full.get('radar/events_new', 0)} events; "
          f"duplicate filter held {full.get('radar/dupefilter_fingerprints', '?')} request fingerprints")
    verdict = "ok" if ratio >= GOALS["ratio"] else "MISSED"
    label = "ratio pipeline / bare" if len(pairs) == 1 else "median ratio         "
    print(f"{label} : {ratio:.2f}  (goal ≥ {GOALS['ratio']})  {verdict}")
    cpus = os.cpu_count() or 1
    if median.full_cpu.root:
        ms = 1000 / median.bare_pages, 1000 / median.full_pages
        bare_total = (median.bare_cpu.root + median.bare_cpu.rest + median.bare_served) * ms[0]
        full_total = (median.full_cpu.root + median.full_cpu.rest + median.full_served) * ms[1]
        print("CPU per page (ms)     : crawl process / workers, writer / site server / total")
        print(f"  bare Scrapy spider  : {median.bare_cpu.root * ms[0]:5.2f} / {median.bare_cpu.rest * ms[0]:5.2f} / "
              f"{median.bare_served * ms[0]:5.2f} / {bare_total:5.2f}")
        print(f"  Policy Radar        : {median.full_cpu.root * ms[1]:5.2f} / {median.full_cpu.rest * ms[1]:5.2f} / "
              f"{median.full_served * ms[1]:5.2f} / {full_total:5.2f}")
        ceiling = min(cpus / full_total, 1 / (median.full_cpu.root * ms[1])) * 1000
        print(f"  on this machine's {cpus} CPUs the pipeline can do at most {ceiling:.0f} pages/s "
              f"(ratio ≤ {ceiling / median.bare_rate:.2f}): all CPUs busy, or the crawl process's one")
    refetch_share = refetched / max(1, median.first_fetches)
    crawl_share = float(again.get("elapsed_time_seconds", 0)) / median.full_elapsed
    time_share = again_wall / median.full_wall
    status = {code: n for k, n in again.items() if k.startswith("downloader/response_status_count/")
              for code in [k.rsplit("/", 1)[1]]}
    print(f"re-crawl, site unchanged: {again_requests} requests (responses by status: {status}), "
          f"{refetched} article pages fetched again = {refetch_share:.1%}  (goal ≤ {GOALS['refetch']:.0%})  "
          f"{'ok' if refetch_share <= GOALS['refetch'] else 'MISSED'}")
    print(f"re-crawl wall time, as the daemon runs it (forked by its warm launcher): {again_wall:.2f} s = "
          f"{time_share:.1%} of the first pass's process  (goal ≤ {GOALS['recrawl_time']:.0%})  "
          f"{'ok' if time_share <= GOALS['recrawl_time'] else 'MISSED'}")
    print(f"  of which the crawl itself (Scrapy engine start to finish): {float(again['elapsed_time_seconds']):.2f} s "
          f"= {crawl_share:.1%} of the first pass's; the rest is the fork, the config and the database")
    third_status = {code: n for k, n in third.items() if k.startswith("downloader/response_status_count/")
                    for code in [k.rsplit("/", 1)[1]]}
    print(f"third crawl, as a new `radar crawl` process: responses by status {third_status}, {third_refetched} "
          f"article pages fetched, process {third_wall:.2f} s = {third_wall / median.full_wall:.1%} of the first "
          "pass's (Python, Scrapy and SQLAlchemy start-up included)")
    if args.json:
        args.json.write_text(json.dumps({
            "articles": len(articles), "bare_pages_per_s": median.bare_rate,
            "bare_default_settings_pages_per_s": plain_rate, "full_pages_per_s": median.full_rate,
            "ratio": ratio, "ratios": [p.ratio for p, _u, _c in pairs],
            "refetched": refetched, "refetch_share": refetch_share,
            "recrawl_wall_s": again_wall, "first_wall_s": median.full_wall, "recrawl_time_share": time_share,
            "recrawl_crawl_share": crawl_share, "recrawl_cold_wall_s": third_wall,
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
