"""The writer process that stores a big crawl's batches: it stores what the crawl process would,
says when the database fails, and when it is gone (or never started) the crawl process stores
the batches itself, so nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from crawler.config.sources import parse_source
from crawler.ingest.ingestor import Ingestor, IngestResult, Pending
from crawler.ingest.prepare import Sealed, prepare
from crawler.ingest.writer import StoreFailed, StoreWriter, WriterGone
from crawler.items import PageItem
from crawler.replica import build_sites
from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow
from tests.e2e import bulk_config

SOURCE = parse_source({"name": "jxnews", "start_urls": ["http://127.0.0.1/jxxw/"], "allow": r"/system/",
                       "schedule": "every: 1h", "region": "江西省"}, 0)


def _batch() -> list[Pending]:
    """The news replica's articles, prepared as the workers prepare them and sealed as the crawl
    process passes them on; each twice, so the second copy of each is stored as unchanged."""
    at = datetime(2025, 7, 2, tzinfo=UTC)
    pages = [PageItem("jxnews", f"http://127.0.0.1:8362{path}", r.body, at, headers={"content-type": r.content_type})
             for path, r in build_sites()["news"].items() if r.expected]
    ready = [prepare(page, SOURCE, detect=True) for page in pages]
    once = [Pending(None, "jxnews", at, None, Sealed(p)) for p in ready]
    return once + once


def _summary(results: list[Any]) -> list[tuple[str, int, str]]:
    assert all(isinstance(r, IngestResult) for r in results), results
    return [(r.status, r.new_events, r.story_match) for r in results]


async def _until(condition: Callable[[], bool]) -> None:
    """Return once ``condition`` holds (a writer starts in a process of its own), or after a
    deadline that only a broken writer reaches; the loop runs meanwhile."""
    deadline = time.monotonic() + 120
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _submit(writer: StoreWriter, batch: list[Pending]) -> Any:
    """Submit ``batch`` once the writer has started; its answer."""
    await _until(lambda: writer.available)
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    assert writer.submit(batch, answer.set_result)
    return await answer


def test_the_writer_stores_what_the_crawl_process_would(db_url: str, tmp_path: Path) -> None:
    batch = _batch()
    here = Ingestor.for_url(f"sqlite:///{tmp_path / 'here.sqlite3'}")
    want = _summary(here.ingest_many(batch))
    here.close()
    assert {"new", "unchanged"} <= {status for status, _e, _m in want} and any(e for _s, e, _m in want)

    async def run() -> Any:
        writer = StoreWriter(db_url)
        try:
            return await _submit(writer, batch)
        finally:
            writer.close()

    assert _summary(asyncio.run(run())) == want
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ArticleRow)) == len(batch) // 2
    engine.dispose()


def test_a_failing_database_fails_the_batch_as_a_database_failure(sqlite_url: str) -> None:
    batch = _batch()

    async def run() -> Any:
        writer = StoreWriter(sqlite_url)
        try:
            await _until(lambda: writer.available)  # started: the database is open
            engine, _ = open_database(sqlite_url, migrate_schema=False)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE near_bands"))
            engine.dispose()
            return await _submit(writer, batch)
        finally:
            writer.close()

    failed = asyncio.run(run())
    assert isinstance(failed, StoreFailed) and failed.database
    assert "OperationalError" in str(failed) and "near_bands" in str(failed)


def test_a_writer_gone_hands_its_batches_back(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    batch = _batch()

    async def run() -> tuple[Any, Any, bool]:
        writer = StoreWriter(sqlite_url)
        try:
            stored = await _submit(writer, batch[:2])
            writer._process.kill()
            writer._process.join()
            answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            sent = writer.submit(batch[2:], answer.set_result)  # may not know yet that it is gone
            lost = await answer if sent else WriterGone()
            return stored, lost, writer.available
        finally:
            writer.close()

    with caplog.at_level(logging.ERROR, logger="crawler.ingest.writer"):
        stored, lost, available = asyncio.run(run())
    assert [r.status for r in stored] == ["new", "new"]
    assert isinstance(lost, WriterGone) and not available
    assert "the store writer ended" in caplog.text


def test_a_writer_that_cannot_start_takes_no_batch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker / 'radar.sqlite3'}"  # its folder cannot be made

    async def run() -> tuple[bool, bool]:
        writer = StoreWriter(url)
        try:
            await _until(writer._starting.done)
            await asyncio.sleep(0.05)  # its callback, on this loop
            return writer.available, writer.submit(_batch()[:1], lambda _answer: None)
        finally:
            writer.close()

    with caplog.at_level(logging.ERROR, logger="crawler.ingest.writer"):
        available, taken = asyncio.run(run())
    assert not available and not taken
    assert "the store writer could not start" in caplog.text and "the crawl process stores" in caplog.text


def _database_holders(crawl: int, db: Path) -> list[int]:
    """Descendants of process ``crawl`` that hold the database file open: the writer (the
    prepare workers never open it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == crawl:
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            grand = int((Path("/proc") / str(parent) / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if crawl not in (parent, grand):
                continue
            if any(os.readlink(fd) == str(db) for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# the most articles in one batch (RADAR_STORE_BATCH's default): the writer answers each batch
# before it takes the next, so more articles stored than one batch holds means one was answered
_FULL_BATCH = 64


def _stored(db: Path) -> int:
    """Articles committed to the SQLite file ``db`` so far (0 before its tables exist)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="finds the writer through /proc")
def test_a_crawl_whose_writer_is_killed_stores_every_article(tmp_path: Path) -> None:
    """The writer killed in the middle of a big crawl: the crawl process stores the batches it
    had not answered, and the rest, itself; every article is stored once, the run is complete."""
    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites

    n = 1200
    db = tmp_path / "radar.sqlite3"
    config = tmp_path / "radar.yaml"
    with ReplicaSites(sites={"bulk": build_bulk_site(n)}) as site:
        bulk_config(config, site.urls["bulk"], db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
        with subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as crawl:
            killed: list[int] = []
            deadline = time.monotonic() + 300
            while not killed and crawl.poll() is None and time.monotonic() < deadline:
                holders = _database_holders(crawl.pid, db)
                if holders and _stored(db) > _FULL_BATCH:  # it has answered a batch by now
                    for pid in holders:
                        os.kill(pid, 9)
                        killed.append(pid)
                time.sleep(0.02)
            _out, err = crawl.communicate(timeout=300)
    assert killed, "the writer was never seen: " + err[-2000:]
    assert crawl.returncode == 0, err[-3000:]
    assert "the store writer ended" in err
    engine, factory = open_database(f"sqlite:///{db}", migrate_schema=False)
    with factory() as s:
        run = s.scalars(select(CrawlRunRow)).one()
        articles = s.scalar(select(func.count()).select_from(ArticleRow))
    engine.dispose()
    assert run.new + run.duplicates == n
    # a batch the writer committed but was killed before answering is stored again, found stored
    # and counted as unchanged (crawler/ingest/writer.py): at most one batch more than the run's new
    assert run.new <= articles <= run.new + _FULL_BATCH
    assert run.stats.get("radar/store_failed", 0) == 0
    assert 0 < run.stats.get("radar/stored_by_writer", 0) < n


def test_a_sealed_article_travels_unopened_and_opens_as_prepared() -> None:
    """What a worker prepared reaches the writer as it left the worker: the crawl process between
    them unpickles only its URL, and passes its bytes on as they are."""
    page = PageItem("jxnews", "http://127.0.0.1:8362/a.shtml",
                    next(r.body for r in build_sites()["news"].values() if r.expected),
                    datetime(2025, 7, 2, tzinfo=UTC), headers={"content-type": "text/html; charset=utf-8"})
    ready = prepare(page, SOURCE, detect=True)
    assert ready.events and ready.near.bands  # so that the comparisons below compare something
    in_crawl = pickle.loads(pickle.dumps(Sealed(ready)))  # as the worker's answer arrives
    assert in_crawl.url == page.url and in_crawl._prepared is None
    pending = Pending(None, "jxnews", page.fetched_at, None, in_crawl)
    assert pending.url == page.url and in_crawl._prepared is None
    at_writer = pickle.loads(pickle.dumps(pending))
    assert in_crawl._prepared is None  # passed on unopened
    article, opened = at_writer.opened()
    assert opened is not None and article is opened.article
    assert article.to_dict() == ready.article.to_dict()
    assert (opened.digest, opened.near.bands) == (ready.digest, ready.near.bands)
    assert [e.to_dict() for e in opened.events or []] == [e.to_dict() for e in ready.events or []]
    # once opened, the object counts: a change made to it then travels with it
    in_crawl.open().article.title = "改过的标题"
    assert pickle.loads(pickle.dumps(in_crawl)).open().article.title == "改过的标题"
    with pytest.raises(ValueError):
        Pending(None, "jxnews", page.fetched_at).opened()
