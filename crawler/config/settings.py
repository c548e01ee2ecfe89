"""Settings: one catalogue of defaults, overridden by the config file, then by ``RADAR_*`` variables.

Each setting is declared once, as a field of :class:`Settings` made with :func:`option`: its
type (the annotation), default, constraints and help. The file layer, the environment layer,
:data:`DEFAULTS` and the settings table of docs/configuration.md (:func:`settings_table`) all derive
from it.
The same declarations, checked by :func:`read_mapping`, validate sources and subscriptions
(``crawler.config.sources``, ``crawler.config.subscriptions``), so the whole file follows one schema.

A file value must already have its type (``enabled: 'false'`` is a string, and refused); an
environment value is text and is converted (``RADAR_SMTP_STARTTLS=false``). Secrets (the SMTP
password) come from the environment only: a config file that holds one is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from crawler.config.schema import Key, check_value, from_text, located, option, read_mapping, schema
from crawler.config.values import address, cron_or_every, from_address, one_line, time_zone, weekday
from crawler.errors import ConfigError

# --- the settings catalogue -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`. Each field is one setting: the file's
    ``settings:`` key and ``RADAR_<NAME>`` (see :func:`option`)."""

    database_url: str = option("", "any SQLAlchemy URL; `postgresql://…` uses psycopg 3",
                               shown="SQLite file `radar.sqlite3` in the data dir")
    data_dir: Path = option(Path(), "where the default database and the demo config live",  # noqa: RUF009 - option() returns a dataclasses.field
                            file_default="", shown="`~/.local/share/policy-radar`")
    timezone: str = option("Asia/Shanghai", "schedules, digests, dates without an offset", check=time_zone)
    digest_schedule: str = option("0 8 * * *", "when the daemon mails the digest: a cron string or "
                                  "`every: 1h` (checked even when nobody gets digests)", check=cron_or_every)
    smtp_host: str = option("localhost", "SMTP server", check=one_line)
    smtp_port: int = option(25, "SMTP port (1–65535)", minimum=1, maximum=65535)
    smtp_user: str = option("", "SMTP login", check=one_line)
    smtp_password: str = option("", "SMTP password; a config file that holds one is refused", file=False)
    smtp_starttls: bool = option(False, "STARTTLS upgrade")
    smtp_timeout: int = option(30, "seconds before an SMTP connection attempt fails", minimum=1)
    mail_from: str = option("policy-radar@localhost", "From: (`user@host` or `Name <user@host>`)",
                            check=from_address)
    mail_to: tuple[str, ...] = option((), "recipients: comma-separated, or a YAML list; each must be a bare "
                                      "address", split=True, check=address)
    signal_rules: tuple[str, ...] = option(
        (), "your own event-rule YAML files (comma-separated, or a YAML list), merged over "
        "`crawler/events/rules.yaml` and validated when the config loads; see `crawler/events/README.md` "
        "(`radar signals --rules FILE` tries one out)", split=True)
    digest_max_events: int = option(200, "events listed per mail (at least 1); the rest as \"and N more\" + SQL",
                                    minimum=1)
    crawl_timeout: int = option(3600, "seconds a daemon crawl may run before it is killed", minimum=1)
    crawl_memory_mb: int = option(2048, "address-space limit of a crawl process, in MiB (0: none)", minimum=0)
    warm_crawls: bool = option(True, "the daemon forks each crawl from a process that loaded Scrapy and "
                               "SQLAlchemy once (Linux); `false`: a new Python process per crawl")
    max_concurrent_crawls: int = option(0, "crawls the daemon (or a `radar worker` without `--concurrency`) runs "
                                        "at once; the ones due beyond it wait, the most overdue starts first. "
                                        "`0`: as many as the available memory holds at 256 MiB each, at most "
                                        "eight per CPU and 24 (read at start; crawls mostly wait on the sites)",
                                        minimum=0)
    schedule_jitter: int = option(600, "each source's crawls start a fixed delay after their scheduled time, "
                                  "under this many seconds and under the schedule's period, taken from the "
                                  "source's name, so sources on one schedule do not all start in the same "
                                  "second; `0`: on the dot", minimum=0)
    executor: str = option("local", "`local`: the daemon runs each crawl itself; `queue`: it puts each due crawl "
                           "on a Celery queue at `broker_url` for `radar worker` processes, on any machine, "
                           "to run (needs PostgreSQL); see docs/operations.md", choices=("local", "queue"))
    broker_url: str = option("amqp://guest:guest@127.0.0.1:5672//", "`executor: queue`: the Celery broker, "
                             "RabbitMQ (`amqp://…`) or Redis (`redis://…`)", check=one_line)
    crawl_queue: str = option("crawl", "`executor: queue`: the queue of sources without a `queue:NAME` tag",
                              check=one_line)
    digest_weekday: str = option("mon", "weekly subscriptions: the digest is due from this day (`mon`…`sun`) "
                                 "of each ISO week", check=weekday)
    digest_retry_base: int = option(60, "seconds before the first retry of an unsent digest; doubles per "
                                    "attempt", minimum=1)
    digest_retry_max: int = option(3600, "longest wait between two retries, in seconds", minimum=1)
    feeds_dir: str = option("", "where the daemon writes each subscription's Atom feed, `NAME.xml`, after each "
                            "crawl, and serves it from on the metrics port (`/feeds/NAME.xml`); relative to "
                            "`data_dir`; empty: no feed files (`radar feed NAME` prints one)", check=one_line)
    feed_days: int = option(30, "an Atom feed holds the events first seen in this many days", minimum=1)
    feed_max_events: int = option(500, "an Atom feed holds at most this many events, the newest", minimum=1)
    outbox_interval: int = option(60, "seconds between the daemon's outbox runs (due retries, immediate "
                                  "subscriptions)", minimum=1)
    health_history: int = option(20, "recent runs per source the health rules look at", minimum=1)
    health_stale_factor: float = option(
        3.0, "*stale*: no new items for this many times the source's usual gap between new items; "
        "*overdue*: no successful crawl for this many schedule intervals + `crawl_timeout`", above=0)
    health_zero_runs: int = option(2, "*no_links*: this many runs in a row found no article links on listing "
                                   "pages, where earlier runs did", minimum=1)
    health_error_rate: float = option(0.5, "*error_spike*: share of failed requests in the latest run (and at "
                                      "least twice the usual share)", above=0, maximum=1)
    health_garbled_score: float = option(0.05, "`garbled_score` from which an article counts as garbled",
                                         above=0, maximum=1)
    health_garbled_ratio: float = option(0.2, "*garbled*: share of garbled articles among the source's last 20",
                                         above=0, maximum=1)
    health_challenge_pages: int = option(1, "*challenge*: captcha / WAF / JS-check pages in the latest run",
                                         minimum=1)
    health_failures: int = option(3, "*failing*: failed or killed runs in a row", minimum=1)
    health_queue_wait: int = option(1800, "*queued*: seconds a crawl may wait on the queue for a `radar worker` "
                                    "(`executor: queue`)", minimum=1)
    sql_timeout: float = option(30.0, "seconds one `radar sql` query may run before it is stopped", above=0)
    # --- crawl knobs: each is also the Scrapy setting RADAR_<NAME> the spiders read -------------
    workers: int = option(-1, "processes each crawl starts to extract pages and detect events (0: in the crawl "
                          "process itself; -1: for a crawl of the daemon or a worker, the CPUs' share of each of the "
                          "crawls at once, at most four, none when they are at least as many as the CPUs; for "
                          "`radar crawl`, one per CPU, at most four)", minimum=-1, crawl=True)
    # A batch costs about ten statements whatever its size (storage.queries.store_articles), so a
    # bigger one stores more per statement; the delay still bounds how long an article waits, so a
    # slow crawl's batches stay small.
    store_batch: int = option(64, "articles stored per transaction at most", minimum=1, crawl=True)
    store_delay: float = option(0.2, "seconds a stored batch waits for more articles", minimum=0, crawl=True)
    # a PostgreSQL lock lives on a connection, which can drop (spiders.runner._keep_locks)
    lock_check: float = option(60.0, "seconds between checks that each source's crawl lock is still held "
                               "(PostgreSQL; 0: none)", minimum=0, crawl=True)
    give_up_after: int = option(5, "crawls that request a pending article link without storing it before the link "
                                "is given up, with its last error as the reason", minimum=1, crawl=True)
    # one attempt is bounded by Scrapy's DOWNLOAD_TIMEOUT (connect to last byte); this bounds all
    # the attempts and redirects of one response (spiders.deadline)
    download_deadline: float = option(120.0, "seconds one response may take over all its retries and redirects "
                                      "(0: no limit)", minimum=0, crawl=True)
    attachment_maxsize: int = option(20 * 1024 * 1024, "bytes one attachment may have (article pages: Scrapy's "
                                     "`DOWNLOAD_MAXSIZE`)", minimum=0, crawl=True, shown="`20971520` (20 MiB)")
    max_attachments: int = option(5, "attachments downloaded per article at most", minimum=0, crawl=True)
    user_agent: str = option("PolicyRadar/0.1 (+https://example.invalid/policy-radar; research crawler)",
                             "User-Agent sent to sites", check=one_line, shown="`PolicyRadar/0.1 …`")
    scrapy_settings: dict[str, Any] = option(  # noqa: RUF009 - option() returns a dataclasses.field
        {}, "Scrapy setting overrides; `ITEM_PIPELINES`, `EXTENSIONS` and the middleware dictionaries add to "
        "ours (`null` turns one of ours off)", key="scrapy", env=False, shown="see `spiders/settings.py`")

    @property
    def tz(self) -> ZoneInfo:
        """The configured timezone."""
        return ZoneInfo(self.timezone)

    def with_database(self, url: str) -> Settings:
        """A copy pointing at another database."""
        return replace(self, database_url=url)


#: name → (default, help), in catalogue order: every setting read from ``settings:`` or ``RADAR_*``.
DEFAULTS: dict[str, tuple[Any, str]] = {k.name: (k.default, k.rule.help) for k in schema(Settings) if k.rule.env}


def load_settings(file_settings: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then ``file_settings`` (the config file's ``settings:`` map, strictly typed), then
    ``RADAR_*`` (text, converted). Raises :class:`ConfigError` naming the key on the first bad value."""
    env = os.environ if env is None else env

    def fail(key: str, why: str) -> NoReturn:
        raise ConfigError(why, key=f"settings.{key}", at=located(file_settings, key))

    file_settings = file_settings or {}
    values = read_mapping(Settings, {k: v for k, v in file_settings.items() if k != "scrapy"}, fail)
    scrapy = file_settings.get("scrapy")
    if scrapy is not None:
        values.update(_crawl_knobs_of(scrapy, values, fail))
    for k in schema(Settings):
        text = env.get(k.env_name, "") if k.rule.env else ""
        if text != "":
            try:
                values[k.name] = from_text(k, text)
            except ValueError as exc:
                raise ConfigError(str(exc), key=k.env_name) from None
    data_dir = Path(values["data_dir"]).expanduser() if values.get("data_dir") else _default_data_dir(env)
    values["data_dir"] = data_dir
    values["database_url"] = values.get("database_url") or f"sqlite:///{data_dir / 'radar.sqlite3'}"
    return Settings(**values)


def crawl_knobs(settings: Settings) -> dict[str, Any]:
    """The crawl knobs as the Scrapy settings the spiders read: ``RADAR_<NAME>`` → value."""
    return {k.env_name: getattr(settings, k.name) for k in schema(Settings) if k.rule.crawl}


def _crawl_knobs_of(scrapy: Any, values: dict[str, Any], fail: Callable[[str, str], NoReturn]) -> dict[str, Any]:
    """``settings: scrapy:`` checked, its crawl knobs (``RADAR_WORKERS: 0``, as config files wrote
    them before the knobs were settings) read as their settings and taken out of it."""
    key = next(k for k in schema(Settings) if k.key == "scrapy")
    try:
        scrapy = dict(check_value(key, scrapy))
    except ValueError as exc:
        fail("scrapy", str(exc))
    out: dict[str, Any] = {}
    for k in schema(Settings):
        if not k.rule.crawl or k.env_name not in scrapy:
            continue
        value = scrapy.pop(k.env_name)
        if k.name in values:
            fail(f"scrapy.{k.env_name}", f"repeats the setting {k.key}: give it once, as {k.key}")
        try:
            out[k.name] = from_text(k, value) if isinstance(value, str) else check_value(k, value)
        except ValueError as exc:
            fail(f"scrapy.{k.env_name}", str(exc))
    out["scrapy_settings"] = scrapy
    return out


def settings_table() -> str:
    """The settings table of docs/configuration.md, rendered from the catalogue."""
    rows = ["| setting (`settings:` key) | environment | default | meaning |", "|---|---|---|---|"]
    for k in schema(Settings):
        name = f"`{k.key}`" if k.rule.file else "— (environment only)"
        if k.key == "scrapy":
            name = "`scrapy:` (mapping)"
        rows.append(f"| {name} | {f'`{k.env_name}`' if k.rule.env else '—'} | {_shown(k)} | {k.rule.help} |")
    return "\n".join(rows) + "\n"


def _shown(k: Key) -> str:
    if k.rule.shown:
        return k.rule.shown
    value = k.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`" if value not in ("", (), None) else "—"


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "policy-radar"
