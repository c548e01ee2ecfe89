"""Pagination without configuration (``crawler.extraction.pagination``): each pattern's rule on
the markup the CMSs emit, and the article URLs they keep in scripts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from sqlalchemy import select

from crawler.extraction.pagination import cms_of, next_listing_urls, script_article_urls
from crawler.replica.patterns import hanweb, jpaas, pagenum, trs
from crawler.replica.patterns.hanweb import build_hanweb
from crawler.replica.patterns.jpaas import build_jpaas
from crawler.replica.patterns.pagenum import build_pagenum
from crawler.replica.patterns.trs import build_trs
from crawler.replica.resource import Resource
from crawler.replica.server import ReplicaSites
from storage.db import open_database
from storage.models import ArticleRow, CrawlRunRow
from tests.e2e import radar

BASE = "http://gov.example"


def page(body: str, head: str = "") -> str:
    return f"<html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --------------------------------------------------------------------------- 下一页 links

@pytest.mark.parametrize("anchor", [
    '<a href="index_2.html">下一页</a>', '<a href="index_2.html">[下一页]</a>', '<a href="index_2.html"> 下页 </a>',
    '<a href="index_2.html">›</a>', '<a href="index_2.html">»</a>', '<a href="index_2.html">下一页&gt;&gt;</a>',
    '<a rel="next" href="index_2.html">2</a>', '<a href="index_2.html">Next</a>',
    '<a class="page-btn next" href="index_2.html"><img src="n.gif"></a>', '<a title="下一页" href="index_2.html"></a>',
])
def test_a_next_link_is_followed(anchor: str) -> None:
    html = page(f'<a href="/">首页</a><a href="more.html">更多»</a><div class="pager">{anchor}</div>')
    assert next_listing_urls(html, f"{BASE}/news/index.html") == [f"{BASE}/news/index_2.html"]


def test_a_next_link_elsewhere_or_to_itself_or_to_script_is_not() -> None:
    url = f"{BASE}/news/index_9.html"
    for anchor in ('<a href="http://other.example/news/index_10.html">下一页</a>',
                   '<a href="index_9.html">下一页</a>', '<a href="javascript:void(0)">下一页</a>',
                   '<span>下一页</span>', '<a href="/more.html">更多»</a>'):
        assert next_listing_urls(page(anchor), url) == [], anchor


# --------------------------------------------------------------------------- page-number families

@pytest.mark.parametrize(("url", "links", "expected"), [
    ("/news/index.html", ["index_2.html", "index_3.html", "index_10.html"], "/news/index_2.html"),
    ("/news/", ["index_1.html", "index_2.html"], "/news/index_1.html"),  # TRS numbering: page 2 is _1
    ("/news/index_2.html", ["index.html", "index_1.html", "index_3.html"], "/news/index_3.html"),
    ("/xwzx/list_2.shtml", ["list.shtml", "list_3.shtml", "list_4.shtml"], "/xwzx/list_3.shtml"),
    ("/gg/more_4.htm", ["more_3.htm", "more_5.htm"], "/gg/more_5.htm"),
    ("/search.jsp?cat=7", ["search.jsp?cat=7&page=2", "search.jsp?cat=8&page=2"], "/search.jsp?cat=7&page=2"),
    ("/list.php?page=3&cat=7", ["list.php?page=2&cat=7", "list.php?page=4&cat=7"], "/list.php?page=4&cat=7"),
])
def test_a_page_number_family_without_next_link(url: str, links: list[str], expected: str) -> None:
    pager = "".join(f'<a href="{href}">{i + 1}</a>' for i, href in enumerate(links))
    html = page(f'<ul><li><a href="/art/1.html">一</a></li></ul><div class="page">{pager}</div>')
    assert next_listing_urls(html, BASE + url) == [BASE + expected]


def test_numbers_of_other_families_are_not_pages() -> None:
    """Channel ids that look like page numbers (``/index_1937.html``), another directory's
    pages, or a number two up are no next page."""
    html = page('<a href="/index_1937.html">长者模式</a><a href="/zwgk/index_2.html">政务公开</a>'
                '<a href="index_3.html">3</a><a href="list_2.html">x</a>')
    assert next_listing_urls(html, f"{BASE}/xw/index.html") == []
    assert next_listing_urls(html, f"{BASE}/index.html") == []


def test_a_next_link_beats_the_family() -> None:
    html = page('<a href="index_1.html">2</a><a href="p/index_2.html">下一页</a>')
    assert next_listing_urls(html, f"{BASE}/a/index.html") == [f"{BASE}/a/p/index_2.html"]


# --------------------------------------------------------------------------- TRS createPageHTML

TRS_PAGER = """<script>
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
  if(_nPageCount == null || _nPageCount<=1){ return; }
  document.write("<a href=\\""+_sPageName+"_"+(_nCurrIndex+1)+"."+_sPageExt+"\\">下一页</a>");
}
</script>"""


@pytest.mark.parametrize(("call", "url", "expected"), [
    ('createPageHTML(5, 0, "index", "html")', "/zwgk/tzgg/", "/zwgk/tzgg/index_1.html"),
    ('createPageHTML(5, 0, "index", "html")', "/zwgk/tzgg/index.html", "/zwgk/tzgg/index_1.html"),
    ('createPageHTML(5, 3, "index", "shtml")', "/zwgk/tzgg/index_3.shtml", "/zwgk/tzgg/index_4.shtml"),
    ("createPageHTML('page_div', 12, 1, 'index', 'html', 176)", "/a/index_1.html", "/a/index_2.html"),
    ("var countPage = 7;\nvar currentPage = 2;\ncreatePageHTML(countPage, currentPage, \"index\", \"html\");",
     "/a/index_2.html", "/a/index_3.html"),
])
def test_trs_create_page_html(call: str, url: str, expected: str) -> None:
    html = page(f"<ul><li><a href='./202401/t20240105_123.html'>x</a></li></ul><script>{call}</script>", TRS_PAGER)
    assert cms_of(html) == "trs"
    assert next_listing_urls(html, BASE + url) == [BASE + expected]


def test_trs_last_page_ends_even_with_links_that_look_like_pages() -> None:
    html = page('<a href="index_3.html">3</a><script>createPageHTML(4, 3, "index", "html")</script>', TRS_PAGER)
    assert next_listing_urls(html, f"{BASE}/a/index_3.html") == []
    # an article page's one-page pager (as TRS article templates carry)
    assert next_listing_urls(page('<script>createPageHTML(1, 0, "t20220213_552130", "html")</script>'),
                             f"{BASE}/a/202202/t20220213_552130.html") == []


# --------------------------------------------------------------------------- Hanweb JCMS datastore

def datastore(n: int, start: int = 0, column: int = 4296) -> str:
    records = "\n".join(
        f"<record><![CDATA[\n<li><a href='/art/2025/3/{i % 28 + 1}/art_{column}_{90000 - i}.html' target='_blank' "
        f"title='标题{i}'>标题{i}</a><span>2025-03-{i % 28 + 1:02d}</span></li>]]></record>"
        for i in range(start, start + n))
    return records


def hanweb_column(n: int = 45, total: int = 100) -> str:
    nextgroup = ("<nextgroup><![CDATA[<a href=\"/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=28"
                 "&path=/&columnid=4296&unitid=31227&webname=%E5%B8%82%E6%94%BF%E5%BA%9C&permissiontype=0\">"
                 "</a>]]></nextgroup>")
    return page(f"""<div id="31227"><script type="text/xml"><datastore>{nextgroup}
<recordset>{datastore(n)}</recordset></datastore></script></div>
<script type="text/javascript">$(document).ready(function(){{ $('#31227').jpage({{
  dataStore: dataStore, proxyUrl: '/module/web/jpage/dataproxy.jsp', perPage: 15, totalRecord: {total},
  groupSize: 3, barPosition: 'bottom', ajaxParam: {{col:1, appid:1, webid:28, path:'/', columnid:4296,
  sourceContentType:1, unitid:'31227', webname:'市政府', permissiontype:0}} }}); }});</script>""")


def test_hanweb_records_are_article_links() -> None:
    html = hanweb_column()
    urls = script_article_urls(html, f"{BASE}/col/col4296/index.html")
    assert len(urls) == 45
    assert urls[0] == f"{BASE}/art/2025/3/1/art_4296_90000.html"
    assert cms_of(html) == "hanweb"


def test_hanweb_column_pages_through_dataproxy_with_its_parameters() -> None:
    url = f"{BASE}/col/col4296/index.html"
    [first] = next_listing_urls(hanweb_column(), url)
    assert first.startswith(f"{BASE}/module/web/jpage/dataproxy.jsp?")
    q = query_of(first)
    assert (q["startrecord"], q["endrecord"], q["perpage"]) == ("46", "90", "15")
    assert (q["columnid"], q["unitid"], q["webid"], q["col"], q["appid"], q["sourceContentType"]) == \
        ("4296", "31227", "28", "1", "1", "1")
    assert "page" not in q
    answer = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><datastore><totalrecord>100</totalrecord>"
              f"<totalpage>7</totalpage><recordset>{datastore(45, 45)}</recordset></datastore>")
    assert len(script_article_urls(answer, first)) == 45
    [second] = next_listing_urls(answer, first)
    assert (query_of(second)["startrecord"], query_of(second)["endrecord"]) == ("91", "100")
    assert query_of(second)["columnid"] == "4296"
    assert next_listing_urls(answer.replace("<totalrecord>100", "<totalrecord>90"), first) == []
    assert next_listing_urls(answer, second) == []


def test_hanweb_older_proxy_path_from_nextgroup() -> None:
    """Older JCMS sites serve the proxy under /module/jslib/jquery/jpage/: the <nextgroup> link
    says so when no jpage call gives proxyUrl."""
    html = page("""<script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/jslib/jquery/jpage/\
dataproxy.jsp?page=1&appid=1&webid=60&path='/'&columnid=31685&unitid=80325&permissiontype=0"></a>]]></nextgroup>
<recordset>""" + datastore(20, column=31685) + "</recordset></datastore></script>")
    [nxt] = next_listing_urls(html, f"{BASE}/col/col31685/index.html")
    assert nxt.startswith(f"{BASE}/module/jslib/jquery/jpage/dataproxy.jsp?startrecord=21&endrecord=40&perpage=20&")
    assert query_of(nxt)["unitid"] == "80325"


def test_hanweb_column_whose_records_all_fit_has_no_next() -> None:
    assert next_listing_urls(hanweb_column(12, total=12), f"{BASE}/col/col4296/index.html") == []


def test_hanweb_nextgroup_page_form() -> None:
    """The form public crawlers use, ``dataproxy.jsp?page=N``: the answer's totalpage ends it."""
    url = f"{BASE}/module/web/jpage/dataproxy.jsp?page=1&webid=1&path=/&columnid=4584&unitid=325"
    answer = "<datastore><totalrecord>60</totalrecord><totalpage>2</totalpage><recordset></recordset></datastore>"
    [nxt] = next_listing_urls(answer, url)
    assert query_of(nxt) == {"page": "2", "webid": "1", "path": "/", "columnid": "4584", "unitid": "325"}
    assert next_listing_urls(answer, nxt) == []


# --------------------------------------------------------------------------- Hanweb jpaas

def jpaas_page(urls: list[str], total: int = 40, per_page: int = 15, with_ts: bool = True) -> str:
    items = ",".join(f'{{"title":"标题{i}","url":"{u}","publishTime":"2025-06-0{i % 9 + 1}"}}'
                     for i, u in enumerate(urls))
    head = ('<meta content="Edx3m4jYKWIlB5qZzUzk" r="m"><script type="text/javascript" r=\'m\'>'
            '$_ts=window[\'$_ts\'];if(!$_ts)$_ts={};$_ts.nsd=17787;$_ts.cd="qhzqrpAlEpLl";</script>') if with_ts else ""
    return page(f"""<div class="list" id="list_7657741"></div><div id="page_7657741"></div>
<script src="/module/jpage/jquery.jpage.js"></script>
<script>var listData = {{uid:"7657741", pageSize:{per_page}, totalRecord:{total}, articleList:[{items}]}};
$("#page_7657741").jpage({{totalRecord: listData.totalRecord, perPage: listData.pageSize,
  url: "index.html?uid=7657741&pageNum="}});</script>""", head)


def test_jpaas_article_list_and_page_numbers() -> None:
    urls = [f"/col/col12345/content/content_{1790000000000000000 + i}.html" for i in range(15)]
    html = jpaas_page(urls)
    assert cms_of(html) == "hanweb-jpaas"
    base = f"{BASE}/col/col12345/index.html"
    assert script_article_urls(html, base) == [BASE + u for u in urls]
    assert next_listing_urls(html, base) == [f"{base}?uid=7657741&pageNum=2"]
    assert next_listing_urls(html, f"{base}?uid=7657741&pageNum=2") == [f"{base}?uid=7657741&pageNum=3"]
    assert next_listing_urls(html, f"{base}?uid=7657741&pageNum=3") == []  # 40 records, 15 a page
    assert next_listing_urls(jpaas_page(urls, total=15), base) == []


def test_listing_dates_beside_links_records_and_items() -> None:
    """The date a listing prints beside each article: in its list item, its datastore record or
    its articleList item; links without one (navigation) are left out."""
    from datetime import date

    from crawler.extraction.pagination import listing_dates

    html = page('<a href="/about.html">关于 2024-01-01</a><ul>'
                '<li><a href="/a/1.html">一</a><span>2025-06-30</span></li>'
                '<li><span>[2025年6月3日]</span> <a href="/a/2.html">二</a></li>'
                '<li><a href="/a/3.html">三</a></li></ul>'
                '<table><tr><td><a href="/a/4.html">四</a></td><td>2025/05/09</td></tr></table>')
    assert listing_dates(html, BASE) == {f"{BASE}/a/1.html": date(2025, 6, 30), f"{BASE}/a/2.html": date(2025, 6, 3),
                                         f"{BASE}/a/4.html": date(2025, 5, 9)}
    records = listing_dates(hanweb_column(3), f"{BASE}/col/col4296/index.html")
    assert records == {f"{BASE}/art/2025/3/{i + 1}/art_4296_{90000 - i}.html": date(2025, 3, i + 1) for i in range(3)}
    items = listing_dates(jpaas_page(["/col/col1/content/content_1790000000000000001.html"]), BASE)
    assert items == {f"{BASE}/col/col1/content/content_1790000000000000001.html": date(2025, 6, 1)}


def test_a_plain_page_has_no_script_articles_and_no_cms() -> None:
    html = page('<ul><li><a href="/a/1.html">一</a></li></ul><script>var x = {"url": "/b.html"};</script>')
    assert script_article_urls(html, BASE) == []
    assert cms_of(html) == ""
    assert next_listing_urls(html, BASE + "/a/") == []


# --------------------------------------------------------------------------- each replica, crawled

PATTERN_SITES = {"hanweb": build_hanweb, "jpaas": build_jpaas, "trs": build_trs, "pagenum": build_pagenum}
# (site, start path, the article paths of that column)
COLUMNS = {
    "hanweb": ("hanweb", hanweb.COLUMN, "/art/"),
    "jpaas": ("jpaas", jpaas.COLUMN, "/col/col12345/content/"),
    "trs": ("trs", trs.COLUMN + "index.html", trs.COLUMN + "20"),
    "pagenum-query": ("pagenum", pagenum.NOTICES + "list.jsp", pagenum.NOTICES + "20"),
}


@pytest.fixture(scope="module")
def pattern_sites() -> Iterator[ReplicaSites]:
    with ReplicaSites(sites={name: build() for name, build in PATTERN_SITES.items()}) as running:
        yield running


def minimal_config(directory: Path, db_url: str, sources: dict[str, str], **extra: object) -> Path:
    """A config of sources given only a name, ``kind``, start URL and schedule (plus ``extra``)."""
    path = directory / "radar.yaml"
    path.write_text(yaml.safe_dump({
        "settings": {"database_url": db_url, "workers": 0,
                     "scrapy": {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 8,
                                "CONCURRENT_REQUESTS_PER_DOMAIN": 8}},
        "sources": [{"name": name, "kind": "listing", "start_urls": [url], "schedule": "every: 1h", **extra}
                    for name, url in sources.items()]}, allow_unicode=True), encoding="utf-8")
    return path


def column_articles(sites: ReplicaSites, site: str, prefix: str) -> set[str]:
    return {sites.urls[site] + path for path, page in sites.pages(site).items()
            if isinstance(page, Resource) and page.expected and path.startswith(prefix)}


def stored_urls(db_url: str) -> set[str]:
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        urls = set(s.scalars(select(ArticleRow.url)))
    engine.dispose()
    return urls


@dataclass
class Crawled:
    """Two crawls of every column into one database: what each stored and fetched."""

    db: str
    first: set[str]
    second: set[str]
    refetched: list[str]
    challenges: dict[str, int]  # challenge pages met, per source, over both crawls


@pytest.fixture(scope="module")
def crawled(pattern_sites: ReplicaSites, tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    directory = tmp_path_factory.mktemp("patterns")
    db = f"sqlite:///{directory / 'radar.sqlite3'}"
    config = minimal_config(directory, db, {name: pattern_sites.urls[site] + start
                                            for name, (site, start, _prefix) in COLUMNS.items()})
    first = radar("--config", str(config), "crawl")
    assert first.returncode == 0, first.stderr + first.stdout
    stored = stored_urls(db)
    mark = len(pattern_sites.requests)
    again = radar("--config", str(config), "crawl")
    assert again.returncode == 0, again.stderr
    refetched = [path for _site, path in pattern_sites.requests[mark:]
                 if any(path.startswith(prefix) for _s, _start, prefix in COLUMNS.values())]
    engine, factory = open_database(db, migrate_schema=False)
    with factory() as s:
        challenges: dict[str, int] = {}
        for run in s.scalars(select(CrawlRunRow)):
            challenges[run.source] = challenges.get(run.source, 0) + run.challenges
    engine.dispose()
    return Crawled(db, stored, stored_urls(db), refetched, challenges)


@pytest.mark.parametrize("column", list(COLUMNS))
def test_each_pattern_crawls_completely_from_a_minimal_entry(pattern_sites: ReplicaSites, crawled: Crawled,
                                                             column: str) -> None:
    """Start URL and kind only: no allow, no next_page. Every article of the column is stored;
    a second crawl fetches no article again and stores nothing."""
    site, _start, prefix = COLUMNS[column]
    expected = column_articles(pattern_sites, site, prefix)
    assert len(expected) >= 12
    base = pattern_sites.urls[site]
    assert {u for u in crawled.first if u.startswith(base + prefix)} == expected
    assert not [p for p in crawled.refetched if p.startswith(prefix)]
    assert crawled.second == crawled.first
    assert crawled.challenges[column] == 0  # the jpaas page's 瑞数 head markers do not make it a challenge
