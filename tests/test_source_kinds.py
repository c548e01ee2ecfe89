"""Issue 23: the feed, sitemap and api source kinds, crawled over real HTTP from the ``feeds``
pattern site (an RSS 2.0 channel, an Atom feed, a sitemap index with a news sitemap and a gzipped
plain sitemap, a paged JSON API), each from a minimal entry (start URL and kind); re-crawls
fetch no article again, an interrupted crawl catches up, and their config mistakes are one line
naming the file, line and key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from crawler.config.sources import load_config, parse_source
from crawler.errors import ConfigError
from crawler.ingest.prepare import page_to_article
from crawler.items import PageItem
from crawler.replica.bulk import seed_paragraphs
from crawler.replica.patterns import build_patterns
from crawler.replica.patterns.feeds import API_START, ATOM_PATH, INDEX_PATH, NEWS_SITEMAP, RSS_PATH, listed
from crawler.replica.resource import Request, Resource
from crawler.replica.server import ReplicaSites
from spiders.api import find_items, next_page_url, page_param_of, url_field
from spiders.entries import entry_date
from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow, PageValidatorRow
from tests.e2e import radar

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}
LISTED = listed()
EXPECTED = {"rss": {p for p, _ in LISTED["rss"]}, "atom": {p for p, _ in LISTED["atom"]},
            "maps": {p for p, _ in LISTED["sitemap_news"] + LISTED["sitemap_plain"]},
            "api": {p for p, _ in LISTED["api"]}}
ARTICLES = set().union(*EXPECTED.values())


@pytest.fixture(scope="module")
def feeds() -> Iterator[ReplicaSites]:
    with ReplicaSites(sites={}, patterns=["feeds"]) as sites:
        yield sites


def _config(directory: Path, db_url: str, sources: list[dict[str, Any]]) -> Path:
    path = directory / "radar.yaml"
    entries = [{"schedule": "every: 1h", **s} for s in sources]
    settings = {"database_url": db_url, "data_dir": str(directory), "workers": 0, "scrapy": FAST}
    path.write_text(yaml.safe_dump({"settings": settings, "sources": entries}, allow_unicode=True), encoding="utf-8")
    return path


def _crawl(config: Path) -> None:
    done = radar("--config", str(config), "crawl")
    assert done.returncode == 0, done.stderr + done.stdout


def _stored(db_url: str) -> dict[str, dict[str, tuple[str, datetime | None]]]:
    """source → {path: (title, published_at)} of the stored articles."""
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        rows = list(s.scalars(select(ArticleRow)))
    engine.dispose()
    out: dict[str, dict[str, tuple[str, datetime | None]]] = {}
    for row in rows:
        out.setdefault(row.source, {})["/" + row.url.split("/", 3)[3]] = (row.title, row.published_at)
    return out


def _backfills(db_url: str) -> dict[str, tuple[Any, Any]]:
    """source → the ``radar/backfill`` stat of its first and second runs."""
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        runs = list(s.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id)))
    engine.dispose()
    out: dict[str, list[Any]] = {}
    for run in runs:
        out.setdefault(run.source, []).append((run.stats or {}).get("radar/backfill"))
    return {source: (got[0], got[1]) for source, got in out.items()}


def _articles_fetched(sites: ReplicaSites, since: int) -> list[str]:
    return [path for _site, path in sites.requests[since:] if path in ARTICLES]


@pytest.mark.slow
def test_each_kind_crawls_completely_and_a_recrawl_fetches_nothing_new(feeds: ReplicaSites, db_url: str,
                                                                       tmp_path: Path) -> None:
    base = feeds.urls["feeds"]
    config = _config(tmp_path, db_url, [
        {"name": "rss", "kind": "feed", "start_urls": [base + RSS_PATH]},
        {"name": "atom", "kind": "feed", "start_urls": [base + ATOM_PATH]},
        {"name": "maps", "kind": "sitemap", "start_urls": [base + INDEX_PATH]},
        {"name": "api", "kind": "api", "start_urls": [base + API_START]},
    ])
    mark = len(feeds.requests)
    _crawl(config)
    stored = _stored(db_url)
    assert {source: set(pages) for source, pages in stored.items()} == EXPECTED
    # the pages' own titles and dates, not their entries' (an API item's date is a day, 2025.07.02)
    answers = {path: (r.expected["title"], r.expected["published_at"])
               for items in LISTED.values() for path, r in items if r.expected}
    assert {path: got for pages in stored.values() for path, got in pages.items()} == answers
    served = [path for _site, path in feeds.requests[mark:]]
    assert sorted(p for p in served if p.startswith("/search-gov/")) == [
        API_START, API_START.replace("p=1", "p=2"), API_START.replace("p=1", "p=3")]  # p=3 lists no items
    assert "/sitemap_zwgk.xml.gz" in served and "/sitemap_news.xml" in served

    mark = len(feeds.requests)
    _crawl(config)
    assert _articles_fetched(feeds, mark) == []
    assert _stored(db_url) == stored
    # a first crawl is a backfill (spiders.listing), a second one is not: sitemaps have no walk
    assert {source: backfill for source, (backfill, _again) in _backfills(db_url).items()} == {
        "rss": 1, "atom": 1, "api": 1, "maps": None}
    assert {again for _first, again in _backfills(db_url).values()} == {None}
    # every listing document now holds only stored articles: its validators are kept, so the
    # next crawl asks "changed since?" and stops at a 304
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        rows = s.scalars(select(PageValidatorRow))
        kept = sorted((row.source, row.url.split("/", 3)[3].split("?")[0]) for row in rows)
    engine.dispose()
    assert kept == [("api", "search-gov/data"), ("atom", "atom/news.xml"), ("maps", "sitemap_news.xml"),
                    ("maps", "sitemap_zwgk.xml.gz"), ("rss", "rss/yqzx.xml")]


@pytest.mark.slow
def test_an_interrupted_crawl_catches_up_and_entries_are_picked(sqlite_url: str, tmp_path: Path) -> None:
    """Articles a crawl could not fetch stay pending: the next crawl fetches them even though the
    feed no longer lists them. Beside it, a sitemap source read from robots.txt's Sitemap: line
    keeps what ``allow`` and ``deny`` let through and ``max_age_days`` does not drop: the newer of
    the two 政策文件 (dated by their <lastmod>), not its .docx; and an API source's walk ends at a
    page whose items are all older than ``max_age_days``."""
    pages = build_patterns(["feeds"])["feeds"]
    first = sorted(EXPECTED["rss"])[:1]
    for path in first:
        page = pages[path]
        assert isinstance(page, Resource)
        pages[path] = Resource(b"busy", "text/html", page.etag, page.last_modified, status=404)
    dated = sorted((r.expected["published_at"], path) for path, r in LISTED["sitemap_plain"] if r.expected)
    (older, _), (newer, newer_path) = dated
    days = (datetime.now(UTC) - (older + (newer - older) / 2)).days  # the cut-off falls between the two
    api = sorted((r.expected["published_at"], path) for path, r in LISTED["api"] if r.expected)
    api_days = (datetime.now(UTC) - (api[0][0] + (api[1][0] - api[0][0]) / 2)).days  # 2022 | 2025
    with ReplicaSites(sites={"feeds": pages}) as sites:
        base = sites.urls["feeds"]
        config = _config(tmp_path, sqlite_url, [
            {"name": "rss", "kind": "feed", "start_urls": [base + RSS_PATH]},
            {"name": "maps", "kind": "sitemap", "start_urls": [base + "/robots.txt"], "allow": "/zwgk/",
             "deny": r"\.docx$", "max_age_days": days},
            {"name": "api", "kind": "api", "start_urls": [base + API_START], "max_age_days": api_days}])
        _crawl(config)
        stored = _stored(sqlite_url)
        assert set(stored["rss"]) == EXPECTED["rss"] - set(first)
        assert set(stored["maps"]) == {newer_path}
        assert set(stored["api"]) == {path for _, path in api[1:]}
        # page 2 lists only the 2022 article: too old, so the walk ends there, backfill or not;
        # it counts as a link seen (the no_links health rule must not take it for a lost list)
        assert [p for _site, p in sites.requests if p.startswith("/search-gov/")] == [
            API_START, API_START.replace("p=1", "p=2")]
        engine, factory = open_database(sqlite_url, migrate_schema=False)
        with factory() as s:
            run = s.scalars(select(CrawlRunRow).where(CrawlRunRow.source == "api")).one()
        engine.dispose()
        assert (run.stats["radar/links_seen"], run.stats["radar/entries_too_old"]) == (3, 1)
        for path in first:
            original = build_patterns(["feeds"])["feeds"][path]
            assert isinstance(original, Resource)
            sites.set_page("feeds", path, original.body, original.content_type)
        sites.set_page("feeds", RSS_PATH, b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                       b"<title>yqzx</title><link>" + base.encode() + b"/news/</link><description/></channel></rss>",
                       "text/xml; charset=utf-8")
        mark = len(sites.requests)
        _crawl(config)
        assert sorted(_articles_fetched(sites, mark)) == first
    assert set(_stored(sqlite_url)["rss"]) == EXPECTED["rss"]


# --- configuration ---------------------------------------------------------------------------


def _refused(tmp_path: Path, text: str, *fragments: str) -> None:
    path = tmp_path / "radar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, message


_API = "sources:\n  - name: gov-api\n    kind: api\n    start_urls: ['http://127.0.0.1/data?p=1']\n" \
       "    schedule: 'every: 1h'\n"


def test_kind_mistakes_are_one_line_with_file_line_and_key(tmp_path: Path) -> None:
    _refused(tmp_path, _API + "    items: 'searchVO.catMap.[gongwen'\n",
             ":6:5: source 'gov-api', key 'items': invalid JMESPath 'searchVO.catMap.[gongwen'",
             "incomplete expression")
    _refused(tmp_path, _API + "    fields: {url: 'url', date: 'a[?x==]'}\n", ":6:5:", "key 'fields'",
             "unexpected ']' at character 7")
    _refused(tmp_path, _API + "    fields: {link: url}\n", "key 'fields'",
             "unknown field(s) link; known: url, title, date")
    _refused(tmp_path, _API + "    max_age_days: 0\n", ":6:5:", "key 'max_age_days'", "must be at least 1")
    _refused(tmp_path, _API.replace("kind: api", "kind: feed") + "    items: 'list'\n", ":6:5:", "key 'items'",
             "is for api sources only, not feed ones")
    no_urls = _API.replace("kind: api", "kind: sitemap").replace("    start_urls: ['http://127.0.0.1/data?p=1']\n", "")
    _refused(tmp_path, no_urls, ":2:5:", "source 'gov-api', key 'start_urls'", "is required")
    loaded = load_config(_write(tmp_path, _API + "    items: searchVO.catMap.gongwen.listVO\n    page_param: p\n"),
                         env={}).sources["gov-api"]
    assert (loaded.items, loaded.page_param, loaded.allow) == ("searchVO.catMap.gongwen.listVO", "p", "")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- what the spiders read from entries -----------------------------------------------------


def test_entry_dates_in_the_forms_feeds_sitemaps_and_apis_write() -> None:
    cst = datetime.fromisoformat("2025-07-02T11:48:00+08:00")
    for text in ("2025-07-02 11:48:00", "2025-07-02T11:48:00+08:00", "Wed, 02 Jul 2025 03:48:00 GMT",
                 "1751428080000", "1751428080", 1751428080000):
        assert entry_date(text) == cst, text
    assert entry_date("2025.07.02") == datetime.fromisoformat("2025-07-02T00:00:00+08:00")
    assert entry_date("") is None and entry_date(None) is None and entry_date("最新") is None


def test_api_items_url_and_page_are_inferred() -> None:
    data = {"code": 200, "nav": [{"name": "首页", "href": "/index.html"}],
            "searchVO": {"catMap": {"gongwen": {"listVO": [
                {"title": "a", "pic": "/img/a.jpg", "url": "http://x/zhengce/a.htm", "pubtimeStr": "2025.07.02"},
                {"title": "b", "pic": "/img/b.jpg", "url": "/zhengce/b.htm", "pubtimeStr": "2025.07.01"}]}}}}
    items = find_items(data)
    assert [i["title"] for i in items] == ["a", "b"] and url_field(items) == "url"
    assert url_field([{"thumb": "/a.png", "link": "a.shtml"}]) == "link"
    assert page_param_of("http://x/data?t=zhengcelibrary&p=1&n=20") == "p"
    assert page_param_of("http://x/api/list?columnId=7&pageNum=0") == "pageNum"
    assert page_param_of("http://x/api/list?id=3") == "" and page_param_of("http://x/a", "page") == "page"
    assert next_page_url("http://x/data?t=z&p=1&n=20", "p") == "http://x/data?t=z&p=2&n=20"
    assert next_page_url("http://x/api/list?pageNum=0", "pageNum") == "http://x/api/list?pageNum=1"
    assert next_page_url("http://x/api/list", "page") == "http://x/api/list?page=2"


def _page(head: str, hints: dict[str, str]) -> PageItem:
    paragraphs = "".join(f"<p>{p}</p>" for p in seed_paragraphs()[10:14])
    html = (f'<html><head><meta charset="utf-8">{head}</head><body><div class="nav"><a href="/">首页</a></div>'
            f'<div id="zoom">{paragraphs}</div></body></html>')
    return PageItem(source="rss", url="http://127.0.0.1/art/1.html", body=html.encode(),
                    fetched_at=datetime(2026, 1, 5, tzinfo=UTC), hints=hints)


def test_an_entrys_title_and_date_fill_what_its_page_does_not_say() -> None:
    """A page with no title and no date of its own takes its entry's; a page's own metadata
    outranks the entry's date."""
    source = parse_source({"name": "rss", "kind": "feed", "start_urls": ["http://127.0.0.1/rss.xml"],
                           "schedule": "every: 1h"}, 0)
    hints = {"title": "深化农业农村改革", "published_at": "2025-07-02T11:48:00+08:00"}
    bare = page_to_article(_page("", hints), source)
    assert (bare.title, bare.published_at) == ("深化农业农村改革", datetime.fromisoformat(hints["published_at"]))
    assert (bare.provenance["title"], bare.provenance["published_at"]) == ("entry", "entry")
    assert page_to_article(_page("", {}), source).published_at is None
    dated = page_to_article(_page('<title>农业农村</title><meta name="PubDate" content="2025-06-30 09:00">', hints),
                            source)
    assert dated.published_at == datetime.fromisoformat("2025-06-30T09:00:00+08:00")
    assert dated.provenance["published_at"] != "entry" and dated.title == "农业农村"


def test_a_news_sitemap_keeps_its_publication_date_and_title() -> None:
    """Scrapy's sitemap parser reads one level deep; ours keeps the <news:…> fields too."""
    from spiders.sitemap import _Sitemap

    page = build_patterns(["feeds"])["feeds"][NEWS_SITEMAP]
    assert callable(page)
    answer = page(Request(NEWS_SITEMAP, {}, {"host": "127.0.0.1:8000"}))
    assert answer is not None
    entries = list(_Sitemap(answer.body))
    assert [(e["loc"], e["news_title"], entry_date(e["news_publication_date"])) for e in entries] == [
        (f"http://127.0.0.1:8000{p}", r.expected["title"], r.expected["published_at"])
        for p, r in LISTED["sitemap_news"] if r.expected]


@pytest.mark.parametrize(("path", "listing"), [(RSS_PATH, "rss"), (ATOM_PATH, "atom")])
def test_feed_entries_are_dated_in_china_time_when_they_name_no_zone(path: str, listing: str) -> None:
    """The RSS channel writes <pubDate>2025-07-02 11:48:00</pubDate>, the way Chinese CMSs do:
    feedparser alone reads it as UTC, eight hours late."""
    import feedparser

    from spiders.feed import published_of

    page = build_patterns(["feeds"])["feeds"][path]
    assert callable(page)
    answer = page(Request(path, {}, {"host": "127.0.0.1:8000"}))
    assert answer is not None
    feed = feedparser.parse(answer.body)
    assert [(e.link, e.title, published_of(e)) for e in feed.entries] == [
        (f"http://127.0.0.1:8000{p}", r.expected["title"], r.expected["published_at"])
        for p, r in LISTED[listing] if r.expected]


def test_backfill_since_reads_the_dates_of_api_items(tmp_path: Path) -> None:
    """``radar crawl --backfill --since`` ends a walk at a page listing only older articles; an
    API's page is no HTML page, so its dates are its items' (``ListingSpider.listed_dates``)."""
    from scrapy.http import TextResponse

    base = "http://127.0.0.1:8000"
    spider = _spider(tmp_path, "api", base + API_START)
    for number in ("1", "2"):
        body = _answer("/search-gov/data", {"p": [number], "n": ["2"]})
        spider.links_on(TextResponse(base + API_START, body=body, encoding="utf-8"))
    empty = TextResponse(base + "/", body=b"{}", encoding="utf-8")
    assert spider.listed_dates(empty) == {base + p: r.expected["published_at"].date()
                                          for p, r in LISTED["api"] if r.expected}


def _spider(tmp_path: Path, kind: str, start: str) -> Any:
    from spiders.runner import spider_of

    config = load_config(_config(tmp_path, "sqlite://", [{"name": kind, "kind": kind, "start_urls": [start]}]),
                         env={})
    return spider_of(config.sources[kind])(source=config.sources[kind], config=config)


def _answer(path: str, query: dict[str, list[str]] | None = None) -> bytes:
    page = build_patterns(["feeds"])["feeds"][path]
    assert callable(page)
    answer = page(Request(path, query or {}, {"host": "127.0.0.1:8000"}))
    assert answer is not None
    return answer.body


def test_jsonp_answers_and_feeds_paged_by_rfc_5005(tmp_path: Path) -> None:
    from scrapy.http import TextResponse, XmlResponse

    base = "http://127.0.0.1:8000"
    api = _spider(tmp_path, "api", base + API_START)
    body = b"jQuery112306_1751428080({0});".replace(b"{0}", _answer("/search-gov/data", {"p": ["1"], "n": ["2"]}))
    urls, next_url = api.links_on(TextResponse(base + API_START, body=body, encoding="utf-8"))
    assert urls == [base + p for p, _ in LISTED["api"][:2]] and next_url == base + API_START.replace("p=1", "p=2")

    feed = _spider(tmp_path, "feed", base + ATOM_PATH)
    atom = _answer(ATOM_PATH).replace(b"<id>", f'<link rel="next" href="{base}{ATOM_PATH}?page=2"/><id>'.encode(), 1)
    urls, next_url = feed.links_on(XmlResponse(base + ATOM_PATH, body=atom))
    assert urls == [base + p for p, _ in LISTED["atom"]] and next_url == f"{base}{ATOM_PATH}?page=2"


def test_a_sitemap_with_relative_locs_lists_absolute_urls(tmp_path: Path) -> None:
    """The sitemaps.org protocol wants absolute <loc>s; some CMSs write paths, read against the
    sitemap's own URL rather than failing the whole sitemap."""
    from scrapy.http import XmlResponse

    base = "http://127.0.0.1:8000"
    spider = _spider(tmp_path, "sitemap", base + INDEX_PATH)
    body = _answer(NEWS_SITEMAP).replace(f"<loc>{base}".encode(), b"<loc>")
    (links,) = list(spider.parse(XmlResponse(base + NEWS_SITEMAP, body=body)))
    assert [r.url for r in links.articles] == [base + p for p, _ in LISTED["sitemap_news"]]
