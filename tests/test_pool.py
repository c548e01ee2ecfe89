"""The worker pool that prepares pages outside the reactor: same result as in-process, errors
come back as themselves, and a dead worker costs its pages, not the crawl."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crawler.ingest import EmptyPage, prepare
from crawler.items import PageItem
from crawler.replica import build_sites
from crawler.sources import parse_source
from spiders.pool import PreparePool, WorkerDied

SOURCE = parse_source({"name": "jxnews", "start_urls": ["http://127.0.0.1/jxxw/"], "allow": r"/system/",
                       "schedule": "every: 1h", "region": "江西省"}, 0)


def _pages() -> list[PageItem]:
    news = build_sites()["news"]
    at = datetime(2025, 7, 2, tzinfo=UTC)
    return [PageItem("jxnews", f"http://127.0.0.1:8362{path}", r.body, at,
                     headers={"content-type": r.content_type}) for path, r in news.items() if r.expected]


def test_pool_prepares_what_the_crawl_process_would() -> None:
    pages = _pages()
    empty = PageItem("jxnews", "http://127.0.0.1:8362/x.shtml", b"<html><body></body></html>",
                     datetime(2025, 7, 2, tzinfo=UTC), headers={"content-type": "text/html; charset=utf-8"})

    async def run() -> None:
        pool = PreparePool(2)
        try:
            results = await asyncio.gather(*(pool.prepare(p, SOURCE, detect=True) for p in pages))
            for page, got in zip(pages, results, strict=True):
                want = prepare(page, SOURCE, detect=True)
                assert got.article.to_dict() == want.article.to_dict()
                assert (got.digest, got.near.bands) == (want.digest, want.near.bands)
                assert list(got.near.shingles) == list(want.near.shingles)
                assert [e.to_dict() for e in got.events or []] == [e.to_dict() for e in want.events or []]
            assert any(r.events for r in results)
            with pytest.raises(EmptyPage):
                await pool.prepare(empty, SOURCE, detect=True)
            # a worker killed mid-crawl: at most the pages it held fail; the rest go to the other
            first = pool._workers[0]
            pending = asyncio.ensure_future(pool.prepare(pages[0], SOURCE, detect=True))
            await asyncio.sleep(0)
            first.process.kill()
            first.process.join()
            (outcome,) = await asyncio.gather(pending, return_exceptions=True)
            assert not isinstance(outcome, BaseException) or isinstance(outcome, WorkerDied)
            again = await asyncio.gather(*(pool.prepare(p, SOURCE, detect=False) for p in pages))
            assert [r.digest for r in again] == [prepare(p, SOURCE).digest for p in pages]
            assert all(r.events is None for r in again)
            assert not first.alive and pool._workers[1].alive
        finally:
            pool.close()

    asyncio.run(run())


def test_shared_pool_is_released_by_its_last_user() -> None:
    first = PreparePool.acquire(1)
    assert PreparePool.acquire(1) is first
    PreparePool.release()
    assert PreparePool._shared is first
    PreparePool.release()
    assert PreparePool._shared is None and not first._workers
