"""Per-source crawl progress: shown on a terminal (a pseudo-terminal here), never in a pipe nor
with ``--quiet`` (how the daemon runs its crawls)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import yaml

from tests.e2e import radar

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}
SHOWN = "pages, new "  # on every progress line


def _config(replica: Any, tmp_path: Path) -> Path:
    path = tmp_path / "radar.yaml"
    path.write_text(yaml.safe_dump({
        "settings": {"database_url": f"sqlite:///{tmp_path / 'radar.db'}", "workers": 0, "scrapy": FAST},
        "sources": [{"name": "jxnews", "start_urls": [replica.urls["news"] + "/jxxw/index.html"],
                     "next_page": "a.next::attr(href)", "schedule": "every: 1h"},
                    {"name": "ganzhou-gov", "start_urls": [replica.urls["gov"] + "/zwgk/zcwj/index.html"],
                     "next_page": "a.next::attr(href)", "schedule": "every: 1h"}]}), encoding="utf-8")
    return path


def _on_a_terminal(*args: str, rows: int = 30) -> tuple[int, str]:
    """Run ``radar ARGS`` with its stdout and stderr on a pseudo-terminal of 100 columns and
    ``rows`` lines; its exit code and all it wrote there."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_") and k not in ("COLUMNS", "LINES")}
    child = subprocess.Popen([sys.executable, "-m", "crawler.cli", *args], stdin=follower, stdout=follower,
                             stderr=follower, env=env, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal (EIO)
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return child.wait(timeout=120), out.decode("utf-8", "replace")


def test_a_terminal_shows_each_sources_pages_new_and_errors(replica: Any, tmp_path: Path) -> None:
    code, shown = _on_a_terminal("--config", str(_config(replica, tmp_path)), "crawl")
    assert code == 0, shown
    lines = shown.replace("\r", "\n").splitlines()
    last = {name: [line for line in lines if line.startswith(name) and " pages" in line][-1]
            for name in ("jxnews", "ganzhou-gov")}
    # pages: the listing pages, articles and robots.txt fetched (as the table after it counts them)
    assert re.match(r"jxnews +6 pages, new 3, errors 0 ", last["jxnews"]), last
    assert re.match(r"ganzhou-gov +6 pages, new 2, errors 0 ", last["ganzhou-gov"]), last
    assert SHOWN in shown


def test_quiet_or_piped_crawls_show_no_progress(replica: Any, tmp_path: Path) -> None:
    config = str(_config(replica, tmp_path))
    code, shown = _on_a_terminal("--config", config, "crawl", "--quiet")  # as the daemon runs crawls
    assert code == 0, shown
    assert SHOWN not in shown and " pages " not in shown
    piped = radar("--config", config, "crawl")
    assert piped.returncode == 0, piped.stderr
    assert SHOWN not in piped.stderr + piped.stdout and " pages " not in piped.stderr


def test_more_sources_than_lines_share_one_line(replica: Any, tmp_path: Path) -> None:
    code, shown = _on_a_terminal("--config", str(_config(replica, tmp_path)), "crawl", rows=3)
    assert code == 0, shown
    lines = shown.replace("\r", "\n").splitlines()
    assert not any(line.startswith(("jxnews ", "ganzhou-gov ")) and " pages" in line for line in lines)
    assert any(re.match(r"2 sources +12 pages, new 5, errors 0 ", line) for line in lines), shown
