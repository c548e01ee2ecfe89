"""Subscriptions in the config file: validation with errors naming the subscription and the key,
periods and idempotency keys, the RADAR_MAIL_TO default."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crawler.config.settings import load_settings
from crawler.config.sources import parse_config
from crawler.config.subscriptions import (
    EVENT_TYPES,
    Subscription,
    effective_subscriptions,
    idempotency_key,
    is_address,
    period_of,
)
from crawler.errors import ConfigError

SH = ZoneInfo("Asia/Shanghai")


def _load(subs: Any, env: dict[str, str] | None = None) -> Any:
    return parse_config({"subscriptions": subs}, env=env or {})


def test_a_full_subscription_loads() -> None:
    cfg = _load([{"name": "jx", "to": ["a@example.org", "b@example.org"], "types": ["opening", "signing"],
                  "regions": ["江西省", "湖北省武汉市"], "keywords": "半导体", "frequency": "immediate",
                  "health": False}])
    (sub,) = cfg.subscriptions
    assert sub == Subscription(name="jx", recipients=("a@example.org", "b@example.org"),
                               types=("signing", "opening"), regions=("江西省", "湖北省武汉市"),
                               keywords=("半导体",), frequency="immediate", health=False)
    assert sub.describe() == "signing, opening in 江西省、湖北省武汉市 mentioning 半导体, immediate"
    (default,) = _load([{"name": "all", "to": "c@example.org, d@example.org"}]).subscriptions
    assert default.types == EVENT_TYPES and default.frequency == "daily" and default.recipients == (
        "c@example.org", "d@example.org")


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "Bad Name", "to": "a@x.org"}, "subscription 'Bad Name', key 'name'"),
    ({"name": "s", "to": "a@x.org", "frequency": "hourly"},
     "subscription 's', key 'frequency': must be one of immediate, daily, weekly, got 'hourly'"),
    ({"name": "s", "to": "a@x.org", "types": ["signings"]},
     "subscription 's', key 'types': must be one of signing, opening, trade, got 'signings'"),
    ({"name": "s", "to": "not an address"}, "subscription 's', key 'to': not an e-mail address"),
    ({"name": "s", "to": "a@x.org\nBcc: evil@x.org"}, "subscription 's', key 'to'"),
    ({"name": "s"}, "subscription 's', key 'to': is required"),
    ({"name": "s", "to": "a@x.org", "regions": [""]}, "subscription 's', key 'regions'"),
    ({"name": "s", "to": "a@x.org", "keyword": ["x"]}, "subscription 's', key 'keyword': unknown key"),
    ({"name": "s", "to": "a@x.org", "health": "yes"}, "subscription 's', key 'health'"),
    ({"name": "mail_to", "to": "a@x.org"}, "subscription 'mail_to', key 'name'"),
])
def test_errors_name_the_subscription_and_the_key(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load([entry])
    assert message in str(info.value)


def test_duplicate_names_and_a_non_list_are_refused() -> None:
    with pytest.raises(ConfigError, match="subscription 'x', key 'name': is defined twice"):
        _load([{"name": "x", "to": "a@x.org"}, {"name": "x", "to": "b@x.org"}])
    with pytest.raises(ConfigError, match="key 'subscriptions': must be a list"):
        _load({"name": "x"})


def test_mail_to_is_a_daily_subscription_to_everything_and_immediate_ones_come_first() -> None:
    settings = load_settings(env={"RADAR_MAIL_TO": "x@example.org, y@example.org"})
    cfg = _load([{"name": "weekly", "to": "w@x.org", "frequency": "weekly"},
                 {"name": "now", "to": "n@x.org", "frequency": "immediate"}])
    subs = effective_subscriptions(settings, cfg.subscriptions)
    assert [(s.name, s.frequency) for s in subs] == [("now", "immediate"), ("mail_to", "daily"),
                                                     ("weekly", "weekly")]
    assert subs[1].recipients == ("x@example.org", "y@example.org") and subs[1].types == EVENT_TYPES
    assert effective_subscriptions(load_settings(env={}), ()) == []


def test_periods_follow_the_local_calendar() -> None:
    wed_late = datetime(2025, 7, 2, 23, 30, tzinfo=SH)
    assert period_of("daily", wed_late) == "daily:2025-07-02"
    assert period_of("daily", datetime(2025, 7, 3, 0, 5, tzinfo=SH)) == "daily:2025-07-03"
    assert period_of("weekly", wed_late, "mon") == "weekly:2025-W27"
    assert period_of("weekly", wed_late, "fri") is None  # not due before Friday
    assert period_of("weekly", datetime(2025, 7, 6, 9, 0, tzinfo=SH), "fri") == "weekly:2025-W27"  # Sunday
    assert period_of("immediate", wed_late) == "immediate"


def test_idempotency_key_is_per_subscription_recipient_and_period() -> None:
    assert idempotency_key("s", "a@x.org", "daily:2025-07-02") == "s|a@x.org|daily:2025-07-02"
    long = idempotency_key("s" * 60, "a" * 250 + "@x.org", "daily:2025-07-02")
    assert len(long) <= 300 and long != idempotency_key("s" * 60, "a" * 250 + "@y.org", "daily:2025-07-02")


def test_is_address() -> None:
    assert is_address("analyst@example.org")
    for bad in ("analyst", "a@b@c", "Ann <a@x.org>", "a@x.org,b@x.org", "a @x.org", "@x.org", "a@"):
        assert not is_address(bad), bad


def test_weekday_setting_is_validated() -> None:
    assert load_settings({"digest_weekday": "Friday"}, env={}).digest_weekday == "fri"
    with pytest.raises(ConfigError, match="digest_weekday"):
        load_settings({"digest_weekday": "someday"}, env={})


def test_filters_language_and_notify_load_and_bad_values_are_named() -> None:
    (sub,) = _load([{"name": "news", "notify": ["json://127.0.0.1:9/hook"], "sources": ["jxnews"],
                     "tags": ["investment"], "stages": ["started", "signed"], "min_amount_cny": 100000000,
                     "retrospective": "exclude", "language": "zh"}]).subscriptions
    assert sub.recipients == () and sub.targets == ("json://127.0.0.1:9/hook",)
    assert (sub.stages, sub.min_amount_cny, sub.retrospective, sub.language) == (
        ("started", "signed"), 1e8, "exclude", "zh")
    assert sub.describe() == ("all events from jxnews, #investment at started, signed of at least 1亿元, "
                              "news only, daily")
    for key, value, why in [("stages", ["built"], "built"), ("retrospective", "maybe", "maybe"),
                            ("language", "fr", "fr"), ("min_amount_cny", -1, "0"),
                            ("notify", ["tgram://123:abc/456"], "NAME")]:
        with pytest.raises(ConfigError, match=rf"subscription 'x', key '{key}'.*{why}"):
            _load([{"name": "x", "to": "a@example.org", key: value}])
    with pytest.raises(ConfigError, match=r"subscription 'x', key 'to': is required"):
        _load([{"name": "x"}])
