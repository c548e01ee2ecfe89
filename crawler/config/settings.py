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

import codecs
import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import timedelta
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.errors import ConfigError

#: Weekday names accepted by ``digest_weekday``, Monday first (``datetime.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EVERY_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# --- the schema: how a key is declared and checked ------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What a config key accepts, beyond its type (the dataclass field's annotation)."""

    help: str
    key: str = ""  # the key in the file, when it differs from the attribute's name
    required: bool = False  # the file must give it (None, '' and [] count as not given)
    file_default: Any = None  # the value when the file leaves it out (else the field's default)
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive lower bound
    choices: tuple[str, ...] = ()  # allowed values (of each item, or each mapping key)
    check: Callable[[Any], Any] | None = None  # each value (or item): returns it normalised, raises ValueError
    split: bool = False  # a string is a comma-separated list
    file: bool = True  # False: environment only (secrets)
    env: bool = True  # settings: also read from RADAR_<NAME>
    shown: str = ""  # the default as docs/configuration.md shows it
    crawl: bool = False  # a crawl knob: the crawl reads it as the Scrapy setting RADAR_<NAME>


def option(default: Any = MISSING, help: str = "", **rule: Any) -> Any:
    """A dataclass field declared with its :class:`Rule` (``default`` MISSING: required positional)."""
    meta = {"rule": Rule(help=help, **rule)}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta) if default is not MISSING else field(metadata=meta)


@dataclass(frozen=True)
class Key:
    """One declared key of a config section: the attribute, the file key, its type and rule."""

    name: str
    key: str
    type: Any
    rule: Rule
    default: Any

    @property
    def env_name(self) -> str:
        """The environment variable of a setting."""
        return "RADAR_" + self.name.upper()


@cache
def schema(cls: type) -> tuple[Key, ...]:
    """The declared keys of a dataclass whose fields were made with :func:`option`, in order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        rule = f.metadata.get("rule")
        if rule is None:
            continue
        if rule.file_default is not None:
            default = rule.file_default
        elif f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append(Key(f.name, rule.key or f.name, hints[f.name], rule, default))
    return tuple(out)


def _describe(value: Any) -> str:
    return f"the string {value!r}" if isinstance(value, str) else repr(value)


def _optional(tp: Any) -> Any:
    """``X | None`` → ``X``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _bounded(value: float, rule: Rule) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    low, high = rule.minimum, rule.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"must be at least {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {high:g}, got {value!r}")
    if rule.above is not None and value <= rule.above:
        raise ValueError(f"must be more than {rule.above:g}, got {value!r}")


def _item(value: Any, rule: Rule) -> Any:
    """The choices and check of one string value."""
    if rule.choices and value not in rule.choices:
        raise ValueError(f"must be one of {', '.join(rule.choices)}, got {value!r}")
    return rule.check(value) if rule.check is not None else value


def _strings(value: Any, rule: Rule) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [v.strip() for v in (value.split(",") if rule.split else [value]) if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
        if not all(items):
            raise ValueError("expected non-empty strings in the list, got an empty one")
    else:
        raise ValueError(f"expected a string or a list of strings, got {_describe(value)}")
    return tuple(dict.fromkeys(_item(v, rule) for v in items))


def check_value(k: Key, value: Any) -> Any:
    """``value`` as read from a file, typed and checked against ``k``; ValueError says why not."""
    tp = _optional(k.type)
    rule = k.rule
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_describe(value)}")
        return value
    if tp is int or tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or (tp is int and isinstance(value, float)):
            noun = "a whole number" if tp is int else "a number"
            raise ValueError(f"expected {noun}, got {_describe(value)}")
        _bounded(value, rule)
        return tp(value)
    if tp is str or tp is Path:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_describe(value)} (quote it)")
        return _item(value.strip(), rule)  # a Path stays text here: '' means the default folder
    if typing.get_origin(tp) is tuple:
        return _strings(value, rule)
    if tp is Schedule:
        return schedule_of(value)
    if typing.get_origin(tp) in (Mapping, dict):
        if not isinstance(value, Mapping) or not all(isinstance(n, str) for n in value):
            raise ValueError(f"expected a mapping, got {_describe(value)}")
        if typing.get_args(tp)[1] is str:
            bad = next((v for v in value.values() if not isinstance(v, str)), None)
            if bad is not None:
                raise ValueError(f"expected a string for each name, got {_describe(bad)}")
            unknown = sorted(set(value) - set(rule.choices)) if rule.choices else []
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(rule.choices)}")
            return {n: rule.check(v) if rule.check else v for n, v in value.items()}
        return dict(value)
    raise TypeError(f"no check for the type of {k.name}: {tp!r}")  # a declaration error, not a user's


def from_text(k: Key, text: str) -> Any:
    """An environment value (text) converted to ``k``'s type, then checked like a file value."""
    tp = _optional(k.type)
    value: Any = text.strip()
    if tp is bool:
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"expected true/false (1/0, yes/no, on/off), got {text!r}")
        value = value.lower() in _TRUE
    elif tp is int or tp is float:
        try:
            value = tp(value)
        except ValueError:
            raise ValueError(f"expected {'a whole number' if tp is int else 'a number'}, got {text!r}") from None
    return check_value(k, value)


def located(raw: Any, key: str | None = None) -> tuple[int, int] | None:
    """Where ``key`` (else the mapping itself) was written, for a mapping loaded from a file by
    ``crawler.config.sources`` (which records it); None for other mappings."""
    marks = getattr(raw, "marks", None)
    if marks is None:
        return None
    at: tuple[int, int] | None = marks.get(key) if key is not None else None
    return at or getattr(raw, "start", None)


def read_mapping(cls: type, raw: Mapping[str, Any], fail: Callable[[str, str], NoReturn]) -> dict[str, Any]:
    """Attribute name → checked value for each key of ``cls``'s schema that ``raw`` (a file's
    mapping) gives; unknown keys, missing required ones and bad values go to ``fail(key, why)``."""
    keys = schema(cls)
    known = {k.key: k for k in keys}
    unknown = [name for name in raw if name not in known]
    if unknown:
        fail(str(unknown[0]), f"unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(known)}")
    out: dict[str, Any] = {}
    for k in keys:
        value = raw.get(k.key)
        if value == "" and _optional(k.type) is not k.type:  # `recheck: ''`: an optional key left empty
            value = None
        if k.key in raw and not k.rule.file:
            fail(k.key, f"is a secret and is never read from a file: remove it and set {k.env_name} "
                        "in the environment")
        if value is None or (k.rule.required and value in ("", [], {})):
            if k.rule.required:
                fail(k.key, f"is required ({k.rule.help})" if k.rule.help else "is required")
            if k.rule.file_default is not None:
                out[k.name] = k.rule.file_default
            continue
        try:
            out[k.name] = check_value(k, value)
        except ValueError as exc:
            fail(k.key, str(exc))
    return out


class Named(Protocol):
    """A parsed config entry: a source or a subscription."""

    @property
    def name(self) -> str: ...


NamedT = TypeVar("NamedT", bound=Named)


def named_entries(raw: Any, key: str, parse: Callable[[Any, int], NamedT],
                  twice: Callable[[NamedT, Any], NoReturn], *, at: tuple[int, int] | None = None) -> dict[str, NamedT]:
    """The ``key:`` list of a config file (None: empty), each entry parsed by ``parse(entry, index)``,
    keyed by name in file order; a name given twice goes to ``twice(parsed, entry)``."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ConfigError("must be a list", key=key, at=at)
    out: dict[str, NamedT] = {}
    for index, entry in enumerate(raw):
        parsed = parse(entry, index)
        if parsed.name in out:
            twice(parsed, entry)
        out[parsed.name] = parsed
    return out


# --- checks of single values ------------------------------------------------------------------


def is_address(value: str) -> bool:
    """A bare e-mail address (``user@host``): no display name, spaces, commas or line breaks."""
    name, addr = parseaddr(value)
    return (not name and addr == value and value.count("@") == 1 and not re.search(r"[\s,;<>\"]", value)
            and all(value.split("@")) and len(value) <= 320)


def address(value: str) -> str:
    """``value`` if it is a bare e-mail address, else ValueError."""
    if not is_address(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _from_address(value: str) -> str:
    if _CONTROL_RE.search(value) or not is_address(parseaddr(value)[1]):
        raise ValueError(f"not an e-mail address (user@host or 'Name <user@host>'): {value!r}")
    return value


def _one_line(value: str) -> str:
    if _CONTROL_RE.search(value):
        raise ValueError(f"must be one line without control characters, got {value!r}")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}") from None
    return value


def _weekday(value: str) -> str:
    day = value.lower()[:3]
    if len(value) < 3 or day not in WEEKDAYS:
        raise ValueError(f"expected one of {', '.join(WEEKDAYS)}, got {value!r}")
    return day


_ENCODING_SAMPLE = bytes(range(0x30, 0x7B)) + "中文".encode("gb18030")


def encoding(value: str) -> str:
    """``value`` if Python can decode web pages with it (``gbk``, ``utf-8`` …), else ValueError."""
    if not value:
        return value
    try:
        codecs.lookup(value)
        _ENCODING_SAMPLE.decode(value, "replace")
    except (LookupError, UnicodeError, ValueError):
        raise ValueError(f"unknown text encoding {value!r} (e.g. utf-8, gbk, gb18030, big5)") from None
    return value


@dataclass(frozen=True)
class Schedule:
    """When a source is crawled: a cron string (in the configured timezone) or a fixed interval."""

    cron: str | None = None
    every: timedelta | None = None

    def describe(self) -> str:
        """Human-readable form, as written in the config."""
        if self.cron is not None:
            return self.cron
        assert self.every is not None
        return f"every {int(self.every.total_seconds())}s"


def schedule_of(value: Any) -> Schedule:
    """``"0 */2 * * *"`` (cron) or ``{every: 30m}`` / ``"every: 30m"`` (interval); ValueError says why not."""
    if isinstance(value, Mapping):
        if set(value) != {"every"}:
            raise ValueError("a mapping schedule takes exactly one key, 'every'")
        value = f"every: {value['every']}"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a cron string or 'every: <n>s|m|h|d', got {_describe(value)}")
    text = value.strip()
    if text.startswith("every"):
        match = _EVERY_RE.match(text[len("every") :].lstrip(" :"))
        if not match or int(match.group(1)) <= 0:
            raise ValueError(f"bad interval {text!r}; use e.g. 'every: 30m'")
        amount, unit = int(match.group(1)), match.group(2)
        return Schedule(every=timedelta(**{_UNITS[unit]: amount}))
    # imported for cron strings only: APScheduler is a twentieth of a crawl process's start-up
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ValueError(f"bad cron string {text!r}: {exc}") from None
    return Schedule(cron=text)


def _cron_or_every(value: str) -> str:
    schedule_of(value)
    return value


# --- the settings catalogue -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`. Each field is one setting: the file's
    ``settings:`` key and ``RADAR_<NAME>`` (see :func:`option`)."""

    database_url: str = option("", "any SQLAlchemy URL; `postgresql://…` uses psycopg 3",
                               shown="SQLite file `radar.sqlite3` in the data dir")
    data_dir: Path = option(Path(), "where the default database and the demo config live",  # noqa: RUF009 - option() returns a dataclasses.field
                            file_default="", shown="`~/.local/share/policy-radar`")
    timezone: str = option("Asia/Shanghai", "schedules, digests, dates without an offset", check=_timezone)
    digest_schedule: str = option("0 8 * * *", "when the daemon mails the digest: a cron string or "
                                  "`every: 1h` (checked even when nobody gets digests)", check=_cron_or_every)
    smtp_host: str = option("localhost", "SMTP server", check=_one_line)
    smtp_port: int = option(25, "SMTP port (1–65535)", minimum=1, maximum=65535)
    smtp_user: str = option("", "SMTP login", check=_one_line)
    smtp_password: str = option("", "SMTP password; a config file that holds one is refused", file=False)
    smtp_starttls: bool = option(False, "STARTTLS upgrade")
    smtp_timeout: int = option(30, "seconds before an SMTP connection attempt fails", minimum=1)
    mail_from: str = option("policy-radar@localhost", "From: (`user@host` or `Name <user@host>`)",
                            check=_from_address)
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
    max_concurrent_crawls: int = option(0, "crawls the daemon runs at once; the ones due beyond it wait, the "
                                        "most overdue starts first. `0`: two per CPU, fewer if the available "
                                        "memory holds fewer at 256 MiB each (read at daemon start)", minimum=0)
    schedule_jitter: int = option(600, "each source's crawls start a fixed delay after their scheduled time, "
                                  "under this many seconds and under the schedule's period, taken from the "
                                  "source's name, so sources on one schedule do not all start in the same "
                                  "second; `0`: on the dot", minimum=0)
    executor: str = option("local", "`local`: the daemon runs each crawl itself; `queue`: it puts each due crawl "
                           "on a Celery queue at `broker_url` for `radar worker` processes, on any machine, "
                           "to run (needs PostgreSQL); see docs/operations.md", choices=("local", "queue"))
    broker_url: str = option("amqp://guest:guest@127.0.0.1:5672//", "`executor: queue`: the Celery broker, "
                             "RabbitMQ (`amqp://…`) or Redis (`redis://…`)", check=_one_line)
    crawl_queue: str = option("crawl", "`executor: queue`: the queue of sources without a `queue:NAME` tag",
                              check=_one_line)
    digest_weekday: str = option("mon", "weekly subscriptions: the digest is due from this day (`mon`…`sun`) "
                                 "of each ISO week", check=_weekday)
    digest_retry_base: int = option(60, "seconds before the first retry of an unsent digest; doubles per "
                                    "attempt", minimum=1)
    digest_retry_max: int = option(3600, "longest wait between two retries, in seconds", minimum=1)
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
    sql_timeout: float = option(30.0, "seconds one `radar sql` query may run before it is stopped", above=0)
    # --- crawl knobs: each is also the Scrapy setting RADAR_<NAME> the spiders read -------------
    workers: int = option(-1, "worker processes that extract and detect events (-1: one per CPU, at most four; 0: in "
                          "the crawl process itself)", minimum=-1, crawl=True)
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
                             "User-Agent sent to sites", check=_one_line, shown="`PolicyRadar/0.1 …`")
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
