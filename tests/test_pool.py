"""The worker pool that prepares pages outside the reactor: same result as in-process, errors
come back as themselves, a dead worker costs its pages, not the crawl, and a crawl starts the
workers when it has many pages for them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import select

from crawler.config.sources import parse_source
from crawler.ingest.pool import WORKER_NICENESS, PreparePool, WorkerDied
from crawler.ingest.prepare import EmptyPage, prepare
from crawler.items import PageItem
from crawler.replica import build_sites
from spiders.pipelines import ExtractPipeline
from storage import runs
from storage.db import open_database, transaction
from storage.models import CrawlRunRow
from tests.e2e import python_child, radar

T = TypeVar("T")

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
            sealed = await asyncio.gather(*(pool.prepare(p, SOURCE, detect=True) for p in pages))
            # the crawl process gets each result sealed: its URL, and the rest once opened
            assert [s.url for s in sealed] == [p.url for p in pages]
            results = [s.open() for s in sealed]
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
            again = [s.open() for s in await asyncio.gather(*(pool.prepare(p, SOURCE, detect=False) for p in pages))]
            assert [r.digest for r in again] == [prepare(p, SOURCE).digest for p in pages]
            assert all(r.events is None for r in again)
            assert not first.alive and pool._workers[1].alive
        finally:
            pool.close()

    asyncio.run(run())


def _cpu_of_tree(root: int) -> float:
    """CPU seconds used so far by process ``root`` and its descendants that are still running."""
    tree: dict[int, tuple[int, int]] = {}  # pid -> (parent, CPU ticks)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            tree[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    ticks, todo = 0, [root]
    while todo:
        pid = todo.pop()
        ticks += tree.get(pid, (0, 0))[1]
        todo += [child for child, (parent, _t) in tree.items() if parent == pid]
    return ticks / os.sysconf("SC_CLK_TCK")


async def _unless_stalled(work: Awaitable[T], quiet: float = 60) -> T:
    """What ``work`` returns; fails if it is not done and neither this process nor any of its
    children (the pool's fork server and workers) used any CPU for ``quiet`` seconds: stalled,
    as processes waiting for each other are. Told by progress, not by a time limit, which a
    niced worker on a loaded machine would overrun."""
    task = asyncio.ensure_future(work)
    used = _cpu_of_tree(os.getpid())
    while True:
        done, _ = await asyncio.wait({task}, timeout=quiet)
        if done:
            return task.result()
        before, used = used, _cpu_of_tree(os.getpid())
        if used <= before:
            task.cancel()
            pytest.fail(f"no process of the pool used any CPU for {quiet} s: stalled")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="tells a stall by CPU use in /proc")
def test_long_pages_both_ways_do_not_stall_the_pool() -> None:
    """Pages and results far larger than a socket's buffer, several in flight: a worker sending
    a long result waits for the crawl process to read it, so the crawl process must never wait
    to send that worker more (it did, and both waited for ever)."""
    from crawler.replica.bulk import seed_paragraphs

    page = _pages()[0]
    text = page.body.decode("utf-8")
    # a long work report: the seeds' paragraphs, numbered so that none repeats (several MB)
    paragraphs = [f"<p>（{n}）{p}</p>" for n, p in enumerate(seed_paragraphs() * 40)]
    start, end = text.index("<p>"), text.rindex("</p>") + 4
    long_body = (text[:start] + "".join(paragraphs) + text[end:]).encode("utf-8")
    pages = [PageItem("jxnews", f"http://127.0.0.1:8362/long/{n}.shtml", long_body, page.fetched_at,
                      headers=page.headers) for n in range(3)]

    async def run() -> list[Any]:
        pool = PreparePool(1)
        try:
            return await _unless_stalled(asyncio.gather(*(pool.prepare(p, SOURCE, detect=False) for p in pages)))
        finally:
            pool.close()

    results = [s.open() for s in asyncio.run(run())]
    assert len(long_body) > 2_000_000 and len({r.digest for r in results}) == 1
    assert len(results[0].article.body) > 500_000


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX scheduling priorities")
def test_workers_yield_the_cpu_to_the_crawl_process() -> None:
    async def run() -> None:
        pool = PreparePool(1)
        try:
            await pool.prepare(_pages()[0], SOURCE, detect=False)
            worker = pool._workers[0].process.pid
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, worker) == min(19, mine + WORKER_NICENESS)  # 19 is the floor
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


def test_a_crawl_starts_workers_at_once_only_when_many_articles_are_new(tmp_path: Path, replica: Any) -> None:
    """A crawl whose listing shows many new articles hands every page to the workers (the crawl
    process never loads the extractor); one with a few new articles prepares them itself."""
    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites

    park = {"name": "park", "kind": "listing", "start_urls": [f"{replica.urls['park']}/news/list_1.html"],
            "allow": r"/news/\d{4}-\d{2}-\d{2}/\d+\.html$", "next_page": "a.next::attr(href)",
            "selectors": {"body": "div.article-content"}, "schedule": {"every": "1h"}}
    with ReplicaSites(sites={"bulk": build_bulk_site(40)}) as bulk_site:
        bulk = {"name": "bulk", "kind": "listing", "start_urls": [f"{bulk_site.urls['bulk']}/bulk/index.html"],
                "allow": r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$", "next_page": "a.next::attr(href)",
                "schedule": {"every": "1h"}}
        db = f"sqlite:///{tmp_path / 'radar.sqlite3'}"
        config = tmp_path / "radar.yaml"
        config.write_text(yaml.safe_dump({"settings": {"database_url": db, "scrapy": {"DOWNLOAD_DELAY": 0}},
                                          "sources": [bulk, park]}), encoding="utf-8")
        done = radar("--config", str(config), "crawl")
    assert done.returncode == 0, done.stdout + done.stderr
    engine, factory = open_database(db, migrate_schema=False)
    with factory() as s:
        runs = {r.source: r for r in s.scalars(select(CrawlRunRow))}
    engine.dispose()
    assert runs["bulk"].new + runs["bulk"].duplicates == 40 and runs["bulk"].new >= 36  # one in ten a repost
    assert runs["bulk"].stats.get("radar/prepared_inline", 0) == 0
    assert 0 < runs["park"].new < ExtractPipeline.INLINE_FIRST
    assert runs["park"].stats.get("radar/prepared_inline") == runs["park"].new


def test_the_crawl_process_reads_workers_events_without_loading_the_detector() -> None:
    """Unpickling a worker's events imports ``crawler.events``; that must not load the detector
    (its rules, number grammar and place index), which the crawl process never runs."""
    code = ("import pickle, sys; from crawler.events.model import Event; "
            "blob = pickle.dumps([Event('signing', evidence='签约')]); "
            "assert 'crawler.events.detect' not in sys.modules; "
            "events = pickle.loads(blob); "
            "assert events[0].evidence == '签约', events; "
            "assert 'crawler.events.detect' not in sys.modules, 'the detector was loaded'; "
            "from crawler.events import detect_events; "
            "assert 'crawler.events.detect' in sys.modules and callable(detect_events)")
    python_child(code)


def test_the_helpers_fork_server_preloads_what_they_use_and_starts_nothing() -> None:
    """The fork server's preload (``crawler.ingest.pool.PRELOAD``) readies ``prepare`` for the workers
    (``crawler.ingest.warm``: extractor, rules, place names) and the database layer for the writer, and
    leaves no thread running and no database open: every helper is forked from it, and a forked
    thread or connection would be a broken copy. ``crawler.ingest.warm`` alone loads no database layer:
    the workers never touch the database."""
    code = ("import sys, threading, gc, sqlite3; import crawler.ingest.warm; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'storage')); "
            "assert not loaded, loaded; "
            "from crawler.ingest.pool import PRELOAD; import importlib; [importlib.import_module(m) for m in PRELOAD]; "
            "assert 'crawler.events.detect' in sys.modules and 'crawler.extraction' in sys.modules; "
            "assert 'storage.models' in sys.modules and 'crawler.ingest.ingestor' in sys.modules; "
            "assert threading.active_count() == 1, threading.enumerate(); "
            "assert not [o for o in gc.get_objects() if isinstance(o, sqlite3.Connection)]")
    python_child(code)


def test_never_crawled_counts_only_crawls_that_ran(db_url: str) -> None:
    engine, factory = open_database(db_url)
    at = datetime(2025, 7, 2, tzinfo=UTC)

    def crawl(source: str, status: str) -> None:
        with transaction(factory) as s:
            run = runs.open_run(s, source, at)
            if status != "running":
                runs.finish_run(s, run, runs.RunRecord(status, "", {"new": 1}, {}, {}, {}), finished_at=at)

    with factory() as s:
        assert runs.never_crawled(s, ["park", "gov", "news"]) == ["park", "gov", "news"]
    crawl("park", "finished")
    crawl("gov", "skipped")  # another process was crawling it: this one did not run
    crawl("news", "running")  # the daemon's run row of the crawl now starting
    crawl("news", "interrupted")  # stopped half-way: it ran
    with factory() as s:
        assert runs.never_crawled(s, ["park", "gov", "news", "epaper"]) == ["gov", "epaper"]
    engine.dispose()


def test_a_crawl_starts_the_helpers_fork_server_early_only_for_a_first_crawl(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``radar crawl`` starts the fork server before loading Scrapy when a source was never
    crawled (its listings' articles are all new); not for one crawled before (a routine crawl
    finds a handful), and not when the config asks for no workers."""
    from crawler.cli import crawling
    from crawler.config.sources import parse_config
    from crawler.ingest.ingestor import Ingestor

    started: list[str] = []
    monkeypatch.setattr("crawler.ingest.pool.prestart", lambda: started.append("now"))
    db = f"sqlite:///{tmp_path / 'radar.sqlite3'}"
    sources = [{"name": name, "kind": "listing", "start_urls": ["http://127.0.0.1:9/"], "allow": "x",
                "schedule": {"every": "1h"}} for name in ("park", "gov")]

    def early(crawled: list[str], scrapy: dict[str, Any] | None = None) -> bool:
        config = parse_config({"settings": {"database_url": db, "scrapy": scrapy or {}}, "sources": sources})
        ingestor = Ingestor.for_url(db)
        try:
            with transaction(ingestor.factory) as s:
                s.execute(CrawlRunRow.__table__.delete())
                for name in crawled:
                    run = runs.open_run(s, name, datetime.now(UTC))
                    runs.finish_run(s, run, runs.RunRecord("finished", "", {"new": 2}, {}, {}, {}),
                                    finished_at=datetime.now(UTC))
            started.clear()
            crawling._start_helpers_early(config, list(config.sources.values()), ingestor)
        finally:
            ingestor.close()
        return started == ["now"]

    assert early([])
    assert early(["park"])  # gov's first crawl
    assert not early(["park", "gov"])
    assert not early([], {"RADAR_WORKERS": 0})


def test_no_early_fork_server_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one CPU there is no idle one for the fork server to load on: ``prestart`` starts
    nothing (the workers' start does, if the crawl needs them)."""
    import multiprocessing.forkserver

    import crawler.ingest.pool

    started: list[bool] = []
    monkeypatch.setattr(multiprocessing.forkserver, "ensure_running", lambda: started.append(True))
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    crawler.ingest.pool.prestart()
    assert started == []
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    crawler.ingest.pool.prestart()
    assert started == [True]


def test_the_early_fork_server_starts_before_scrapy_loads(tmp_path: Path) -> None:
    """The point of starting it early: it loads while the crawl process loads Scrapy. The
    configured rule files are not put in its environment (issue 21): the helpers it forks are
    handed them as an argument (``test_workers_detect_with_the_rule_files_they_are_handed``)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n", encoding="utf-8")
    config = tmp_path / "radar.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": f"sqlite:///{tmp_path / 'radar.sqlite3'}", "signal_rules": str(rules)},
        "sources": [{"name": "park", "kind": "listing", "start_urls": ["http://127.0.0.1:9/"], "allow": "x",
                     "schedule": {"every": "1h"}}]}), encoding="utf-8")
    code = ("import os, sys\nimport crawler.ingest.pool as pool\n"
            "def early():\n"
            "    print('scrapy loaded' if 'scrapy' in sys.modules else 'scrapy not loaded', "
            "os.environ.get('RADAR_SIGNAL_RULES'), flush=True)\n"
            "    os._exit(0)\n"
            "pool.prestart = early\nfrom crawler.cli import main\nmain(['--config', sys.argv[1], 'crawl'])")
    assert python_child(code, str(config)).split() == ["scrapy", "not", "loaded", "None"]


def test_workers_detect_with_the_rule_files_they_are_handed(tmp_path: Path) -> None:
    """A user's own event rule (the ``signal_rules`` setting) reaches the worker processes as an
    argument, with nothing in the environment."""
    from tests.test_signals_cli import RULE, TEXT

    assert "RADAR_SIGNAL_RULES" not in os.environ
    rules = tmp_path / "mine.yaml"
    rules.write_text(RULE, encoding="utf-8")
    body = (f'<html><head><meta charset="utf-8"><title>产业园揭牌</title></head><body><div class="article">'
            f'{"".join(f"<p>{TEXT}第{i}段。</p>" for i in range(4))}</div></body></html>').encode()
    page = PageItem(source="jxnews", url="http://127.0.0.1/system/2024/01/02/1.shtml", body=body,
                    fetched_at=datetime.now(UTC), status=200, headers={"content-type": "text/html; charset=utf-8"})

    async def run(files: tuple[str, ...]) -> Any:
        pool = PreparePool(1, files)
        try:
            return (await pool.prepare(page, SOURCE, detect=True)).open()
        finally:
            pool.close()

    def ids(files: tuple[str, ...]) -> set[str]:
        return {e.rule for e in asyncio.run(run(files)).events}

    assert "user.unveiling" in ids((str(rules),))
    assert "user.unveiling" not in ids(())


def test_pages_are_prepared_in_the_crawl_process_when_no_worker_starts(monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Workers start in a helper thread; if they cannot (no fork server, no memory), the pages
    queued for them meanwhile, and the later ones, are prepared in the crawl process: none lost."""
    import crawler.ingest.pool

    def cannot_start(count: int, rules: tuple[str, ...] = ()) -> list[Any]:
        raise OSError("no fork server here")

    monkeypatch.setattr(crawler.ingest.pool, "_spawn", cannot_start)
    pages = _pages()[:3]

    async def run() -> list[Any]:
        pool = PreparePool(2)
        try:
            return await asyncio.gather(*(pool.prepare(p, SOURCE, detect=False) for p in pages))
        finally:
            pool.close()

    results = [s.open() for s in asyncio.run(run())]
    assert [r.digest for r in results] == [prepare(p, SOURCE).digest for p in pages]
    assert "prepare workers could not start (no fork server here)" in caplog.text


def test_a_pool_closed_while_its_workers_start_stops_them_and_reads_no_closed_pipe(
        caplog: pytest.LogCaptureFixture) -> None:
    """A crawl stopped at once (SIGTERM during its first second) closes the pool while the helper
    thread is still starting workers: close() waits for them and stops them, and the loop's
    late "started" callback must not touch their closed pipes."""

    async def run() -> list[Any]:
        pool = PreparePool(1)
        pool._attach()  # as the first prepare() does: the loop is told when the workers are up
        pool.close()
        workers = pool._spawning.result()
        await asyncio.sleep(0.2)  # the loop runs the "started" callback
        return workers

    with caplog.at_level("ERROR"):
        workers = asyncio.run(run())
    assert workers and not any(w.process.is_alive() for w in workers)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
