"""Sources: declarative entries of the YAML config, validated at load.

A source is data, not code (urlwatch's ``urls.yaml``): a new site is a new entry with a URL
pattern and, where the generic extractor needs help, a few selectors. Errors name the source
and the key, so a typo in a 200-entry file is found at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from crawler.config import Settings, load_settings
from crawler.errors import ConfigError
from crawler.subscriptions import Subscription, parse_subscriptions

SOURCE_KINDS = ("listing", "epaper")
SELECTOR_FIELDS = ("title", "body", "published_at", "source", "author")
#: What a source name may be: lower-case ASCII, digits, "-" and "_" (it names files and locks too).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_EVERY_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_KNOWN_KEYS = {
    "name", "kind", "start_urls", "allow", "deny", "next_page", "pages", "selectors", "schedule",
    "region", "tags", "encoding", "max_pages", "enabled", "recheck", "recheck_days", "allowed_domains",
}


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


@dataclass(frozen=True)
class Source:
    """One watched site section."""

    name: str
    kind: str
    start_urls: tuple[str, ...]
    allow: str
    schedule: Schedule
    deny: str = ""
    next_page: str = ""
    pages: str = ""
    selectors: Mapping[str, str] = field(default_factory=dict)
    region: str = ""
    tags: tuple[str, ...] = ()
    encoding: str = ""
    max_pages: int = 50
    enabled: bool = True
    # re-fetch stored articles of the last ``recheck_days`` days on this schedule, to catch
    # revisions (``radar crawl --recheck``); None: only when asked
    recheck: Schedule | None = None
    recheck_days: int = 7
    # hosts (and their subdomains) this source may fetch besides its start URLs' registered
    # domains, e.g. a CDN that serves its attachments
    allowed_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """A loaded config file: settings plus sources (keyed by name, in file order) and the
    digest subscriptions declared in it (``crawler.subscriptions``)."""

    settings: Settings
    sources: dict[str, Source]
    path: Path | None = None
    subscriptions: tuple[Subscription, ...] = ()

    def select(self, names: list[str] | tuple[str, ...] = ()) -> list[Source]:
        """The named sources (all enabled ones when none are named); unknown names raise."""
        if not names:
            return [s for s in self.sources.values() if s.enabled]
        missing = [n for n in names if n not in self.sources]
        if missing:
            known = ", ".join(self.sources) or "none"
            raise ConfigError(f"unknown source(s) {', '.join(missing)}; configured: {known}")
        return [self.sources[n] for n in names]


def parse_schedule(value: Any, *, source: str = "", key: str = "schedule") -> Schedule:
    """``"0 */2 * * *"`` (cron) or ``{every: 30m}`` / ``"every: 30m"`` (interval)."""
    if isinstance(value, Mapping):
        if set(value) != {"every"}:
            raise ConfigError("a mapping schedule takes exactly one key, 'every'", source=source, key=key)
        value = f"every: {value['every']}"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("expected a cron string or 'every: <n>s|m|h|d'", source=source, key=key)
    text = value.strip()
    if text.startswith("every"):
        match = _EVERY_RE.match(text[len("every") :].lstrip(" :"))
        if not match or int(match.group(1)) <= 0:
            raise ConfigError(f"bad interval {text!r}; use e.g. 'every: 30m'", source=source, key=key)
        amount, unit = int(match.group(1)), match.group(2)
        return Schedule(every=timedelta(**{_UNITS[unit]: amount}))
    # imported for cron strings only: APScheduler is a twentieth of a crawl process's start-up
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text)
    except ValueError as exc:
        raise ConfigError(f"bad cron string {text!r}: {exc}", source=source, key=key) from None
    return Schedule(cron=text)


def _regex(value: Any, *, source: str, key: str, required: bool) -> str:
    if value in (None, ""):
        if required:
            raise ConfigError("is required (a regular expression of article URLs)", source=source, key=key)
        return ""
    if not isinstance(value, str):
        raise ConfigError("expected a regular expression string", source=source, key=key)
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"invalid regular expression: {exc}", source=source, key=key) from None
    return value


def parse_source(raw: Any, index: int) -> Source:
    """Validate one ``sources:`` entry."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"sources[{index}] must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            "must be lower-case letters, digits, '-' or '_' (e.g. ganzhou-gov)",
            source=str(name if name is not None else f"sources[{index}]"), key="name",
        )
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}", source=name, key=unknown[0])
    kind = raw.get("kind", "listing")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}", source=name, key="kind")
    start_urls = raw.get("start_urls")
    if isinstance(start_urls, str):
        start_urls = [start_urls]
    if not start_urls or not all(isinstance(u, str) and re.match(r"^https?://", u) for u in start_urls):
        raise ConfigError("needs one or more http(s) URLs", source=name, key="start_urls")
    selectors = raw.get("selectors") or {}
    if not isinstance(selectors, Mapping) or not all(isinstance(v, str) for v in selectors.values()):
        raise ConfigError("must map field names to CSS/XPath strings", source=name, key="selectors")
    bad = sorted(set(selectors) - set(SELECTOR_FIELDS))
    if bad:
        raise ConfigError(
            f"unknown field(s) {', '.join(bad)}; known: {', '.join(SELECTOR_FIELDS)}",
            source=name, key="selectors",
        )
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        raise ConfigError("must be a list of strings", source=name, key="tags")
    max_pages = raw.get("max_pages", 50)
    if not isinstance(max_pages, int) or max_pages < 1:
        raise ConfigError("must be a positive whole number", source=name, key="max_pages")
    if "schedule" not in raw:
        raise ConfigError("is required (cron string or 'every: 30m')", source=name, key="schedule")
    next_page = raw.get("next_page") or ""
    if not isinstance(next_page, str):
        raise ConfigError("must be a CSS or XPath string", source=name, key="next_page")
    recheck = None
    if raw.get("recheck") not in (None, ""):
        if kind == "epaper":
            raise ConfigError("e-paper pages are printed once; only listing sources are re-checked",
                              source=name, key="recheck")
        recheck = parse_schedule(raw["recheck"], source=name, key="recheck")
    recheck_days = raw.get("recheck_days", 7)
    if not isinstance(recheck_days, int) or isinstance(recheck_days, bool) or recheck_days < 1:
        raise ConfigError("must be a positive whole number of days", source=name, key="recheck_days")
    allowed = raw.get("allowed_domains") or []
    if isinstance(allowed, str):
        allowed = [allowed]
    if not isinstance(allowed, list) or not all(isinstance(d, str) and d.strip() for d in allowed):
        raise ConfigError("must be a list of host names", source=name, key="allowed_domains")
    return Source(
        name=name,
        kind=kind,
        start_urls=tuple(start_urls),
        allow=_regex(raw.get("allow"), source=name, key="allow", required=True),
        deny=_regex(raw.get("deny"), source=name, key="deny", required=False),
        pages=_regex(raw.get("pages"), source=name, key="pages", required=kind == "epaper"),
        next_page=next_page,
        schedule=parse_schedule(raw["schedule"], source=name),
        selectors=dict(selectors),
        region=str(raw.get("region") or ""),
        tags=tuple(str(t) for t in tags),
        encoding=str(raw.get("encoding") or ""),
        max_pages=max_pages,
        enabled=bool(raw.get("enabled", True)),
        recheck=recheck,
        recheck_days=recheck_days,
        allowed_domains=tuple(d.strip().lower().lstrip(".") for d in allowed),
    )


def _check_rules(files: tuple[str, ...]) -> None:
    """Load the user's event-rule files once, so a bad rule stops the config at load time."""
    if not files:
        return
    from crawler.signals.rules import RuleError, load_rules

    try:
        load_rules([Path(f) for f in files])
    except RuleError as exc:
        raise ConfigError(str(exc), key="signal_rules") from None


def parse_config(data: Any, *, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Validate a parsed YAML document into a :class:`Config`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("the config file must be a mapping with a 'sources' list")
    unknown = sorted(set(data) - {"settings", "sources", "subscriptions"})
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(unknown)}", key=unknown[0])
    settings_raw = data.get("settings") or {}
    if not isinstance(settings_raw, Mapping):
        raise ConfigError("must be a mapping", key="settings")
    settings = load_settings(dict(settings_raw), env=env)
    _check_rules(settings.signal_rules)
    raw_sources = data.get("sources") or []
    if not isinstance(raw_sources, list):
        raise ConfigError("must be a list", key="sources")
    sources: dict[str, Source] = {}
    for index, raw in enumerate(raw_sources):
        source = parse_source(raw, index)
        if source.name in sources:
            raise ConfigError("is defined twice", source=source.name, key="name")
        sources[source.name] = source
    return Config(settings=settings, sources=sources, path=path,
                  subscriptions=parse_subscriptions(data.get("subscriptions")))


def config_path(explicit: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Path | None:
    """The config file to use: ``--config``, else ``RADAR_CONFIG``, else ``./radar.yaml`` if present."""
    env = dict(os.environ) if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("RADAR_CONFIG"):
        return Path(env["RADAR_CONFIG"])
    default = Path("radar.yaml")
    return default if default.exists() else None


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """Load and validate the config file (or settings alone when there is none)."""
    resolved = config_path(path, env)
    if resolved is None:
        return parse_config({}, env=env)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {resolved}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{resolved} is not valid YAML: {exc}") from None
    return parse_config(data, path=resolved, env=env)
