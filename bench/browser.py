"""Browser bench: the same crawl fetched plainly and in Chromium (``render: browser``).

Usage::

    python bench/browser.py [--articles N] [--cwced DIR] [--json OUT]

Serves bench/crawl.py's replica news site (``crawler.replica.bulk``: real paragraphs of the seed
pages and of the cwced answers, recombined) with N article pages (default 500) on 127.0.0.1,
then runs ``radar crawl`` on it twice, each into a fresh SQLite database, in a child process of
its own: once with ``render: plain``, once with ``render: browser`` (every listing and article
page loaded in Chromium, read once the network is quiet). Politeness is lifted for the loopback
site (bench/crawl.py's settings), the same for both.

For each it prints pages/s (responses received over Scrapy's elapsed time, spider open →
close), the child's wall time, and the peak RSS of the whole process tree (the crawl process,
its extraction workers and writer, and for the browser Playwright's driver and every Chromium
process), summed over the processes, sampled every 100 ms from ``/proc``. A shared page counts
once per process in that sum (an upper bound: Chromium's many processes share much), so the
peak of the summed PSS (each shared page divided among its processes) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl import ARTICLE, DEFAULT_CWCED, FALLBACK_CWCED, LOOPBACK, REPO, TreeCpu, _last_run_stats, _paragraphs


class TreeRss(TreeCpu):
    """The peaks, over samples, of the summed RSS and the summed PSS (each shared page divided
    among the processes that map it) of a process and its descendants (bytes), and the most
    processes seen at once."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.peak = 0
        self.peak_pss = 0
        self.most = 0

    def _sample(self) -> None:
        rss, pss, count = 0, 0, 0
        for pid in self._tree():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            except OSError:
                continue  # gone meanwhile
            kib = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if line.endswith("kB")}
            rss += kib.get("Rss", 0) * 1024
            pss += kib.get("Pss", 0) * 1024
            count += 1
        self.peak = max(self.peak, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.most = max(self.most, count)

    def run(self) -> None:
        while not self.done.wait(0.1):
            self._sample()


def _config(tmp: Path, mode: str, start_url: str) -> tuple[Path, str]:
    import yaml

    db_url = f"sqlite:///{tmp}/{mode}.sqlite3"
    config = tmp / f"{mode}.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "data_dir": str(tmp), "scrapy": LOOPBACK},
        "sources": [{"name": "bulk", "kind": "listing", "start_urls": [start_url], "allow": ARTICLE,
                     "next_page": "a.next::attr(href)", "schedule": {"every": "1d"}, "max_pages": 100000,
                     "region": "江西省", "render": mode}],
    }, allow_unicode=True), encoding="utf-8")
    return config, db_url


def _crawl(tmp: Path, mode: str, start_url: str, env: dict[str, str]) -> dict[str, Any]:
    config, db_url = _config(tmp, mode, start_url)
    cmd = [sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl", "--quiet"]
    start = time.perf_counter()
    with subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        rss = TreeRss(child.pid)
        rss.start()
        _out, err = child.communicate()
        rss.done.set()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({child.returncode}):\n{err[-3000:]}")
    stats = _last_run_stats(db_url)
    pages, elapsed = int(stats["response_received_count"]), float(stats["elapsed_time_seconds"])
    return {"mode": mode, "pages": pages, "new": int(stats.get("radar/new", 0)), "elapsed": elapsed,
            "pages_per_s": pages / elapsed, "wall": wall, "peak_rss_mb": rss.peak / 2**20,
            "peak_pss_mb": rss.peak_pss / 2**20, "processes": rss.most}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--cwced", type=Path, default=DEFAULT_CWCED if DEFAULT_CWCED.exists() else FALLBACK_CWCED)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites

    pages = build_bulk_site(args.articles, _paragraphs(args.cwced))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    results = []
    with tempfile.TemporaryDirectory(prefix="radar-bench-browser-") as tmp, \
            ReplicaSites(sites={"bulk": pages}) as sites:
        start_url = f"{sites.urls['bulk']}/bulk/index.html"
        for mode in ("plain", "browser"):
            results.append(_crawl(Path(tmp), mode, start_url, env))
    print(f"{args.articles} article pages, {os.cpu_count()} CPUs; peak RSS summed over the crawl's process tree")
    print(f"{'render':8} {'pages':>6} {'new':>5} {'elapsed s':>10} {'pages/s':>8} {'wall s':>7} {'peak RSS MB':>12} "
          f"{'peak PSS MB':>12} {'processes':>9}")
    for r in results:
        print(f"{r['mode']:8} {r['pages']:6d} {r['new']:5d} {r['elapsed']:10.1f} {r['pages_per_s']:8.1f} "
              f"{r['wall']:7.1f} {r['peak_rss_mb']:12.0f} {r['peak_pss_mb']:12.0f} {r['processes']:9d}")
    plain, browser = results
    print(f"browser / plain: {browser['pages_per_s'] / plain['pages_per_s']:.2f}× the pages/s, "
          f"{browser['peak_rss_mb'] / plain['peak_rss_mb']:.1f}× the peak RSS")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
