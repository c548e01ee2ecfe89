"""Run crawls in this process (``radar crawl``, ``radar demo``, crawl child processes).

Scrapy's reactor cannot be restarted, so a process runs one batch of crawls; the daemon starts
a fresh child process for each crawl (``scheduler.jobs``).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# Imported here, near the top of the stack, rather than by Scrapy at the first crawl: this module's
# deprecation shims call inspect.stack(), which costs per frame, and deep in Twisted's call chain
# it took 0.38 s instead of 0.24 s (measured) -- a tenth of a re-crawl that finds nothing new.
# (``radar crawl`` imports the shims' modules before this one, higher up still.)
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings as ScrapySettings
from scrapy.utils.misc import load_object
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawler.config.settings import crawl_knobs
from crawler.config.sources import Config, Source
from crawler.errors import ConfigError
from crawler.health.rules import RunStatus
from crawler.ingest.ingestor import Ingestor
from crawler.ingest.prepare import use_rules
from spiders import CRAWL_GC_THRESHOLD
from spiders.base import RadarSpider, stop_crawl
from spiders.extensions import run_counts
from storage import runs
from storage.db import transaction
from storage.locks import DatabaseLock

log = logging.getLogger(__name__)



def spider_of(source: Source) -> type[RadarSpider]:
    """The spider class that crawls ``source``: its kind's (``crawler.config.kinds``)."""
    spider: type[RadarSpider] = load_object(source.kind_class.spider)
    return spider


@dataclass
class CrawlSummary:
    """How one source's crawl went."""

    source: str
    finish_reason: str
    counts: dict[str, int]
    new_events: int

    @property
    def skipped(self) -> bool:
        """Not crawled: another process was crawling the source (see :func:`run_crawls`)."""
        return self.finish_reason.startswith(SKIPPED)


SKIPPED: Final[RunStatus] = "skipped"


# Component dictionaries: the config's entries are added to ours rather than replacing them, so
# a user's own pipeline or extension does not silently turn off storing or run recording (a
# ``None`` entry still turns one of ours off, as in Scrapy).
COMPONENTS = ("ITEM_PIPELINES", "EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES")
# Components whose switch is off are taken out of Scrapy's base lists, not only left to refuse:
# Scrapy imports every listed component's module (an entry set to None too) before asking it, and
# these modules' imports (aiohttp for remote control, tldextract for cookies) were a fifth of the
# start-up of a crawl that finds nothing new.
SWITCHED = {
    "REMOTE_CONTROL_ENABLED": ("EXTENSIONS", "scrapy.extensions.remote_control.RemoteControl"),
    "TELNETCONSOLE_ENABLED": ("EXTENSIONS", "scrapy.extensions.telnet.TelnetConsole"),
    "COOKIES_ENABLED": ("DOWNLOADER_MIDDLEWARES", "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"),
}


def scrapy_settings(config: Config, overrides: dict[str, Any] | None = None) -> ScrapySettings:
    """Our Scrapy defaults, then the config file's ``settings: scrapy:``, then ``overrides``.

    Component dictionaries (``ITEM_PIPELINES``, ``EXTENSIONS``, the two middleware ones) are
    merged into ours, entry by entry; every other setting replaces ours."""
    settings = ScrapySettings()
    settings.setmodule("spiders.settings", priority="project")
    settings.setdict(crawl_knobs(config.settings), priority="project")
    settings.set("USER_AGENT", config.settings.user_agent, priority="project")
    # the radar command owns logging (one handler, one format); Scrapy only emits records
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="project")
    for layer in (config.settings.scrapy_settings, overrides or {}):
        settings.setdict({k: v for k, v in layer.items() if k not in COMPONENTS}, priority="cmdline")
        for name in COMPONENTS:
            if layer.get(name):
                settings[name].update(dict(layer[name]), priority="cmdline")
    for switch, (name, path) in SWITCHED.items():
        base = settings[f"{name}_BASE"]
        if not settings.getbool(switch) and path in base:  # remote control is new in Scrapy 2.19
            base.delete(path, priority="cmdline")
    return settings


def _shown_level() -> int:
    """The lowest level a handler of ours shows (WARNING, or DEBUG with ``radar -v``)."""
    handlers = logging.getLogger().handlers
    return min((h.level for h in handlers), default=logging.WARNING)  # no handler: Python's lastResort


def _scrapy_log_level() -> None:
    """Scrapy (its ``configure_logging``, run by ``CrawlerProcess``) sets its loggers to DEBUG:
    two records per page (Crawled …, Scraped from …) were built, counted and handed to handlers
    that drop them. Its loggers now start at the lowest level a handler of ours shows."""
    logging.getLogger("scrapy").setLevel(max(_shown_level(), logging.DEBUG))


def _busy(lock: DatabaseLock, source: str, wait: float) -> str:
    holder = lock.holder()
    who = f"process {holder}" if holder else "another process"
    waited = f"waited {wait:g} s" if wait > 0 else "did not wait"
    return f"{SKIPPED}: {who} is crawling {source} ({waited}; {lock.describe()})"


def _lock_sources(config: Config, sources: list[Source], wait: float, run_id: int,
                  ingestor: Ingestor) -> tuple[dict[str, DatabaseLock], list[CrawlSummary]]:
    """Take each source's crawl lock (waiting up to ``wait`` seconds for each); a source whose
    lock another process holds is skipped, and its daemon run row (``run_id``) closed so."""
    held: dict[str, DatabaseLock] = {}
    skipped: list[CrawlSummary] = []
    try:
        for source in sources:
            lock = DatabaseLock(config.settings.database_url, "crawl", key=source.name)
            if lock.acquire(timeout=wait):
                held[source.name] = lock
                continue
            reason = _busy(lock, source.name, wait)
            lock.close()
            log.warning("%s", reason)
            skipped.append(CrawlSummary(source.name, reason, run_counts({}), 0))
            if run_id:
                record = runs.RunRecord(status=SKIPPED, reason=reason, counts=run_counts({}), errors_by_kind={},
                                        status_counts={}, stats={})
                with transaction(ingestor.factory) as session:
                    runs.finish_run(session, run_id, record, finished_at=datetime.now(UTC))
    except BaseException:
        for lock in held.values():
            lock.close()
        raise
    return held, skipped


LOCK_LOST = "lock_lost"


def _keep_locks(locks: dict[str, DatabaseLock], crawlers: list[tuple[Source, Crawler]], every: float) -> None:
    """While the crawl runs, check each source's crawl lock every ``every`` seconds.

    Only a PostgreSQL lock can go while its process lives: it is held by a connection, which a
    server restart, an ``idle_session_timeout`` or a firewall dropping idle connections can end.
    The check keeps that connection busy, and takes the lock again on a new one when it went;
    if another process (the daemon) took it meanwhile and is crawling the source too, this
    crawl stops with the finish reason "lock_lost". A database it cannot reach is no verdict:
    the check is tried again (storing fails on its own, and stops the crawl, if it stays down).
    Checks run in the reactor's thread pool: a connection attempt may wait on the network."""
    watched = [(source.name, locks[source.name], crawler) for source, crawler in crawlers
               if source.name in locks and locks[source.name].backend == "postgresql"]
    if not watched or every <= 0:
        return

    def checked(held: bool | None, name: str, lock: DatabaseLock, crawler: Crawler) -> None:
        if held is False and crawler.crawling and crawler.engine is not None and crawler.spider is not None:
            log.error("lost the crawl lock of %s (%s) and another process holds it now: stopping this crawl",
                      name, lock.describe())
            stop_crawl(crawler, LOCK_LOST)
        elif held is None:
            log.warning("could not check the crawl lock of %s: the database is unreachable", name)

    def failed(failure: Failure, name: str) -> None:
        log.error("checking the crawl lock of %s failed: %s", name, failure.value)

    def check() -> None:
        for name, lock, crawler in watched:
            if crawler.crawling:
                deferToThread(lock.keep).addCallback(checked, name, lock, crawler).addErrback(failed, name)

    LoopingCall(check).start(every, now=False)


#: what a progress display is given, about twice a second: (source, counts) in crawl order, the
#: counts as :func:`spiders.extensions.run_counts` makes them (pages, new, errors …)
ProgressCallback = Callable[[list[tuple[str, dict[str, int]]]], None]


def run_crawls(config: Config, sources: list[Source], *, overrides: dict[str, Any] | None = None,
               ingestor: Ingestor | None = None, recheck: bool = False, wait: float = 0.0,
               progress: ProgressCallback | None = None) -> list[CrawlSummary]:
    """Crawl ``sources`` concurrently (politeness is per host) and return a summary of each.

    With ``recheck``, fetch no listings: re-fetch each source's recent stored articles instead
    (conditionally), storing a revision for each that changed (``radar crawl --recheck``).

    A source is crawled (or re-checked) by one process at a time: one that another process is
    crawling is waited for up to ``wait`` seconds, then skipped, its summary's ``finish_reason``
    starting with "skipped" (see :class:`storage.locks.DatabaseLock`).

    ``progress``, when given, is called with each source's counts while the crawl runs, and once
    at its end.
    """
    if recheck:
        refused = [s for s in sources if not s.rechecked]
        if refused:
            raise ConfigError(f"{refused[0].kind_class.refuses_recheck()}, not {', '.join(s.name for s in refused)}",
                              key="recheck")
    use_rules(config.settings.signal_rules)  # the helper processes are handed them as they start
    own = ingestor is None
    ingestor = ingestor or Ingestor.for_url(config.settings.database_url)
    try:
        settings = scrapy_settings(config, overrides)
        held, skipped = _lock_sources(config, sources, wait, settings.getint("RADAR_RUN_ID", 0), ingestor)
        try:
            summaries = _crawl(config, [s for s in sources if s.name in held], settings, ingestor, recheck, held,
                               progress)
        finally:
            for lock in held.values():
                with contextlib.suppress(Exception):  # the process's exit drops it all the same
                    lock.close()
    finally:
        if own:
            # closed, not left to the process's exit: SQLite then folds its write-ahead log into
            # the database file, which alone holds the whole crawl (for a copy, a backup, a
            # read-only viewer), instead of leaving the last writes in radar.sqlite3-wal
            ingestor.close()
    order = {s.name: i for i, s in enumerate(sources)}
    return sorted(summaries + skipped, key=lambda s: order[s.source])


def _counts(crawler: Crawler) -> dict[str, int]:
    try:
        return run_counts(crawler.stats.get_stats() if crawler.stats else {})
    except RuntimeError:  # not started yet: Scrapy ≥ 2.13 sets its stats when it starts
        return run_counts({})


def _report(crawlers: list[tuple[Source, Crawler]], progress: ProgressCallback | None, every: float) -> None:
    """Call ``progress`` with each source's counts every ``every`` seconds while the crawl runs."""
    if progress is None:
        return

    def report() -> None:
        progress([(source.name, _counts(crawler)) for source, crawler in crawlers])

    LoopingCall(report).start(every, now=False)


def _crawl(config: Config, sources: list[Source], settings: ScrapySettings, ingestor: Ingestor,
           recheck: bool, locks: dict[str, DatabaseLock],
           progress: ProgressCallback | None = None) -> list[CrawlSummary]:
    if not sources:
        return []
    if _shown_level() > logging.INFO:
        # Scrapy looks its dependencies' versions up (importlib.metadata: 11 ms of the half
        # second a crawl that finds nothing new takes) for an INFO line no handler would show
        settings.set("LOG_VERSIONS", [], priority="cmdline")
    process = CrawlerProcess(settings)
    _scrapy_log_level()
    crawlers: list[tuple[Source, Crawler]] = []
    for source in sources:
        crawler = process.create_crawler(spider_of(source))
        crawlers.append((source, crawler))
        process.crawl(crawler, source=source, config=config, ingestor=ingestor, recheck=recheck)
    # What is loaded by now (Scrapy, Twisted, SQLAlchemy, the config) lives as long as the
    # process: out of the collector's way, a long crawl's full collections stop rescanning it
    # (about a tenth of the crawl process's CPU on the benchmark).
    gc.freeze()
    gc.set_threshold(*CRAWL_GC_THRESHOLD)
    _keep_locks(locks, crawlers, settings.getfloat("RADAR_LOCK_CHECK"))
    _report(crawlers, progress, 0.5)
    process.start()
    if progress is not None:
        progress([(source.name, _counts(crawler)) for source, crawler in crawlers])
    summaries = []
    for source, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        summaries.append(CrawlSummary(
            source=source.name,
            finish_reason=str(stats.get("finish_reason", "not started")),
            counts=run_counts(stats),
            new_events=int(stats.get("radar/events_new", 0)),
        ))
    return summaries
