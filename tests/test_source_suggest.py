"""``radar source suggest``'s entry for each replica pattern and demo site, fed to a real crawl
of the replica: each crawls its site's articles completely."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from crawler.extraction.suggest import suggest
from crawler.replica.patterns import challenge, feeds, hanweb, jpaas, pagenum, scripted, trs
from crawler.replica.resource import Resource
from crawler.replica.server import ReplicaSites
from crawler.replica.sites import build_sites
from storage.db import open_database
from storage.models import ArticleUrlRow
from tests.e2e import radar

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8}
#: entry name → (site, start path, the article paths its crawl must store: a prefix or a set)
STARTS: dict[str, tuple[str, str, str | set[str]]] = {
    "gov": ("gov", "/zwgk/zcwj/index.html", "/zwgk/zcwj/20"),
    "news": ("news", "/jxxw/index.html", "/system/"),
    "park": ("park", "/news/list_1.html", "/news/20"),
    "epaper": ("epaper", "/index.html", "/html/"),
    "hanweb": ("hanweb", hanweb.COLUMN, "/art/"),
    "jpaas": ("jpaas", jpaas.COLUMN, "/col/col12345/content/"),
    "trs": ("trs", trs.COLUMN + "index.html", trs.COLUMN + "20"),
    "pagenum": ("pagenum", pagenum.NOTICES + "list.jsp", pagenum.NOTICES + "20"),
    "rss": ("feeds", feeds.RSS_PATH, {p for p, _ in feeds.listed()["rss"]}),
    "atom": ("feeds", feeds.ATOM_PATH, {p for p, _ in feeds.listed()["atom"]}),
    "maps": ("feeds", feeds.INDEX_PATH, {p for part in ("sitemap_news", "sitemap_plain")
                                         for p, _ in feeds.listed()[part]}),
    "api": ("feeds", feeds.API_START, {p for p, _ in feeds.listed()["api"]}),
    # rendered in Chromium: a 加速乐-style challenge, and a list a script fills from JSON
    "challenge": ("challenge", "/bulk/index.html", "/system/"),
    "scripted": ("scripted", scripted.COLUMN, "/system/"),
}


@pytest.fixture(scope="module")
def sites() -> Iterator[ReplicaSites]:
    built = {**build_sites(), "hanweb": hanweb.build_hanweb(), "jpaas": jpaas.build_jpaas(), "trs": trs.build_trs(),
             "pagenum": pagenum.build_pagenum(), "feeds": feeds.build_feeds(),
             "challenge": challenge.build_challenge(), "scripted": scripted.build_scripted()}
    with ReplicaSites(sites=built) as running:
        yield running


def _fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _articles(sites: ReplicaSites, site: str, wanted: str | set[str]) -> set[str]:
    """The article pages of ``site`` that ``wanted`` names (every page behind the challenge is
    computed per request: there, each page ``wanted`` names)."""
    return {sites.urls[site] + path for path, page in sites.pages(site).items()
            if (not isinstance(page, Resource) or page.expected)
            and (path in wanted if isinstance(wanted, set) else path.startswith(wanted))}


def _config(path: Path, db: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"settings": {"database_url": f"sqlite:///{db}", "data_dir": str(path.parent),
                                                 "workers": 0, "scrapy": FAST},
                                    "sources": entries}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_suggested_entries_crawl_every_replica_completely(sites: ReplicaSites, tmp_path: Path) -> None:
    entries = []
    for name, (site, start, _wanted) in STARTS.items():
        url = sites.urls[site] + start
        found = suggest(url, *_fetch(url))
        entry = yaml.safe_load(found.yaml())["sources"][0]  # the printed YAML, as a user copies it
        assert entry["kind"] == {"rss": "feed", "atom": "feed", "maps": "sitemap", "api": "api",
                                 "epaper": "epaper"}.get(name, "listing"), (name, entry)
        assert entry.get("render") == {"challenge": "auto", "scripted": "browser"}.get(name), (name, entry)
        entries.append({**entry, "name": name})
    config = _config(tmp_path / "radar.yaml", tmp_path / "radar.db", entries)
    done = radar("--config", str(config), "crawl", timeout=240)
    assert done.returncode == 0, done.stderr
    engine, factory = open_database(f"sqlite:///{tmp_path / 'radar.db'}", migrate_schema=False)
    with factory() as s:
        stored: dict[str, set[str]] = {}
        for source, url in s.execute(select(ArticleUrlRow.source, ArticleUrlRow.url)):
            stored.setdefault(source, set()).add(url)
    engine.dispose()
    for name, (site, _start, wanted) in STARTS.items():
        expected = _articles(sites, site, wanted)
        assert expected and stored.get(name, set()) == expected, name


def test_the_30_page_listing_suggests_its_articles_and_not_its_pages(sites: ReplicaSites) -> None:
    """The page-number site's other column (30 pages: crawled whole by tests/test_backfill.py)."""
    base = sites.urls["pagenum"]
    found = suggest(base + pagenum.NEWS + "list.shtml", *_fetch(base + pagenum.NEWS + "list.shtml"))
    assert found.kind == "listing" and found.allow and found.next_pages == [base + pagenum.NEWS + "list_2.shtml"]
    paths = list(sites.pages("pagenum"))
    articles = [p for p in paths if p.startswith(pagenum.NEWS) and "/list" not in p]
    assert len(articles) == pagenum.NEWS_PAGES * pagenum.NEWS_PER_PAGE
    assert all(re.search(found.allow, base + p) for p in articles)
    assert not any(re.search(found.allow, base + p) for p in paths if p not in articles)


@pytest.mark.parametrize("name", ["rss", "maps", "api", "trs"])
def test_source_test_of_a_url_walks_it_as_the_kind_suggest_finds(sites: ReplicaSites, tmp_path: Path,
                                                                 name: str) -> None:
    """``radar source test URL`` of a feed, a sitemap index, a JSON endpoint or a script-paged
    column: it walks the URL as the kind suggest finds for it, and stores nothing."""
    site, start, wanted = STARTS[name]
    config = _config(tmp_path / "radar.yaml", tmp_path / "radar.db", [])
    done = radar("--config", str(config), "source", "test", sites.urls[site] + start, "--articles", "1",
                 timeout=120)
    assert done.returncode == 0, done.stderr
    kind = {"rss": "feed", "maps": "sitemap", "api": "api"}.get(name, "listing")
    assert f"({kind}):" in done.stdout.splitlines()[0], done.stdout
    linked = set(re.findall(r"^ {6}(http\S+)$", done.stdout, re.M))
    assert linked and linked <= _articles(sites, site, wanted), done.stdout
    assert "1 article(s) extracted" in done.stdout and "title: " in done.stdout, done.stdout
    assert "no article list" not in done.stdout + done.stderr, done.stdout
    assert not (tmp_path / "radar.db").exists()
