"""Faults against a paginated site: does every article get stored in the end?

Serves the bulk replica site (``crawler.replica.bulk``: real paragraphs, 20 articles a listing
page) with N articles (default 200, so 10 listing pages) on 127.0.0.1 and crawls it with
``radar crawl`` as a child process, into a new SQLite database (or ``--database-url``) per case:

- ``kill -9`` at five moments (when the crawl has stored 0, 20 %, 40 %, 60 % and 80 % of the
  articles; 0: once its first listing page is read), then one further crawl;
- the database locked (SQLite: an exclusive transaction; PostgreSQL: ``LOCK TABLE articles``)
  for ``--lock-seconds`` (default 90) while the crawl runs, then one further crawl;
- SIGINT (a graceful stop) at 40 %, then one further crawl.

Prints the articles stored after the fault and after the further crawl. Goal: N of N each time.

    python bench/faults.py [--articles 200] [--lock-seconds 90] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import yaml
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.replica.bulk import build_bulk_site  # noqa: E402
from crawler.replica.server import ReplicaSites  # noqa: E402
from storage.db import open_database  # noqa: E402
from storage.models import ArticleUrlRow, FrontierRow  # noqa: E402

ARTICLE = r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$"


def write_config(path: Path, site: str, database_url: str) -> Path:
    """A config crawling the bulk site at ``site`` into ``database_url``, breadth-first (listing
    page 1's articles before page 2, the order of the crawl the issue reports), a request at a
    time with a short delay, so faults land in the middle of the crawl, not after the last
    page was fetched (fetching outruns storing)."""
    path.write_text(yaml.safe_dump({
        "settings": {"database_url": database_url,
                     "scrapy": {"DOWNLOAD_DELAY": 0.05, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 4,
                                "CONCURRENT_REQUESTS_PER_DOMAIN": 1, "RETRY_TIMES": 1, "DEPTH_PRIORITY": 1,
                                "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
                                "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue"}},
        "sources": [{"name": "bulk", "start_urls": [f"{site}/bulk/index.html"], "allow": ARTICLE,
                     "next_page": "a.next::attr(href)", "schedule": "every: 1h", "max_pages": 1000}]}),
        encoding="utf-8")
    return path


class Store:
    """What the crawl has stored so far, read from its database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine, self.factory = open_database(url)

    def stored(self) -> int:
        with self.factory() as s:
            return int(s.scalar(select(func.count()).select_from(ArticleUrlRow)
                                .where(ArticleUrlRow.source == "bulk")) or 0)

    def discovered(self) -> int:
        with self.factory() as s:
            return self.stored() + int(s.scalar(select(func.count()).select_from(FrontierRow)) or 0)

    def close(self) -> None:
        self.engine.dispose()


def crawl(config: Path) -> subprocess.Popen[bytes]:
    """``radar crawl`` as a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl", "--quiet"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], deadline: float = 300) -> bool:
    """Poll ``condition`` until it holds (True) or ``process`` ended (False)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    return False


@contextmanager
def database(tmp: Path, name: str, url: str | None) -> Iterator[str]:
    """A database of its own for one case: a SQLite file, or a schema of ``url`` (PostgreSQL)."""
    if url is None:
        yield f"sqlite:///{tmp / (name + '.sqlite3')}"
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"faults_{name}_{os.getpid()}"
    with engine.connect() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        joiner = "&" if "?" in url else "?"
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def finish(config: Path) -> None:
    crawl(config).wait(timeout=600)


def case_signal(tmp: Path, site: str, db_url: str, *, sig: int, when: int) -> tuple[int, int]:
    """Stop a crawl with ``sig`` once it stored ``when`` articles (0: read its first listing page),
    then crawl once more; returns (stored after the stop, stored after the further crawl)."""
    config = write_config(tmp / "radar.yaml", site, db_url)
    store = Store(db_url)
    try:
        process = crawl(config)
        condition = (lambda: store.stored() >= when) if when else (lambda: store.discovered() > 0)
        wait_for(condition, process)
        process.send_signal(sig)
        process.wait(timeout=300)
        after = store.stored()
        finish(config)
        return after, store.stored()
    finally:
        store.close()


def hold_lock(db_url: str, seconds: float, taken: threading.Event) -> None:
    """Lock the database against writers for ``seconds``."""
    engine = create_engine(db_url, connect_args={"timeout": 60} if db_url.startswith("sqlite") else {})
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            c.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            c.execute(text("BEGIN"))
            c.execute(text("LOCK TABLE articles, frontier IN ACCESS EXCLUSIVE MODE"))
        taken.set()
        time.sleep(seconds)
        c.rollback()
    engine.dispose()


def case_lock(tmp: Path, site: str, db_url: str, seconds: float, when: int) -> tuple[int, int]:
    """Lock the database for ``seconds`` once the crawl stored ``when`` articles; after the crawl
    ended, crawl once more. Returns (stored after the locked crawl, after the further crawl)."""
    config = write_config(tmp / "radar.yaml", site, db_url)
    store = Store(db_url)
    try:
        process = crawl(config)
        wait_for(lambda: store.stored() >= when, process)
        taken = threading.Event()
        locker = threading.Thread(target=hold_lock, args=(db_url, seconds, taken), daemon=True)
        locker.start()
        taken.wait(timeout=120)
        process.wait(timeout=600 + seconds)
        locker.join()
        after = store.stored()
        finish(config)
        return after, store.stored()
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--lock-seconds", type=float, default=90.0)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (default: a SQLite file per case)")
    args = parser.parse_args(argv)
    n = args.articles
    moments = [0, n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5]
    results: list[tuple[str, int, int]] = []
    with ReplicaSites(sites={"bulk": build_bulk_site(n)}) as sites, \
            tempfile.TemporaryDirectory(prefix="radar-faults-") as tmp_name:
        tmp, site = Path(tmp_name), sites.urls["bulk"]
        print(f"{n} articles on {(n + 19) // 20} listing pages at {site}; goal: {n} of {n} each time", flush=True)
        cases: list[tuple[str, Callable[[str], tuple[int, int]]]] = [
            (f"kill -9 at {k} stored" if k else "kill -9 after the first listing page",
             partial(case_signal, tmp, site, sig=signal.SIGKILL, when=k)) for k in moments]
        cases.append((f"database locked {args.lock_seconds:g} s at {n // 5} stored",
                      lambda url: case_lock(tmp, site, url, args.lock_seconds, n // 5)))
        cases.append((f"SIGINT at {2 * n // 5} stored",
                      partial(case_signal, tmp, site, sig=signal.SIGINT, when=2 * n // 5)))
        for number, (label, run) in enumerate(cases):
            with database(tmp, f"case{number}", args.database_url) as url:
                after, final = run(url)
            results.append((label, after, final))
            print(f"{label:<40} {after:>4} after the fault, {final:>4} of {n} after one more crawl", flush=True)
    bad = [label for label, _after, final in results if final != n]
    print("goal met" if not bad else f"goal NOT met: {', '.join(bad)}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
