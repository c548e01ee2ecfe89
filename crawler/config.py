"""Settings: one catalogue of defaults, overridden by the config file, then by ``RADAR_*`` variables.

Secrets (SMTP password) come from the environment only. Every setting is listed in
:data:`DEFAULTS` with what it means; the README's configuration reference mirrors it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.errors import ConfigError

#: name → (default, help). Config-file keys live under ``settings:``; the environment variable
#: is ``RADAR_`` + the upper-cased name.
DEFAULTS: dict[str, tuple[Any, str]] = {
    "database_url": ("", "SQLAlchemy URL; empty means a SQLite file radar.sqlite3 in data_dir"),
    "data_dir": ("", "where the default SQLite database lives; empty means ~/.local/share/policy-radar"),
    "timezone": ("Asia/Shanghai", "timezone of schedules, digests and dates without an offset"),
    "digest_schedule": ("0 8 * * *", "when the daemon sends the digest: cron string or 'every: 1h'"),
    "smtp_host": ("localhost", "SMTP server for digests"),
    "smtp_port": (25, "SMTP port"),
    "smtp_user": ("", "SMTP user (environment only recommended)"),
    "smtp_password": ("", "SMTP password (environment only; ignored in config files)"),
    "smtp_starttls": (False, "upgrade the SMTP connection with STARTTLS"),
    "smtp_timeout": (30, "seconds before an SMTP connection attempt fails"),
    "mail_from": ("policy-radar@localhost", "From: address of digests"),
    "mail_to": ("", "comma-separated digest recipients"),
    "signal_rules": ("", "event-rule YAML files (comma-separated) merged over the packaged rules"),
    "digest_max_events": (200, "events listed in one digest; the rest are summarised as 'and N more'"),
    "crawl_timeout": (3600, "seconds a crawl child process may run before it is killed"),
    "crawl_memory_mb": (2048, "address-space limit of a crawl child process, in MiB"),
    "warm_crawls": (True, "daemon: fork each crawl from a process that loaded Scrapy and SQLAlchemy once, "
                          "instead of starting a new Python process per crawl (Linux only)"),
    # --- daemon, digests and crawl health (issue 6); the README's settings table mirrors these
    "digest_weekday": ("mon", "weekly subscriptions: the digest is due from this day (mon…sun) of each week"),
    "digest_retry_base": (60, "seconds before the first retry of a digest that failed to send; doubles per attempt"),
    "digest_retry_max": (3600, "longest wait between two retries of an unsent digest, in seconds"),
    "outbox_interval": (60, "seconds between daemon outbox runs (due retries, immediate subscriptions)"),
    "health_history": (20, "recent crawl runs per source the health rules look at"),
    "health_stale_factor": (3.0, "stale: no new items for this many times the source's usual gap between "
                                 "new items; overdue: no successful crawl for this many schedule intervals "
                                 "+ crawl_timeout"),
    "health_zero_runs": (2, "consecutive runs finding no article links on listing pages (where earlier runs "
                            "found some) that raise an alert: the template or URL pattern changed"),
    "health_error_rate": (0.5, "share of failed requests in a run that counts as an error spike "
                               "(when it is also at least twice the source's usual rate)"),
    "health_garbled_score": (0.05, "garbled_score from which an article counts as garbled (mis-decoded)"),
    "health_garbled_ratio": (0.2, "share of garbled articles among a source's last 20 that raises an alert"),
    "health_challenge_pages": (1, "challenge / WAF pages (captcha, JS check) in the latest run that raise an alert"),
    "health_failures": (3, "consecutive failed or killed runs of a source that raise an alert"),
    "sql_timeout": (30.0, "seconds one radar sql query may run before it is stopped"),
    "user_agent": (
        "PolicyRadar/0.1 (+https://example.invalid/policy-radar; research crawler)",
        "User-Agent header sent to sites",
    ),
}

_SECRETS = {"smtp_password"}
_DAEMON_SETTINGS = ("digest_weekday", "digest_retry_base", "digest_retry_max", "outbox_interval", "health_history",
                    "health_stale_factor", "health_zero_runs", "health_error_rate", "health_garbled_score",
                    "health_garbled_ratio", "health_challenge_pages", "health_failures", "warm_crawls",
                    "sql_timeout")
#: Weekday names accepted by ``digest_weekday``, Monday first (``datetime.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`."""

    database_url: str
    data_dir: Path
    timezone: str
    digest_schedule: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_starttls: bool
    smtp_timeout: int
    mail_from: str
    mail_to: tuple[str, ...]
    signal_rules: tuple[str, ...]
    digest_max_events: int
    crawl_timeout: int
    crawl_memory_mb: int
    user_agent: str
    scrapy_settings: dict[str, Any] = field(default_factory=dict)
    digest_weekday: str = "mon"
    digest_retry_base: int = 60
    digest_retry_max: int = 3600
    outbox_interval: int = 60
    health_history: int = 20
    health_stale_factor: float = 3.0
    health_zero_runs: int = 2
    health_error_rate: float = 0.5
    health_garbled_score: float = 0.05
    health_garbled_ratio: float = 0.2
    health_challenge_pages: int = 1
    health_failures: int = 3
    warm_crawls: bool = True
    sql_timeout: float = 30.0

    @property
    def tz(self) -> ZoneInfo:
        """The configured timezone."""
        return ZoneInfo(self.timezone)

    def with_database(self, url: str) -> Settings:
        """A copy pointing at another database."""
        return replace(self, database_url=url)


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"expected true/false, got {value!r}", key=name)
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"expected a whole number, got {value!r}", key=name) from None
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"expected a number, got {value!r}", key=name) from None
    return "" if value is None else str(value)


def load_settings(file_settings: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, then ``file_settings`` (the config file's ``settings:`` map), then ``RADAR_*``."""
    env = dict(os.environ) if env is None else env
    file_settings = dict(file_settings or {})
    scrapy_settings = file_settings.pop("scrapy", {}) or {}
    if not isinstance(scrapy_settings, dict):
        raise ConfigError("must be a mapping of Scrapy setting names to values", key="settings.scrapy")
    unknown = sorted(set(file_settings) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}", key="settings")
    values: dict[str, Any] = {}
    for name, (default, _help) in DEFAULTS.items():
        value: Any = default
        if name in file_settings and name not in _SECRETS:
            value = _coerce(name, file_settings[name], default)
        env_name = "RADAR_" + name.upper()
        if env.get(env_name, "") != "":
            value = _coerce(name, env[env_name], default)
        values[name] = value
    data_dir = Path(values["data_dir"]).expanduser() if values["data_dir"] else _default_data_dir(env)
    database_url = values["database_url"] or f"sqlite:///{data_dir / 'radar.sqlite3'}"
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown timezone {values['timezone']!r}", key="timezone") from None
    mail_to = tuple(a.strip() for a in str(values["mail_to"]).split(",") if a.strip())
    signal_rules = tuple(p.strip() for p in str(values["signal_rules"]).split(",") if p.strip())
    if str(values["digest_weekday"]).strip().lower()[:3] not in WEEKDAYS:
        raise ConfigError(f"expected one of {', '.join(WEEKDAYS)}, got {values['digest_weekday']!r}",
                          key="digest_weekday")
    values["digest_weekday"] = str(values["digest_weekday"]).strip().lower()[:3]
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        timezone=values["timezone"],
        digest_schedule=values["digest_schedule"],
        smtp_host=values["smtp_host"],
        smtp_port=values["smtp_port"],
        smtp_user=values["smtp_user"],
        smtp_password=values["smtp_password"],
        smtp_starttls=values["smtp_starttls"],
        smtp_timeout=values["smtp_timeout"],
        mail_from=values["mail_from"],
        mail_to=mail_to,
        signal_rules=signal_rules,
        digest_max_events=values["digest_max_events"],
        crawl_timeout=values["crawl_timeout"],
        crawl_memory_mb=values["crawl_memory_mb"],
        user_agent=values["user_agent"],
        scrapy_settings=dict(scrapy_settings),
        **{name: values[name] for name in _DAEMON_SETTINGS},
    )


#: The ``signal_rules`` setting's environment variable, which the extraction workers read.
SIGNAL_RULES_ENV = "RADAR_SIGNAL_RULES"


def export_signal_rules(settings: Settings) -> None:
    """Name the resolved ``signal_rules`` (from the config file or the environment) in their
    environment variable: the processes a crawl starts from now on (the extraction workers' fork
    server) read the rule files from there (``crawler.signals.rules.configured_rules``)."""
    if settings.signal_rules:
        os.environ[SIGNAL_RULES_ENV] = ",".join(settings.signal_rules)


def _default_data_dir(env: dict[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "policy-radar"
