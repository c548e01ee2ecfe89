"""Per-source fetching: which requests the browser makes (``render:``), the source's proxy
(``proxy:``), and the browser's cookies on plain requests.

- ``render: browser``: every page is fetched in Chromium (:mod:`spiders.browser`); robots.txt
  and attachments are fetched plainly, with the browser's cookies.
- ``render: auto``: pages are fetched plainly. A plain answer that is a challenge page
  (:func:`crawler.health.rules.challenge_kind`: 加速乐 521, 瑞数 412, "请开启JavaScript…") is
  fetched again in the browser, and so is every page after it until one fetched there passes;
  then plain requests resume, carrying the cookies the browser earned. A challenge met again
  (the cookies expired) sends the source back to the browser.
- With either, a robots.txt answered with a challenge (it is fetched plainly, before the browser
  has earned a cookie) cannot be read: it is dropped, which Scrapy takes as "everything
  allowed", as for an unreachable one, and is not counted as a challenge met.
- ``proxy:``: plain requests go through it (``request.meta["proxy"]``), and so does the
  browser (its context's proxy, :mod:`spiders.browser`). ``${NAME}`` placeholders are read from
  the environment when the crawl starts.

Sources with neither keep Scrapy's plain downloader and never load any of this.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.settings import Settings

from crawler.config.sources import Source
from crawler.config.subscriptions import expand, placeholders
from crawler.errors import ConfigError
from crawler.health.rules import challenge_kind

log = logging.getLogger(__name__)

BROWSER = "playwright"  # scrapy-playwright's request.meta key: fetch this request in the browser
COOKIES = "radar_browser_cookies"  # request.meta: the browser context's cookies after the page (spiders.browser)
HANDLER = "spiders.browser.BrowserDownloadHandler"


def render_settings(settings: Settings, source: Source) -> None:
    """Add what ``source`` needs to a crawl's Scrapy ``settings`` (not frozen yet): the
    middleware when it renders or has a proxy, the browser's download handler when it renders."""
    if source.render == "plain" and not source.proxy:
        return
    settings["DOWNLOADER_MIDDLEWARES"].update({"spiders.render.RenderMiddleware": 20}, priority="spider")
    if source.render != "plain":
        settings["DOWNLOAD_HANDLERS"].update({"http": HANDLER, "https": HANDLER}, priority="spider")
        settings.setdict(playwright_settings(settings), priority="spider")


def playwright_settings(settings: Settings) -> dict[str, Any]:
    """scrapy-playwright's settings for a rendering crawl with Scrapy ``settings``."""
    timeout_ms = settings.getfloat("DOWNLOAD_TIMEOUT") * 1000
    return {
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_BROWSER_PROVIDER": "spiders.browser.BrowserProvider",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": settings.get("RADAR_BROWSER_EXECUTABLE"),
            "headless": True,
            # Chromium refuses its sandbox to root (a container's crawl): only then without it
            "args": ["--disable-dev-shm-usage", *(["--no-sandbox"] if os.geteuid() == 0 else [])],
        },
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_ms,
        # the browser sends its own headers (with our User-Agent, set on the context): Scrapy's
        # would replace its cookies and send the validators of pages it has no copy of
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": settings.getint("CONCURRENT_REQUESTS"),
    }


def proxy_url(source: Source, env: Mapping[str, str] | None = None) -> str:
    """``source.proxy`` with its ``${NAME}`` placeholders filled from ``env`` (the environment)."""
    env = os.environ if env is None else env
    missing = [name for name in placeholders(source.proxy) if name not in env]
    if missing:
        raise ConfigError(f"the proxy needs {', '.join(missing)} in the environment", source=source.name, key="proxy")
    return expand(source.proxy, lambda name: quote(env[name], safe=""))  # a password may hold @ or :


class CookieJar:
    """The cookies a source's browser context holds, for its plain requests."""

    def __init__(self) -> None:
        self.cookies: list[Mapping[str, Any]] = []

    def update(self, cookies: Sequence[Mapping[str, Any]]) -> None:
        """Take the context's cookies (all of them: what it holds now)."""
        self.cookies = list(cookies)

    def header(self, url: str) -> str:
        """The ``Cookie`` header a browser would send to ``url`` ("" when none)."""
        parts = urlsplit(url)
        host, path, now = (parts.hostname or "").lower(), parts.path or "/", time.time()
        sent = []
        for c in self.cookies:
            domain = str(c.get("domain", "")).lower().lstrip(".")
            if not (host == domain or host.endswith("." + domain)):
                continue
            if not path.startswith(str(c.get("path") or "/")) or (c.get("secure") and parts.scheme != "https"):
                continue
            expires = float(c.get("expires", -1))
            if 0 <= expires < now:
                continue
            sent.append(f"{c['name']}={c['value']}")
        return "; ".join(sent)


def _robots(request: Request) -> bool:
    return urlsplit(request.url).path == "/robots.txt"


class RenderMiddleware:
    """Downloader middleware: sends a rendering source's pages to the browser (see the module
    doc), its requests through its proxy, and the browser's cookies with its plain requests."""

    def __init__(self, crawler: Crawler, source: Source) -> None:
        self.crawler = crawler
        self.source = source
        self.proxy = proxy_url(source) if source.proxy else ""
        self.jar = CookieJar()
        self.needs_browser = False  # render: auto: until a page fetched in the browser passes

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RenderMiddleware:
        source = getattr(crawler.spider, "source", None)
        if source is None or (source.render == "plain" and not source.proxy):
            raise NotConfigured("the source neither renders nor has a proxy")
        return cls(crawler, source)

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _in_browser(self, request: Request) -> bool:
        if self.source.render == "plain" or _robots(request) or "item" in request.meta:  # item: an attachment
            return False
        return self.source.render == "browser" or self.needs_browser

    def process_request(self, request: Request) -> None:
        """Route ``request``: through the proxy, and to the browser or with its cookies."""
        if self.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy
        if BROWSER in request.meta:  # decided already (a page sent back to the browser)
            return
        if self._in_browser(request):
            request.meta[BROWSER] = True
            self._inc("radar/render/browser")
            return
        cookie = self.jar.header(request.url)
        if cookie:
            request.headers["Cookie"] = cookie

    def process_response(self, request: Request, response: Response) -> Request | Response:
        """Keep the browser's cookies; with ``render: auto``, send a challenged page to the browser."""
        if request.meta.get(BROWSER):
            cookies = request.meta.get(COOKIES)
            if cookies is not None:
                self.jar.update(cookies)
            if self.needs_browser and challenge_kind(response.status, response.body) is None:
                self.needs_browser = False
                self._inc("radar/render/plain_resumed")
                log.info("%s: the browser passed the check; plain requests resume with its cookies", self.source.name)
            return response
        if self.source.render == "plain":
            return response
        kind = challenge_kind(response.status, response.body)
        if kind is None:
            return response
        if _robots(request):  # fetched plainly first, before the browser has earned any cookie
            self.needs_browser = True
            self._inc("radar/render/robots_challenged")
            raise IgnoreRequest(f"robots.txt answered with a challenge page ({kind})")
        if self.source.render != "auto":
            return response
        self.needs_browser = True
        self._inc("radar/render/challenge_retried")
        log.info("%s: %s is a challenge page (%s); fetching it in the browser", self.source.name, request.url, kind)
        retry = request.replace(dont_filter=True, meta={**request.meta, BROWSER: True})
        retry.headers.pop(b"Cookie", None)
        return retry


__all__ = ["BROWSER", "COOKIES", "CookieJar", "RenderMiddleware", "playwright_settings", "proxy_url", "render_settings"]
