"""Subscriptions: who gets which events, how often. Declared in the config file, validated at load.

```yaml
subscriptions:
  - name: jiangxi-investment          # unique; lower-case letters, digits, - and _
    to: [analyst@example.org]         # one address or a list
    types: [signing, opening]         # default: all three (signing, opening, trade)
    regions: [江西省, 湖北省武汉市]     # default: everywhere; a region matches events whose region contains it
    keywords: [半导体, 新能源]          # default: none; else the title or evidence sentence must name one
    frequency: immediate              # immediate | daily | weekly (default daily)
    health: true                      # daily/weekly digests carry the crawl-health section (default true)
    sources: [jxnews]                 # default: every source
    tags: [investment]                # default: any; else the event must carry one of these tags (its sources')
    stages: [signed, started]         # default: any; signed | started | producing | completed | opened
    min_amount_cny: 100000000         # default: none; else only events stating at least this many yuan
    retrospective: background         # include | background (default) | exclude: events about past periods
    language: zh                      # zh | en (default en)
    notify: ["dingtalk://${DINGTALK_TOKEN}/"]   # Apprise URLs, alongside or instead of `to:`
```

A ``notify:`` URL takes its secrets from the environment: ``${NAME}`` is replaced by the
variable ``NAME`` when the message is sent (the outbox stores the URL as written, never the
secret). Only ``json://``, ``form://`` and ``xml://`` (and their ``s`` forms) may be written
without one; a token written into the file is refused, as the SMTP password is.

``RADAR_MAIL_TO`` (``mail_to``) stays the simple way in: its addresses form one subscription,
``mail_to``, to everything, daily. An address gets an event once, whichever of its
subscriptions claims it first (immediate ones are served first).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from crawler.config.schema import located, named_entries, option, read_mapping
from crawler.config.settings import Settings
from crawler.config.values import WEEKDAYS, address, is_address
from crawler.errors import ConfigError

__all__ = [
    "EVENT_TYPES",
    "FREQUENCIES",
    "LANGUAGES",
    "RETROSPECTIVE",
    "STAGES",
    "Subscription",
    "SubscriptionError",
    "effective_subscriptions",
    "expand",
    "idempotency_key",
    "is_address",
    "notify_url",
    "parse_subscription",
    "parse_subscriptions",
    "period_of",
    "placeholders",
]

EVENT_TYPES = ("signing", "opening", "trade")
STAGES = ("signed", "started", "producing", "completed", "opened")
RETROSPECTIVE = ("include", "background", "exclude")
LANGUAGES = ("zh", "en")
#: Apprise schemes that carry no token of their own (a local webhook): may be written literally.
PLAIN_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")
_ZH_WORDS = {"signing": "签约", "opening": "开工投产", "trade": "外贸", "signed": "签约", "started": "开工",
             "producing": "投产", "completed": "竣工", "opened": "开业", "immediate": "即时", "daily": "每日",
             "weekly": "每周"}
_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
FREQUENCIES = ("immediate", "daily", "weekly")
DEFAULT_NAME = "mail_to"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SubscriptionError(ConfigError):
    """An invalid ``subscriptions:`` entry; the message names the subscription and the key."""

    def __init__(self, message: str, *, subscription: str, key: str, at: tuple[int, int] | None = None) -> None:
        super().__init__(f"subscription {subscription!r}, key {key!r}: {message}", at=at)
        self.key = key
        self.subscription = subscription


def notify_url(value: str) -> str:
    """``value`` if it is an Apprise URL whose secrets come from ``${NAME}`` placeholders, else
    ValueError: a scheme with a token needs a placeholder, and Apprise must know the scheme."""
    scheme, sep, rest = value.partition("://")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) or not rest:
        raise ValueError(f"not an Apprise URL (scheme://...): {value!r}")
    if scheme not in PLAIN_SCHEMES and not _PLACEHOLDER.search(value):
        raise ValueError(f"{scheme}:// URLs carry a token: write it as ${{NAME}} and set NAME in the environment, "
                         f"e.g. {scheme}://${{{scheme.upper()}_TOKEN}}/")
    if scheme in PLAIN_SCHEMES and re.match(r"[^/@]*:[^/@]*@", rest) and not _PLACEHOLDER.search(rest.split("@")[0]):
        raise ValueError("a password in the URL must come from the environment: write user:${NAME}@host")
    with warnings.catch_warnings():  # only here: a config without notify: URLs needs no Apprise
        warnings.simplefilter("ignore", DeprecationWarning)  # Apprise imports imghdr, deprecated since 3.11
        from apprise import Apprise

        plugin = Apprise.instantiate(expand(value, lambda _name: "0123456789abcdef0123456789abcdef"))
    if plugin is None:
        raise ValueError(f"Apprise does not accept {value!r} (see the Apprise wiki for the {scheme}:// form)")
    return value


def expand(url: str, lookup: Any) -> str:
    """``url`` with each ``${NAME}`` replaced by ``lookup(NAME)`` (e.g. ``os.environ.__getitem__``)."""
    return _PLACEHOLDER.sub(lambda m: str(lookup(m.group(1))), url)


def placeholders(url: str) -> list[str]:
    """The environment variables ``url`` needs."""
    return _PLACEHOLDER.findall(url)


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError("must be lower-case letters, digits, '-' or '_' (e.g. jiangxi-daily)")
    if value == DEFAULT_NAME:
        raise ValueError(f"{DEFAULT_NAME!r} is the name of the RADAR_MAIL_TO subscription; pick another")
    return value


@dataclass(frozen=True)
class Subscription:
    """What one subscription wants: event types, regions, keywords, and how often. Each field
    declares its key's type, default and checks (:func:`crawler.config.settings.option`)."""

    name: str = option(help="unique; lower-case letters, digits, - and _", required=True, check=_name)
    recipients: tuple[str, ...] = option((), "one address or a list of addresses (this and/or notify)",
                                         key="to", split=True, check=address)
    types: tuple[str, ...] = option(EVENT_TYPES, "signing | opening | trade", choices=EVENT_TYPES)
    regions: tuple[str, ...] = option((), "a region matches events whose region contains it")
    keywords: tuple[str, ...] = option((), "the title or evidence sentence must name one")
    frequency: str = option("daily", "immediate | daily | weekly", choices=FREQUENCIES)
    health: bool = option(True, "daily/weekly digests carry the crawl-health section")
    sources: tuple[str, ...] = option((), "only events from these sources (default: all)")
    tags: tuple[str, ...] = option((), "only events carrying one of these tags, stored from their sources' "
                                       "(default: any)")
    stages: tuple[str, ...] = option((), "signed | started | producing | completed | opened (default: any)",
                                     choices=STAGES)
    min_amount_cny: float = option(0.0, "only events stating at least this many yuan (default 0: any)",
                                   minimum=0)
    retrospective: str = option("background", "include | background | exclude: events about past periods",
                                choices=RETROSPECTIVE)
    language: str = option("en", "zh | en", choices=LANGUAGES)
    notify: tuple[str, ...] = option((), "Apprise URLs (dingtalk://, wecombot://, feishu://, json:// …), "
                                         "secrets as ${NAME} from the environment", split=False, check=notify_url)
    notify_max_bytes: int = option(0, "cap on a channel message in UTF-8 bytes (default 0: the service's limit)",
                                   minimum=0)

    @property
    def targets(self) -> tuple[str, ...]:
        """Where the digest goes: the mail addresses, then the notify URLs (each one outbox
        recipient: its own digest, its own claims)."""
        return self.recipients + self.notify

    def describe(self, language: str = "en") -> str:
        """"signing, opening in 江西省 mentioning 半导体, immediate" (or in Chinese: "签约、开工投产
        · 江西省 · 含 半导体 · 即时") — for dry runs, logs and the digest's heading."""
        zh = language == "zh"
        every = set(self.types) == set(EVENT_TYPES)
        names = [_ZH_WORDS.get(t, t) for t in self.types] if zh else list(self.types)
        text = ("全部动态" if zh else "all events") if every else ("、" if zh else ", ").join(names)
        extra: list[str] = []
        if self.regions:
            extra.append(("" if zh else "in ") + "、".join(self.regions))
        if self.keywords:
            extra.append(("含 " if zh else "mentioning ") + "、".join(self.keywords))
        if self.sources or self.tags:
            extra.append(("来源 " if zh else "from ") + ", ".join((*self.sources, *(f"#{t}" for t in self.tags))))
        if self.stages:
            stages = [_ZH_WORDS.get(s, s) for s in self.stages] if zh else list(self.stages)
            extra.append(("阶段 " if zh else "at ") + ("、" if zh else ", ").join(stages))
        if self.min_amount_cny:
            extra.append(("金额 ≥ " if zh else "of at least ") + f"{self.min_amount_cny / 1e8:g}亿元")
        news_only = self.retrospective == "exclude"
        if zh:
            return " · ".join([text, *extra, *(["仅新动态"] if news_only else []), _ZH_WORDS[self.frequency]])
        return " ".join([text, *extra]) + (", news only" if news_only else "") + f", {self.frequency}"


def parse_subscription(raw: Any, index: int) -> Subscription:
    """Validate one ``subscriptions:`` entry."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"subscriptions[{index}] must be a mapping, got {type(raw).__name__}")
    name = raw.get("name")
    label = name if isinstance(name, str) else f"subscriptions[{index}]"

    def fail(key: str, why: str) -> NoReturn:
        raise SubscriptionError(why, subscription=label, key=key, at=located(raw, key))

    values = read_mapping(Subscription, raw, fail)
    if "types" in values:  # in the catalogue's order, whatever the file's
        values["types"] = tuple(t for t in EVENT_TYPES if t in values["types"]) or EVENT_TYPES
    if not values.get("recipients") and not values.get("notify"):
        fail("to", "is required (one address or a list of addresses)")  # or notify: (docs/digest.md)
    return Subscription(**values)


def parse_subscriptions(raw: Any) -> tuple[Subscription, ...]:
    """Validate the ``subscriptions:`` list (names unique)."""

    def twice(sub: Subscription, entry: Any) -> NoReturn:
        raise SubscriptionError("is defined twice", subscription=sub.name, key="name", at=located(entry, "name"))

    return tuple(named_entries(raw, "subscriptions", parse_subscription, twice).values())


def effective_subscriptions(settings: Settings, declared: Sequence[Subscription]) -> list[Subscription]:
    """The subscriptions to serve, immediate ones first (they claim shared events first), then
    daily, then weekly, in file order within each; ``mail_to`` adds the default daily one."""
    subs = list(declared)
    if settings.mail_to:
        subs.append(Subscription(name=DEFAULT_NAME, recipients=tuple(settings.mail_to)))
    return sorted(subs, key=lambda s: FREQUENCIES.index(s.frequency))


def period_of(frequency: str, now_local: datetime, weekday: str = "mon") -> str | None:
    """The period a digest of ``frequency`` sent at ``now_local`` belongs to, or None when not due.

    Daily: the local date (``daily:2025-07-02``), so one daily digest per day however often the
    digest job runs. Weekly: the ISO week (``weekly:2025-W27``), due from ``weekday`` of that
    week on, so a daemon that was down on that day still sends it when it is back. Immediate:
    ``immediate`` (the key then takes the first event's id).
    """
    if frequency == "immediate":
        return "immediate"
    if frequency == "daily":
        return f"daily:{now_local:%Y-%m-%d}"
    if frequency == "weekly":
        if now_local.weekday() < WEEKDAYS.index(weekday):
            return None
        year, week, _ = now_local.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    raise ValueError(f"unknown frequency {frequency!r}")


def idempotency_key(subscription: str, recipient: str, period: str) -> str:
    """``subscription|recipient|period``: one digest per recipient and period, ever. (Keys too
    long for the column end in a hash of the whole key instead of being cut.)"""
    key = f"{subscription}|{recipient}|{period}"
    if len(key) > 300:
        key = key[:250] + "#" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return key
