"""Config loading: valid files load; every mistake names the source and the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from crawler.config.sources import load_config, parse_config, parse_schedule
from crawler.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {"name": "site-a", "kind": "listing", "start_urls": ["http://127.0.0.1/list"],
                                "allow": r"/art/\d+\.html$", "schedule": "0 */2 * * *"}
    entry.update(overrides)
    return entry


def test_example_config_loads_every_source() -> None:
    cfg = load_config(ROOT / "radar.example.yaml", env={})
    assert len(cfg.sources) == 5
    assert cfg.sources["jxdaily-epaper"].kind == "epaper"
    assert cfg.sources["jxnews"].schedule.every == timedelta(minutes=30)
    assert cfg.settings.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(("value", "expected"), [
    ("0 */2 * * *", ("0 */2 * * *", None)),
    ({"every": "30m"}, (None, timedelta(minutes=30))),
    ("every: 5s", (None, timedelta(seconds=5))),
    ({"every": "2h"}, (None, timedelta(hours=2))),
])
def test_schedules(value: object, expected: tuple[object, object]) -> None:
    schedule = parse_schedule(value)
    assert (schedule.cron, schedule.every) == expected


@pytest.mark.parametrize(("overrides", "key"), [
    ({"kind": "rss"}, "kind"),
    ({"allow": "("}, "allow"),
    ({"schedule": "61 * * * *"}, "schedule"),
    ({"schedule": {"every": "0m"}}, "schedule"),
    ({"start_urls": ["ftp://x"]}, "start_urls"),
    ({"selectors": {"headline": "h1"}}, "selectors"),
    ({"colour": "red"}, "colour"),
    ({"kind": "epaper"}, "pages"),
])
def test_errors_name_source_and_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"sources": [_entry(**overrides)]}, env={})
    assert info.value.source == "site-a"
    assert info.value.key == key
    assert "site-a" in str(info.value) and key in str(info.value)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ConfigError, match="defined twice"):
        parse_config({"sources": [_entry(), _entry()]}, env={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "radar.yaml"
    path.write_text(yaml.safe_dump({"settings": {"smtp_port": 2525, "mail_to": "a@x.org"},
                                    "sources": [_entry()]}), encoding="utf-8")
    cfg = load_config(path, env={"RADAR_SMTP_PORT": "1025", "RADAR_DATABASE_URL": "sqlite:///x.db"})
    assert cfg.settings.smtp_port == 1025
    assert cfg.settings.mail_to == ("a@x.org",)
    assert cfg.settings.database_url == "sqlite:///x.db"


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text(yaml.safe_dump({"sources": [_entry(name="only-one")]}), encoding="utf-8")
    cfg = load_config(None, env={"RADAR_CONFIG": str(path)})
    assert list(cfg.sources) == ["only-one"]


def test_a_password_in_the_file_is_refused_and_the_environment_one_is_used() -> None:
    # issue 26, item 13: it was ignored without a word, so mail failed to authenticate later
    with pytest.raises(ConfigError, match=r"key 'settings.smtp_password': .*set RADAR_SMTP_PASSWORD"):
        parse_config({"settings": {"smtp_password": "in-the-file"}}, env={})
    cfg = parse_config({"settings": {"smtp_user": "radar"}}, env={"RADAR_SMTP_PASSWORD": "from-env"})
    assert cfg.settings.smtp_password == "from-env"


def test_bad_setting_and_unknown_source() -> None:
    with pytest.raises(ConfigError, match="smtp_port"):
        parse_config({"settings": {"smtp_port": "twenty-five"}}, env={})
    cfg = parse_config({"sources": [_entry()]}, env={})
    with pytest.raises(ConfigError, match="unknown source"):
        cfg.select(["nope"])


def test_source_kinds_are_a_family() -> None:
    """Issue 21: each kind says its keys, whether it is re-checked and its spider, once."""
    from scrapy.utils.misc import load_object

    from crawler.config.kinds import KINDS

    assert list(KINDS) == ["listing", "epaper", "feed", "sitemap", "api"]
    for name, kind in KINDS.items():
        assert load_object(kind.spider).kind == name
    cfg = load_config(ROOT / "radar.example.yaml", env={})
    assert {s.name: s.rechecked for s in cfg.sources.values()}["jxdaily-epaper"] is False
    assert cfg.sources["jxnews"].rechecked and cfg.sources["jxnews"].kind_class is KINDS["listing"]


@pytest.mark.parametrize(("overrides", "key", "why"), [
    ({"kind": "epaper", "pages": "/node", "next_page": "a.next"}, "next_page", "listing sources only"),
    ({"kind": "epaper", "pages": "/node", "recheck_days": 3}, "recheck_days", "printed once"),
    ({"pages": "/node"}, "pages", "epaper sources only"),
    ({"kind": "epaper", "pages": ""}, "pages", "required for epaper sources"),
])
def test_a_key_of_another_kind_is_refused(overrides: dict[str, object], key: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as info:
        parse_config({"sources": [_entry(**overrides)]}, env={})
    assert (info.value.source, info.value.key) == ("site-a", key)


def test_allow_may_be_left_out_for_every_kind() -> None:
    entries = [{k: v for k, v in _entry(name=f"s-{kind}", kind=kind).items() if k != "allow"}
               for kind in ("listing", "epaper")]
    entries[1]["pages"] = r"/node_\d+\.htm$"
    cfg = parse_config({"sources": entries}, env={})
    assert [s.allow for s in cfg.sources.values()] == ["", ""]
