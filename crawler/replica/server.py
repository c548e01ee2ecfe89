"""Serve the replica sites over HTTP on 127.0.0.1, one port per site, each in its own thread.

Each site answers GET and HEAD, honours ``If-None-Match`` / ``If-Modified-Since`` with 304, sends
``ETag`` and ``Last-Modified`` on every 200, serves ``/404.html`` with status 404 for unknown
paths, and maps a path ending in ``/`` to its ``index.html``. Every request is recorded in
:attr:`ReplicaSites.requests` so tests can check what a crawler fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote, urlsplit

from crawler.replica.resource import HTML_UTF8, Resource, make_resource
from crawler.replica.sites import NOT_FOUND, build_sites

__all__ = ["ReplicaSites", "build_sites"]

_POLL_SECONDS = 0.05  # how often serve_forever checks for shutdown: keeps stop() quick


class _Site:
    """One site's pages, replaceable at run time under a lock."""

    def __init__(self, name: str, pages: dict[str, Resource], log: _RequestLog) -> None:
        self.name = name
        self.pages = pages
        self.log = log
        self.lock = threading.Lock()

    def lookup(self, path: str) -> Resource | None:
        with self.lock:
            if path.endswith("/"):
                path += "index.html"
            return self.pages.get(path)

    def not_found(self) -> Resource:
        with self.lock:
            return self.pages[NOT_FOUND]


class _RequestLog:
    """Append-only list of (site, path) with a lock; :attr:`entries` is the list itself."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, site: str, path: str) -> None:
        with self._lock:
            self.entries.append((site, path))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: _Site


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for ACKs
    server_version = "ReplicaHTTP/1.0"
    sys_version = ""

    def version_string(self) -> str:
        """The Server header: no Python version appended."""
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request stderr line."""

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        site = self.server.site
        site.log.add(site.name, self.path)
        path = unquote(urlsplit(self.path).path) or "/"
        resource = site.lookup(path)
        if resource is None:
            self._send(HTTPStatus.NOT_FOUND, site.not_found(), head, validators=False)
        elif self._not_modified(resource):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", resource.etag)
            self.send_header("Last-Modified", resource.last_modified)
            self.end_headers()
        else:
            self._send(HTTPStatus.OK, resource, head, validators=True)

    def _not_modified(self, resource: Resource) -> bool:
        # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or resource.etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return resource.last_modified_at <= when

    def _send(self, status: HTTPStatus, resource: Resource, head: bool, *, validators: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", resource.content_type)
        self.send_header("Content-Length", str(len(resource.body)))
        if validators:
            self.send_header("ETag", resource.etag)
            self.send_header("Last-Modified", resource.last_modified)
        self.end_headers()
        if not head:
            self.wfile.write(resource.body)


class ReplicaSites:
    """Starts the four sites (or ``sites``) on 127.0.0.1 (ephemeral ports unless given), in threads.

    ``urls`` maps site name (``gov``, ``news``, ``park``, ``epaper``) to its base URL once
    started; ``requests`` lists (site, raw request path incl. query) of every request served, in
    order. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
                 sites: Mapping[str, dict[str, Resource]] | None = None) -> None:
        # ``sites`` serves other pages instead of the four (the benchmarks' bulk site); each
        # needs a ``/404.html``.
        pages = dict(sites) if sites is not None else build_sites()
        self.names = tuple(pages)
        unknown = set(ports or {}) - set(self.names)
        if unknown:
            raise ValueError(f"unknown replica site(s): {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(self.names)}")
        self.host = host
        self.ports = {site: (ports or {}).get(site, 0) for site in self.names}
        self.urls: dict[str, str] = {}
        self._log = _RequestLog()
        self.requests: list[tuple[str, str]] = self._log.entries
        self._sites = {site: _Site(site, pages[site], self._log) for site in self.names}
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> ReplicaSites:
        """Bind every site and serve it in a daemon thread; returns ``self``."""
        if self._servers:
            raise RuntimeError("the replica sites are already running")
        try:
            for site in self.names:
                server = _Server((self.host, self.ports[site]), _Handler)
                server.site = self._sites[site]
                self._servers.append(server)
                port = server.server_address[1]
                self.urls[site] = f"http://{self.host}:{port}"
        except OSError:
            self._close()
            raise
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, args=(_POLL_SECONDS,), name=f"replica-{server.site.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and release the ports; safe to call twice."""
        for server in self._servers:
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        for server in self._servers:
            server.server_close()
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> ReplicaSites:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_page(self, site: str, path: str, body: bytes, content_type: str = HTML_UTF8) -> None:
        """Add or replace the page at ``path`` of ``site``, before or while serving (revision tests).

        The new page gets an ETag from its bytes and a Last-Modified of now, but always later
        than the page it replaces, so conditional requests for the old version see a change.
        """
        target = self._sites.get(site)
        if target is None:
            raise KeyError(f"unknown replica site {site!r}; known: {', '.join(self.names)}")
        now = datetime.now(UTC).replace(microsecond=0)
        with target.lock:
            old = target.pages.get(path)
            if old is not None and old.last_modified_at >= now:
                now = old.last_modified_at + timedelta(seconds=1)
            target.pages[path] = make_resource(body, content_type, now)

    def pages(self, site: str) -> dict[str, Resource]:
        """A snapshot of what ``site`` currently serves, keyed by path."""
        target = self._sites[site]
        with target.lock:
            return dict(target.pages)
