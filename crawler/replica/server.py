"""Serve the replica sites over HTTP on 127.0.0.1, one port per site, from one thread.

Each site answers GET and HEAD, honours ``If-None-Match`` / ``If-Modified-Since`` with 304, sends
``ETag`` and ``Last-Modified`` on every 200, serves ``/404.html`` with status 404 for unknown
paths, and maps a path ending in ``/`` to its ``index.html``. A page is found by its path and
query (``/a.jsp?page=2``) first, then by its path alone; a page that is a handler
(:data:`~crawler.replica.resource.Handler`) is computed per request, from the path, query and
headers. Connections are kept alive as HTTP/1.1 says. Every request is recorded in
:attr:`ReplicaSites.requests` so tests can check what a crawler fetched.

The server is an asyncio protocol on an event loop of its own thread, answering from header
blocks built once per page: it stands in for a remote site, so it should take as little as it
can of the CPUs the crawler under test runs on. (``http.server``'s threaded server took
0.2–0.3 ms of CPU per page, parsing each request's headers with the ``email`` package: a
twentieth of what the benchmark's whole pipeline spends per page, on the same two cores.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from functools import cache, partial
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.replica.resource import HTML_UTF8, Page, Request, Resource, make_resource
from crawler.replica.sites import NOT_FOUND, build_sites

__all__ = ["ReplicaSites", "build_sites"]

SERVER = "ReplicaHTTP/1.0"
_MAX_HEAD = 64 * 1024  # a request head larger than this is refused (400)


class _Site:
    """One site's pages, replaceable at run time under a lock."""

    def __init__(self, name: str, pages: dict[str, Page], log: _RequestLog) -> None:
        self.name = name
        self.pages = pages
        self.log = log
        self.lock = threading.Lock()

    def lookup(self, target: str, headers: dict[str, str]) -> tuple[Resource | None, bool]:
        """The answer to ``target`` (path and query) and whether it is a fixed page (whose
        head may be kept) rather than one a handler computed."""
        parts = urlsplit(target)
        path = unquote(parts.path) or "/"
        if path.endswith("/"):
            path += "index.html"
        with self.lock:
            page = (self.pages.get(f"{path}?{parts.query}") if parts.query else None) or self.pages.get(path)
        if page is None or isinstance(page, Resource):
            return page, True
        return page(Request(path, parse_qs(parts.query), headers)), False

    def not_found(self) -> Resource:
        with self.lock:
            page = self.pages[NOT_FOUND]
        assert isinstance(page, Resource), "a site's /404.html is a fixed page"
        return page


class _RequestLog:
    """Append-only list of (site, path) with a lock; :attr:`entries` is the list itself."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, site: str, path: str) -> None:
        with self._lock:
            self.entries.append((site, path))


class _Heads:
    """Response heads, built once per page and status (pages are immutable; a replaced page is
    a new object), and the ``Date`` header, built once per second."""

    def __init__(self) -> None:
        self._built: dict[tuple[int, int], tuple[Resource, bytes]] = {}
        self._second = -1
        self._date = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second, self._date = now, formatdate(now, usegmt=True).encode("ascii")
        return self._date

    def of(self, status: int, resource: Resource, head: bool, keep: bool = True) -> bytes:
        """Status line, headers and (unless ``head``) body of an answer with ``resource``; its
        headers are kept for the next answer with it when ``keep`` (a handler's answers are not
        kept: each is a new object)."""
        key = (status, id(resource))
        built = self._built.get(key)
        if built is None or built[0] is not resource:
            lines = [f"Content-Type: {resource.content_type}", f"Content-Length: {len(resource.body)}"]
            if status == 304:
                lines = []
            if status in (200, 304):
                lines += [f"ETag: {resource.etag}", f"Last-Modified: {resource.last_modified}"]
            lines += [f"{name}: {value}" for name, value in resource.headers]
            built = (resource, ("".join(f"{line}\r\n" for line in lines) + "\r\n").encode("utf-8"))
            if keep:
                self._built[key] = built
        start = _status_line(status) + b"Date: " + self.date() + b"\r\n" + built[1]
        return start if head or status == 304 else start + resource.body


@cache
def _status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:  # 521 and the like: no standard phrase
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\nServer: {SERVER}\r\n".encode("ascii")


def _not_modified(headers: dict[str, str], resource: Resource) -> bool:
    # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or resource.etag in tags
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return resource.last_modified_at <= when


class _Connection(asyncio.Protocol):
    """One client connection: requests in, answers out, in order, until either side closes."""

    def __init__(self, site: _Site, heads: _Heads, open_connections: set[asyncio.Transport]) -> None:
        self.site = site
        self.heads = heads
        self.open = open_connections
        self.buffer = bytearray()
        self.skip = 0  # bytes of a request body still to be read past
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open.add(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:  # heads and bodies go out in one write, but small answers should not wait
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.open.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self._answer(400, None, head=False, keep_alive=False)
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            self._request(head)

    def _request(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._answer(400, None, head=False, keep_alive=False)
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0").strip()
        body = int(length) if length.isdigit() else 0
        taken = min(body, len(self.buffer))  # a body (unusual for GET) is read past
        del self.buffer[:taken]
        self.skip = body - taken
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if method not in ("GET", "HEAD"):
            self._answer(501, None, head=False, keep_alive=keep_alive)
            return
        site = self.site
        site.log.add(site.name, target)
        resource, fixed = site.lookup(target, headers)
        if resource is None:
            self._answer(404, site.not_found(), head=method == "HEAD", keep_alive=keep_alive)
        elif resource.status == 200 and _not_modified(headers, resource):
            self._answer(304, resource, head=True, keep_alive=keep_alive, keep=fixed)
        else:
            self._answer(resource.status, resource, head=method == "HEAD", keep_alive=keep_alive, keep=fixed)

    def _answer(self, status: int, resource: Resource | None, *, head: bool, keep_alive: bool,
                keep: bool = True) -> None:
        assert self.transport is not None
        if resource is None:  # an error without a page
            self.transport.write(_status_line(status) + b"Date: " + self.heads.date()
                                 + b"\r\nContent-Length: 0\r\n\r\n")
        else:
            self.transport.write(self.heads.of(status, resource, head, keep))
        if not keep_alive:
            self.transport.close()


class ReplicaSites:
    """Starts the four sites (or ``sites``), and the pattern sites named in ``patterns``
    (``crawler.replica.patterns``), on 127.0.0.1 (ephemeral ports unless given), served from
    one thread.

    ``urls`` maps site name (``gov``, ``news``, ``park``, ``epaper``, or a pattern's) to its
    base URL once started; ``requests`` lists (site, raw request path incl. query) of every request served, in
    order. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
                 sites: Mapping[str, Mapping[str, Page]] | None = None,
                 patterns: Iterable[str] = ()) -> None:
        # ``sites`` serves other pages instead of the four (the benchmarks' bulk site); each
        # needs a ``/404.html``.
        pages: dict[str, Mapping[str, Page]] = dict(sites) if sites is not None else dict(build_sites())
        if patterns:
            from crawler.replica.patterns import build_patterns  # only when asked: they import more
            pages.update(build_patterns(patterns))
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
        self._sites = {site: _Site(site, dict(pages[site]), self._log) for site in self.names}
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def start(self) -> ReplicaSites:
        """Bind every site and serve them from a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("the replica sites are already running")
        try:
            for site in self.names:  # bound here, so a port in use fails start() itself
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host, self.ports[site]))
                sock.listen(128)
                self.urls[site] = f"http://{self.host}:{sock.getsockname()[1]}"
        except OSError:
            self._close()
            raise
        ready = threading.Event()
        failed: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failed), name="replica-sites", daemon=True)
        self._thread.start()
        ready.wait()
        if failed:
            self.stop()
            raise failed[0]
        return self

    def _serve(self, ready: threading.Event, failed: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        heads = _Heads()
        open_connections: set[asyncio.Transport] = set()

        async def serve() -> None:
            self._stopped = asyncio.Event()
            servers = []
            try:
                for name, sock in zip(self.names, self._sockets, strict=True):
                    protocol = partial(_Connection, self._sites[name], heads, open_connections)
                    servers.append(await loop.create_server(protocol, sock=sock))
            except BaseException as exc:
                failed.append(exc)
            ready.set()
            if not failed:
                await self._stopped.wait()
            for server in servers:
                server.close()
            for transport in list(open_connections):  # a stopped site is a dead site
                transport.abort()
            for server in servers:
                await server.wait_closed()

        try:
            loop.run_until_complete(serve())
        finally:
            ready.set()
            loop.close()

    def stop(self) -> None:
        """Stop serving, drop open connections and release the ports; safe to call twice."""
        loop, stopped, thread = self._loop, self._stopped, self._thread
        if thread is not None:
            if loop is not None and stopped is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    loop.call_soon_threadsafe(stopped.set)
            thread.join(timeout=5)
        self._thread = self._loop = self._stopped = None
        self._close()

    def _close(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

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
            if isinstance(old, Resource) and old.last_modified_at >= now:
                now = old.last_modified_at + timedelta(seconds=1)
            target.pages[path] = make_resource(body, content_type, now)

    def pages(self, site: str) -> dict[str, Page]:
        """A snapshot of what ``site`` currently serves, keyed by path (and query)."""
        target = self._sites[site]
        with target.lock:
            return dict(target.pages)
