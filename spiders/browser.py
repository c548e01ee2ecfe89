"""Fetching a source's pages in Chromium: scrapy-playwright's download handler, driving the
operating system's Chromium (``RADAR_BROWSER_EXECUTABLE``, ``/usr/bin/chromium``: Playwright
cannot download its own browser where Policy Radar runs), with three additions:

- **The fetch guard holds in the browser.** Every request a rendered page makes (scripts,
  XHR, frames, redirects, reloads) is judged by :class:`spiders.guard.FetchGuard`, as the
  crawl's own requests are, and aborted when refused: a page cannot make the browser fetch
  another host's private address, another loopback port, ``file://``, or a WebSocket.
  Service workers are blocked (their requests would escape the check).
- **A context per source, recycled.** A source's pages share one browser context, and so its
  cookies; after ``RADAR_BROWSER_RECYCLE`` pages a new context takes over, carrying the
  cookies, and the old one is closed once its pages are done (Chromium's memory grows with a
  long-lived context).
- **Only what makes the text is fetched.** Images, media, fonts and style sheets are not.
- **What is not a web page is read as served.** A feed, a sitemap or JSON fetched in the
  browser (a challenge sent it there) is answered with its bytes, not with the DOM of the
  browser's viewer.
- **A page is read once it settles.** After the first answer the handler waits (up to
  ``RADAR_BROWSER_SETTLE`` seconds) for the network to go quiet: a challenge script's reload or
  a list filled from a JSON endpoint has happened by then. The response is the last document
  the page loaded; the context's cookies go with it (``spiders.render`` hands them to plain
  requests).

Requests the middleware does not mark for the browser are downloaded as every other crawl's
(:class:`spiders.deadline.DeadlineHTTPDownloadHandler`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route, WebSocketRoute
from playwright.async_api import Response as PlaywrightResponse
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from scrapy_playwright.handler import BrowserContextWrapper, ScrapyPlaywrightDownloadHandler
from scrapy_playwright.provider import PlaywrightBrowserProvider

from crawler.config.sources import Source
from spiders.deadline import DeadlineHTTPDownloadHandler
from spiders.guard import FetchGuard
from spiders.render import COOKIES, proxy_url

log = logging.getLogger(__name__)

#: What a rendered page is not given: nothing of it is text, and no check we know of needs it.
SKIPPED = frozenset({"image", "media", "font", "stylesheet"})
MAX_HOPS = 10  # redirects of one request of a page, as browsers allow about 20
RAW = "radar_browser_raw"  # request.meta: the bytes of an answer that is not a web page


def _is_html(headers: dict[str, str]) -> bool:
    kind = headers.get("content-type", "text/html").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml", "")


@contextmanager
def _address_space_lifted() -> Iterator[None]:
    """This process's address-space limit (``crawl_memory_mb``) lifted to its hard limit meanwhile."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == hard:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class BrowserProvider(PlaywrightBrowserProvider):  # type: ignore[misc]
    """Playwright's own provider, except that its driver (and so Chromium, which it starts) is
    started without the crawl's address-space limit: Chromium reserves terabytes of address
    space it never uses, and dies at start under a limit of a few GiB. The crawl process stays
    limited; Chromium's memory is bounded by recycling its contexts instead."""

    async def start(self) -> None:
        with _address_space_lifted():
            await super().start()


class BrowserDownloadHandler(ScrapyPlaywrightDownloadHandler, DeadlineHTTPDownloadHandler):  # type: ignore[misc]
    """scrapy-playwright's handler with the guard, a recycled context per source and settling
    (see the module doc); plain requests go to :class:`DeadlineHTTPDownloadHandler`."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.guard = FetchGuard(crawler)
        self.recycle = max(1, crawler.settings.getint("RADAR_BROWSER_RECYCLE"))
        self.settle_ms = crawler.settings.getfloat("RADAR_BROWSER_SETTLE") * 1000
        self.user_agent = crawler.settings.get("USER_AGENT")
        self.generation = 0
        self.pages_done = 0  # pages fetched in the current context
        self.open_pages: dict[str, int] = {}
        self.carried: list[Any] = []  # the cookies as the latest page left them, for a new context
        self.browser_provider = None
        self.launch_lock = asyncio.Lock()
        self.redirects: dict[str, tuple[int, str]] = {}  # page URL → its document's redirect

    async def _maybe_launch_in_thread(self) -> None:
        """Nothing at the engine's start: Playwright is started at the first page for the
        browser (one per scheme's handler), so a ``render: auto`` crawl that meets no challenge
        starts none."""

    async def _launch_once(self) -> None:
        async with self.launch_lock:
            if self.browser_provider is None:
                await self._launch()

    def _source(self) -> Source:
        spider = self._crawler.spider
        source: Source = spider.source  # type: ignore[union-attr]
        return source

    def _context_kwargs(self, source: Source) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"user_agent": self.user_agent, "service_workers": "block",
                                  "ignore_https_errors": True}  # as Scrapy's plain downloads do
        if source.proxy:  # Chromium takes no credentials in the server's URL
            proxy = urlsplit(proxy_url(source))
            server = f"{proxy.scheme}://{proxy.hostname}" + (f":{proxy.port}" if proxy.port else "")
            # "<-loopback>": not even loopback addresses are fetched directly (Chromium's default)
            kwargs["proxy"] = {"server": server, "bypass": "<-loopback>", "username": unquote(proxy.username or ""),
                               "password": unquote(proxy.password or "")}
        if self.carried:
            kwargs["storage_state"] = {"cookies": self.carried}
        return kwargs

    async def _download_request(self, request: Request, spider: Spider | None = None) -> Response:
        await self._launch_once()
        source = self._source()
        name = f"{source.name}#{self.generation}"
        request.meta["playwright_context"] = name
        request.meta["playwright_context_kwargs"] = self._context_kwargs(source)
        self.open_pages[name] = self.open_pages.get(name, 0) + 1
        try:
            try:
                response: Response = await super()._download_request(request, spider)
            except PlaywrightError:
                redirect = self.redirects.pop(request.url, None)
                if redirect is None:
                    raise
                status, target = redirect  # for Scrapy's redirect middleware
                return Response(request.url, status=status, headers={"Location": target}, request=request)
            raw = request.meta.pop(RAW, None)
            if raw is not None:
                response = response.replace(cls=responsetypes.from_args(headers=response.headers, url=response.url,
                                                                        body=raw), body=raw)
            wrapper = self.context_wrappers.get(name)
            if wrapper is not None:  # for plain requests, and for the context that takes over
                request.meta[COOKIES] = self.carried = await wrapper.context.cookies()
            return response
        finally:
            self.open_pages[name] -= 1
            await self._recycle(name)

    async def _recycle(self, name: str) -> None:
        """Count a page of context ``name``; start a new context every ``recycle`` pages, and
        close a retired context when its last page is done."""
        current = f"{self._source().name}#{self.generation}"
        if name == current:
            self.pages_done += 1
            if self.pages_done < self.recycle:
                return
            self.generation += 1  # the next page opens a new context, with the cookies carried
            self.pages_done = 0
            self.stats.inc_value("radar/browser/contexts_recycled")
        if self.open_pages.get(name, 0) == 0:
            self.open_pages.pop(name, None)
            wrapper = self.context_wrappers.get(name)
            if wrapper is not None:
                with suppress(PlaywrightError):
                    await wrapper.context.close()

    async def _create_browser_context(self, name: str, context_kwargs: dict[str, Any] | None,
                                      spider: Spider | None = None) -> BrowserContextWrapper:
        wrapper = await super()._create_browser_context(name, context_kwargs, spider)
        await wrapper.context.route_web_socket("**", self._refuse_socket)
        return wrapper

    async def _refuse_socket(self, socket: WebSocketRoute) -> None:
        await self.guard.refusal(socket.url)  # ws: and wss: are never fetched: counted, refused
        await socket.close()

    def _make_request_handler(self, **kwargs: Any) -> Any:
        """Every request of the page: judged by the guard, then fetched by Playwright one hop
        at a time, each redirect's target judged too, and handed to the page. (Chromium follows
        a redirect without asking the route again, whether the request went on to the network
        or was answered here: a page could redirect it to another port.) A redirect of the
        page's own document ends the page: the download answers with it, and Scrapy follows it
        as any redirect, through the guard, back into the browser. Through a source's proxy a
        request goes on as it is: the proxy reaches the sites, and where a redirect leads is on
        its side (nothing bypasses it, loopback included)."""
        page_url = kwargs["url"]

        async def guarded(route: Route, request: Any) -> None:
            if request.resource_type in SKIPPED or await self.guard.refusal(request.url) is not None:
                await route.abort("blockedbyclient")
                return
            if self._source().proxy:  # everything goes to the proxy, loopback too: egress is its own
                await route.continue_()
                return
            document = request.is_navigation_request() and request.frame.parent_frame is None
            url = request.url
            for _hop in range(MAX_HOPS):
                try:
                    answer = await route.fetch(url=url, max_redirects=0)
                except PlaywrightError:
                    await route.abort("failed")
                    return
                location = answer.headers.get("location")
                if not (300 <= answer.status < 400 and location):
                    await route.fulfill(response=answer)
                    return
                target = urljoin(url, location)
                if document:
                    self.redirects[page_url] = (answer.status, target)
                    break
                if await self.guard.refusal(target) is not None:
                    break
                url = target
            await route.abort("blockedbyclient")

        return guarded

    async def _get_response_and_download(self, request: Request, page: Page,
                                         spider: Spider) -> tuple[PlaywrightResponse | None, Any]:
        documents: list[PlaywrightResponse] = []

        def seen(response: PlaywrightResponse) -> None:
            if response.request.is_navigation_request() and response.frame.parent_frame is None:
                documents.append(response)

        page.on("response", seen)
        try:
            response, download = await super()._get_response_and_download(request, page, spider)
            if download is None and self.settle_ms > 0:
                with suppress(PlaywrightError):  # a page that never goes quiet is read as it is
                    await page.wait_for_load_state("networkidle", timeout=self.settle_ms)
                with suppress(PlaywrightError):
                    await page.wait_for_load_state("load", timeout=self.settle_ms)
                if documents and documents[-1] is not response:
                    response = documents[-1]
            if response is not None and download is None and not _is_html(await response.all_headers()):
                with suppress(PlaywrightError):  # a feed, a sitemap, JSON: its bytes, not the viewer's DOM
                    request.meta[RAW] = await response.body()
        finally:
            page.remove_listener("response", seen)
        return response, download


__all__ = ["BrowserDownloadHandler", "BrowserProvider"]
