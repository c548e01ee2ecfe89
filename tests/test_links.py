"""Article-link inference (crawler.extraction.links.infer_allow): on the replica sites' listing
pages, and on pages in the shapes the common CMSs give (Hanweb JCMS and jpaas, TRS, query ids)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from crawler.extraction.links import infer_allow, page_links
from crawler.replica.sites import build_sites
from storage.db import open_database
from storage.models import ArticleRow, ArticleUrlRow, CrawlRunRow
from tests.e2e import radar, write_config

BASE = "http://127.0.0.1:8000"
CHROME = """<div class="header"><a href="/index.html">网站首页</a> <a href="/col/col1/index.html">政务公开</a>
<a href="/col/col2/index.html">新闻中心</a> <a href="/col/col3/index.html">政策文件</a></div>
<ul class="nav"><li><a href="/zwgk/index.html">政务公开</a></li><li><a href="/art/about.html">关于我们</a></li></ul>"""
FOOTER = """<div class="footer"><a href="/art/2024/1/1/art_9_1.html">网站地图</a> <a href="/admin/login.html">管理</a>
<a href="https://beian.miit.gov.cn/">赣ICP备05004127号</a></div>"""


def _listing(items: list[str], pager: str = "") -> str:
    rows = "\n".join(f'<li><a href="{href}" title="关于第{i}项工作的通知">关于第{i}项重点工作的实施意见通知</a>'
                     f"<span>2024-12-0{i % 9 + 1}</span></li>" for i, href in enumerate(items))
    return (f"<html><head><title>通知公告</title></head><body>{CHROME}<div class='main'><ul class='list'>"
            f"{rows}</ul><div class='page'>{pager}</div></div>{FOOTER}</body></html>")


def _replica_links(site: str, path: str) -> tuple[str, str]:
    resource = build_sites()[site][path]
    return resource.body.decode("gbk" if site == "gov" else "utf-8"), BASE + path


@pytest.mark.parametrize(("site", "path", "articles"), [
    ("gov", "/zwgk/zcwj/index.html", 1),
    ("gov", "/zwgk/zcwj/index_1.html", 1),
    ("news", "/jxxw/index.html", 2),
    ("park", "/news/list_1.html", 4),
    ("park", "/news/list_2.html", 4),
    ("epaper", "/html/2024-01/30/node_6.htm", 7),
])
def test_replica_listings_give_their_articles_and_not_their_nav(site: str, path: str, articles: int) -> None:
    html, url = _replica_links(site, path)
    allow = infer_allow(html, url)
    assert allow is not None
    pages = build_sites()[site]
    linked = {link for link, *_ in page_links(html, url)}
    matched = {link for link in linked if re.search(allow, link)}
    # every matched link is an article page of the site (the replica serves it, and it is no
    # listing), and the page's article count is reached
    assert len(matched) == articles
    for link in linked:
        path_of = link.removeprefix(BASE)
        is_article = path_of in pages and "index" not in path_of and "list_" not in path_of \
            and "node_" not in path_of and path_of.count("/") > 2
        assert bool(re.search(allow, link)) == is_article, (link, allow)


@pytest.mark.parametrize(("items", "pager", "article", "not_article"), [
    # Hanweb JCMS: /art/Y/M/D/art_<column>_<id>.html, columns /col/colN/index.html
    ([f"/art/2024/12/{d}/art_1234_{5678 + d}.html" for d in range(1, 9)],
     '<a href="/col/col1/index.html?pageNum=2">下一页</a>',
     "/art/2025/1/31/art_1234_99999.html", "/col/col1/index.html"),
    # TRS WCM: ./YYYYMM/tYYYYMMDD_id.html, pages index_N.html
    ([f"./202412/t2024120{d}_{4000000 + d}.html" for d in range(1, 9)], '<a href="index_1.html">下一页</a>',
     "/news/202501/t20250102_5000001.html", "/news/index_1.html"),
    # a query id with ?page=N pagination
    ([f"/content.jsp?id={100 + d}&cat=5" for d in range(8)], '<a href="/list.jsp?page=2&cat=5">2</a>',
     "/content.jsp?id=4711&cat=5", "/list.jsp?page=3&cat=5"),
    # a post id
    ([f"/content/post_{7000 + d}.html" for d in range(8)], '<a href="/content/index_2.html">2</a>',
     "/content/post_123456.html", "/content/index_3.html"),
    # a 32-hex-digit id under a month (radar.example.yaml's ganzhou-gov), pages list_N.shtml
    ([f"/zfxxgk/c100444/20220{d}/{hashlib.md5(bytes([d])).hexdigest()}.shtml" for d in range(1, 9)],
     '<a href="/zfxxgk/c100444/list_2.shtml">下一页</a>',
     "/zfxxgk/c100444/202501/0a1b2c3d4e5f60718293a4b5c6d7e8f9.shtml", "/zfxxgk/c100444/list_3.shtml"),
])
def test_cms_shapes(items: list[str], pager: str, article: str, not_article: str) -> None:
    allow = infer_allow(_listing(items, pager), BASE + "/news/index.html")
    assert allow is not None
    assert re.search(allow, BASE + article)
    assert not re.search(allow, BASE + not_article)
    for nav in ("/index.html", "/col/col2/index.html", "/zwgk/index.html", "/art/about.html", "/admin/login.html"):
        assert not re.search(allow, BASE + nav), nav


def test_hanweb_datastore_records_in_a_script() -> None:
    records = "".join(f"<record><![CDATA[<li><a href='/art/2024/12/{d}/art_1539_{900 + d}.html' target='_blank'"
                      f" title='关于开展第{d}批项目申报的通知'>关于开展第{d}批项目申报的通知</a>"
                      f"<span>2024-12-{d:02d}</span></li>]]></record>" for d in range(1, 16))
    html = (f"<html><body>{CHROME}<div id='1539'><script type='text/xml'><datastore><nextgroup><![CDATA[<a href="
            f"'/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=1&path=/&columnid=1539&unitid=1&webname=x"
            f"&permissiontype=0'></a>]]></nextgroup><recordset>{records}</recordset></datastore></script></div>"
            f"{FOOTER}</body></html>")
    allow = infer_allow(html, BASE + "/col/col1539/index.html")
    assert allow == r"/art/\d+/\d+/\d+/art_\d+_\d+\.html$"
    assert not re.search(allow, BASE + "/module/web/jpage/dataproxy.jsp?page=1&columnid=1539")


def test_jpaas_article_list_in_a_script() -> None:
    ids = [f"17{n:017d}" for n in range(20)]
    array = ",".join(f'{{title:"第{n}条动态信息标题",url:"/col/col27584/content/content_{i}.html",time:"2024-12-03"}}'
                     for n, i in enumerate(ids))
    html = (f"<html><body>{CHROME}<div id='list'></div><script>var data = {{articleList:[{array}]}};</script>"
            f"{FOOTER}</body></html>")
    allow = infer_allow(html, BASE + "/col/col27584/index.html?uid=4567&pageNum=1")
    assert allow == r"/col/col\d+/content/content_\d+\.html$"
    assert re.search(allow, BASE + f"/col/col27584/content/content_{'1' * 19}.html")
    assert not re.search(allow, BASE + "/col/col27584/index.html?uid=4567&pageNum=2")


def test_a_page_of_navigation_only_gives_none() -> None:
    assert infer_allow(_listing([]), BASE + "/news/index.html") is None
    assert infer_allow("", BASE + "/") is None


def test_other_hosts_and_scripts_schemes_are_not_links() -> None:
    html = ("<a href='javascript:;'>x</a><a href=' mailto : a@b.cn'>mail</a>"
            "<a href='https://other.example/a/1.html'>其他网站的一篇很长的文章标题</a>"
            "<script>var u = '/api/@@=value.url$$';</script><a href='/a/2.html#top'>本站文章</a>")
    assert [link for link, *_ in page_links(html, BASE + "/")] == [BASE + "/a/2.html"]


#: real saved pages (GeneralNewsExtractor's test pages, GPL-3.0: /work/shared/pages/gne/SOURCE.md),
#: with the URL each was saved from and how many of its links are articles and how many are not
#: (counted by reading them: section, home, contact and copyright links are not)
GNE = Path("/work/shared/pages/gne")
REAL = [
    ("cjn-1.html", "http://news.cjn.cn/sywh/202010/t3714581.htm", 31, 9),  # four channels' t123.htm
    ("xinhuanet-1.html", "http://www.xinhuanet.com/world/2019-12/10/c_1125327450.htm", 18, 5),
    ("hexun-1.html", "https://stock.hexun.com/2019-09-26/198678130.html", 12, 7),
]


@pytest.mark.parametrize(("name", "url", "articles", "others"), REAL)
def test_real_pages_give_their_article_links_and_not_their_nav(name: str, url: str, articles: int,
                                                                others: int) -> None:
    html = (GNE / name).read_bytes().decode("utf-8", "replace")
    allow = infer_allow(html, url)
    assert allow is not None
    links = list(page_links(html, url))
    matched = [(link, text) for link, text, *_ in links if re.search(allow, link)]
    unmatched = [(link, text) for link, text, *_ in links if not re.search(allow, link)]
    assert (len(matched), len(unmatched)) == (articles, others)
    assert all(len(text) >= 6 for _link, text in matched)  # titles
    assert all(len(text) <= 5 for _link, text in unmatched)  # 新闻, 首页, 联系我们 …


def test_demo_sites_crawl_completely_without_allow(replica: Any, tmp_path: Path) -> None:
    """The demo's sources with their ``allow`` removed store every article page their sites
    serve (the ones the given patterns name), and each run keeps the pattern inferred."""
    db = tmp_path / "radar.db"
    config = write_config(replica.urls, f"sqlite:///{db}", tmp_path)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    sites = {"ganzhou-gov": "gov", "jxnews": "news", "cnip-park": "park", "jxdaily-epaper": "epaper"}
    given = {s["name"]: s.pop("allow") for s in data["sources"]}
    expected = {(name, replica.urls[site] + path) for name, site in sites.items()
                for path in build_sites()[site] if re.search(given[name], path)}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    done = radar("--config", str(config), "crawl")
    assert done.returncode == 0, done.stderr
    engine, factory = open_database(f"sqlite:///{db}", migrate_schema=False)
    with factory() as s:
        stored = set(s.execute(select(ArticleUrlRow.source, ArticleUrlRow.url)).all())
        inferred = {run.source: run.stats.get("radar/inferred_allow") for run in s.scalars(select(CrawlRunRow))}
        tagged = set(s.execute(select(ArticleRow.source, ArticleRow.tags)).all())  # the sources' tags: stored
    engine.dispose()
    assert tagged == {("ganzhou-gov", ",policy,"), ("jxnews", ",news,"), ("cnip-park", ",investment,"),
                      ("jxdaily-epaper", ",epaper,")}
    assert len(expected) > 10 and stored == expected
    assert inferred == {"ganzhou-gov": r"/zwgk/zcwj/\d+/t\d+_\d+\.html$", "jxnews": r"/system/\d+/\d+/\d+/\d+\.shtml$",
                        "cnip-park": r"/news/\d+-\d+-\d+/\d+\.html$",
                        "jxdaily-epaper": r"/html/\d+-\d+/\d+/content_\d+_\d+\.htm$"}
