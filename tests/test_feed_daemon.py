"""`radar daemon` with ``feeds_dir``: each subscription's Atom feed written after a crawl, and
served on the metrics port (``/feeds/NAME.xml``), nothing else under that path."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import feedparser
import pytest

from crawler.config.sources import load_config
from crawler.digest.feed import build_feed
from scheduler.feeds import write_atomically
from storage.db import open_database
from tests.conftest import free_port
from tests.test_daemon import Daemon, _config, daemons, wait

__all__ = ["daemons"]  # the fixture, used by name

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_daemon_writes_each_feed_after_a_crawl_and_serves_it(
        replica: Any, sqlite_url: str, tmp_path: Path, daemons: list[Daemon]) -> None:
    feeds = tmp_path / "feeds"
    subs = [{"name": "zh-news", "to": "a@example.org", "language": "zh", "retrospective": "exclude"},
            {"name": "signings", "to": "a@example.org", "types": ["signing"]}]
    config = _config(replica, sqlite_url, tmp_path, {"cnip-park": "every: 1h"}, subs, feeds_dir=str(feeds))
    (tmp_path / "secret.xml").write_text("not a feed", encoding="utf-8")
    port = free_port()
    d = Daemon(config, {}, "--metrics-port", str(port))
    daemons.append(d)
    d.wait_for("job=crawl source=cnip-park outcome=finished")
    path = wait(lambda: (feeds / "zh-news.xml").is_file() and (feeds / "zh-news.xml"), 30, "the feed file", d)
    written = path.read_bytes()
    parsed = feedparser.parse(written)
    assert not parsed.bozo and parsed.entries and parsed.feed.title == "政策雷达：zh-news"
    assert (feeds / "signings.xml").is_file() and not list(feeds.glob(".*.tmp"))  # renamed, no temp left

    status, kind, body = _get(f"http://127.0.0.1:{port}/feeds/zh-news.xml")
    assert (status, kind, body) == (200, "application/atom+xml; charset=utf-8", written)
    for hostile in ("/feeds/nope.xml", "/feeds/../secret.xml", "/feeds/..%2fsecret.xml", "/feeds/%2e%2e/secret.xml",
                    "/feeds//etc/passwd", "/feeds/zh-news.xml/../../secret.xml", "/feeds/ZH-NEWS.xml"):
        status, _kind, body = _get(f"http://127.0.0.1:{port}{hostile}")
        assert status == 404 and b"not a feed" not in body, hostile
    status, _kind, body = _get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and b"radar_crawl_runs_total" in body

    # the same database gives the same feed, whoever builds it and when
    engine, factory = open_database(sqlite_url, migrate_schema=False)
    with factory() as session:
        assert build_feed(session, load_config(config), "zh-news") == written
    engine.dispose()
    assert d.stop() == 0, d.log


def test_a_feed_file_is_replaced_whole_and_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "feeds" / "x.xml"
    assert write_atomically(path, b"<feed/>") and path.read_bytes() == b"<feed/>"
    inode = path.stat().st_ino
    assert not write_atomically(path, b"<feed/>") and path.stat().st_ino == inode  # unchanged: not rewritten
    assert write_atomically(path, b"<feed>2</feed>") and path.stat().st_ino != inode  # a new file renamed over it
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.xml"]
