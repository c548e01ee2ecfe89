"""How a crawl's run is judged (issue 26, item 7): a run that fetched nothing it asked for is
``failed``, one that met only challenge pages is ``blocked`` (both count towards ``failing``), and
a first run whose listing requests mostly failed is an ``error_spike``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from crawler.config.sources import Schedule
from crawler.health.rules import RunStats, SourceHistory, Thresholds, evaluate
from crawler.replica.resource import HTML_UTF8, make_resource
from crawler.replica.server import ReplicaSites
from spiders.extensions import judge_run
from storage.db import open_database
from storage.models import CrawlRunRow
from tests.e2e import radar
from tests.test_frontier import crawl_config

NOW = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)


def _rules(*runs: RunStats) -> list[str]:
    history = SourceHistory("s", Schedule(every=timedelta(hours=1)), runs)
    return [a.rule for a in evaluate(history, Thresholds(failures=2), now=NOW, timezone="UTC")]


def _run(status: str = "finished", **kw: object) -> RunStats:
    return RunStats(started_at=NOW - timedelta(minutes=5), finished_at=NOW, status=status, **kw)  # type: ignore[arg-type]


def test_a_run_that_fetched_nothing_failed() -> None:
    refused = {"downloader/request_count": 4, "downloader/exception_type_count/twisted.internet.error."
               "ConnectionRefusedError": 4, "radar/listing_requests": 1, "radar/listing_failed": 1}
    status, reason = judge_run("finished", refused)
    assert status == "failed" and reason.startswith("nothing fetched") and "ConnectionRefusedError ×4" in reason
    errors = {"downloader/request_count": 2, "downloader/response_status_count/503": 2, "response_received_count": 2,
              "httperror/response_ignored_status_count/503": 2}
    assert judge_run("finished", errors)[0] == "failed"
    fine = {"downloader/request_count": 3, "downloader/response_status_count/200": 1,
            "downloader/response_status_count/503": 2, "response_received_count": 3}
    assert judge_run("finished", fine) == ("finished", "finished")
    assert judge_run("finished", {}) == ("finished", "finished")  # a re-check with nothing due
    assert judge_run("shutdown", refused) == ("interrupted", "shutdown")


def test_a_run_that_met_only_challenge_pages_is_blocked() -> None:
    stats = {"downloader/request_count": 3, "downloader/response_status_count/521": 3, "response_received_count": 3,
             "radar/challenge": 3, "radar/challenge/jiasule": 3}
    status, reason = judge_run("finished", stats)
    assert status == "blocked" and "jiasule ×3" in reason
    assert "failing" in _rules(_run("blocked"), _run("failed"))


def test_most_listing_requests_failing_is_an_error_spike_even_on_a_first_run() -> None:
    # ten listing pages, six refused; the hundred article requests of the other four went fine
    first = _run(requests=106, listing_requests=10, listing_failed=6, errors_by_kind={"http_503": 6})
    assert _rules(first) == ["error_spike"]
    assert _rules(_run(requests=106, listing_requests=10, listing_failed=5, errors_by_kind={"http_503": 5})) == []


def test_a_site_answering_only_challenge_pages_is_blocked(sqlite_url: str, tmp_path: Path) -> None:
    """Item 7, end to end: a site whose every page is a 加速乐 cookie check (robots.txt not
    found) gives a ``blocked`` run and a non-zero exit, not ``finished``."""
    challenge = make_resource(b'<html><script>document.cookie="__jsl_clearance=1";location.reload()</script></html>',
                              HTML_UTF8, NOW)
    with ReplicaSites(sites={"waf": {"/404.html": make_resource(b"not found", HTML_UTF8, NOW),
                                     "/list/index.html": challenge}}) as site:
        config = crawl_config(tmp_path, sqlite_url, f"{site.urls['waf']}/list/index.html")
        done = radar("--config", str(config), "crawl")
    assert done.returncode != 0 and "blocked" in done.stdout
    engine, factory = open_database(sqlite_url)
    with factory() as s:
        (run,) = s.scalars(select(CrawlRunRow))
    engine.dispose()
    assert run.status == "blocked" and "jiasule" in run.finish_reason
