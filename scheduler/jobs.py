"""The daemon's jobs. Each crawl is a child process: Scrapy's reactor cannot restart in-process,
and a crashing, hanging or memory-hungry crawl must not take the daemon down with it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from crawler.config import Settings
from crawler.digest import deliver
from crawler.errors import DigestError
from storage.db import open_database, transaction
from storage.models import CrawlRunRow

log = logging.getLogger("radar.jobs")


class ChildRegistry:
    """The crawl processes now running, so shutdown can stop them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def add(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._children[name] = proc

    def remove(self, name: str) -> None:
        with self._lock:
            self._children.pop(name, None)

    def running(self) -> dict[str, subprocess.Popen[bytes]]:
        with self._lock:
            return dict(self._children)

    def stop_all(self, grace: float) -> None:
        """SIGTERM every child (Scrapy then closes cleanly), SIGKILL what is left after ``grace`` s."""
        children = self.running()
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def crawl_command(source: str, config_path: Path | None, memory_mb: int) -> list[str]:
    """The command line of a crawl child process (it limits its own memory: setting limits
    between fork and exec is unsafe in a threaded parent)."""
    cmd = [sys.executable, "-m", "crawler.cli"]
    if config_path is not None:
        cmd += ["--config", str(config_path)]
    return [*cmd, "crawl", "--quiet", "--memory-mb", str(memory_mb), source]


def run_crawl(source: str, config_path: Path | None, settings: Settings, children: ChildRegistry) -> int:
    """Crawl ``source`` in a child process within the time and memory limits; returns its exit code.

    A child that overruns is killed and its crawl_runs row marked ``killed``.
    """
    started = time.monotonic()
    env = dict(os.environ, RADAR_DATABASE_URL=settings.database_url)
    proc = subprocess.Popen(
        crawl_command(source, config_path, settings.crawl_memory_mb), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    children.add(source, proc)
    try:
        try:
            output, _ = proc.communicate(timeout=settings.crawl_timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            code = -signal.SIGKILL
            _mark_killed(settings, source, f"killed after {settings.crawl_timeout}s time limit")
    finally:
        children.remove(source)
    tail = output.decode("utf-8", "replace").strip().splitlines()[-3:] if output else []
    level = logging.INFO if code == 0 else logging.WARNING
    log.log(level, "job=crawl source=%s exit=%s seconds=%.1f%s", source, code, time.monotonic() - started,
            "" if code == 0 else " output=" + " | ".join(tail))
    return code


def _mark_killed(settings: Settings, source: str, reason: str) -> None:
    _engine, factory = open_database(settings.database_url)
    with transaction(factory) as session:
        session.execute(
            update(CrawlRunRow)
            .where(CrawlRunRow.source == source, CrawlRunRow.status == "running")
            .values(status="killed", finish_reason=reason, finished_at=datetime.now(UTC))
        )
    _engine.dispose()


def run_digest(settings: Settings) -> str:
    """Send the digest if there is anything new; failures are logged and retried next time."""
    engine, factory = open_database(settings.database_url)
    try:
        result = deliver(factory, settings)
    except DigestError as exc:
        log.error("job=digest status=error error=%s", exc)
        return "error"
    finally:
        engine.dispose()
    if result.status == "failed":
        log.error("job=digest status=failed digest=%s error=%s", result.digest_id, result.error)
    else:
        log.info("job=digest status=%s digest=%s events=%s", result.status, result.digest_id,
                 result.event_count)
    return result.status
