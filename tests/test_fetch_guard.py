"""What a crawl may fetch, and how long one response may take (issue 26, items 2, 3, 8, 9).

Real crawls (``radar crawl`` child processes) of hostile sites that the tests serve on
127.0.0.1 and 127.0.0.2: pages that link or redirect to local files, to other ports and hosts on
loopback, to names that resolve to loopback; non-HTML bodies at ``.html`` URLs; a server that
trickles its answer a byte at a time.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from spiders.content import page_kind
from spiders.guard import FetchPolicy, non_public, registered_domain
from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow, FrontierRow
from tests.e2e import radar
from tests.test_extraction import _pdf_bytes

SECRET = "ADMIN-TOKEN-6f1e2d"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def _article(title: str, extra: str = "") -> bytes:
    text = "赣州市发布政策文件，推进重点项目建设，总投资达到十二亿元。"
    body = "".join(f"<p>{title}：第{i}段，{text}</p>" for i in range(6))
    return (f'<html><head><meta charset="utf-8"><title>{title}</title></head><body><h1>{title}</h1>'
            f'<div class="article">{body}{extra}</div></body></html>').encode()


def _listing(links: list[str]) -> bytes:
    items = "".join(f'<li><a href="{href}">{n}</a></li>' for n, href in enumerate(links))
    return f'<html><head><meta charset="utf-8"><title>列表</title></head><body><ul>{items}</ul></body></html>'.encode()


Route = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if callable(route):
            route(self)
            return
        status, headers, body = route or (404, {"Content-Type": "text/html"}, b"<html>not found</html>")
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, routes: dict[str, Route]) -> None:
        super().__init__((host, 0), _Handler)
        self.routes = routes
        self.requests: list[str] = []
        self.url = f"http://{host}:{self.server_address[1]}"
        self.port = int(self.server_address[1])


@contextmanager
def _serving(host: str = "127.0.0.1") -> Iterator[_Server]:
    server = _Server(host, {})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site() -> Iterator[_Server]:
    """The source's own site."""
    with _serving() as server:
        yield server


@pytest.fixture
def admin() -> Iterator[_Server]:
    """An internal service on another loopback port, holding a token."""
    with _serving() as server:
        page = (200, {"Content-Type": "text/html; charset=utf-8"}, _article(f"内部管理页 {SECRET}"))
        server.routes.update({f"/art/admin{n}.html": page for n in range(6)})
        server.routes["/art/secret.pdf"] = (200, {"Content-Type": "application/pdf"}, _pdf_bytes(SECRET))
        yield server


def _crawl(tmp_path: Path, source: dict[str, Any], *more: dict[str, Any], timeout: float = 240,
           **scrapy: Any) -> tuple[list[ArticleRow], dict[str, CrawlRunRow], float]:
    """Crawl the sources (named ``site``, then as given) in one ``radar crawl``: the articles
    stored, each source's run, and how long the crawl took."""
    db_url = f"sqlite:///{tmp_path / 'radar.db'}"
    settings = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RADAR_WORKERS": 0, "ROBOTSTXT_OBEY": False,
                **scrapy}
    config = tmp_path / "radar.yaml"
    sources = [{"name": "site", **source}, *more]
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "data_dir": str(tmp_path), "scrapy": settings},
        "sources": [{"kind": "listing", "schedule": "every: 1h", **s} for s in sources],
    }, allow_unicode=True), encoding="utf-8")
    started = time.monotonic()
    done = radar("--config", str(config), "crawl", timeout=timeout)
    took = time.monotonic() - started
    assert "Traceback" not in done.stderr, done.stderr
    assert "error" not in done.stderr.lower() or done.returncode == 0, done.stderr
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        articles = list(s.scalars(select(ArticleRow)))
        for a in articles:
            _ = [(f.url, f.text) for f in a.attachments]  # loaded while the session is open
        runs = {run.source: run for run in s.scalars(select(CrawlRunRow))}
    engine.dispose()
    assert len(runs) == len(sources)
    return articles, runs, took


def _stored(articles: list[ArticleRow]) -> str:
    return "\n".join(f"{a.url} {a.title} {a.body} {[f.text for f in a.attachments]}" for a in articles)


@pytest.mark.slow
def test_local_files_other_ports_and_hosts_are_refused(site: _Server, admin: _Server, tmp_path: Path) -> None:
    """Items 2 and 3: links, attachments and redirects to file://, to other loopback ports and
    to other loopback hosts are refused, counted, and the crawl of the source's own pages goes on."""
    secret_file = tmp_path / "passwd"
    secret_file.write_text(f"root:x:0:0:{SECRET}:/root:/bin/bash\n", encoding="utf-8")
    pdf_file = tmp_path / "secret.pdf"
    pdf_file.write_bytes(_pdf_bytes(SECRET))
    with _serving("127.0.0.2") as other_host:
        other_host.routes["/art/admin9.html"] = admin.routes["/art/admin0.html"]
        html = {"Content-Type": "text/html; charset=utf-8"}
        site.routes.update({
            "/list.html": (200, html, _listing([
                "/art/1.html",
                f"file://{secret_file}?/art/x.html",
                f"{admin.url}/art/admin0.html",
                "/art/redirect.html",
                "/art/redirect-file.html",
                f"http://localhost:{admin.port}/art/admin1.html",
                f"http://localhost:{site.port}/art/2.html",
                f"{other_host.url}/art/admin9.html",
            ])),
            "/art/1.html": (200, html, _article("本站文章", f'<a href="file://{pdf_file}">附件.pdf</a>'
                                                      f'<a href="{admin.url}/art/secret.pdf">附件2.pdf</a>')),
            "/art/2.html": (200, html, _article(f"经 localhost 的本站文章 {SECRET}")),
            "/art/redirect.html": (302, {"Location": f"{admin.url}/art/admin2.html"}, b""),
            "/art/redirect-file.html": (302, {"Location": f"file://{secret_file}"}, b""),
        })
        articles, runs, _took = _crawl(tmp_path, {"start_urls": [f"{site.url}/list.html"], "allow": "/art/"})
        assert other_host.requests == []
    run = runs["site"]
    assert SECRET not in _stored(articles)
    assert [a.url for a in articles] == [f"{site.url}/art/1.html"]
    assert articles[0].attachments == []
    assert admin.requests == []
    assert run.status == "finished"
    refused = {k: v for k, v in run.stats.items() if k.startswith("radar/refused/")}
    # the file:// link and attachment (Scrapy itself follows no redirect to a file); the admin
    # port (link, redirect, attachment), localhost on both ports and 127.0.0.2: other sites
    assert refused == {"radar/refused/scheme": 2, "radar/refused/offsite": 6}, run.stats
    assert run.errors_by_kind == {}  # never sent: no download error, no error spike
    # a refused link will be refused again: it is given up at once, not left pending forever
    engine, factory = open_database(f"sqlite:///{tmp_path / 'radar.db'}", migrate_schema=False)
    with factory() as s:
        frontier = {row.url: row for row in s.scalars(select(FrontierRow))}
    engine.dispose()
    given_up = {url: row.given_up_reason for url, row in frontier.items() if row.given_up_at is not None}
    assert {u for u in given_up if "admin0" in u or "admin9" in u or "passwd" in u} and all(
        reason.startswith("refused: ") for reason in given_up.values()), given_up
    assert len(given_up) == 5, given_up  # file://, the admin port, localhost twice, 127.0.0.2


@pytest.mark.slow
def test_allowed_domains_widen_but_names_never_unlock_loopback(site: _Server, admin: _Server,
                                                                 tmp_path: Path) -> None:
    """Item 3: ``allowed_domains`` lets a source fetch another host named by IP (here every port
    of 127.0.0.1, not only its own); a name it lists that resolves to loopback (``localhost``,
    from /etc/hosts) is refused after resolution, even on the port of the source's own site."""
    html = {"Content-Type": "text/html; charset=utf-8"}
    site.routes.update({
        "/wide.html": (200, html, _listing([f"{admin.url}/art/admin0.html"])),
        "/named.html": (200, html, _listing([f"http://localhost:{site.port}/art/2.html",
                                             f"http://localhost:{admin.port}/art/admin1.html"])),
        "/art/2.html": (200, html, _article("经 localhost 的本站文章")),
    })
    articles, runs, _took = _crawl(
        tmp_path, {"start_urls": [f"{site.url}/wide.html"], "allow": "/art/", "allowed_domains": ["127.0.0.1"]},
        {"name": "named", "start_urls": [f"{site.url}/named.html"], "allow": "/art/", "allowed_domains": ["localhost"]})
    assert [a.url for a in articles] == [f"{admin.url}/art/admin0.html"]
    assert admin.requests == ["/art/admin0.html"]
    assert sorted(site.requests) == ["/named.html", "/wide.html"]
    assert {k: v for k, v in runs["named"].stats.items() if k.startswith("radar/refused")} == {
        "radar/refused": 2, "radar/refused/private_address": 2}, runs["named"].stats
    assert "radar/refused" not in runs["site"].stats


@pytest.mark.slow
def test_non_html_at_html_urls_is_skipped_and_a_pdf_is_kept(site: _Server, tmp_path: Path) -> None:
    """Item 8: a PNG, an octet-stream blob and JSON at .html URLs are not stored, each counted by
    kind; a PDF at an .html URL is stored as an article whose attachment holds its text."""
    blob = bytes(range(256)) * 8
    site.routes.update({
        "/list.html": (200, {"Content-Type": "text/html; charset=utf-8"},
                       _listing(["/art/png.html", "/art/blob.html", "/art/json.html", "/art/pdf.html",
                                 "/art/plain.html"])),
        "/art/png.html": (200, {"Content-Type": "image/png"}, PNG),
        "/art/blob.html": (200, {"Content-Type": "application/octet-stream"}, blob),
        "/art/json.html": (200, {"Content-Type": "application/json"},
                           json.dumps({"title": "接口", "data": ["政策文件"] * 40}, ensure_ascii=False).encode()),
        "/art/pdf.html": (200, {"Content-Type": "application/octet-stream"}, _pdf_bytes("Policy Radar PDF 2024")),
        "/art/plain.html": (200, {}, _article("未声明类型的本站文章")),
    })
    articles, runs, _took = _crawl(tmp_path, {"start_urls": [f"{site.url}/list.html"], "allow": "/art/"})
    run = runs["site"]
    by_url = {a.url.rsplit("/", 1)[-1]: a for a in articles}
    assert sorted(by_url) == ["pdf.html", "plain.html"]
    pdf = by_url["pdf.html"]
    assert pdf.title == "pdf.html" and len(pdf.attachments) == 1
    assert "Policy Radar PDF 2024" in pdf.attachments[0].text
    skipped = {k: v for k, v in run.stats.items() if k.startswith("radar/skipped/")}
    assert skipped == {"radar/skipped/image": 1, "radar/skipped/binary": 1, "radar/skipped/json": 1}, run.stats


def _trickle(held: list[float]) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route that sends its headers, then a byte every half second until the client hangs up;
    how long each client held on is appended to ``held``."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        try:
            for _ in range(1200):  # ten minutes at most, should no deadline stop the client
                handler.wfile.write(b"<")
                handler.wfile.flush()
                time.sleep(0.5)
        except OSError:  # the client gave up
            pass
        held.append(time.monotonic() - started)
    return route


@pytest.mark.slow
def test_a_trickling_server_holds_a_url_no_longer_than_the_deadline(site: _Server, tmp_path: Path) -> None:
    """Item 9: Scrapy's DOWNLOAD_TIMEOUT bounds one attempt and a timeout is retried, so a server
    trickling a byte every half second held a URL for (retries + 1) × the timeout. The deadline
    bounds the response: one attempt, cut at it, counted as an error of its own kind."""
    html = {"Content-Type": "text/html; charset=utf-8"}
    held: list[float] = []
    site.routes.update({
        "/list.html": (200, html, _listing(["/art/slow.html", "/art/1.html"])),
        "/art/1.html": (200, html, _article("本站文章")),
        "/art/slow.html": _trickle(held),
    })
    # the old code took (3 + 1) × 20 s here, and the child is stopped at 60 s
    articles, runs, _took = _crawl(tmp_path, {"start_urls": [f"{site.url}/list.html"], "allow": "/art/"},
                                 timeout=60, DOWNLOAD_TIMEOUT=20, RETRY_TIMES=3, RADAR_DOWNLOAD_DEADLINE=3)
    assert [a.url for a in articles] == [f"{site.url}/art/1.html"]
    assert site.requests.count("/art/slow.html") == 1  # not retried
    assert runs["site"].errors_by_kind.get("DeadlineExceeded") == 1, runs["site"].errors_by_kind
    # the client hung up at the deadline, far below the 20 s of one attempt (the server notices
    # at its next byte, which may come after the crawl has ended)
    waited = time.monotonic() + 30
    while not held and time.monotonic() < waited:
        time.sleep(0.05)
    assert len(held) == 1 and held[0] < 10, held


def test_page_kind_decides_from_content_not_the_url() -> None:
    assert page_kind(PNG, "text/html") == "image"
    assert page_kind(b"%PDF-1.4\n...", "") == "pdf"
    assert page_kind(b'{"a": [1, 2]}', "text/html") == "json"
    assert page_kind(b"[1, 2", "text/html") == "html"  # not JSON: left to the extractor
    assert page_kind(bytes(range(256)), "") == "binary"
    assert page_kind(b"<!DOCTYPE html><html><p>x</p></html>", "application/octet-stream") == "html"
    assert page_kind("<html><p>赣州</p></html>".encode("utf-16"), "text/html") == "html"


def test_fetch_policy() -> None:
    policy = FetchPolicy.of(["https://www.ganzhou.gov.cn/zwgk/index.html"], ["cdn.example.com", "10.0.0.5:8080"])
    assert policy.refusal("https://files.ganzhou.gov.cn/a.pdf") is None
    assert policy.refusal("http://www.ganzhou.gov.cn:8080/a.html") is None
    assert policy.refusal("https://img.cdn.example.com/a.pdf") is None
    assert policy.refusal("http://10.0.0.5:8080/a.pdf") is None
    assert policy.refusal("http://10.0.0.5:8081/a.pdf") == "offsite"
    assert policy.refusal("https://evil-ganzhou.gov.cn/") == "offsite"
    assert policy.refusal("https://gov.cn/") == "offsite"
    assert policy.refusal("file:///etc/passwd?/zwgk/x.html") == "scheme"
    assert policy.refusal("ftp://www.ganzhou.gov.cn/a.pdf") == "scheme"
    assert registered_domain("www.jxnews.com.cn") == "jxnews.com.cn"
    assert registered_domain("localhost") == "localhost"


def test_url_tricks_name_no_other_host() -> None:
    policy = FetchPolicy.of(["http://127.0.0.1:8361/list.html"])
    assert policy.refusal("http://127.0.0.1:8361/art/1.html") is None
    for url in ("http://127.0.0.1:8362/", "http://127.1:8361/", "http://2130706433:8361/", "http://0x7f000001:8361/",
                "http://LOCALHOST:8361/", "http://localhost.:8361/", "http://[::1]:8361/", "http://[::ffff:127.0.0.1]:8361/",
                "http://127.0.0.1:8361@evil.example/", "http://0.0.0.0:8361/", "http://127.0.0.1:99999/"):
        assert policy.refusal(url) is not None, url


def test_non_public_addresses() -> None:
    inner = ("127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
             "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
             "::ffff:169.254.169.254", "ff02::1")
    assert [a for a in inner if not non_public(ipaddress.ip_address(a))] == []
    assert not non_public(ipaddress.ip_address("8.8.8.8"))
    assert not non_public(ipaddress.ip_address("2400:3200::1"))


@pytest.mark.slow
def test_the_spider_fetches_the_attachments_the_extractor_finds(site: _Server, tmp_path: Path) -> None:
    """Issue 21: one attachment rule. A download endpoint that names its file in the query
    (``download.jsp?file=…pdf``) and an ``.ofd`` file are links the extractor lists as
    attachments; the crawl downloads exactly those and stores them with the article."""
    from crawler.extraction import extract

    links = ('<p>附件：<a href="/files/download.jsp?file=plan.pdf">实施方案</a>'
             '<a href="/files/report.ofd">报告</a><a href="/art/other.html">相关新闻</a></p>')
    page = _article("附件下载测试文章", links)
    site.routes.update({
        "/list.html": (200, {"Content-Type": "text/html; charset=utf-8"}, _listing(["/art/doc.html"])),
        "/art/doc.html": (200, {"Content-Type": "text/html; charset=utf-8"}, page),
        "/files/download.jsp": (200, {"Content-Type": "application/pdf"}, _pdf_bytes("Attachment Plan 2024")),
        "/files/report.ofd": (200, {"Content-Type": "application/ofd"}, b"PK\x05\x06" + bytes(18)),
    })
    found = {url for _name, url in extract(page, f"{site.url}/art/doc.html").attachment_links}
    assert found == {f"{site.url}/files/download.jsp?file=plan.pdf", f"{site.url}/files/report.ofd"}
    articles, _runs, _took = _crawl(tmp_path, {"start_urls": [f"{site.url}/list.html"], "allow": "/art/doc"})
    (article,) = articles
    assert {f.url for f in article.attachments} == found
    assert any("Attachment Plan 2024" in f.text for f in article.attachments)
