"""Issue 26, item 13: configuration that was silently wrong is refused with one line naming the
file and the key, through ``load_config`` on real files (and once through the ``radar`` command);
the good forms still load. Also: the settings catalogue is declared once, and the settings table
of docs/configuration.md and the environment layer follow it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.config.settings import Settings, schema, settings_table
from crawler.config.sources import load_config
from crawler.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = {"name": "site-a", "start_urls": ["http://127.0.0.1/list"], "allow": r"/art/\d+\.html$",
          "schedule": {"every": "30m"}}


def _write(tmp_path: Path, data: Any = None, *, text: str | None = None) -> Path:
    path = tmp_path / "radar.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _source_file(tmp_path: Path, **overrides: Any) -> Path:
    return _write(tmp_path, {"sources": [{**SOURCE, **overrides}]})


def _settings_file(tmp_path: Path, **settings: Any) -> Path:
    return _write(tmp_path, {"settings": settings})


def _refused(path: Path, *fragments: str, env: dict[str, str] | None = None) -> str:
    """The one-line error loading ``path`` gives; it names the file and each of ``fragments``."""
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_a_quoted_false_does_not_leave_a_source_enabled(tmp_path: Path) -> None:
    _refused(_source_file(tmp_path, enabled="false"), "source 'site-a', key 'enabled'",
             "expected true or false, got the string 'false'")
    cfg = load_config(_source_file(tmp_path, enabled=False), env={})
    assert cfg.sources["site-a"].enabled is False and cfg.select() == []


def test_mail_to_takes_a_yaml_list_of_addresses(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, text="settings:\n  mail_to: [a@x.org, b@x.org]\n"), env={})
    assert cfg.settings.mail_to == ("a@x.org", "b@x.org")
    assert load_config(_settings_file(tmp_path, mail_to="a@x.org, b@x.org"), env={}).settings.mail_to == (
        "a@x.org", "b@x.org")
    _refused(_write(tmp_path, text="settings:\n  mail_to: [a@x.org, not an address]\n"),
             "key 'settings.mail_to'", "not an e-mail address: 'not an address'")
    _refused(_settings_file(tmp_path, mail_to=["a@x.org", 5]), "key 'settings.mail_to'")
    with pytest.raises(ConfigError, match="key 'RADAR_MAIL_TO': not an e-mail address"):
        load_config(None, env={"RADAR_MAIL_TO": "a@x.org, Ann <b@x.org>"})


@pytest.mark.parametrize(("key", "value", "why"), [
    ("smtp_port", -1, "must be between 1 and 65535, got -1"),
    ("smtp_port", 70000, "must be between 1 and 65535"),
    ("smtp_timeout", -5, "must be at least 1, got -5"),
    ("crawl_timeout", 0, "must be at least 1"),
    ("digest_max_events", -3, "must be at least 1, got -3"),
    ("digest_retry_base", -60, "must be at least 1"),
    ("outbox_interval", 0, "must be at least 1"),
    ("sql_timeout", -1.5, "must be more than 0"),
    ("crawl_memory_mb", -1, "must be at least 0"),
    ("health_error_rate", 1.5, "must be at most 1"),
    ("smtp_port", 25.5, "expected a whole number, got 25.5"),
    ("smtp_port", "25", "expected a whole number, got the string '25'"),
    ("smtp_starttls", "yes", "expected true or false"),
])
def test_numbers_out_of_range_are_refused(tmp_path: Path, key: str, value: Any, why: str) -> None:
    _refused(_settings_file(tmp_path, **{key: value}), f"key 'settings.{key}'", why)


def test_good_numbers_load_and_the_environment_is_converted_and_checked(tmp_path: Path) -> None:
    path = _settings_file(tmp_path, smtp_port=65535, smtp_timeout=1, digest_max_events=1, sql_timeout=0.5,
                          crawl_memory_mb=0, smtp_starttls=True)
    cfg = load_config(path, env={"RADAR_SMTP_STARTTLS": "false", "RADAR_SQL_TIMEOUT": "2.5"})
    settings = cfg.settings
    assert (settings.smtp_port, settings.smtp_timeout, settings.digest_max_events) == (65535, 1, 1)
    assert settings.smtp_starttls is False and settings.sql_timeout == 2.5 and settings.crawl_memory_mb == 0
    _refused(path, "key 'RADAR_SMTP_PORT': must be between 1 and 65535, got -25", env={"RADAR_SMTP_PORT": "-25"})
    _refused(path, "key 'RADAR_WARM_CRAWLS': expected true/false", env={"RADAR_WARM_CRAWLS": "perhaps"})


def test_max_pages_true_is_not_one_page(tmp_path: Path) -> None:
    _refused(_source_file(tmp_path, max_pages=True), "source 'site-a', key 'max_pages'",
             "expected a whole number, got True")
    _refused(_source_file(tmp_path, recheck_days=True), "key 'recheck_days'")
    _refused(_source_file(tmp_path, max_pages=0), "key 'max_pages'", "at least 1")
    assert load_config(_source_file(tmp_path, max_pages=3), env={}).sources["site-a"].max_pages == 3


@pytest.mark.parametrize(("overrides", "key", "why"), [
    ({"selectors": {"title": "h1["}}, "selectors", "invalid CSS selector 'h1['"),
    ({"selectors": {"body": "div::nope"}}, "selectors", "invalid CSS selector"),
    ({"selectors": {"author": "//span[@class='a'"}}, "selectors", "invalid XPath"),
    ({"next_page": "a.next::atr(href)"}, "next_page", "invalid CSS selector"),
    ({"next_page": "(//a[@rel='next']/@href"}, "next_page", "invalid XPath"),
])
def test_selectors_that_do_not_compile_are_refused(tmp_path: Path, overrides: dict[str, Any], key: str,
                                                   why: str) -> None:
    _refused(_source_file(tmp_path, **overrides), f"source 'site-a', key '{key}'", why)


def test_selectors_that_compile_load(tmp_path: Path) -> None:
    selectors = {"title": "h1::text", "body": "div.TRS_Editor", "published_at": "//span[@class='date']/text()",
                 "source": "(//div[@class='src'])[1]", "author": "./p[re:test(., '作者')]"}
    path = _source_file(tmp_path, selectors=selectors, next_page="a.next::attr(href)")
    source = load_config(path, env={}).sources["site-a"]
    assert source.selectors == selectors and source.next_page == "a.next::attr(href)"
    path = _source_file(tmp_path, next_page="//a[contains(., '下一页')]/@href")
    assert load_config(path, env={}).sources["site-a"].next_page.startswith("//a")


@pytest.mark.parametrize("name", ["klingon", "rot13", "idna", "base64"])
def test_an_unknown_encoding_is_refused(tmp_path: Path, name: str) -> None:
    _refused(_source_file(tmp_path, encoding=name), "source 'site-a', key 'encoding'",
             f"unknown text encoding {name!r}")


def test_known_encodings_load(tmp_path: Path) -> None:
    for name in ("gbk", "GB18030", "utf-8", "big5"):
        assert load_config(_source_file(tmp_path, encoding=name), env={}).sources["site-a"].encoding == name


def test_a_duplicate_key_is_refused_with_its_line_and_column(tmp_path: Path) -> None:
    text = ("sources:\n"
            "  - name: site-a\n"
            "    start_urls: [http://127.0.0.1/list]\n"
            "    allow: '/art/'\n"
            "    schedule: {every: 30m}\n"
            "    enabled: false\n"
            "    enabled: true\n")
    path = _write(tmp_path, text=text)
    assert _refused(path) == f"{path}:7:5: duplicate key 'enabled' (first on line 6)"
    top = _write(tmp_path, text="settings: {smtp_port: 25}\nsources: []\nsettings: {smtp_port: 26}\n")
    assert _refused(top) == f"{top}:3:1: duplicate key 'settings' (first on line 1)"


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    text = ("sources:\n"
            "  - &base {name: site-a, start_urls: [http://127.0.0.1/list], allow: '/art/', "
            "schedule: {every: 30m}}\n"
            "  - <<: *base\n"
            "    name: site-b\n"
            "    allow: '/news/'\n")
    cfg = load_config(_write(tmp_path, text=text), env={})
    assert cfg.sources["site-b"].allow == "/news/" and cfg.sources["site-a"].allow == "/art/"


@pytest.mark.parametrize("schedule", ["every day", "61 * * * *", "every: 0m", ""])
def test_a_bad_digest_schedule_is_refused_without_recipients(tmp_path: Path, schedule: str) -> None:
    _refused(_settings_file(tmp_path, digest_schedule=schedule), "key 'settings.digest_schedule'")


def test_good_digest_schedules_load(tmp_path: Path) -> None:
    for schedule in ("every: 1h", "30 7 * * 1-5"):
        assert load_config(_settings_file(tmp_path, digest_schedule=schedule), env={}).settings.digest_schedule \
            == schedule
    _refused(_settings_file(tmp_path), "key 'RADAR_DIGEST_SCHEDULE'", env={"RADAR_DIGEST_SCHEDULE": "soon"})


@pytest.mark.parametrize(("value", "why"), [
    (5, "expected a string or a list of strings, got 5"),
    ({"url": "http://127.0.0.1/"}, "expected a string or a list of strings"),
    ([], "is required"),
    (["file:///etc/passwd"], "needs http(s) URLs"),
])
def test_start_urls_of_the_wrong_shape_are_refused(tmp_path: Path, value: Any, why: str) -> None:
    _refused(_source_file(tmp_path, start_urls=value), "source 'site-a', key 'start_urls'", why)


def test_a_single_start_url_string_and_empty_optional_keys_load(tmp_path: Path) -> None:
    cfg = load_config(_source_file(tmp_path, start_urls="http://127.0.0.1/list", recheck="", deny="",
                                   encoding=None, tags=None), env={})
    source = cfg.sources["site-a"]
    assert source.start_urls == ("http://127.0.0.1/list",)
    assert (source.recheck, source.deny, source.encoding, source.tags) == (None, "", "", ())


def test_a_password_in_the_file_is_refused(tmp_path: Path) -> None:
    _refused(_settings_file(tmp_path, smtp_password="hunter2"), "key 'settings.smtp_password'",
             "set RADAR_SMTP_PASSWORD in the environment")
    cfg = load_config(_settings_file(tmp_path, smtp_user="radar"), env={"RADAR_SMTP_PASSWORD": "hunter2"})
    assert cfg.settings.smtp_password == "hunter2"


@pytest.mark.parametrize(("text", "where"), [
    ("settings:\n  mail_to: [a@x.org, b@x.org\n", "3:1"),
    ("sources:\n  - name: a\n   allow: x\n", "3:4"),
    ("settings:\n\tsmtp_port: 25\n", "2:1"),
    ("settings: !!python/object:os.system {}\n", "1:11"),
])
def test_malformed_yaml_is_one_line_with_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text=text)
    assert _refused(path).startswith(f"{path}:{where}: ")


def test_other_mistakes_name_the_key(tmp_path: Path) -> None:
    _refused(_source_file(tmp_path, tags=[2024]), "key 'tags'", "expected a string or a list of strings")
    _refused(_source_file(tmp_path, allowed_domains=["http://cdn.example.cn/"]), "key 'allowed_domains'")
    _refused(_settings_file(tmp_path, timezone="Mars/Olympus"), "key 'settings.timezone'", "unknown timezone")
    _refused(_settings_file(tmp_path, user_agent="Radar\r\nX-Evil: 1"), "key 'settings.user_agent'")
    _refused(_settings_file(tmp_path, smtp_host=["a", "b"]), "key 'settings.smtp_host'", "expected a string")
    _refused(_settings_file(tmp_path, scrapy=["DOWNLOAD_DELAY"]), "key 'settings.scrapy'", "expected a mapping")
    _refused(_settings_file(tmp_path, colour="red"), "key 'settings.colour'", "unknown key(s) colour")
    _refused(_write(tmp_path, {"sources": [5]}), "sources[0] must be a mapping")
    _refused(_write(tmp_path, {"subscriptions": [{"name": "s", "to": "a@x.org", "health": "no"}]}),
             "subscription 's', key 'health'")


def test_the_example_and_the_demo_configs_load(tmp_path: Path) -> None:
    from crawler.replica.demo import demo_config_text
    from crawler.replica.sites import SITES

    assert len(load_config(ROOT / "radar.example.yaml", env={}).sources) == 5
    urls = {site: f"http://127.0.0.1:{9000 + n}" for n, site in enumerate(SITES)}
    demo = _write(tmp_path, text=demo_config_text(urls))
    assert len(load_config(demo, env={}).sources) == len(SITES)


@pytest.mark.parametrize(("page", "section"), [("docs/configuration.md", "## Sources"),
                                             ("docs/configuration.md", "## Subscriptions"),
                                             ("README.md", "## A first source")])
def test_the_documented_examples_load(tmp_path: Path, page: str, section: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    block = text[text.index(section):].split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = load_config(_write(tmp_path, text=block), env={})
    assert cfg.sources or cfg.subscriptions


def test_the_documented_settings_table_is_the_catalogue() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert settings_table() in page, (
        "docs/configuration.md's settings table differs: paste crawler.config.settings.settings_table()")


#: text for a setting's environment variable → the value it must load as (numbers and booleans
#: are derived from the declared type)
_TEXT = {"timezone": ("UTC", "UTC"), "digest_schedule": ("every: 2h", "every: 2h"),
         "digest_weekday": ("Sunday", "sun"), "mail_from": ("r@x.org", "r@x.org"),
         "mail_to": ("a@x.org, b@x.org", ("a@x.org", "b@x.org")),
         "signal_rules": ("one.yaml,two.yaml", ("one.yaml", "two.yaml")),
         "data_dir": ("/srv/radar", Path("/srv/radar")), "executor": ("queue", "queue")}
_TYPED: dict[Any, tuple[str, Any]] = {bool: ("false", False), int: ("7", 7), float: ("0.25", 0.25)}


@pytest.mark.parametrize("key", [k for k in schema(Settings) if k.rule.env], ids=lambda k: k.name)
def test_every_setting_reads_its_environment_variable(key: Any) -> None:
    """The environment layer derives from the catalogue: a value written as text comes back typed."""
    from crawler.config.settings import load_settings

    text, expected = _TEXT.get(key.name) or _TYPED.get(key.type) or (f"{key.name}-text", f"{key.name}-text")
    assert getattr(load_settings({}, env={key.env_name: text}), key.name) == expected


def test_an_error_names_the_line_and_column_of_its_key(tmp_path: Path) -> None:
    text = ("settings:\n"
            "  smtp_port: 25\n"
            "sources:\n"
            "  - name: site-a\n"
            "    start_urls: [http://127.0.0.1/list]\n"
            "    allow: '/art/'\n"
            "    schedule: {every: 30m}\n"
            "    enabled: 'false'\n")
    path = _write(tmp_path, text=text)
    assert _refused(path) == (f"{path}:8:5: source 'site-a', key 'enabled': expected true or false, "
                              "got the string 'false'")
    path = _write(tmp_path, text=text.replace("smtp_port: 25", "smtp_port: -25"))
    assert _refused(path) == f"{path}:2:3: key 'settings.smtp_port': must be between 1 and 65535, got -25"
    path = _write(tmp_path, text=text.replace("    enabled: 'false'\n", "subscriptions:\n  - {name: s}\n"))
    assert _refused(path) == (f"{path}:9:5: subscription 's', key 'to': is required (one address or a list "
                              "of addresses)")


def test_a_bad_config_is_one_line_from_the_command(tmp_path: Path) -> None:
    bad = _write(tmp_path, text="sources:\n  - name: site-a\n    start_urls: 5\n    allow: /a/\n"
                                "    schedule: 'every: 1h'\n")  # a TypeError traceback before
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
           "RADAR_DATABASE_URL": f"sqlite:///{tmp_path / 'radar.sqlite3'}"}
    env.pop("RADAR_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "crawler.cli", "--config", str(bad), "status"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [f"Error: {bad}:3:5: source 'site-a', key 'start_urls': expected a string or a list of "
                     "strings, got 5"], done.stderr
