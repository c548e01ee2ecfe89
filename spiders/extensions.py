"""Records every crawl in ``crawl_runs``: opened when the spider opens (or adopted from the daemon,
which opens the row before it starts the crawl process), closed with its counts, errors by kind,
HTTP status counts, article links seen on listing pages and challenge pages met."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from sqlalchemy.exc import OperationalError

from crawler.errors import brief
from crawler.health.rules import RunStatus, challenge_kind, top_errors
from spiders.base import RadarSpider
from storage import runs
from storage.db import transaction

# Scrapy stats whose count is an error of that kind (besides the prefixed families below)
_ERROR_STATS = {
    "radar/extract_failed": "extract_failed",
    "radar/store_failed": "store_failed",
    "radar/empty_page": "empty_page",
    "radar/not_html": "not_html",
    "radar/attachment_failed": "attachment_failed",
}
_PREFIXES = (
    ("downloader/exception_type_count/", ""),  # …/twisted.internet.error.TimeoutError → TimeoutError
    ("httperror/response_ignored_status_count/", "http_"),
    ("spider_exceptions/", "spider_"),
    ("radar/challenge/", "challenge_"),
)
_STATUS = "downloader/response_status_count/"


def run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """The crawl_runs counters from Scrapy's stats."""
    errors = sum(int(v) for k, v in stats.items()
                 if k in ("log_count/ERROR", "radar/extract_failed", "radar/store_failed")
                 or k.startswith("spider_exceptions/"))
    return {
        "pages": int(stats.get("response_received_count", 0)),
        "items": int(stats.get("item_scraped_count", 0)),
        "new": int(stats.get("radar/new", 0)),
        "duplicates": int(stats.get("radar/duplicate", 0)) + int(stats.get("radar/unchanged", 0)),
        "errors": errors,
        "bytes": int(stats.get("downloader/response_bytes", 0)),
        "requests": int(stats.get("downloader/request_count", 0)),
        "links": int(stats.get("radar/links_seen", 0)),
        "challenges": int(stats.get("radar/challenge", 0)),
    }


def errors_by_kind(stats: dict[str, Any]) -> dict[str, int]:
    """``{"TimeoutError": 4, "http_503": 2, "extract_failed": 1, "challenge_jiasule": 3}`` from Scrapy's stats.

    Download exceptions are counted per attempt (retries included), as Scrapy counts them.
    """
    kinds: dict[str, int] = {}
    for key, value in stats.items():
        kind = _ERROR_STATS.get(key)
        if kind is None:
            for prefix, label in _PREFIXES:
                if key.startswith(prefix):
                    kind = label + key[len(prefix):].rsplit(".", 1)[-1]
                    break
        if kind is not None and isinstance(value, int) and value:
            kinds[kind] = kinds.get(kind, 0) + value
    return kinds


def status_counts(stats: dict[str, Any]) -> dict[str, int]:
    """``{"200": 40, "304": 12, "404": 1}``: responses by HTTP status."""
    return {k[len(_STATUS):]: int(v) for k, v in stats.items() if k.startswith(_STATUS) and isinstance(v, int)}


def run_status(reason: str) -> RunStatus:
    """crawl_runs.status for a Scrapy finish reason: ``shutdown`` (SIGTERM, the daemon stopping)
    is an interruption, not a failure."""
    if reason == "finished":
        return "finished"
    return "interrupted" if reason == "shutdown" else "failed"


def judge_run(reason: str, stats: Mapping[str, Any]) -> tuple[RunStatus, str]:
    """crawl_runs' status and finish reason for a crawl Scrapy ended with ``reason``: a crawl
    that "finished" having fetched nothing it asked for is ``failed`` (every request refused,
    timed out or answered with an error), and one whose every answer was a challenge / WAF page
    is ``blocked``."""
    status = run_status(reason)
    # robots.txt is asked for by Scrapy, not by the source: its answer fetches nothing
    requests = int(stats.get("downloader/request_count", 0)) - int(stats.get("robotstxt/request_count", 0))
    if status != "finished" or requests <= 0:
        return status, reason
    responses = int(stats.get("response_received_count", 0)) - int(stats.get("robotstxt/response_count", 0))
    challenges = int(stats.get("radar/challenge", 0))
    if challenges and challenges >= responses:
        kinds = {k.removeprefix("radar/challenge/"): int(v) for k, v in stats.items()
                 if k.startswith("radar/challenge/")}
        return "blocked", f"blocked: every answer was a challenge page ({top_errors(kinds)})"
    robots = {k.removeprefix("robotstxt/response_status_count/"): int(v) for k, v in stats.items()
              if k.startswith("robotstxt/response_status_count/")}
    fetched = sum(n - robots.get(code, 0) for code, n in status_counts(dict(stats)).items()
                  if code.startswith("2") or code == "304")
    if fetched == 0:
        failures = {k: v for k, v in errors_by_kind(dict(stats)).items() if not k.startswith("challenge_")}
        return "failed", f"nothing fetched: {top_errors(failures) or f'{requests} requests, no answer'}"
    return status, reason


def _jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in stats.items()
            if isinstance(v, (int, float, str, datetime))}


class CrawlRunRecorder:
    """Scrapy extension writing one ``crawl_runs`` row per spider run.

    With the ``RADAR_RUN_ID`` setting (the daemon passes ``radar crawl --run-id``) it fills that
    row instead of opening one, so the daemon can close the row itself if the crawl dies.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunRecorder:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def spider_opened(self, spider: RadarSpider) -> None:
        adopted = self.crawler.settings.getint("RADAR_RUN_ID", 0)
        now, pid, host = datetime.now(UTC), os.getpid(), runs.this_host()
        try:
            with transaction(spider.ingestor.factory) as session:
                # runs left 'running' by a crawl process that is gone are closed first
                abandoned = runs.abandon_dead_runs(session, now=now, host=host)
                if adopted:
                    runs.claim_run(session, adopted, pid=pid, host=host)
                else:
                    self.run_id = runs.open_run(session, spider.source.name, now, pid=pid, host=host)
            if abandoned:
                spider.logger.warning("marked %d crawl run(s) abandoned: their process is gone", abandoned)
        except OperationalError as exc:  # the database is failing: the crawl's stores will say so too
            spider.logger.error("could not record the start of this crawl: %s", brief(exc))
        if adopted:
            self.run_id = adopted

    def response_received(self, response: Response, request: Request, spider: RadarSpider) -> None:
        """Count challenge pages. (Article links on listing and index pages are counted by the
        spiders, which extract them anyway: extracting them again here cost as much.)"""
        stats = self.crawler.stats
        if stats is None:
            return
        kind = challenge_kind(response.status, response.body)
        if kind is not None:
            stats.inc_value("radar/challenge")
            stats.inc_value(f"radar/challenge/{kind}")

    def spider_closed(self, spider: RadarSpider, reason: str) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        status, why = judge_run(reason, stats)
        if why != reason and self.crawler.stats:
            # what the crawl reports: ``radar crawl`` exits non-zero for a reason but "finished"
            self.crawler.stats.set_value("finish_reason", why)
            spider.logger.error("the crawl of %s is %s: %s", spider.source.name, status, why)
        record = runs.RunRecord(status=status, reason=why, counts=run_counts(stats),
                                errors_by_kind=errors_by_kind(stats), status_counts=status_counts(stats),
                                stats=_jsonable(stats))
        if self.run_id is None:
            return
        try:
            with transaction(spider.ingestor.factory) as session:
                runs.finish_run(session, self.run_id, record, finished_at=datetime.now(UTC))
        except OperationalError as exc:  # left 'running': the daemon closes it, or marks it abandoned
            spider.logger.error("could not record how this crawl ended (%s): %s", reason, brief(exc))
            return
        spider.crawler.stats.set_value("radar/run_id", self.run_id)


__all__ = ["CrawlRunRecorder", "errors_by_kind", "judge_run", "run_counts", "run_status", "status_counts"]
