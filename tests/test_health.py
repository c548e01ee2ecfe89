"""Crawl-health rules (pure), challenge-page detection and the crawl_runs counters from Scrapy stats."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from crawler.config.sources import Schedule
from crawler.health.rules import (
    RunStats,
    SourceHistory,
    Thresholds,
    alerts_of,
    challenge_kind,
    evaluate,
    schedule_interval,
    trend_arrow,
)
from crawler.health.wording import human, keys
from spiders.extensions import errors_by_kind, judge_run, run_counts, run_status, status_counts

NOW = datetime(2025, 7, 2, 12, 0, tzinfo=UTC)
HOURLY = Schedule(every=timedelta(hours=1))
TH = Thresholds(crawl_timeout=timedelta(minutes=10))


def run(hours_ago: float, status: str = "finished", **kw: object) -> RunStats:
    start = NOW - timedelta(hours=hours_ago)
    defaults: dict[str, object] = {"pages": 2, "items": 1, "new": 0, "requests": 10, "links": 20}
    defaults.update(kw)
    return RunStats(started_at=start, finished_at=start + timedelta(minutes=1), status=status,
                    **defaults)  # type: ignore[arg-type]


def rules(history: SourceHistory, th: Thresholds = TH) -> list[str]:
    return [a.rule for a in evaluate(history, th, now=NOW, timezone="Asia/Shanghai")]


def hist(runs: list[RunStats], **kw: object) -> SourceHistory:
    return SourceHistory(source="src", schedule=kw.pop("schedule", HOURLY), runs=runs, **kw)  # type: ignore[arg-type]


def test_a_healthy_source_raises_nothing() -> None:
    runs = [run(i) for i in range(0, 10)]
    times = [NOW - timedelta(hours=h) for h in (1, 5, 9, 13)]
    assert rules(hist(runs, new_item_times=times, garbled_scores=[0.0] * 20)) == []


def test_consecutive_failures() -> None:
    failing = [run(0, "failed", finish_reason="crashed: exit code 1", error="x\nOSError: boom"),
               run(1, "killed", finish_reason="time limit"), run(2, "failed")] + [run(i) for i in range(3, 8)]
    alerts = evaluate(hist(failing), TH, now=NOW, timezone="Asia/Shanghai")
    assert [a.rule for a in alerts] == ["failing"]
    assert "last 3 crawls failed" in alerts[0].message and "OSError: boom" in alerts[0].message
    assert alerts[0].setting == "health_failures"
    # two failures are not yet three; an interruption (daemon shutdown) is neither, nor is a
    # crawl skipped because another process was crawling the source
    assert rules(hist(failing[1:])) == []
    assert rules(hist([failing[0], run(0.5, "interrupted"), *failing[1:]])) == ["failing"]
    assert rules(hist([failing[0], run(0.5, "skipped"), *failing[1:]])) == ["failing"]
    assert rules(hist([run(0, "skipped"), run(0.2, "skipped"), *failing[1:]])) == []
    assert rules(hist(failing), Thresholds(failures=4, crawl_timeout=TH.crawl_timeout)) == []


def test_overdue_when_not_crawled_for_several_intervals() -> None:
    old = [run(h) for h in (5, 6, 7)]
    assert rules(hist(old)) == ["overdue"]  # 5 h > 3 × 1 h + 10 min
    assert rules(hist([run(3)])) == []


def test_stale_beyond_the_usual_gap_between_new_items() -> None:
    runs = [run(i) for i in range(0, 10)]
    daily = [NOW - timedelta(days=d) for d in (4, 5, 6, 7)]  # usually one a day, none for 4 days
    alerts = evaluate(hist(runs, new_item_times=daily), TH, now=NOW, timezone="Asia/Shanghai")
    assert [a.rule for a in alerts] == ["stale"]
    assert "no new items for 4 days; usually one every 24 h" in alerts[0].message
    assert rules(hist(runs, new_item_times=daily[1:])) == ["stale"]
    assert rules(hist(runs, new_item_times=daily[:2])) == []  # too little history to judge
    recent = [NOW - timedelta(days=d) for d in (1, 2, 3, 4)]
    assert rules(hist(runs, new_item_times=recent)) == []


def test_no_article_links_where_there_used_to_be_some() -> None:
    runs = [run(0, links=0), run(1, links=0)] + [run(i, links=15) for i in range(2, 8)]
    alerts = evaluate(hist(runs), TH, now=NOW, timezone="Asia/Shanghai")
    assert [a.rule for a in alerts] == ["no_links"] and "earlier runs found 15" in alerts[0].message
    assert rules(hist(runs[1:])) == []  # one empty run is not yet a pattern
    assert rules(hist([run(i, links=0) for i in range(8)])) == []  # never had links: nothing changed
    # listings answered 304 Not Modified read no links because nothing changed: no alarm
    unchanged = [run(0, links=0, not_modified=1), run(1, links=0, not_modified=1), *runs[2:]]
    assert rules(hist(unchanged)) == []
    # re-check crawls fetch stored articles, not listings: they read no links by design
    rechecks = [run(0, links=0, recheck=True), run(1, links=0, recheck=True), *runs[2:]]
    assert rules(hist(rechecks)) == []


def test_error_spike_against_the_usual_rate() -> None:
    spike = run(0, requests=20, errors_by_kind={"http_503": 8, "TimeoutError": 4, "attachment_failed": 9})
    usual = [run(i, requests=20, errors_by_kind={"http_404": 1}) for i in range(1, 6)]
    alerts = evaluate(hist([spike, *usual]), TH, now=NOW, timezone="Asia/Shanghai")
    assert [a.rule for a in alerts] == ["error_spike"]
    assert "12 of 20 requests failed" in alerts[0].message and "http_503 ×8" in alerts[0].message
    # a source that always fails this much has no spike; a tiny run proves nothing
    always = [run(i, requests=20, errors_by_kind={"http_503": 12}) for i in range(1, 6)]
    assert rules(hist([spike, *always])) == []
    assert rules(hist([run(0, requests=3, errors_by_kind={"http_503": 3}), *usual])) == []


def test_garbled_text_ratio() -> None:
    runs = [run(i) for i in range(3)]
    assert rules(hist(runs, garbled_scores=[0.3] * 5 + [0.0] * 15)) == ["garbled"]
    assert rules(hist(runs, garbled_scores=[0.3] * 3 + [0.0] * 17)) == []
    assert rules(hist(runs, garbled_scores=[0.3] * 3)) == []  # too few articles


def test_a_blocked_source_is_blocked_whatever_the_thresholds() -> None:
    blocked = run(0, "blocked", challenges=4, finish_reason="blocked: every answer was a challenge page (jiasule ×4)")
    assert rules(hist([blocked, run(1)])) == ["blocked"]  # not "challenge" as well
    quiet = Thresholds(crawl_timeout=timedelta(minutes=10), challenge_pages=0)  # challenge alerts off
    alert = evaluate(hist([blocked, run(1)]), quiet, now=NOW, timezone="Asia/Shanghai")[0]
    assert alert.rule == "blocked" and "jiasule ×4" in alert.message
    # a crawl that got through again ends it; one skipped (it fetched nothing) does not
    assert rules(hist([run(0), blocked])) == []
    assert rules(hist([run(0, "skipped", pages=0, requests=0, links=0), blocked])) == ["blocked"]
    assert rules(hist([blocked, run(1, "blocked"), run(2, "blocked")]))[:2] == ["blocked", "failing"]


def test_challenge_pages() -> None:
    blocked = run(0, challenges=3, errors_by_kind={"challenge_jiasule": 3})
    alerts = evaluate(hist([blocked, run(1)]), TH, now=NOW, timezone="Asia/Shanghai")
    assert "challenge" in [a.rule for a in alerts]
    assert "jiasule ×3" in next(a.message for a in alerts if a.rule == "challenge")
    # a skipped crawl fetched nothing: it says nothing about whether the site still blocks us
    skipped = run(0, "skipped", pages=0, requests=0, links=0)
    assert "challenge" in rules(hist([skipped, run(0.5, challenges=3), run(1)]))


@pytest.mark.parametrize(("status", "body", "kind"), [
    (521, b"<script>document.cookie='__jsl_clearance=1';location.reload()</script>", "jiasule"),
    (503, b"<title>Just a moment...</title>", "cloudflare"),
    (200, b"<html><script>var $_ts=window['$_ts'];</script></html>", "ruishu"),
    (403, "您的访问被拦截，请联系网站管理员".encode(), "waf"),
    (200, "<p>请输入验证码</p>".encode() * 5, None),  # words in an ordinary page are not a challenge
    (200, b"<html>" + b"x" * 20000 + b"<script src='/safedog.js'></script></html>", None),  # a badge on a real page
    (404, b"not found", None),
    # every strong marker, in any case, on a small page of any status
    (200, b"<form action='/CDN-CGI/challenge-platform/h/b'>", "cloudflare"),
    (200, b"<script>window._cf_chl_opt={}</script>", "cloudflare"),
    (200, b"<script src='/JSL_TRACKING.js'></script>", "jiasule"),
    (200, b"<a href='?security_session_verify=1'>", "yunsuo"),
    (200, b"<img src='/SafeDog/logo.png'>", "safedog"),
    (200, b"<script>$_ts.nsd=1</script>", "ruishu"),
    (200, b"<p>price $_tsla</p>", None),  # the literal alone is not the script
    # markers of two vendors: the first kind in the list wins, wherever its marker stands
    (200, b"<img src='/safedog/logo.png'><script>var c='__jsl_clearance';</script>", "jiasule"),
    (200, b"<p>$_tsla</p><img src='/safedog/logo.png'>", "safedog"),  # ruishu's literal, unconfirmed
])
def test_challenge_kind(status: int, body: bytes, kind: str | None) -> None:
    assert challenge_kind(status, body) == kind


def test_schedule_interval_uses_the_cron_gaps_in_the_timezone() -> None:
    assert schedule_interval(Schedule(cron="0 8,20 * * *"), "Asia/Shanghai", NOW) == timedelta(hours=12)
    assert schedule_interval(Schedule(cron="30 7 * * 1"), "Asia/Shanghai", NOW) == timedelta(days=7)
    assert schedule_interval(HOURLY, "Asia/Shanghai", NOW) == timedelta(hours=1)


def test_trend_arrow() -> None:
    assert trend_arrow([10, 12, 11, 0, 0, 0]) == "↓"
    assert trend_arrow([0, 0, 1, 9, 12, 10]) == "↑"
    assert trend_arrow([3, 4, 3, 4]) == "→"
    assert trend_arrow([1, 2]) == ""


def test_crawl_run_counters_from_scrapy_stats() -> None:
    stats = {
        "downloader/request_count": 30, "response_received_count": 25, "item_scraped_count": 7,
        "downloader/exception_type_count/twisted.internet.error.TimeoutError": 4,
        "httperror/response_ignored_status_count/404": 2,
        "downloader/response_status_count/200": 23, "downloader/response_status_count/404": 2,
        "radar/extract_failed": 1, "radar/challenge": 3, "radar/challenge/jiasule": 3, "radar/links_seen": 40,
        "spider_exceptions/ValueError": 1, "log_count/ERROR": 2, "radar/new": 5,
    }
    assert errors_by_kind(stats) == {"TimeoutError": 4, "http_404": 2, "extract_failed": 1,
                                     "challenge_jiasule": 3, "spider_ValueError": 1}
    assert status_counts(stats) == {"200": 23, "404": 2}
    counts = run_counts(stats)
    assert (counts["requests"], counts["links"], counts["challenges"], counts["new"]) == (30, 40, 3, 5)
    assert [run_status(r) for r in ("finished", "shutdown", "closespider_timeout")] == [
        "finished", "interrupted", "failed"]


def test_alerts_of_judges_each_source_under_the_configured_thresholds() -> None:
    """The verdict ``radar status``, the digest and the daemon show: every source's alerts in
    the order given, with the thresholds the settings file sets."""
    from crawler.config.settings import load_settings

    failing = [run(i, "failed") for i in range(0, 2)] + [run(i) for i in range(2, 6)]
    histories = [SourceHistory("b", HOURLY, failing), SourceHistory("a", HOURLY, [run(i) for i in range(0, 6)])]
    strict = load_settings({"health_failures": 2, "crawl_timeout": 600}, env={})
    assert [(a.source, a.rule) for a in alerts_of(histories, strict, NOW)] == [("b", "failing")]
    assert alerts_of(histories, load_settings({"health_failures": 3, "crawl_timeout": 600}, env={}), NOW) == []


def _crawl(hours_ago: float, stats: dict[str, int], **kw: object) -> RunStats:
    """A run as the recorder writes it from Scrapy's stats: status, reason and error kinds."""
    status, why = judge_run("finished", stats)
    return run(hours_ago, status, finish_reason=why, errors_by_kind=errors_by_kind(stats), **kw)


def _one_history_per_sentence() -> dict[str, SourceHistory]:
    """A source's history that raises each sentence of :mod:`crawler.health.wording`."""
    fine = [run(i) for i in range(1, 6)]
    challenged = {"downloader/request_count": 4, "response_received_count": 4, "radar/challenge": 4,
                  "radar/challenge/jiasule": 4}
    refused = {"downloader/request_count": 4, "downloader/exception_type_count/twisted.internet.error.TimeoutError": 4}
    return {
        "failing": hist([run(0, "failed", finish_reason="crashed: exit code 1", error="x\nOSError: boom"),
                         run(1, "killed", finish_reason="time limit: killed after 3600s"), run(2, "failed"), *fine]),
        "failing.bare": hist([run(0, "abandoned"), run(1, "failed"), run(2, "failed"), *fine]),
        "overdue": hist([run(h) for h in (5, 6, 7)]),
        "stale": hist([run(i) for i in range(10)], new_item_times=[NOW - timedelta(days=d) for d in (4, 5, 6, 7)]),
        "no_links": hist([run(0, links=0), run(1, links=0)] + [run(i, links=15) for i in range(2, 8)]),
        "error_spike.listing": hist([_crawl(0, refused, listing_requests=4, listing_failed=4), *fine]),
        "error_spike": hist([run(0, requests=20, errors_by_kind={"http_503": 8, "TimeoutError": 4}),
                             *[run(i, requests=20, errors_by_kind={"http_404": 1}) for i in range(1, 6)]]),
        "garbled": hist(fine, garbled_scores=[0.3] * 5 + [0.0] * 15),
        "blocked": hist([_crawl(0, challenged, challenges=4), run(1)]),
        "challenge.kinds": hist([run(0, challenges=3, errors_by_kind={"challenge_jiasule": 3}), run(1)]),
        "challenge": hist([run(0, challenges=2), run(1)]),
        "queued": hist([run(2, "queued"), run(3)]),
    }


# what a Chinese alert may keep: code and settings in backticks, quoted outside text, error
# kinds with their counts (``http_503 ×8``), the source's name
_NOT_WORDS = re.compile(r"`[^`]*`|“[^”]*”|[\w.$-]+ ×\d+|\bsrc\b|\bhealth_\w+")


def test_every_alert_speaks_chinese_in_a_chinese_digest_and_english_stays_as_it_was() -> None:
    histories = _one_history_per_sentence()
    assert set(histories) == keys()  # a new sentence needs a history here, and its Chinese
    english = {}
    for key, history in histories.items():
        alerts = [a for a in evaluate(history, TH, now=NOW, timezone="Asia/Shanghai") if a.key == key]
        assert len(alerts) == 1, key
        alert = alerts[0]
        english[key] = alert.message
        assert alert.text("en") == alert.message and alert.label("en") == alert.rule
        zh = alert.text("zh")
        assert re.search("[\u4e00-\u9fff]", zh) and not re.search("[A-Za-z]", _NOT_WORDS.sub("", zh)), zh
        assert re.fullmatch("[\u4e00-\u9fff]+", alert.label("zh")), alert.rule
    assert english == {  # as radar status, the logs and the English digest have always said them
        "failing": "the last 3 crawls failed; last: crashed: exit code 1: OSError: boom",
        "failing.bare": "the last 3 crawls failed; last: abandoned",
        "overdue": "no successful crawl for 5 h (scheduled every 60 min); is the daemon running?",
        "stale": "no new items for 4 days; usually one every 24 h",
        "no_links": "the last 2 crawls found no article links on the listing pages (earlier runs found 15): "
                    "the site's template or URL pattern changed; check `allow`",
        "error_spike.listing": "4 of 4 listing requests failed in the latest crawl: TimeoutError ×4",
        "error_spike": "12 of 20 requests failed in the latest crawl (60%; usually 5%): http_503 ×8, TimeoutError ×4",
        "garbled": "5 of the last 20 articles look garbled (mis-decoded text); set the source's `encoding`",
        "blocked": "the latest crawl got only challenge pages (blocked: every answer was a challenge page "
                   "(jiasule ×4)); try `render: auto` or `render: browser`, or a `proxy:`",
        "challenge.kinds": "the site answered 3 request(s) with a challenge / WAF page (jiasule ×3) in the latest "
                           "crawl; it may be blocking the crawler",
        "challenge": "the site answered 2 request(s) with a challenge / WAF page in the latest crawl; "
                     "it may be blocking the crawler",
        "queued": "a crawl has waited 2 h on the queue for a radar worker; is a worker running that takes the "
                  "source's queue, and are the workers keeping up?",
    }


def test_chinese_alerts_say_durations_and_keep_outside_reasons() -> None:
    said = {key: next(a for a in evaluate(h, TH, now=NOW, timezone="Asia/Shanghai") if a.key == key).text("zh")
            for key, h in _one_history_per_sentence().items()}
    assert said["overdue"] == "已5小时没有成功抓取（计划每1小时一次）；请确认守护进程在运行"
    assert said["failing"] == "连续3次抓取失败，最近一次出错：“crashed: exit code 1: OSError: boom”"
    assert said["failing.bare"] == "连续3次抓取失败，最近一次进程中途退出（原因未记录）"
    assert "已4天没有新文章" in said["stale"] and "已在队列中等了2小时" in said["queued"]
    assert "（jiasule ×4）" in said["blocked"]
    # a reason with no error kinds counted: the run's own words, quoted
    (listing,) = evaluate(hist([run(0, "failed", finish_reason="nothing fetched: 4 requests, no answer",
                                   listing_requests=4, listing_failed=4)]), TH, now=NOW, timezone="Asia/Shanghai")
    assert listing.text("zh").endswith("：“nothing fetched: 4 requests, no answer”")


@pytest.mark.parametrize(("seconds", "en", "zh"), [
    (3 * 3600, "3 h", "3小时"), (2 * 86400, "2 days", "2天"), (45 * 60, "45 min", "45分钟"),
    (3600, "60 min", "1小时"), (86400, "24 h", "1天"), (90, "90 s", "90秒"), (5400, "90 min", "90分钟"),
    (9.6 * 86400, "10 days", "10天"),
])
def test_durations_in_each_language(seconds: float, en: str, zh: str) -> None:
    assert (human(timedelta(seconds=seconds)), human(timedelta(seconds=seconds), "zh")) == (en, zh)
