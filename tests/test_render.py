"""Rendering in a real browser (``render: browser | auto``), per-source proxies and ``blocked``.

One crawl (a ``radar crawl`` child process, real Chromium) of six sources against the replica
pattern sites is shared by the tests, then crawled again:

- ``challenge-auto``: the 加速乐-style challenge with ``render: auto``;
- ``challenge-plain``: the same site without rendering: blocked;
- ``challenge-browser``: a copy of it, ``render: browser``, a new browser context every 5 pages;
- ``scripted``: the list filled by script from JSON, ``render: browser``, through a proxy whose
  password comes from the environment, under a host name only the proxy knows;
- ``scripted-api``: its JSON endpoint as an ``api`` source, ``render: browser``;
- ``guarded``: ``render: browser`` on a page whose scripts and frames try other loopback ports,
  a name resolving to a private address, a redirect there, ``file://`` and a WebSocket.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import yaml

from crawler.config.sources import parse_source
from crawler.errors import ConfigError
from crawler.replica.bulk import build_bulk_site
from crawler.replica.markup import SITE_EPOCH
from crawler.replica.patterns import build_patterns
from crawler.replica.resource import HTML_UTF8, Resource, make_resource
from crawler.replica.server import ReplicaSites
from spiders.render import proxy_url
from tests.e2e import radar

ARTICLE = r"/system/\d{4}/\d{2}/\d{2}/\d+\.shtml$"
PROXY_HOST = "scripted.replica.test"  # resolves nowhere: only through the proxy
PASSWORD = "s3cret-from-env"
MOVED = "/system/2025/07/02/088888888.shtml"  # an article link of the guarded site that redirects elsewhere
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "RADAR_BROWSER_SETTLE": 3, "RADAR_BROWSER_RECYCLE": 5}


class _Proxy(BaseHTTPRequestHandler):
    """An HTTP forward proxy that asks for Basic credentials and serves PROXY_HOST from the
    scripted replica; it records (host, path) of what it forwarded."""

    upstream = ""
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"radar:{PASSWORD}".encode()).decode()
        if self.headers.get("Proxy-Authorization") != expected:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="replica"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = urlsplit(self.path)
        self.seen.append((target.hostname or "", target.path))
        path = target.path + (f"?{target.query}" if target.query else "")
        request = urllib.request.Request(self.upstream + path, headers={"User-Agent": self.headers["User-Agent"]})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as exc:
            status, headers, body = exc.code, exc.headers, exc.read()
        self.send_response(status)
        self.send_header("Content-Type", headers.get("Content-Type", "text/html"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _guarded_site(other: int) -> dict[str, Resource]:
    """Two articles from the seeds, listed on a page whose scripts and frames probe what a
    rendered page must not reach: another loopback port (directly, by a redirect from its own
    site, and by WebSocket), a name resolving to loopback, and a local file; a third article
    link redirects to the other port."""
    site = build_bulk_site(2, seed=7, repost_every=0)
    articles = {p: r for p, r in site.items() if r.expected is not None}
    items = "".join(f'<li><a href="{p}">{r.expected["title"]}</a></li>' for p, r in articles.items()
                    if r.expected is not None)
    listing = f"""<html><head><meta charset="utf-8"><title>通知公告</title></head><body>
<ul class="list">{items}<li><a href="{MOVED}">已迁移</a></li></ul>
<img src="http://127.0.0.1:{other}/img.png">
<iframe src="/hop"></iframe>
<iframe src="file:///etc/hostname"></iframe>
<iframe src="http://localhost:{other}/frame"></iframe>
<script>
fetch("http://127.0.0.1:{other}/xhr").catch(function () {{}});
fetch("/hop?from=script").catch(function () {{}});
fetch("http://localhost:{other}/named").catch(function () {{}});
try {{ new WebSocket("ws://127.0.0.1:{other}/ws"); }} catch (e) {{}}
</script>
</body></html>"""
    hop = make_resource(b"", HTML_UTF8, SITE_EPOCH)
    return {**site, "/guard/index.html": make_resource(listing.encode(), HTML_UTF8, SITE_EPOCH),
            "/hop": Resource(hop.body, hop.content_type, hop.etag, hop.last_modified, status=302,
                             headers=(("Location", f"http://127.0.0.1:{other}/redirected"),)),
            MOVED: Resource(hop.body, hop.content_type, hop.etag, hop.last_modified, status=302,
                            headers=(("Location", f"http://127.0.0.1:{other}/moved"),))}


@dataclass
class Crawled:
    """The shared crawl: the sites, the proxy's log, the config and the two runs' outputs."""

    sites: ReplicaSites
    proxied: list[tuple[str, str]]
    config: Path
    db: Path
    first: Any
    again: Any
    again_from: int  # index into sites.requests where the second crawl's requests begin
    proxied_from: int  # the same, into proxied

    def query(self, sql: str, *args: Any) -> list[Any]:
        with sqlite3.connect(self.db) as db:
            return db.execute(sql, args).fetchall()

    def runs(self, source: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self.query("SELECT status, stats FROM crawl_runs WHERE source = ? ORDER BY id", source)
        return [(status, json.loads(stats)) for status, stats in rows]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    tmp = tmp_path_factory.mktemp("render")
    other = ReplicaSites(sites={"other": {"/404.html": make_resource(b"", HTML_UTF8, SITE_EPOCH)}}).start()
    port = urlsplit(other.urls["other"]).port
    assert port is not None
    patterns = build_patterns(["challenge", "scripted"])
    # a second copy of the challenge site for challenge-browser, whose requests are counted apart
    copies = {"challenge2": patterns["challenge"], "guarded": _guarded_site(port)}
    sites = ReplicaSites(sites={**patterns, **copies}).start()
    sites.other = other  # type: ignore[attr-defined]
    _Proxy.upstream, _Proxy.seen = sites.urls["scripted"], []
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    db = tmp / "radar.sqlite3"
    challenge = f"{sites.urls['challenge']}/bulk/index.html"
    entry = {"allow": ARTICLE, "schedule": "every: 1h"}
    config = tmp / "radar.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": f"sqlite:///{db}", "data_dir": str(tmp), "scrapy": FAST},
        "sources": [
            {"name": "challenge-auto", "start_urls": [challenge], "render": "auto", **entry},
            {"name": "challenge-plain", "start_urls": [challenge], **entry},
            {"name": "challenge-browser", "start_urls": [f"{sites.urls['challenge2']}/bulk/index.html"],
             "render": "browser", **entry},
            {"name": "scripted", "start_urls": [f"http://{PROXY_HOST}/col/col2981/index.html"], "render": "browser",
             "proxy": f"http://radar:${{PROXY_PASS}}@127.0.0.1:{proxy.server_address[1]}", **entry},
            {"name": "scripted-api", "kind": "api", "start_urls": [f"{sites.urls['scripted']}/common/list.json"],
             "render": "browser", "schedule": "every: 1h"},
            {"name": "guarded", "start_urls": [f"{sites.urls['guarded']}/guard/index.html"], "render": "browser",
             "allowed_domains": ["localhost"], **entry},
        ]}), encoding="utf-8")
    env = {"PROXY_PASS": PASSWORD}
    try:
        first = radar("--config", str(config), "crawl", env=env, timeout=240)
        mark, proxied_mark = len(sites.requests), len(_Proxy.seen)
        again = radar("--config", str(config), "crawl", "challenge-auto", "scripted", env=env, timeout=240)
        yield Crawled(sites, _Proxy.seen, config, db, first, again, mark, proxied_mark)
    finally:
        proxy.shutdown()
        sites.stop()
        other.stop()


def test_a_proxy_password_comes_from_the_environment() -> None:
    entry = {"name": "s", "start_urls": ["http://example.cn/"], "allow": "x", "schedule": "every: 1h"}
    with pytest.raises(ConfigError, match=r"user:\$\{NAME\}@host"):
        parse_source({**entry, "proxy": "http://radar:hunter2@10.0.0.1:3128"}, 0)
    source = parse_source({**entry, "proxy": "http://radar:${PROXY_PASS}@10.0.0.1:3128", "render": "auto"}, 0)
    assert proxy_url(source, {"PROXY_PASS": "p@ss"}) == "http://radar:p%40ss@10.0.0.1:3128"
    with pytest.raises(ConfigError, match="PROXY_PASS"):
        proxy_url(source, {})


def test_the_challenge_is_passed_in_the_browser_then_plain_http_resumes(crawled: Crawled) -> None:
    assert crawled.first.returncode != 0  # challenge-plain is blocked
    stored = {u for (u,) in crawled.query("SELECT url FROM articles WHERE source = 'challenge-auto'")}
    site = build_patterns(["challenge"])["challenge"]
    assert len(stored) == 12 == sum(1 for p in site if p.startswith("/system/"))
    status, stats = crawled.runs("challenge-auto")[0]
    assert status == "finished"
    # one page went to the browser (the listing, after its plain 521); the articles plainly with its cookies
    assert stats["radar/render/challenge_retried"] == 1
    assert stats["radar/render/plain_resumed"] == 1
    assert stats["playwright/page_count"] == 1
    assert stats.get("radar/challenge", 0) == 0


def test_browser_contexts_are_recycled_and_keep_the_cookies(crawled: Crawled) -> None:
    status, stats = crawled.runs("challenge-browser")[0]
    # the same text as challenge-auto's articles: stored as duplicates of them
    assert status == "finished" and stats.get("radar/new", 0) + stats.get("radar/duplicate", 0) == 12
    assert stats["playwright/page_count"] == 13 and stats.get("radar/challenge", 0) == 0
    # a new context every 5 pages (pages already open finish in the old one)
    assert stats["radar/browser/contexts_recycled"] >= 1
    assert stats["playwright/context_count"] in (stats["radar/browser/contexts_recycled"],
                                                 stats["radar/browser/contexts_recycled"] + 1)
    # the challenge was met once: every later context started with the cookies it earned
    first = [path for site, path in crawled.sites.requests[:crawled.again_from] if site == "challenge2"]
    assert first.count("/bulk/index.html") == 2  # the 521, then the reload with the cookie
    assert sorted(p for p in first if p.startswith("/system/")) == sorted(
        p for p in build_patterns(["challenge"])["challenge"] if p.startswith("/system/"))


def test_without_rendering_the_challenged_source_is_blocked(crawled: Crawled) -> None:
    assert crawled.query("SELECT count(*) FROM articles WHERE source = 'challenge-plain'") == [(0,)]
    assert [status for status, _ in crawled.runs("challenge-plain")] == ["blocked"]
    status = radar("--config", str(crawled.config), "status")
    line = next(line for line in status.stdout.splitlines() if line.startswith("challenge-plain "))
    assert "BLOCKED" in line and " ok " not in line
    assert "challenge-plain: blocked — the latest crawl got only challenge pages" in status.stdout


def test_the_digest_health_section_says_blocked(crawled: Crawled) -> None:
    digest = radar("--config", str(crawled.config), "digest", "--dry-run", env={"RADAR_MAIL_TO": "a@example.org"})
    assert digest.returncode == 0, digest.stderr
    assert "challenge-plain: blocked" in digest.stdout


def test_a_list_filled_by_script_is_read_in_the_browser_through_the_proxy(crawled: Crawled) -> None:
    site = build_patterns(["scripted"])["scripted"]
    articles = {p for p in site if p.startswith("/system/")}
    assert len(articles) == 15
    status, stats = crawled.runs("scripted")[0]
    # scripted-api crawls the same articles meanwhile: whichever stores one first owns it
    assert status == "finished" and stats.get("radar/new", 0) + stats.get("radar/duplicate", 0) == 15
    # every page of the source went through the proxy, the JSON the page's script asked for too
    proxied = [path for _, path in crawled.proxied[:crawled.proxied_from]]
    assert {p for p in proxied if p.startswith("/system/")} == articles
    assert "/common/list.json" in proxied
    assert {host for host, _ in crawled.proxied} == {PROXY_HOST}


def test_what_is_not_a_web_page_is_read_as_served_in_the_browser(crawled: Crawled) -> None:
    status, stats = crawled.runs("scripted-api")[0]
    # the JSON endpoint fetched in Chromium reaches the api spider as JSON, not as a viewer's DOM
    assert status == "finished" and stats.get("radar/new", 0) + stats.get("radar/duplicate", 0) == 15
    assert stats["radar/render/browser"] >= 16


def test_the_fetch_guard_holds_in_the_browser(crawled: Crawled) -> None:
    assert crawled.query("SELECT count(*) FROM articles WHERE source = 'guarded'") == [(2,)]
    assert crawled.sites.other.requests == []  # type: ignore[attr-defined]
    _status, stats = crawled.runs("guarded")[0]
    assert stats["radar/refused/offsite"] >= 2  # the other port: fetch, the redirects (an image is not fetched at all)
    assert stats["radar/refused/private_address"] >= 1  # localhost, allowed by name, is loopback
    assert stats["radar/refused/scheme"] >= 1  # the WebSocket


def test_a_second_crawl_fetches_nothing_new(crawled: Crawled) -> None:
    assert crawled.again.returncode == 0, crawled.again.stderr
    again = [path for site, path in crawled.sites.requests[crawled.again_from:] if site == "challenge"]
    again += [path for _host, path in crawled.proxied[crawled.proxied_from:]]
    assert again and not any("/system/" in p for p in again)
    for source in ("challenge-auto", "scripted"):
        status, stats = crawled.runs(source)[-1]
        assert status == "finished" and stats.get("radar/new", 0) == 0
