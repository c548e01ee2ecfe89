"""Checks of single config values: e-mail addresses, time zones, weekdays, encodings and schedules."""


from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Weekday names accepted by ``digest_weekday``, Monday first (``datetime.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EVERY_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# --- checks of single values ------------------------------------------------------------------


def describe(value: Any) -> str:
    """``value`` as an error message names it: a string quoted and called one."""
    return f"the string {value!r}" if isinstance(value, str) else repr(value)


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


def from_address(value: str) -> str:
    if _CONTROL_RE.search(value) or not is_address(parseaddr(value)[1]):
        raise ValueError(f"not an e-mail address (user@host or 'Name <user@host>'): {value!r}")
    return value


def one_line(value: str) -> str:
    if _CONTROL_RE.search(value):
        raise ValueError(f"must be one line without control characters, got {value!r}")
    return value


def time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}") from None
    return value


def weekday(value: str) -> str:
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
        raise ValueError(f"expected a cron string or 'every: <n>s|m|h|d', got {describe(value)}")
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


def cron_or_every(value: str) -> str:
    schedule_of(value)
    return value
