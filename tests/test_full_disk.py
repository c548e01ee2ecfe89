"""A database that cannot be written (a full disk, made here with the kernel's file size limit,
which fails SQLite's writes as a full disk does): a crawl reports it in one line per batch,
stops fetching what it could not store, and loses nothing, since the next crawl fetches what
was not stored; a command that cannot create its database says so in one line. The daemon's
side is in tests/test_daemon.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow
from tests.e2e import bulk_config

ARTICLE = r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$"
# the child limits the size of the files it writes, then becomes radar (no preexec_fn in a
# threaded parent)
_LIMITED = "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), " \
           "resource.RLIM_INFINITY)); os.execv(sys.executable, [sys.executable, '-m', 'crawler.cli', *sys.argv[2:]])"
# Room for SQLite to open the database (its 32 KiB shared-memory index) and write a few pages to
# its write-ahead log, not for a batch of articles.
NEARLY_FULL = 64 * 1024


def _radar(*args: str, room: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    cmd = [sys.executable, "-m", "crawler.cli", *args] if room is None else [sys.executable, "-c", _LIMITED,
                                                                             str(room), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_crawl_on_a_full_disk_stops_early_and_the_next_one_stores_everything(tmp_path: Path) -> None:
    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites

    n = 1500  # more than a crawl fetches while three batches fail
    db = tmp_path / "radar.sqlite3"
    config = tmp_path / "radar.yaml"
    with ReplicaSites(sites={"bulk": build_bulk_site(n)}) as site:
        bulk_config(config, site.urls["bulk"], db)

        # no room to create the database: one line, no traceback
        cannot = _radar("--config", str(config), "crawl", room=1)
        assert cannot.returncode == 1 and "Traceback" not in cannot.stderr, cannot.stderr
        assert cannot.stderr.strip().splitlines()[-1] == "Error: the database failed: OperationalError: disk I/O error"
        assert not any(re.search(ARTICLE, path) for _s, path in site.requests)

        engine, _ = open_database(f"sqlite:///{db}")  # created while there was room
        engine.dispose()
        full = _radar("--config", str(config), "crawl", room=NEARLY_FULL)
        fetched = sum(1 for _s, path in site.requests if re.search(ARTICLE, path))
        assert full.returncode == 2, full.stdout + full.stderr
        assert "database_failing" in full.stdout  # the table's finish column
        # one line per batch, not per article; pages already fetched are still tried
        failures = full.stderr.count("the database is failing (OperationalError: disk I/O error)")
        assert failures >= 3 and full.stderr.count("stopping the crawl of bulk") == 1, full.stderr
        assert full.stderr.count("ERROR") == failures + 1 and "Traceback" not in full.stderr, full.stderr
        assert fetched < n  # it stopped instead of fetching what it could not store

        mark = len(site.requests)
        again = _radar("--config", str(config), "crawl")
        assert again.returncode == 0, again.stdout + again.stderr
    engine, factory = open_database(f"sqlite:///{db}", migrate_schema=False)
    with factory() as s:
        stored = s.scalar(select(func.count()).select_from(ArticleRow))
        run = s.scalars(select(CrawlRunRow).where(CrawlRunRow.status == "finished")).one()
    engine.dispose()
    assert run.new + run.duplicates == n and stored == run.new  # every article, the failed ones included
    refetched = sum(1 for _s, path in site.requests[mark:] if re.search(ARTICLE, path))
    assert refetched == n  # nothing was taken for stored while the disk was full
