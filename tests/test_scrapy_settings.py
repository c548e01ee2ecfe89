"""How a config file's ``settings: scrapy:`` combines with Policy Radar's own Scrapy settings."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.config.settings import load_settings
from crawler.config.sources import Config
from spiders.runner import scrapy_settings
from tests.e2e import python_child


def _settings(scrapy: dict[str, object], overrides: dict[str, object] | None = None) -> dict[str, object]:
    config = Config(settings=load_settings({"scrapy": scrapy}, env={}), sources={})
    settings = scrapy_settings(config, overrides)
    names = ("ITEM_PIPELINES", "EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "EXTENSIONS_BASE", "DOWNLOADER_MIDDLEWARES_BASE")
    return {name: dict(settings[name]) for name in names} | {
        "DOWNLOAD_DELAY": settings.getfloat("DOWNLOAD_DELAY"), "COOKIES_ENABLED": settings.getbool("COOKIES_ENABLED")}


def test_a_users_pipeline_is_added_to_ours_not_instead_of_them() -> None:
    got = _settings({"ITEM_PIPELINES": {"myproject.pipelines.Export": 300}, "DOWNLOAD_DELAY": 3})
    assert got["ITEM_PIPELINES"] == {"spiders.pipelines.ExtractPipeline": 100, "spiders.pipelines.StorePipeline": 200,
                                     "myproject.pipelines.Export": 300}
    assert got["EXTENSIONS"]["spiders.extensions.CrawlRunRecorder"] == 100  # run recording stays on
    assert got["DOWNLOAD_DELAY"] == 3.0  # plain settings replace ours


def test_none_turns_one_of_ours_off_and_overrides_come_last() -> None:
    got = _settings({"EXTENSIONS": {"spiders.extensions.CrawlRunRecorder": None}},
                    overrides={"ITEM_PIPELINES": {"spiders.pipelines.StorePipeline": None}})
    assert got["EXTENSIONS"]["spiders.extensions.CrawlRunRecorder"] is None
    assert got["ITEM_PIPELINES"]["spiders.pipelines.StorePipeline"] is None
    assert got["ITEM_PIPELINES"]["spiders.pipelines.ExtractPipeline"] == 100


def test_switched_off_components_are_not_loaded_at_all() -> None:
    got = _settings({})
    assert "scrapy.extensions.remote_control.RemoteControl" not in got["EXTENSIONS_BASE"]
    assert "scrapy.extensions.telnet.TelnetConsole" not in got["EXTENSIONS_BASE"]
    assert "scrapy.downloadermiddlewares.cookies.CookiesMiddleware" not in got["DOWNLOADER_MIDDLEWARES_BASE"]
    assert "scrapy.extensions.corestats.CoreStats" in got["EXTENSIONS_BASE"]  # the rest stay
    cookies = _settings({"COOKIES_ENABLED": True})  # a site that needs cookies gets the middleware back
    assert cookies["COOKIES_ENABLED"] is True
    assert "scrapy.downloadermiddlewares.cookies.CookiesMiddleware" in cookies["DOWNLOADER_MIDDLEWARES_BASE"]


def test_a_crawler_built_with_our_settings_opens_no_remote_control_server() -> None:
    """Scrapy 2.19 starts an HTTP server that runs posted Python code, unless told not to; a
    crawler with our settings must not even import it (nor aiohttp)."""
    code = """
import sys
from crawler.config.settings import load_settings
from crawler.config.sources import Config
from scrapy.crawler import CrawlerProcess
from spiders.listing import ListingSpider
from spiders.runner import scrapy_settings

process = CrawlerProcess(scrapy_settings(Config(settings=load_settings({}, env={}), sources={})))
crawler = process.create_crawler(ListingSpider)
crawler._apply_settings()
names = [type(e).__name__ for e in crawler.extensions.middlewares]
print(",".join(names), "aiohttp" in sys.modules, "tldextract" in sys.modules)
"""
    names, aiohttp, tldextract = python_child(code).split()
    assert "CrawlRunRecorder" in names.split(",")
    assert "RemoteControl" not in names and "TelnetConsole" not in names
    assert (aiohttp, tldextract) == ("False", "False")


def test_scrapy_builds_no_log_records_that_no_handler_shows() -> None:
    """Scrapy sets its loggers to DEBUG; after a crawl process is made, they start at the level
    our stderr handler shows (WARNING, or DEBUG with ``radar -v``), so the two records per page
    it logs at DEBUG are not built only to be dropped."""
    code = """
import logging, sys
from crawler.cli.app import set_log_level
from crawler.config.settings import load_settings
from crawler.config.sources import Config
from scrapy.crawler import CrawlerProcess
from spiders.runner import _scrapy_log_level, scrapy_settings

set_log_level(logging.DEBUG if sys.argv[1] == "verbose" else logging.WARNING)
CrawlerProcess(scrapy_settings(Config(settings=load_settings({}, env={}), sources={})))
before = logging.getLogger("scrapy.core.engine").isEnabledFor(logging.DEBUG)
_scrapy_log_level()
engine = logging.getLogger("scrapy.core.engine")
print(before, engine.isEnabledFor(logging.DEBUG), engine.isEnabledFor(logging.WARNING))
"""
    assert python_child(code, "quiet").split() == ["True", "False", "True"]
    assert python_child(code, "verbose").split() == ["True", "True", "True"]


def test_a_crawl_looks_up_no_versions_for_a_log_line_no_handler_shows(tmp_path: Path) -> None:
    """Scrapy logs its dependencies' versions at INFO as a crawl process starts, looking each one
    up in the installed packages' metadata; our handler shows INFO only with ``radar -v``."""
    code = """
import json, logging, sys
from crawler.cli.app import set_log_level
from crawler.config.settings import load_settings
from crawler.config.sources import Config, parse_source
from spiders import runner

read = []  # package metadata files opened: what looking a version up costs
sys.addaudithook(lambda event, args: event == "open" and str(args[0]).endswith("METADATA") and read.append(args[0]))
set_log_level(logging.DEBUG if sys.argv[1] == "verbose" else logging.WARNING)
source = parse_source({"name": "none", "start_urls": ["http://127.0.0.1:9/"], "allow": "/a/",
                       "schedule": "every: 1h"}, 0)
scrapy = {"RETRY_ENABLED": False, "ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
config = Config(settings=load_settings({"database_url": sys.argv[2], "scrapy": scrapy}, env={}),
                sources={"none": source})
runner.run_crawls(config, [source])
print(json.dumps([str(path) for path in read]))
"""
    db = f"sqlite:///{tmp_path / 'radar.sqlite3'}"
    assert json.loads(python_child(code, "quiet", db).splitlines()[-1]) == []
    verbose = python_child(code, "verbose", db)
    assert any("lxml" in path for path in json.loads(verbose.splitlines()[-1])), verbose


def test_loading_our_spiders_loads_neither_the_extractor_nor_the_detector() -> None:
    """Scrapy imports every module of SPIDER_MODULES as a crawl starts. None of them may load the
    extractor, the detection rules or the place index into the crawl process: the workers run
    them, and a crawl that finds nothing new must start fast (a re-crawl is mostly start-up)."""
    code = ("import sys; from spiders.runner import scrapy_settings; from crawler.config.sources import Config; "
            "from crawler.config.settings import load_settings; from scrapy.spiderloader import SpiderLoader; "
            "settings = scrapy_settings(Config(settings=load_settings({}, env={}), sources={})); "
            "loader = SpiderLoader.from_settings(settings.frozencopy()); "
            "assert set(loader.list()) >= {'listing', 'epaper'}, loader.list(); "
            "assert 'crawler.ingest.pool' in sys.modules; "
            "loaded = sorted(m for m in ('crawler.events.detect', 'crawler.events.regions', "
            "'crawler.extraction.pipeline', 'crawler.ingest.warm') if m in sys.modules); "
            "assert not loaded, loaded")
    python_child(code)


def test_scrapys_deprecation_shims_load_with_a_cheap_stack_and_the_real_one_comes_back() -> None:
    # radar crawl imports Scrapy's TLS modules inside stack_without_source: their shims call
    # inspect.stack() to name the defining module, which must still come out right
    code = """
import inspect, sys
from crawler.processes import stack_without_source
real = inspect.stack, inspect.getmodule
with stack_without_source():
    assert inspect.stack is not real[0] and inspect.stack()[0].code_context is None
    assert inspect.getmodule(inspect.currentframe()) is sys.modules["__main__"]
    import scrapy.core.downloader.contextfactory as cf
assert (inspect.stack, inspect.getmodule) == real
print(cf.ScrapyClientContextFactory.__module__)
"""
    assert python_child(code).strip() == "scrapy.core.downloader.contextfactory"


def test_a_crawl_that_stores_nothing_never_configures_the_orm(tmp_path: Path) -> None:
    # its run record and look-ups are table statements: the first ORM operation of a process
    # configures every mapper, 11 ms of a crawl that finds nothing new
    code = """
import sys
from sqlalchemy import inspect
from crawler.config.settings import load_settings
from crawler.config.sources import Config, parse_source
from spiders import runner
from storage.models import ArticleRow
source = parse_source({"name": "none", "start_urls": ["http://127.0.0.1:9/"], "allow": "/a/",
                       "schedule": "every: 1h"}, 0)
scrapy = {"RETRY_ENABLED": False, "ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}
config = Config(settings=load_settings({"database_url": sys.argv[1], "scrapy": scrapy}, env={}),
                sources={"none": source})
(summary,) = runner.run_crawls(config, [source])
print(summary.finish_reason.split(":")[0].replace(" ", "_"), inspect(ArticleRow).configured)
"""
    out = python_child(code, f"sqlite:///{tmp_path / 'radar.sqlite3'}")
    # the site is dead (nothing listens on port 9): the run failed, and stored nothing
    assert out.split()[-2:] == ["nothing_fetched", "False"], out


def test_crawl_knobs_are_settings_from_the_file_or_the_environment() -> None:
    """Issue 21: ``RADAR_WORKERS`` as an environment variable was silently ignored (it was only a
    Scrapy setting). Each crawl knob is now a setting: file key, ``RADAR_*`` variable, and the
    Scrapy setting the spiders read, from one declaration."""
    from crawler.config.settings import DEFAULTS

    def crawl(file: dict[str, object], env: dict[str, str]) -> dict[str, object]:
        config = Config(settings=load_settings(file, env=env), sources={})
        got = scrapy_settings(config)
        return {n: got[n] for n in ("RADAR_WORKERS", "RADAR_STORE_BATCH", "RADAR_GIVE_UP_AFTER")}

    assert crawl({}, {}) == {"RADAR_WORKERS": -1, "RADAR_STORE_BATCH": 64, "RADAR_GIVE_UP_AFTER": 5}
    assert crawl({"workers": 2, "store_batch": 8}, {"RADAR_WORKERS": "0"}) == {
        "RADAR_WORKERS": 0, "RADAR_STORE_BATCH": 8, "RADAR_GIVE_UP_AFTER": 5}
    # as config files wrote them before: under scrapy:, read as the setting (and checked)
    legacy = load_settings({"scrapy": {"RADAR_GIVE_UP_AFTER": 2, "DOWNLOAD_DELAY": 0}}, env={})
    assert legacy.give_up_after == 2 and legacy.scrapy_settings == {"DOWNLOAD_DELAY": 0}
    assert "workers" in DEFAULTS and "download_deadline" in DEFAULTS


def test_a_crawl_knob_given_twice_or_bad_is_refused() -> None:
    import pytest

    from crawler.errors import ConfigError

    with pytest.raises(ConfigError, match="repeats the setting workers"):
        load_settings({"workers": 1, "scrapy": {"RADAR_WORKERS": 0}}, env={})
    with pytest.raises(ConfigError, match="at least 1"):
        load_settings({"scrapy": {"RADAR_STORE_BATCH": 0}}, env={})
    with pytest.raises(ConfigError, match="RADAR_WORKERS"):
        load_settings({}, env={"RADAR_WORKERS": "many"})
