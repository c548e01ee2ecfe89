"""The scheduler's parts: job plans and reconciliation against a real persistent job store,
triggers in the configured timezone, database locks, and crawls in real child processes that
hang, run out of memory or crash, each both started cold and forked by the warm launcher."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import select

from crawler.config.sources import Schedule, load_config, parse_config
from scheduler.daemon import Daemon
from scheduler.engine import RadarScheduler
from scheduler.jobs import _OUT_OF_MEMORY, ChildRegistry, _kept, cold_command, crawl_args, failure_reason, run_crawl
from scheduler.launcher import Launcher, supported
from scheduler.metrics import logfmt
from scheduler.plan import CRAWL, RECHECK, JobSpec, desired_jobs, reconcile, trigger_for
from storage.db import make_engine, open_database
from storage.locks import DatabaseLock
from storage.models import CrawlRunRow
from tests.e2e import python_child
from tests.sockets import silent_server

SOURCE = {"name": "a", "start_urls": ["http://a.test/"], "allow": "/x/", "schedule": "every: 30m"}


def test_cron_fires_in_the_configured_timezone_not_the_machines() -> None:
    trigger = trigger_for(Schedule(cron="0 8 * * *"), "Asia/Shanghai")
    fire = trigger.get_next_fire_time(None, datetime(2025, 7, 2, 1, 0, tzinfo=UTC))
    assert fire is not None and fire.astimezone(UTC) == datetime(2025, 7, 3, 0, 0, tzinfo=UTC)  # 08:00 +08:00
    trigger = trigger_for(Schedule(cron="0 8 * * *"), "Europe/Berlin")
    fire = trigger.get_next_fire_time(None, datetime(2025, 7, 2, 1, 0, tzinfo=UTC))
    assert fire is not None and fire.astimezone(UTC) == datetime(2025, 7, 2, 6, 0, tzinfo=UTC)


def test_desired_jobs_and_the_reconciliation_plan() -> None:
    cfg = parse_config({"settings": {"timezone": "Asia/Shanghai"}, "sources": [
        SOURCE, {**SOURCE, "name": "b", "schedule": "0 */2 * * *"}, {**SOURCE, "name": "off", "enabled": False}],
        "subscriptions": [{"name": "now", "to": "a@x.org", "frequency": "immediate"}]}, env={})
    jobs = desired_jobs(cfg)
    assert sorted(jobs) == ["crawl:a", "crawl:b", "outbox"]  # no daily/weekly subscription: no digest job
    assert jobs["crawl:a"].func == CRAWL and jobs["crawl:a"].args == ("a",) and jobs["crawl:a"].start_now
    assert not jobs["crawl:b"].start_now  # cron sources wait for their time
    assert "[Asia/Shanghai]" in jobs["crawl:b"].fingerprint
    with_daily = parse_config({"sources": [SOURCE]}, env={"RADAR_MAIL_TO": "m@x.org"})
    assert "digest" in desired_jobs(with_daily)
    rechecked = desired_jobs(parse_config({"sources": [{**SOURCE, "recheck": {"every": "1d"}}]}, env={}))
    assert rechecked["recheck:a"].func == RECHECK and rechecked["recheck:a"].args == ("a",)
    assert not rechecked["recheck:a"].start_now  # a slower schedule: it waits its first interval

    stored = {"crawl:a": jobs["crawl:a"].fingerprint, "crawl:b": "crawl:b → old schedule", "crawl:gone": "x"}
    plan = reconcile(stored, jobs)
    assert (plan.add, plan.replace, plan.remove, plan.keep) == (["outbox"], ["crawl:b"], ["crawl:gone"], ["crawl:a"])
    assert plan.describe() == "+outbox ~crawl:b -crawl:gone"


def _noop(*_args: Any) -> None:
    """Stand-in job function (the reconciliation test never runs jobs)."""


def test_reconcile_against_a_persistent_job_store(db_url: str) -> None:
    """Jobs survive a restart in the database; on start new ones are added, deleted ones removed,
    changed ones replaced, and unchanged ones keep their stored next run time (a run missed while
    the daemon was down is then caught up, once)."""
    engine, _ = open_database(db_url)
    engine.dispose()

    def scheduler() -> RadarScheduler:
        s = RadarScheduler(timezone="Asia/Shanghai",
                                jobstores={"default": SQLAlchemyJobStore(engine=make_engine(db_url))})
        s.start(paused=True)
        return s

    def config(sources: list[dict[str, Any]]) -> Any:
        return parse_config({"settings": {"database_url": db_url}, "sources": sources}, env={})

    def desired(cfg: Any) -> dict[str, JobSpec]:
        # same plan, with a stand-in function so nothing can run
        return {k: JobSpec(v.id, f"{__name__}:_noop", v.schedule, v.timezone, v.args, v.start_now)
                for k, v in desired_jobs(cfg).items()}

    first = Daemon(config([SOURCE, {**SOURCE, "name": "b"}]))
    first.scheduler = scheduler()
    assert first.apply(desired(first.config)) == "+crawl:a +crawl:b +outbox"
    missed = datetime.now(UTC) - timedelta(hours=3)
    first.scheduler.modify_job("crawl:b", next_run_time=missed)
    first.scheduler.shutdown(wait=False)

    second = Daemon(config([{**SOURCE, "schedule": "every: 5m"}, {**SOURCE, "name": "b"}, {**SOURCE, "name": "c"}]))
    second.scheduler = scheduler()
    try:
        assert second.apply(desired(second.config)) == "+crawl:c ~crawl:a"
        jobs = {j.id: j for j in second.scheduler.get_jobs()}
        assert set(jobs) == {"crawl:a", "crawl:b", "crawl:c", "outbox"}
        assert abs((jobs["crawl:b"].next_run_time - missed).total_seconds()) < 1  # kept: catch-up on resume
        assert "every 300s" in jobs["crawl:a"].name
        assert jobs["crawl:a"].misfire_grace_time is None and jobs["crawl:a"].coalesce
        assert jobs["crawl:a"].max_instances == 1
        assert second.apply(desired(config([SOURCE]))) == "~crawl:a -crawl:b -crawl:c"
    finally:
        second.scheduler.shutdown(wait=False)


def test_logfmt() -> None:
    assert logfmt({"job": "crawl", "source": "jxnews", "seconds": 2.5, "reason": 'time "limit"', "x": None}) == (
        'job=crawl source=jxnews seconds=2.500 reason="time \\"limit\\""')


# --------------------------------------------------------------------------- locks


_HOLD = """
import sys, time
from storage.locks import DatabaseLock
lock = DatabaseLock(sys.argv[1], "daemon")
assert lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_database_lock_excludes_others_and_dies_with_its_holder(db_url: str) -> None:
    first, second = DatabaseLock(db_url, "daemon"), DatabaseLock(db_url, "daemon")
    other_name = DatabaseLock(db_url, "digest")
    try:
        assert first.acquire() and first.verify() and first.keep() is True
        assert not second.acquire(timeout=0.3)
        assert other_name.acquire()  # locks of other names are independent
        first.release()
        assert second.acquire()
        second.release()
    finally:
        for lock in (first, second, other_name):
            lock.close()
    # a holder killed with SIGKILL leaves no stale lock behind
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, db_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        lock = DatabaseLock(db_url, "daemon")
        assert not lock.acquire()
        holder.kill()
        holder.wait()
        assert lock.acquire(timeout=60)
        lock.close()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_crawl_locks_are_one_per_source(db_url: str) -> None:
    a1, a2 = DatabaseLock(db_url, "crawl", key="jxnews"), DatabaseLock(db_url, "crawl", key="jxnews")
    b, daemon = DatabaseLock(db_url, "crawl", key="gz-gov"), DatabaseLock(db_url, "daemon")
    try:
        assert a1.acquire()
        assert not a2.acquire(timeout=0.3)
        assert b.acquire() and daemon.acquire()  # other sources, and the daemon's lock, are independent
        assert a2.holder() == (os.getpid() if db_url.startswith("sqlite") else None)  # PostgreSQL names no pid
        a1.release()
        assert a2.acquire()
    finally:
        for lock in (a1, a2, b, daemon):
            lock.close()
    for name, key in (("crawl", ""), ("daemon", "jxnews"), ("crawl", "../etc/x")):
        with pytest.raises(ValueError):
            DatabaseLock(db_url, name, key=key)


def test_threads_queue_for_a_lock_like_processes(sqlite_url: str) -> None:
    lock = DatabaseLock(sqlite_url, "digest")
    order: list[str] = []
    assert lock.acquire()

    def other() -> None:
        assert lock.acquire(timeout=60)
        order.append("other")
        lock.release()

    t = threading.Thread(target=other)
    t.start()
    time.sleep(0.3)
    order.append("first")
    lock.release()
    t.join()
    lock.close()
    assert order == ["first", "other"]


# --------------------------------------------------------------------------- crawl child processes


@pytest.fixture(scope="module")
def warm_launcher() -> Iterator[Launcher]:
    with Launcher() as launcher:
        yield launcher


@pytest.fixture(params=["cold", "warm"])
def launcher(request: pytest.FixtureRequest) -> Launcher | None:
    """How the crawl child starts: a new process (None), or forked by the daemon's launcher."""
    if request.param == "cold":
        return None
    if not supported():
        pytest.skip("the launcher needs os.pidfd_open (Linux)")
    warm: Launcher = request.getfixturevalue("warm_launcher")
    return warm


@pytest.fixture
def hanging_site() -> Iterator[str]:
    """A site that accepts connections and never answers."""
    with silent_server() as server:
        yield f"http://127.0.0.1:{server.port}"


def _write(tmp_path: Path, db_url: str, sources: list[dict[str, Any]], **settings: Any) -> Path:
    path = tmp_path / "radar.yaml"
    path.write_text(yaml.safe_dump({"settings": {"database_url": db_url, **settings,
                                                 "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}},
                                    "sources": sources}, allow_unicode=True), encoding="utf-8")
    return path


def _run(db_url: str, run_id: int) -> CrawlRunRow:
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        row = s.get(CrawlRunRow, run_id)
        assert row is not None
    engine.dispose()
    return row


# A crawl's time limit in tests where one crawl must finish (or record that it skipped) within it:
# a new crawl process spends seconds of CPU loading before it does anything, many more on a loaded
# machine.
LIMIT = 40


def test_a_hanging_crawl_is_killed_and_recorded_while_another_finishes(
        replica: Any, sqlite_url: str, tmp_path: Path, hanging_site: str, launcher: Launcher | None) -> None:
    path = _write(tmp_path, sqlite_url, [
        {"name": "hangs", "start_urls": [f"{hanging_site}/list.html"], "allow": "/a/", "schedule": "every: 1h"},
        {"name": "cnip-park", "start_urls": [f"{replica.urls['park']}/news/list_1.html"],
         "allow": r"/news/\d{4}-\d{2}-\d{2}/\d+\.html$", "next_page": "a.next::attr(href)",
         "selectors": {"body": "div.article-content"}, "schedule": "every: 1h"}], crawl_timeout=LIMIT)
    cfg = load_config(path, env={})
    engine, factory = open_database(sqlite_url)
    children = ChildRegistry()
    results: dict[str, Any] = {}

    def crawl(name: str) -> None:
        results[name] = run_crawl(name, path, cfg.settings, children, factory, launcher=launcher)

    threads = [threading.Thread(target=crawl, args=(n,)) for n in ("hangs", "cnip-park")]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=4 * LIMIT)
    elapsed = time.monotonic() - started
    engine.dispose()
    hung, ok = results["hangs"], results["cnip-park"]
    assert ok.status == "finished" and ok.exit_code == 0 and ok.counts["new"] > 0
    assert hung.status == "killed" and hung.reason == f"time limit: killed after {LIMIT}s" and hung.exit_code != 0
    assert LIMIT <= elapsed < 2 * LIMIT  # killed at its limit (and a grace), not held up any longer
    row = _run(sqlite_url, hung.run_id)
    assert (row.status, row.exit_code) == ("killed", hung.exit_code) and row.finished_at is not None
    assert children.running() == {}


def test_a_crawl_over_its_memory_limit_fails_and_is_recorded(
        replica: Any, sqlite_url: str, tmp_path: Path, launcher: Launcher | None) -> None:
    path = _write(tmp_path, sqlite_url, [
        {"name": "park", "start_urls": [f"{replica.urls['park']}/news/list_1.html"],
         # a limit the crawl exceeds while loading Scrapy: where a higher one runs out depends on
         # timing, and a crawl that dies inside Scrapy's engine may print nothing to go on
         "allow": r"/news/\d{4}-\d{2}-\d{2}/\d+\.html$", "schedule": "every: 1h"}], crawl_memory_mb=60,
        # bounded: a child that ran on under its limit instead of failing (as some did before it
        # allocated from one arena) is killed and fails this test instead of holding up the suite
        crawl_timeout=120)
    cfg = load_config(path, env={})
    engine, factory = open_database(sqlite_url)
    result = run_crawl("park", path, cfg.settings, ChildRegistry(), factory, launcher=launcher)
    engine.dispose()
    assert result.status == "failed" and result.reason == "memory limit: ran out of its 60 MiB", result.output
    row = _run(sqlite_url, result.run_id)
    # where the memory runs out decides how the child ends: a MemoryError escaping (exit 1) or
    # one Scrapy catches, ending the crawl unfinished (exit 2); either way it failed, and why
    # (where it runs out decides the words too: any of the signs scheduler.jobs reads as running
    # out, from MemoryError to CPython's "returned NULL without setting an exception"; the row
    # keeps the child's own)
    assert row.status == "failed" and row.exit_code in (1, 2)
    assert any(sign in row.error for sign in _OUT_OF_MEMORY), row.error


_ARENA_PROBE = """
import sys, threading
from crawler.processes import limit_memory
if sys.argv[1] == "limited":
    limit_memory(8192)
kept, ready, done = [], threading.Barrier(5), threading.Event()
def work():
    kept.append([object() for _ in range(20_000)])  # enough to make glibc give the thread an arena
    ready.wait()
    done.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
ready.wait()
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:")))
done.set()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address space from /proc")
def test_a_memory_limit_below_what_the_crawl_already_uses_is_refused_at_once() -> None:
    """Refused before it is set (so this process keeps no limit): a warm child already has all
    its libraries mapped, and every later mapping would fail somewhere, under another name."""
    from crawler.errors import RadarError
    from crawler.processes import address_space_mb, limit_memory

    used = address_space_mb()
    assert used is not None and used > 1
    with pytest.raises(RadarError, match=r"Cannot allocate memory: .* 1 MiB is below the \d+ MiB of address space"):
        limit_memory(1)
    assert failure_reason(1, "Error: Cannot allocate memory: this crawl's limit ...", 1) == (
        "memory limit: ran out of its 1 MiB")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address space from /proc")
def test_a_memory_limited_crawl_allocates_from_one_arena_so_threads_do_not_eat_its_limit() -> None:
    """Under --memory-mb (an address-space limit) each glibc thread arena's 64 MiB reservation
    would count as used, and near the limit each allocation first tried to reserve another one
    (crawls at 60 MiB ran on at full CPU instead of failing)."""
    def vm_kib(mode: str) -> int:
        return int(python_child(_ARENA_PROBE, mode, timeout=60).strip())

    # four threads: four arenas of 64 MiB reserved without the setting, none with it
    assert vm_kib("limited") < vm_kib("unlimited") - 128 * 1024


def test_a_crashing_crawl_is_recorded_with_its_signal(
        hanging_site: str, sqlite_url: str, tmp_path: Path, launcher: Launcher | None) -> None:
    path = _write(tmp_path, sqlite_url, [
        {"name": "dies", "start_urls": [f"{hanging_site}/list.html"], "allow": "/a/", "schedule": "every: 1h"}])
    cfg = load_config(path, env={})
    engine, factory = open_database(sqlite_url)
    children = ChildRegistry()
    box: dict[str, Any] = {}
    t = threading.Thread(target=lambda: box.update(
        r=run_crawl("dies", path, cfg.settings, children, factory, launcher=launcher)))
    t.start()
    deadline = time.monotonic() + 120
    while "dies" not in children.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    children.running()["dies"].kill()  # as the kernel's OOM killer would
    t.join(timeout=30)
    engine.dispose()
    assert box["r"].status == "failed" and box["r"].reason == "crashed: killed by SIGKILL"
    assert _run(sqlite_url, box["r"].run_id).status == "failed"


def test_crawl_command_and_failure_reasons() -> None:
    cmd = cold_command(crawl_args("jxnews", Path("/etc/radar.yaml"), 512, 7))
    assert cmd[1:] == ["-m", "crawler.cli", "--config", "/etc/radar.yaml", "crawl", "--quiet", "--memory-mb", "512",
                       "--watch-parent", "--run-id", "7", "jxnews"]
    assert crawl_args("jxnews", None, 512, 8, recheck=True)[-3:] == ["8", "--recheck", "jxnews"]
    assert failure_reason(-9, "", 512) == "crashed: killed by SIGKILL"
    assert failure_reason(1, "Traceback\nMemoryError\n", 512) == "memory limit: ran out of its 512 MiB"
    assert failure_reason(1, "OpenSSL.SSL.Error: [('common libcrypto routines', '', 'malloc failure')]", 512) == (
        "memory limit: ran out of its 512 MiB")
    # seen at 60 and 80 MiB: an allocation failing inside C code that set no exception
    for null in ("SystemError: <function Command.main at 0x7f2e6e433920> returned NULL without setting an exception",
                 "SystemError: error return without exception set"):
        assert failure_reason(1, f"Traceback (most recent call last):\n{null}\n", 60) == (
            "memory limit: ran out of its 60 MiB")
    assert failure_reason(1, "x\nValueError: bad\n\n", 512) == "crashed: exit code 1: ValueError: bad"
    assert failure_reason(1, "RuntimeError: can't start new thread\n", 60) == "memory limit: ran out of its 60 MiB"
    # CPython's abort when it cannot even raise the MemoryError (seen at 60 MiB); any other abort is a crash
    fatal = ("Fatal Python error: _PyErr_NormalizeException: Cannot recover from MemoryErrors while normalizing "
             "exceptions.\nPython runtime state: initialized\n")
    assert failure_reason(-6, fatal, 60) == "memory limit: ran out of its 60 MiB"
    assert failure_reason(-6, "Fatal Python error: Segmentation fault\n", 60) == "crashed: killed by SIGABRT"
    assert failure_reason(-9, "Traceback\nMemoryError\n", 60) == "crashed: killed by SIGKILL"
    # the fatal error's first line comes before the stacks Python dumps: it stays on record
    dump = fatal + "\n".join(f'  File "<frozen importlib._bootstrap>", line {n} in _find_and_load' for n in range(300))
    kept = _kept(dump)
    assert len(kept) < 4100 and kept.startswith("Fatal Python error") and kept.endswith("line 299 in _find_and_load")
    assert failure_reason(-6, kept, 60) == "memory limit: ran out of its 60 MiB"
    assert _kept("short\n") == "short\n"


def test_one_crawl_of_a_source_at_a_time(replica: Any, db_url: str, tmp_path: Path) -> None:
    """A crawl of a source another process is crawling fetches nothing: the daemon's waits half
    its time limit, then is recorded ``skipped``; a manual one skips at once, or waits with --wait
    and crawls once the other has finished."""
    path = _write(tmp_path, db_url, [
        {"name": "park", "start_urls": [f"{replica.urls['park']}/news/list_1.html"],
         "allow": r"/news/\d{4}-\d{2}-\d{2}/\d+\.html$", "next_page": "a.next::attr(href)",
         "selectors": {"body": "div.article-content"}, "schedule": "every: 1h"}], crawl_timeout=LIMIT)
    cfg = load_config(path, env={})
    engine, factory = open_database(db_url)
    other = DatabaseLock(db_url, "crawl", key="park")  # held here as another crawl process would
    radar = [sys.executable, "-m", "crawler.cli", "--config", str(path), "crawl"]
    served = len(replica.requests)
    try:
        assert other.acquire()
        started = time.monotonic()
        result = run_crawl("park", path, cfg.settings, ChildRegistry(), factory)
        assert time.monotonic() - started >= LIMIT / 2  # waited half of crawl_timeout
        assert result.status == "skipped" and result.exit_code == 2, result.output
        assert result.reason.startswith("skipped: ") and f"is crawling park (waited {LIMIT // 2} s;" in result.reason
        row = _run(db_url, result.run_id)
        assert (row.status, row.pages, row.finished_at is not None) == ("skipped", 0, True)

        manual = subprocess.run([*radar, "park"], capture_output=True, text=True, timeout=60)
        assert manual.returncode == 2 and "is crawling park (did not wait;" in manual.stdout, manual.stderr
        assert [r for r in replica.requests[served:] if r[0] == "park"] == []  # the site saw nothing

        threading.Timer(1.0, other.release).start()  # the other crawl ends while this one waits
        waited = subprocess.run([*radar, "--wait", "30", "park"], capture_output=True, text=True, timeout=90)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        with factory() as session:
            rows = session.query(CrawlRunRow).order_by(CrawlRunRow.id).all()
        assert [r.status for r in rows] == ["skipped", "finished"] and rows[1].new > 0
    finally:
        other.close()
        engine.dispose()


# --------------------------------------------------------------------------- a crawl's lock on PostgreSQL


@contextlib.contextmanager
def _slow_bulk_crawl(tmp_path: Path, url: str, site: str) -> Iterator[subprocess.Popen[str]]:
    """``radar crawl`` of the bulk replica, one page at a time with a delay (a few seconds in
    all), checking its crawl lock every 0.2 s; killed on the way out if still running."""
    config = tmp_path / "radar.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": url, "scrapy": {
            "DOWNLOAD_DELAY": 0.02, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "RADAR_WORKERS": 0, "RADAR_LOCK_CHECK": 0.2}},
        "sources": [{"name": "bulk", "start_urls": [f"{site}/bulk/index.html"],
                     "allow": r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$", "next_page": "a.next::attr(href)",
                     "schedule": "every: 1h"}]}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    crawl = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield crawl
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()


def _lock_backends(admin: Any, url: str, *, granted: bool = True, terminate: bool = False) -> list[int]:
    """The server backends (pids) holding (or, not ``granted``, waiting for) the bulk source's
    crawl lock in ``url``'s schema; with ``terminate``, ended, as a server restart or an
    idle-connection timeout would end them."""
    from sqlalchemy import text

    schema = url.rsplit("%3D", 1)[1]
    ended = ", pg_terminate_backend(pid)" if terminate else ""
    with admin.connect() as conn:
        return [row[0] for row in conn.execute(text(
            f"SELECT pid{ended} FROM pg_locks WHERE locktype = 'advisory' AND granted = :granted "
            "AND classid = :k AND objid = hashtext(:scope)::int4::oid AND objsubid = 2"),
            {"granted": granted, "k": 0x50520003, "scope": f"{schema}/bulk"})]


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _run_row(url: str) -> CrawlRunRow:
    engine, factory = open_database(url, migrate_schema=False)
    try:
        with factory() as s:
            return s.scalars(select(CrawlRunRow)).one()
    finally:
        engine.dispose()


def test_a_crawl_whose_postgresql_lock_another_process_took_stops(postgres_url: str, postgres_admin: Any,
                                                                   tmp_path: Path) -> None:
    """The crawl lock's connection drops mid-crawl and another process takes the lock (it will
    crawl the source too): the crawl notices at its next check and stops, recorded as such."""
    from sqlalchemy import text

    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites

    engine = make_engine(postgres_url)
    try:
        with ReplicaSites(sites={"bulk": build_bulk_site(300)}) as sites, \
                _slow_bulk_crawl(tmp_path, postgres_url, sites.urls["bulk"]) as crawl, engine.connect() as other:
            other.execution_options(isolation_level="AUTOCOMMIT")
            waiting = threading.Thread(target=lambda: other.execute(  # queues for the lock: first in line once free
                text("SELECT pg_advisory_lock(:k, hashtext(current_schema() || '/bulk'))"), {"k": 0x50520003}))
            _wait_for(lambda: len(sites.requests) >= 20)
            assert len(_lock_backends(postgres_admin, postgres_url)) == 1  # the crawl holds it
            waiting.start()
            _wait_for(lambda: len(_lock_backends(postgres_admin, postgres_url, granted=False)) == 1)
            assert len(_lock_backends(postgres_admin, postgres_url, terminate=True)) == 1
            waiting.join(timeout=10)  # granted to this process as the crawl's connection went
            assert not waiting.is_alive()
            out, err = crawl.communicate(timeout=60)
            fetched = len(sites.requests)
    finally:
        engine.dispose()
    assert crawl.returncode == 2, err
    assert "lost the crawl lock of bulk" in err and "lock_lost" in out
    assert fetched < 250  # it stopped, not crawled to the end
    row = _run_row(postgres_url)
    assert (row.status, row.finish_reason) == ("failed", "lock_lost")


def test_a_crawl_whose_postgresql_lock_connection_drops_takes_the_lock_again(
        postgres_url: str, postgres_admin: Any, tmp_path: Path) -> None:
    """Nobody took the lock meanwhile: the crawl takes it again on a new connection and goes on."""
    from crawler.replica.bulk import build_bulk_site
    from crawler.replica.server import ReplicaSites

    with ReplicaSites(sites={"bulk": build_bulk_site(120)}) as sites, \
            _slow_bulk_crawl(tmp_path, postgres_url, sites.urls["bulk"]) as crawl, \
            contextlib.closing(DatabaseLock(postgres_url, "crawl", key="bulk")) as other:
        _wait_for(lambda: len(sites.requests) >= 20)
        (ended,) = _lock_backends(postgres_admin, postgres_url, terminate=True)
        # held again, by a new connection (the ended backend lingers in pg_locks for a moment)
        _wait_for(lambda: len(holders := _lock_backends(postgres_admin, postgres_url)) == 1 and ended not in holders,
                  timeout=10)
        served = len(sites.requests)
        assert not other.acquire()
        _out, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, err
    assert served < 120  # it was taken again while the crawl went on
    row = _run_row(postgres_url)
    assert (row.status, row.finish_reason, row.new + row.duplicates) == ("finished", "finished", 120)
