"""Crawl health: pure rules over a source's recent crawl runs and articles.

Nothing here touches the database or the network; ``storage.runs`` gathers the inputs
(:class:`SourceHistory`), :func:`alerts_of` gives the verdicts, and
``radar status``, the digest and the daemon's metrics show the result; what an alert says,
in English or Chinese, is ``crawler.health.wording``. Each rule has one threshold setting
(``crawler.config.settings.DEFAULTS``, documented in the README):

| rule | fires when | setting |
|---|---|---|
| ``failing`` | the last N runs all failed, were blocked, killed or abandoned | ``health_failures`` |
| ``overdue`` | no successful crawl for N schedule intervals + ``crawl_timeout`` | ``health_stale_factor`` |
| ``stale`` | no new items for N × the source's usual gap between new items | ``health_stale_factor`` |
| ``no_links`` | the last N runs found no article links on listing pages; earlier runs did | ``health_zero_runs`` |
| ``error_spike`` | latest run's failed-request share ≥ threshold and ≥ 2× the usual, or most | ``health_error_rate`` |
| | of its listing requests failed (also on a first run) | |
| ``garbled`` | the share of garbled articles among the last 20 ≥ the threshold | ``health_garbled_ratio`` |
| ``challenge`` | the latest run met challenge / WAF pages | ``health_challenge_pages`` |
| ``blocked`` | the latest run met only challenge pages: shown whatever the thresholds | |
| ``queued`` | a crawl put on the queue (``executor: queue``) has waited longer than N seconds | ``health_queue_wait`` |
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from ahocorasick_rs import BytesAhoCorasick, Implementation

from crawler.config.settings import Settings
from crawler.config.sources import Schedule
from crawler.health.wording import Quoted, Term, rule_label, say

#: crawl_runs.status: ``queued`` while a crawl waits on the broker for a worker (``executor:
#: queue``), ``running`` until the crawl ends; then how it ended (see below)
RunStatus = Literal["queued", "running", "finished", "failed", "blocked", "killed", "abandoned", "interrupted",
                    "skipped"]
#: runs not ended yet
PENDING: tuple[RunStatus, ...] = ("queued", "running")
#: runs that count as failures: ``failed`` (also: fetched nothing it asked for), ``blocked``
#: (every page was a challenge page), killed by the daemon, ``abandoned`` (its process is gone)
FAILED: tuple[RunStatus, ...] = ("failed", "blocked", "killed", "abandoned")
#: runs that stopped before finishing on purpose (daemon shutdown), or never started because
#: another process was crawling the source: neither success nor failure
NEUTRAL: tuple[RunStatus, ...] = ("interrupted", "skipped")
#: error kinds that are not failed requests (they do not count towards the error rate)
_NOT_REQUEST_ERRORS = {"attachment_failed", "empty_page", "not_html"}
GARBLED_SAMPLE = 20


@dataclass(frozen=True)
class RunStats:
    """What the rules need of one crawl_runs row."""

    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    finish_reason: str = ""
    pages: int = 0
    items: int = 0
    new: int = 0
    errors: int = 0
    requests: int = 0
    links: int = 0
    not_modified: int = 0  # 304 answers: the listing was as last time, so no links were read
    recheck: bool = False  # a re-check crawl fetches stored articles, never listing pages
    challenges: int = 0
    errors_by_kind: Mapping[str, int] = field(default_factory=dict)
    error: str = ""
    listing_requests: int = 0  # listing / index pages requested
    listing_failed: int = 0  # of them not fetched (after retries)
    worker: str = ""  # the radar worker that ran it (``executor: queue``)


@dataclass(frozen=True)
class SourceHistory:
    """A source's recent history: runs newest first, when runs last found new items (newest
    first, over a longer span than ``runs``), and a sample of its latest articles' garbled scores."""

    source: str
    schedule: Schedule
    runs: Sequence[RunStats]
    new_item_times: Sequence[datetime] = ()
    garbled_scores: Sequence[float] = ()


@dataclass(frozen=True)
class Thresholds:
    """The health settings (see :data:`crawler.config.settings.DEFAULTS`)."""

    stale_factor: float = 3.0
    zero_runs: int = 2
    error_rate: float = 0.5
    garbled_score: float = 0.05
    garbled_ratio: float = 0.2
    challenge_pages: int = 1
    failures: int = 3
    crawl_timeout: timedelta = timedelta(hours=1)
    queue_wait: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The thresholds configured in ``settings``."""
        return cls(
            stale_factor=settings.health_stale_factor, zero_runs=settings.health_zero_runs,
            error_rate=settings.health_error_rate, garbled_score=settings.health_garbled_score,
            garbled_ratio=settings.health_garbled_ratio, challenge_pages=settings.health_challenge_pages,
            failures=settings.health_failures, crawl_timeout=timedelta(seconds=settings.crawl_timeout),
            queue_wait=timedelta(seconds=settings.health_queue_wait),
        )


@dataclass(frozen=True)
class Alert:
    """One health problem of one source, with the setting that decides it. ``message`` is the
    English sentence; ``key`` and ``values`` say it in another language (:meth:`text`)."""

    source: str
    rule: str
    message: str
    setting: str
    key: str = ""
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, source: str, rule: str, setting: str, key: str, **values: object) -> Alert:
        """The alert saying sentence ``key`` of :mod:`crawler.health.wording` with ``values``."""
        return cls(source, rule, say(key, values), setting, key, tuple(values.items()))

    def text(self, language: str = "en") -> str:
        """The message in ``language``: English (``message``) unless the alert has a key."""
        return say(self.key, dict(self.values), language) if self.key else self.message

    def label(self, language: str = "en") -> str:
        """The rule's name for a reader of ``language`` (``overdue``, ``长时间未抓取``)."""
        return rule_label(self.rule, language)

    def line(self) -> str:
        """``jxnews: stale — no new items for 9 days …``"""
        return f"{self.source}: {self.rule} — {self.message}"


def schedule_interval(schedule: Schedule, timezone: str, now: datetime) -> timedelta:
    """How long the source usually waits between crawls: the interval, or for a cron schedule
    the longest gap among its next few fire times (``0 8,20 * * *`` → 12 h)."""
    if schedule.every is not None:
        return schedule.every
    from apscheduler.triggers.cron import CronTrigger

    assert schedule.cron is not None
    trigger = CronTrigger.from_crontab(schedule.cron, timezone=timezone)
    times: list[datetime] = []
    previous: datetime | None = None
    current = now
    for _ in range(6):
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        times.append(fire)
        previous, current = fire, fire + timedelta(microseconds=1)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return max(gaps) if gaps else timedelta(days=1)


def failed_requests(run: RunStats) -> int:
    """Failed requests of a run: download errors, HTTP errors, challenges, extraction/storage failures."""
    return sum(n for kind, n in run.errors_by_kind.items() if kind not in _NOT_REQUEST_ERRORS)


def error_rate(run: RunStats) -> float:
    """Failed requests over requests sent (0 when nothing was sent), at most 1."""
    if run.requests <= 0:
        return 0.0
    return min(1.0, failed_requests(run) / run.requests)


def top_errors(kinds: Mapping[str, int], n: int = 3) -> str:
    """``http_503 ×8, TimeoutError ×4``."""
    ordered = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return ", ".join(f"{k} ×{v}" for k, v in ordered)


def _rule_failing(h: SourceHistory, th: Thresholds) -> Alert | None:
    done = [r for r in h.runs if r.status not in (*PENDING, *NEUTRAL)]
    recent = done[: th.failures]
    if th.failures <= 0 or len(recent) < th.failures or not all(r.status in FAILED for r in recent):
        return None
    last = recent[0]
    why = last.finish_reason or last.status
    if last.error:
        why += f": {last.error.strip().splitlines()[-1][:200]}"
    if why == last.status:  # no reason written: the status is a word each language has
        return Alert.of(h.source, "failing", "health_failures", "failing.bare", n=len(recent), status=Term(why))
    return Alert.of(h.source, "failing", "health_failures", "failing", n=len(recent), status=Term(last.status),
                    why=Quoted(why))  # a reason the run wrote stays as written


def _rule_overdue(h: SourceHistory, th: Thresholds, now: datetime, interval: timedelta) -> Alert | None:
    last_ok = next((r for r in h.runs if r.status == "finished"), None)
    if last_ok is None:
        return None
    since = now - (last_ok.finished_at or last_ok.started_at)
    allowed = interval * th.stale_factor + th.crawl_timeout
    if since <= allowed:
        return None
    return Alert.of(h.source, "overdue", "health_stale_factor", "overdue", since=since, interval=interval)


def _rule_stale(h: SourceHistory, th: Thresholds, now: datetime, interval: timedelta) -> Alert | None:
    times = sorted(h.new_item_times, reverse=True)
    if len(times) < 3:
        return None  # too little history to know the source's rhythm
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    usual = timedelta(seconds=statistics.median(gaps))
    since = now - times[0]
    if since <= max(usual, interval) * th.stale_factor:
        return None
    return Alert.of(h.source, "stale", "health_stale_factor", "stale", since=since, usual=usual)


def _rule_no_links(h: SourceHistory, th: Thresholds) -> Alert | None:
    done = [r for r in h.runs if r.status == "finished" and not r.recheck]
    if th.zero_runs <= 0 or len(done) <= th.zero_runs:
        return None
    recent, earlier = done[: th.zero_runs], done[th.zero_runs :]
    if not all(r.pages > 0 and r.links == 0 and r.not_modified == 0 for r in recent):
        return None
    before = [r.links for r in earlier if r.links > 0]
    if not before:
        return None
    return Alert.of(h.source, "no_links", "health_zero_runs", "no_links", n=len(recent), before=max(before))


def _rule_error_spike(h: SourceHistory, th: Thresholds) -> Alert | None:
    done = [r for r in h.runs if r.status not in (*PENDING, *NEUTRAL)]
    if done and done[0].listing_failed * 2 > done[0].listing_requests > 0:  # most listing pages: no history needed
        latest = done[0]
        errors = top_errors(latest.errors_by_kind) or Quoted(latest.finish_reason)
        return Alert.of(h.source, "error_spike", "health_error_rate", "error_spike.listing",
                        failed=latest.listing_failed, requests=latest.listing_requests, errors=errors)
    if not done or done[0].requests < 5:
        return None
    latest, earlier = done[0], done[1:]
    rate = error_rate(latest)
    usual = statistics.median([error_rate(r) for r in earlier]) if earlier else 0.0
    if rate < th.error_rate or (earlier and rate < 2 * usual):
        return None
    return Alert.of(h.source, "error_spike", "health_error_rate", "error_spike", failed=failed_requests(latest),
                    requests=latest.requests, rate=rate, usual=usual, errors=top_errors(latest.errors_by_kind))


def _rule_garbled(h: SourceHistory, th: Thresholds) -> Alert | None:
    scores = list(h.garbled_scores)[:GARBLED_SAMPLE]
    if len(scores) < 5:
        return None
    bad = sum(1 for s in scores if s >= th.garbled_score)
    if bad / len(scores) < th.garbled_ratio:
        return None
    return Alert.of(h.source, "garbled", "health_garbled_ratio", "garbled", bad=bad, n=len(scores))


def _rule_blocked(h: SourceHistory) -> Alert | None:
    """A source whose latest crawl got nothing but challenge pages is blocked, never ``ok``,
    whatever ``health_challenge_pages`` says."""
    latest = next((r for r in h.runs if r.status not in ("queued", "running", "skipped", "interrupted")), None)
    if latest is None or latest.status != "blocked":
        return None
    # English quotes the run's reason as ever; other languages name the challenge kinds counted
    kinds = {k.removeprefix("challenge_"): v for k, v in latest.errors_by_kind.items() if k.startswith("challenge_")}
    return Alert.of(h.source, "blocked", "render", "blocked", reason=latest.finish_reason,
                    kinds=top_errors(kinds) or Quoted(latest.finish_reason))


def _rule_challenge(h: SourceHistory, th: Thresholds) -> Alert | None:
    latest = next((r for r in h.runs if r.status not in (*PENDING, "skipped")), None)  # skipped: fetched nothing
    if latest is None or th.challenge_pages <= 0 or latest.challenges < th.challenge_pages:
        return None
    if latest.status == "blocked":  # the blocked rule says it
        return None
    kinds = {k.removeprefix("challenge_"): v for k, v in latest.errors_by_kind.items() if k.startswith("challenge_")}
    return Alert.of(h.source, "challenge", "health_challenge_pages", "challenge.kinds" if kinds else "challenge",
                    n=latest.challenges, kinds=top_errors(kinds))


def _rule_queued(h: SourceHistory, th: Thresholds, now: datetime) -> Alert | None:
    waiting = [r for r in h.runs if r.status == "queued"]
    if not waiting:
        return None
    since = now - min(r.started_at for r in waiting)  # a queued row's start is when it was queued
    if since <= th.queue_wait:
        return None
    return Alert.of(h.source, "queued", "health_queue_wait", "queued", since=since)


def evaluate(history: SourceHistory, thresholds: Thresholds, *, now: datetime, timezone: str) -> list[Alert]:
    """Every rule that fires for ``history``, most serious first."""
    interval = schedule_interval(history.schedule, timezone, now)
    found = [
        _rule_blocked(history),
        _rule_failing(history, thresholds),
        _rule_queued(history, thresholds, now),
        _rule_overdue(history, thresholds, now, interval),
        _rule_no_links(history, thresholds),
        _rule_challenge(history, thresholds),
        _rule_error_spike(history, thresholds),
        _rule_garbled(history, thresholds),
        _rule_stale(history, thresholds, now, interval),
    ]
    return [a for a in found if a is not None]


def alerts_of(histories: Sequence[SourceHistory], settings: Settings, now: datetime) -> list[Alert]:
    """Every health alert of ``histories`` at ``now`` under the thresholds ``settings`` sets,
    source by source in the order given, each source's most serious first."""
    thresholds = Thresholds.from_settings(settings)
    found: list[Alert] = []
    for h in histories:
        found += evaluate(h, thresholds, now=now, timezone=settings.timezone)
    return found


# --------------------------------------------------------------------------- challenge pages

# Markers of the anti-bot pages Chinese government and news sites put in front of crawlers.
# Strong markers are technical (cookie names, script paths) and count on any status; weak ones
# (words a real article may contain) count only on a blocking status.
# Searched for in the first 16 KiB of the raw bytes, lower-cased once, all literals in one pass
# of an Aho-Corasick automaton: decoding every page and running case-insensitive regexes (which
# cannot skip ahead to a literal) cost half a millisecond per response, more than the crawl spent
# on anything else, and a substring search per literal 21 µs (11 µs now, the lowering included).
# A marker with a pattern is confirmed by it once its literal is found.
_STRONG: list[tuple[str, tuple[bytes, ...], re.Pattern[bytes] | None]] = [
    ("cloudflare", (b"cf-chl", b"/cdn-cgi/challenge-platform", b"cf_chl_opt"), None),
    ("jiasule", (b"__jsl_clearance", b"jsl_tracking", b"jiasule"), None),
    ("yunsuo", (b"yunsuo_session_verify", b"security_session_verify"), None),
    ("safedog", (b"safedog",), None),
    ("ruishu", (b"$_ts",), re.compile(rb"\$_ts\s*=|\$_ts\.|\$_ts\[")),
]
_WEAK = [
    ("cloudflare", re.compile(r"Just a moment\.\.\.|Attention Required! \| Cloudflare", re.I)),
    ("captcha", re.compile(r"captcha|验证码|滑动验证|人机验证|安全验证|访问验证", re.I)),
    ("waf", re.compile(r"\bWAF\b|防火墙|访问被拦截|请求被拦截|访问被拒绝|非法请求|访问频率过高|访问过于频繁", re.I)),
]
_BLOCKING = {202, 403, 405, 412, 429, 503, 521}
_NEEDLE_KIND = [index for index, (_kind, needles, _confirm) in enumerate(_STRONG) for _ in needles]
_NEEDLES = BytesAhoCorasick([needle for _kind, needles, _confirm in _STRONG for needle in needles],
                            implementation=Implementation.DFA)


def challenge_kind(status: int, body: bytes) -> str | None:
    """The kind of challenge / WAF page ``body`` is (``jiasule``, ``cloudflare``, ``captcha`` …),
    or None for an ordinary page. Only the first 16 KiB are looked at; a full-size page with a
    WAF vendor's badge script is not a challenge unless the status says it is blocked."""
    head = body[:16384]
    blocking = status in _BLOCKING
    if blocking or len(body) < 8192:
        lowered = head.lower()
        found = {_NEEDLE_KIND[i] for i, _start, _end in _NEEDLES.find_matches_as_indexes(lowered, overlapping=True)}
        for index in sorted(found):  # in _STRONG's order, as the first kind found wins
            kind, _needles, confirm = _STRONG[index]
            if confirm is None or confirm.search(lowered):
                return kind
    if blocking:
        text = head.decode("utf-8", "replace")
        for kind, pattern in _WEAK:
            if pattern.search(text):
                return kind
        if status in (412, 521):  # Ruishu / 加速乐 answer with these and a script only
            return "js-check"
    return None


def trend_arrow(values: Sequence[int]) -> str:
    """``↑``, ``↓`` or ``→``: the newer half of ``values`` (oldest first) against the older half."""
    if len(values) < 4:
        return ""
    half = len(values) // 2
    older, newer = statistics.mean(values[:half]), statistics.mean(values[-half:])
    if newer > older * 1.5 + 0.5:
        return "↑"
    if newer < older / 1.5 - 0.5:
        return "↓"
    return "→"


def summary(alerts: Sequence[Alert], sources: int) -> dict[str, Any]:
    """Counts for the digest's health section."""
    bad = {a.source for a in alerts}
    return {"sources": sources, "ok": max(0, sources - len(bad)), "alerts": list(alerts)}
