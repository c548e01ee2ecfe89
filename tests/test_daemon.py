"""`radar daemon` as a real process: crawls on schedule, mails on schedule, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.db import open_database
from storage.models import CrawlRunRow, DigestEventRow, DigestRow, EventRow
from tests.conftest import MailSink, smtp_env
from tests.e2e import write_config

pytestmark = pytest.mark.slow


def _mail_state(db_url: str) -> tuple[int, int, int]:
    """(events, events carried by sent digests, sent digests)."""
    engine, factory = open_database(db_url, migrate_schema=False)
    try:
        with factory() as s:
            events = s.scalar(select(func.count()).select_from(EventRow)) or 0
            carried = s.scalar(select(func.count()).select_from(DigestEventRow).join(
                DigestRow, DigestRow.id == DigestEventRow.digest_id).where(DigestRow.status == "sent")) or 0
            sent = s.scalar(select(func.count()).select_from(DigestRow).where(DigestRow.status == "sent")) or 0
    finally:
        engine.dispose()
    return events, carried, sent


def _finished_runs(db_url: str) -> dict[str, int]:
    engine, factory = open_database(db_url, migrate_schema=False)
    try:
        with factory() as s:
            rows = s.execute(select(CrawlRunRow.source, func.count()).where(CrawlRunRow.status == "finished")
                             .group_by(CrawlRunRow.source)).all()
    except Exception:
        rows = []  # the daemon has not created the tables yet
    finally:
        engine.dispose()
    return dict(rows)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_daemon_schedules_crawls_and_mail_then_exits_cleanly(
        replica: Any, sqlite_url: str, tmp_path: Path, smtp_server: MailSink, signum: int) -> None:
    config = write_config(replica.urls, sqlite_url, tmp_path, digest_schedule="every: 3s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    env.update(smtp_env(smtp_server))
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "daemon",
                             "--shutdown-grace", "20"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        runs: dict[str, int] = {}
        while time.monotonic() < deadline:
            runs = _finished_runs(sqlite_url)
            if len(runs) == 4 and min(runs.values()) >= 2 and smtp_server.messages:
                events, carried, _sent = _mail_state(sqlite_url)
                if events == carried:
                    break
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.5)
        assert len(runs) == 4 and min(runs.values()) >= 2, runs  # every source crawled again on schedule
        # every event mailed, each exactly once, though the digest job ran every 3 s
        events, carried, sent = _mail_state(sqlite_url)
        assert events > 0 and carried == events
        assert len(smtp_server.messages) == sent
        assert len({m["Message-ID"] for m in smtp_server.messages}) == sent
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "daemon stopped" in output
    assert "job=crawl source=cnip-park exit=0" in output
    assert "Traceback" not in output
