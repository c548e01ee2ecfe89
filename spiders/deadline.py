"""A total download deadline per response, over all its attempts.

Scrapy's ``DOWNLOAD_TIMEOUT`` bounds one attempt (connect to last byte), and a timed-out
attempt is retried ``RETRY_TIMES`` times, so a server that trickles its answer held one URL for
``(RETRY_TIMES + 1) × DOWNLOAD_TIMEOUT``. ``RADAR_DOWNLOAD_DEADLINE`` bounds the time spent
downloading one response, its retries and redirects included; time spent waiting in the queue
for a polite delay does not count. A response that runs out of it fails with
:class:`DeadlineExceeded` (an error kind of its own in ``crawl_runs.errors_by_kind``) and is not
retried.
"""

from __future__ import annotations

from time import monotonic

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadTimeoutError
from scrapy.http import Response

# request.meta key: seconds already spent downloading this response (earlier attempts, redirects)
SPENT = "radar_download_spent"


class DeadlineExceeded(Exception):
    """A response took longer than ``RADAR_DOWNLOAD_DEADLINE`` over all its attempts."""


class DeadlineHTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, each attempt's timeout cut to what is left of the deadline."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.deadline = crawler.settings.getfloat("RADAR_DOWNLOAD_DEADLINE")
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")

    async def download_request(self, request: Request) -> Response:
        """Download ``request`` within what is left of its response's deadline."""
        if self.deadline <= 0:
            return await super().download_request(request)
        spent = float(request.meta.get(SPENT, 0.0))
        left = self.deadline - spent
        if left <= 0:
            raise DeadlineExceeded(self._message(request))
        timeout = float(request.meta.get("download_timeout") or self.timeout)
        capped = left <= timeout  # this attempt ends at the deadline, if it times out
        if capped:
            request.meta["download_timeout"] = left
        started = monotonic()
        try:
            return await super().download_request(request)
        except DownloadTimeoutError as exc:
            if capped:
                raise DeadlineExceeded(self._message(request)) from exc
            raise
        finally:
            request.meta[SPENT] = spent + monotonic() - started

    def _message(self, request: Request) -> str:
        return f"{request.url} was not downloaded within {self.deadline:g} s (RADAR_DOWNLOAD_DEADLINE)"


__all__ = ["SPENT", "DeadlineExceeded", "DeadlineHTTPDownloadHandler"]
