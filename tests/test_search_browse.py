"""``radar browse`` (issue 22): Datasette with the metadata, canned queries and Chinese search,
checked in headless Chromium. Datasette (extra ``browse``, pulled by ``dev``) and Chromium (apt,
installed by .ci/run) are required: the test fails, not skips, when either is missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from crawler.article import Article
from storage.db import open_database, transaction
from storage.queries import store_article
from tests.conftest import free_port


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed (apt-get install chromium; .ci/run does it)")


def _dom(browser: str, url: str, tmp_path) -> str:
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
                             "--dump-dom", url], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def served(tmp_path):
    import datasette  # noqa: F401  fails loudly when the extra is missing

    url = f"sqlite:///{tmp_path / 'radar.sqlite3'}"
    engine, factory = open_database(url)
    at = datetime(2025, 7, 1, tzinfo=UTC)
    for n, (title, body) in enumerate([("比亚迪签约赣州", "比亚迪与赣州市签约，投资50亿元。" * 30),
                                       ("光伏产业园开工", "光伏组件项目开工。"),
                                       ("進出口數據", "晶片出口簽約額上升。")]):
        with transaction(factory) as session:
            store_article(session, Article(url=f"https://example.gov.cn/{n}.html", title=title, body=body,
                                           source_name="测试网"), source="test", fetched_at=at)
    engine.dispose()
    port = free_port()
    env = {**os.environ, "RADAR_DATABASE_URL": url, "RADAR_CONFIG": ""}
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "browse", "--port", str(port), "--truncate", "40"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"radar browse did not start: {proc.communicate()[0][-2000:]}")
            time.sleep(0.2)
    servers = _children(proc.pid)
    try:
        yield f"http://127.0.0.1:{port}/radar"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # radar browse passes SIGTERM on: its Datasette does not outlive it on the port
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in servers):
        assert time.monotonic() < deadline, f"Datasette {servers} outlived radar browse"
        time.sleep(0.1)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_browse_in_chromium(served, tmp_path):
    browser = _chromium()
    home = _dom(browser, served, tmp_path)
    for title in ("Search articles", "Recent signings", "Recent openings", "Recent trade figures",
                  "Stories carried by several sources", "Source health"):
        assert title in home
    table = _dom(browser, served + "/articles", tmp_path)
    assert "One stored page per canonical URL" in table  # the table's description
    assert "比亚迪与赣州市签约，投资50亿元。" * 3 not in table  # the long body is cut in the list view
    found = _dom(browser, served + "/search?q=" + quote("簽約"), tmp_path)
    assert "比亚迪签约赣州" in found and "進出口數據" in found and "光伏产业园开工" not in found
    assert "【签约】" in found or "【簽約】" in found
    one = _dom(browser, served + "/search?q=" + quote("伏"), tmp_path)
    assert "光伏产业园开工" in one and "比亚迪签约赣州" not in one
