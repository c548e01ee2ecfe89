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
    "digest_max_events": (200, "events listed in one digest; the rest are summarised as 'and N more'"),
    "crawl_timeout": (3600, "seconds a crawl child process may run before it is killed"),
    "crawl_memory_mb": (2048, "address-space limit of a crawl child process, in MiB"),
    "user_agent": (
        "PolicyRadar/0.1 (+https://example.invalid/policy-radar; research crawler)",
        "User-Agent header sent to sites",
    ),
}

_SECRETS = {"smtp_password"}


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
    digest_max_events: int
    crawl_timeout: int
    crawl_memory_mb: int
    user_agent: str
    scrapy_settings: dict[str, Any] = field(default_factory=dict)

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
        digest_max_events=values["digest_max_events"],
        crawl_timeout=values["crawl_timeout"],
        crawl_memory_mb=values["crawl_memory_mb"],
        user_agent=values["user_agent"],
        scrapy_settings=dict(scrapy_settings),
    )


def _default_data_dir(env: dict[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "policy-radar"
