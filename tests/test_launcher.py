"""The warm launcher the daemon forks its crawls from: a forked child answers as a new
``radar`` process would, the launcher comes back after dying, a crawl it cannot start still
runs cold, and nothing of the launcher's own state (a reactor, a thread) reaches the children.
The crawls themselves (finishing, over time, over memory, killed) are in test_scheduler.py,
each both ways."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scheduler.jobs import start_child
from scheduler.launcher import Launcher, LauncherError, WarmChild, supported
from tests.e2e import python_child
from tests.sockets import silent_server

pytestmark = pytest.mark.skipif(not supported(), reason="the launcher needs os.pidfd_open (Linux)")

ENV = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    with Launcher() as started:
        yield started


def _cold(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "crawler.cli", *args], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return done.returncode, done.stdout.decode()


def _warm(launcher: Launcher, args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    child = launcher.spawn(args, env, cwd=str(cwd))
    out, _ = child.communicate(timeout=120)
    return child.wait(), out.decode()


def _ended(pid: int) -> bool:
    """Whether ``pid`` has exited (gone, or a zombie its new parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_a_forked_child_exits_and_prints_as_a_new_process_would(launcher: Launcher, tmp_path: Path) -> None:
    # in its own directory (the config path is relative) and environment (the database), not
    # the launcher's
    (tmp_path / "radar.yaml").write_text("sources: []\n", encoding="utf-8")
    database = tmp_path / "from-the-environment.sqlite3"
    env = dict(ENV, RADAR_DATABASE_URL=f"sqlite:///{database}")
    cases = {
        "an empty database": ["--config", "radar.yaml", "sql", "select 77"],
        "a config error": ["--config", "radar.yaml", "crawl"],
        "a usage error": ["crawl", "--no-such-option"],
        "a missing file": ["--config", "missing.yaml", "crawl"],
        "the version": ["--version"],
    }
    for what, args in cases.items():
        database.unlink(missing_ok=True)
        cold = _cold(args, env, tmp_path)
        made_cold = database.exists()
        database.unlink(missing_ok=True)
        warm = _warm(launcher, args, env, tmp_path)
        assert warm[0] == cold[0], (what, cold, warm)
        # the same words; the cold one names itself as it was started, "python -m crawler.cli"
        assert warm[1] == cold[1].replace("python -m crawler.cli", "radar"), (what, cold, warm)
        assert database.exists() == made_cold, what
    assert _warm(launcher, cases["an empty database"], env, tmp_path) == (
        1, "Error: the database is empty: run `radar demo` or `radar crawl` first\n")
    assert not database.exists()  # radar sql is read-only: it creates no database either
    assert _warm(launcher, cases["a usage error"], env, tmp_path)[0] == 2


_NO_OUTPUT_NO_DIRECTORY = """
import os, sys, tempfile
gone = tempfile.mkdtemp()
os.chdir(gone)
os.rmdir(gone)  # the daemon's working directory was removed under it
from scheduler.launcher import Launcher
with Launcher() as launcher:
    child = launcher.spawn(["--version"], os.environ)
    out, _ = child.communicate(timeout=120)
    print(child.returncode, out.decode().strip(), file=sys.stderr)
"""


def test_a_daemon_without_output_or_directory_still_gets_its_crawls_output() -> None:
    root = Path(__file__).resolve().parent.parent
    # started with no standard output at all, as by `radar daemon >&-`
    done = subprocess.run(["bash", "-c", 'exec "$0" -c "$1" >&-', sys.executable, _NO_OUTPUT_NO_DIRECTORY],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=180, cwd=root,
                          env=dict(ENV, PYTHONPATH=str(root)))
    code, _, version = done.stderr.strip().splitlines()[-1].partition(" ")
    assert code == "0" and "version" in version, done.stderr


def test_the_preload_starts_no_reactor_and_no_thread() -> None:
    """What every child inherits: modules, and nothing running (checked at the launcher's start
    too, which refuses to fork otherwise)."""
    out = python_child("import sys, threading\nfrom crawler.cli.launcher import preload\n"
                       "from crawler.processes import os_threads\npreload()\n"
                       "print('twisted.internet.reactor' in sys.modules, threading.active_count(), os_threads(),\n"
                       "      'scrapy.crawler' in sys.modules, 'storage.models' in sys.modules,\n"
                       "      'crawler.extraction.pipeline' in sys.modules)")
    assert out.split() == ["False", "1", "1", "True", "True", "True"]


def test_a_launcher_that_dies_mid_crawl_loses_no_run_and_is_started_again(tmp_path: Path) -> None:
    """Its children are orphaned: a daemon crawl (``--watch-parent``) stops on its own, and its
    handle says the exit code is unknown instead of waiting for ever; the next crawl gets a new
    launcher."""
    with silent_server() as site, Launcher() as launcher:
        config = tmp_path / "radar.yaml"
        config.write_text(yaml.safe_dump({
            # a download that hangs holds a graceful stop up to its timeout
            "settings": {"database_url": f"sqlite:///{tmp_path / 'radar.sqlite3'}",
                         "scrapy": {"DOWNLOAD_TIMEOUT": 5, "RETRY_ENABLED": False}},
            "sources": [{"name": "hangs", "start_urls": [f"http://127.0.0.1:{site.port}/list.html"],
                         "allow": "/a/", "schedule": "every: 1h"}]}), encoding="utf-8")
        child = launcher.spawn(["--config", str(config), "crawl", "--quiet", "--watch-parent", "hangs"], ENV)
        deadline = time.monotonic() + 60
        while not site.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert site.connections, "the crawl never reached the site"
        assert child.poll() is None
        first = launcher._proc
        assert first is not None
        first.kill()
        first.wait()
        out, _ = child.communicate(timeout=90)
        assert child.returncode == WarmChild.LOST and b"crawl launcher died" in out, out
        assert _ended(child.pid)  # the orphaned crawl is gone, not running on unsupervised
        with sqlite3.connect(tmp_path / "radar.sqlite3") as db:  # and it closed its run on record
            assert db.execute("SELECT source, status, finished_at IS NOT NULL FROM crawl_runs").fetchall() == [
                ("hangs", "interrupted", 1)]
        assert not launcher.running
        code, text = _warm(launcher, ["--help"], ENV, tmp_path)
        assert code == 0 and "Usage: radar" in text
        assert launcher.running and launcher._proc is not first


def test_a_launcher_that_cannot_start_leaves_crawls_cold(caplog: pytest.LogCaptureFixture) -> None:
    broken = Launcher(start_timeout=0.001)  # no launcher loads Scrapy that fast
    with pytest.raises(LauncherError):
        broken.start()
    with pytest.raises(LauncherError):  # and it is not tried again for every crawl
        broken.spawn(["--help"], ENV)
    with caplog.at_level(logging.DEBUG, logger="radar.jobs"):
        for _ in range(2):
            child = start_child(["--help"], ENV, broken)
            assert isinstance(child, subprocess.Popen)
            out, _ = child.communicate(timeout=120)
            assert child.returncode == 0 and b"Usage:" in out
    # why, once in the log: not a warning for every crawl
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "as a new process" in r.message]
    assert len(warned) == 1 and "did not start" in warned[0].message
    broken.close()


def test_closing_the_launcher_ends_its_process() -> None:
    launcher = Launcher()
    launcher.start()
    proc = launcher._proc
    assert proc is not None and launcher.running
    launcher.close()
    assert proc.poll() is not None and not launcher.running
