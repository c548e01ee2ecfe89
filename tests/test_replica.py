"""The replica sites over real HTTP on 127.0.0.1: robots, pagination, encodings, attachments,
e-paper continuations, conditional GET, run-time page changes, and that every seed text is served."""

from __future__ import annotations

import io
import re
import socket
import urllib.robotparser
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from importlib import resources
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import docx
import lxml.html
import pytest
import requests
import yaml

from crawler.replica import ReplicaSites, build_sites, demo_config, demo_config_text
from crawler.replica.docx_builder import task_table_docx
from crawler.replica.resource import CST, DOCX
from crawler.replica.seeds import SEED_FILES, ganzhou_plan, read_seed
from crawler.replica.text import blocks

WS = re.compile(r"\s+")
TIMEOUT = 5


def squash(text: str) -> str:
    return WS.sub("", text)


@pytest.fixture(scope="module")
def sites() -> Iterator[ReplicaSites]:
    with ReplicaSites() as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get(http: requests.Session, url: str, **kwargs: object) -> requests.Response:
    response = http.get(url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
    return response


def tree(response: requests.Response, encoding: str = "utf-8") -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.content.decode(encoding))


def text_of(el: lxml.html.HtmlElement) -> str:
    return str(el.text_content())


def follow_next(http: requests.Session, start: str, encoding: str = "utf-8") -> list[requests.Response]:
    """Fetch ``start`` and every page reached through ``a.next`` links."""
    pages, url, seen = [], start, set()
    while url and url not in seen:
        seen.add(url)
        response = get(http, url)
        assert response.status_code == 200, url
        pages.append(response)
        nxt = tree(response, encoding).xpath('//a[contains(concat(" ", @class, " "), " next ")]/@href')
        url = urljoin(url, nxt[0]) if nxt else ""
    return pages


def demo_sources(sites: ReplicaSites) -> dict[str, dict[str, object]]:
    data = yaml.safe_load(demo_config_text(sites.urls))
    return {s["name"]: s for s in data["sources"]}


# --------------------------------------------------------------------------- every site


@pytest.mark.parametrize("site", ["gov", "news", "park", "epaper"])
def test_robots_txt_disallows_a_linked_url(sites: ReplicaSites, http: requests.Session, site: str) -> None:
    base = sites.urls[site]
    response = get(http, f"{base}/robots.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "User-agent: *" in response.text
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(response.text.splitlines())
    # some page of the site links to a URL robots.txt forbids (a polite crawler must skip it)
    hrefs = {
        href
        for page in build_sites()[site].values()
        if page.content_type.startswith("text/html")
        for href in re.findall(rb'href="([^"]+)"', page.body)
    }
    forbidden = [h.decode() for h in hrefs if not parser.can_fetch("*", urljoin(base + "/", h.decode()))]
    assert forbidden, f"{site} links to no disallowed URL"
    assert all(urlsplit(h).path.startswith(("/admin/", "/search/")) for h in forbidden)
    assert parser.can_fetch("*", f"{base}/index.html")


def test_requests_are_recorded_with_query(sites: ReplicaSites, http: requests.Session) -> None:
    get(http, f"{sites.urls['news']}/search/?q=jiangxi")
    assert ("news", "/search/?q=jiangxi") in sites.requests


@pytest.mark.parametrize("site", ["gov", "news", "park", "epaper"])
def test_unknown_path_is_a_404_page(sites: ReplicaSites, http: requests.Session, site: str) -> None:
    response = get(http, f"{sites.urls[site]}/no/such/page.html")
    assert response.status_code == 404
    assert "404" in response.content.decode("gbk" if site == "gov" else "utf-8")
    assert "ETag" not in response.headers


def test_build_is_deterministic_and_cached() -> None:
    first, second = build_sites(), build_sites()
    assert first == second
    first["gov"]["/extra"] = first["gov"]["/robots.txt"]
    assert "/extra" not in build_sites()["gov"]  # callers get their own dicts
    plan = ganzhou_plan()
    when = datetime(2022, 3, 10, tzinfo=CST)
    assert task_table_docx(plan, when) == task_table_docx(plan, when)


def test_seed_copies_ship_with_the_package() -> None:
    folder = resources.files("crawler.replica") / "seeds"
    for name in [*SEED_FILES.values(), "README.md"]:
        text = (folder / name).read_text(encoding="utf-8")
        original = Path(__file__).resolve().parents[2] / "shared" / "seeds" / name
        if original.exists():
            assert text == original.read_text(encoding="utf-8"), name
    assert "copies" in (folder / "NOTICE.md").read_text(encoding="utf-8")


def test_article_answers_match_served_text() -> None:
    """Every article's recorded answer (title, body) is what its page shows."""
    count = 0
    for site, pages in build_sites().items():
        for path, page in pages.items():
            if page.expected is None:
                continue
            count += 1
            html = page.body.decode("gbk" if site == "gov" else "utf-8")
            doc = lxml.html.fromstring(html)
            assert text_of(doc.xpath("//h1")[0]).strip() == page.expected["title"], path
            shown = squash(text_of(doc))
            for line in page.expected["body"].splitlines():
                assert squash(line) in shown, (path, line[:30])
    assert count == 2 + 3 + 10 + 12


# --------------------------------------------------------------------------- gov


def test_gov_listing_paginates_to_every_document(sites: ReplicaSites, http: requests.Session) -> None:
    src = demo_sources(sites)["ganzhou-gov"]
    start = src["start_urls"][0]  # type: ignore[index]
    pages = follow_next(http, start, "gbk")
    assert len(pages) >= 2
    assert [urlsplit(p.url).path.rsplit("/", 1)[1] for p in pages] == ["index.html", "index_1.html"]
    docs = []
    for page in pages:
        doc = tree(page, "gbk")
        assert f"共{len(pages)}页" in text_of(doc)
        for href in doc.xpath('//ul[@class="list"]//a/@href'):
            url = urljoin(page.url, href)
            assert re.search(str(src["allow"]), urlsplit(url).path), url
            docs.append(url)
    assert len(docs) == 2
    assert not tree(pages[-1], "gbk").xpath('//a[@class="next"]')


def test_gov_pages_are_gbk_bytes(sites: ReplicaSites, http: requests.Session) -> None:
    page = get(http, f"{sites.urls['gov']}/zwgk/zcwj/202203/t20220315_3915678.html")
    assert page.headers["Content-Type"] == "text/html"  # no charset: only the <meta> tells
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">' in page.content
    with pytest.raises(UnicodeDecodeError):
        page.content.decode("utf-8")
    text = page.content.decode("gbk")
    assert "关于进一步做优做strong".replace("strong", "强") in text
    assert "赣市发〔2022〕5号" in text
    assert "关于进一步做优做强数字经济的实施方案".encode("gbk") in page.content


def test_gov_document_page_has_cms_metadata(sites: ReplicaSites, http: requests.Session) -> None:
    page = get(http, f"{sites.urls['gov']}/zwgk/zcwj/202203/t20220315_3915678.html")
    doc = tree(page, "gbk")

    def meta(name: str) -> str:
        return str(doc.xpath(f'//meta[@name="{name}"]/@content')[0])

    title = "中共赣州市委 赣州市人民政府印发《关于进一步做优做强数字经济的实施方案》的通知"
    assert meta("ArticleTitle") == title == text_of(doc.xpath("//h1")[0])
    assert meta("PubDate") == "2022-03-15 10:20"
    assert meta("ColumnName") == "政策文件"
    assert meta("ContentSource")
    cells = [squash(text_of(c)) for c in doc.xpath('//table[@class="xxgk-table"]//*[self::th or self::td]')]
    info = dict(zip(cells[::2], cells[1::2], strict=True))
    assert info["发文字号："] == "赣市发〔2022〕5号"
    assert info["索引号："] == "014500000/2022-00123"
    assert info["发文机关："] == "中共赣州市委赣州市人民政府"
    assert info["发布日期："] > info["成文日期："]
    assert "当前位置：首页>政务公开>政策文件" in squash(text_of(doc))
    for piece in (
        "打印本页",
        "关闭窗口",
        "相关链接",
        "上一篇",
        "下一篇",
        "网站标识码",
        "赣ICP备05004127号",
        "公安备案",
    ):
        assert piece in text_of(doc), piece
    body = doc.xpath('//div[@class="TRS_Editor"]')[0]
    assert len(body.xpath("./p")) > 50
    rows = body.xpath(".//table//tr")
    numbered = [r for r in rows if squash(text_of(r.xpath("./td")[0])).isdigit()]
    assert len(numbered) == 46
    assert [text_of(c) for c in rows[0].xpath("./td")] == ["序号", "工作任务", "主要内容", "牵头单位", "责任单位"]
    assert sum("序号" in text_of(r) for r in rows) == 1  # scan's repeated header rows are gone


def test_gov_and_news_pages_keep_all_seed_text(sites: ReplicaSites, http: requests.Session) -> None:
    gov = squash(text_of(tree(get(http, f"{sites.urls['gov']}/zwgk/zcwj/202203/t20220315_3915678.html"), "gbk")))
    lines = read_seed("ganzhou").splitlines()
    for block in blocks("\n".join(line for line in lines if "\t" not in line)):
        assert squash(block).replace("**", "") in gov, block[:30]
    for line in lines:
        if "\t" in line:
            assert all(squash(cell) in gov for cell in line.split("\t")), line[:30]
    news = tree(get(http, f"{sites.urls['news']}/system/2022/02/10/019543210.shtml"))
    content = squash(text_of(news.xpath('//div[@id="content"]')[0]))
    seed = read_seed("dajiang")
    for inner in re.findall(r"<p>(.*?)</p>", seed, re.S):
        assert squash(re.sub(r"</?strong>", "", inner)) in content


def test_gov_rules_document_is_its_own_page(sites: ReplicaSites, http: requests.Session) -> None:
    page = get(http, f"{sites.urls['gov']}/zwgk/zcwj/202308/t20230816_4587216.html")
    doc = tree(page, "gbk")
    assert text_of(doc.xpath("//h1")[0]) == "江西省乡村振兴责任制实施细则"
    assert "中共江西省委办公厅 江西省人民政府办公厅" in text_of(doc.xpath('//table[@class="xxgk-table"]')[0])
    body = text_of(doc.xpath('//div[@class="TRS_Editor"]')[0])
    assert "第二十五条 本细则自发布之日起施行。" in body
    assert "上接第1版" not in body and "巡回指导组" not in body
    assert not doc.xpath('//a[contains(@href, ".docx")]')


def test_gov_docx_attachment_holds_the_task_table(sites: ReplicaSites, http: requests.Session) -> None:
    url = f"{sites.urls['gov']}/zwgk/zcwj/202203/t20220315_3915678.html"
    href = tree(get(http, url), "gbk").xpath('//div[@class="fujian"]//a/@href')[0]
    attachment = get(http, urljoin(url, href))
    assert attachment.status_code == 200
    assert urlsplit(attachment.url).path == "/zwgk/zcwj/202203/P0202203153915678.docx"
    assert attachment.headers["Content-Type"] == DOCX
    document = docx.Document(io.BytesIO(attachment.content))
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["序号", "工作任务", "主要内容", "牵头单位", "责任单位"]
    numbered = [r for r in table.rows if r.cells[0].text.isdigit()]
    assert [int(r.cells[0].text) for r in numbered] == list(range(1, 47))
    assert numbered[1].cells[1].text == "(一) 构筑资源承载新高地"  # merged down from row 1
    assert "积极承接基础数据处理" in numbered[1].cells[2].text
    assert any(p.text == "重点任务清单责任分工表" for p in document.paragraphs)


# --------------------------------------------------------------------------- news


def test_news_listing_and_article_layout(sites: ReplicaSites, http: requests.Session) -> None:
    src = demo_sources(sites)["jxnews"]
    pages = follow_next(http, src["start_urls"][0])  # type: ignore[index]
    assert [urlsplit(p.url).path for p in pages] == ["/jxxw/index.html", "/jxxw/index_2.html"]
    urls = [urljoin(p.url, h) for p in pages for h in tree(p).xpath('//ul[@class="newslist"]//a/@href')]
    assert len(urls) == 3
    assert all(re.search(str(src["allow"]), u) for u in urls)
    doc = tree(get(http, f"{sites.urls['news']}/system/2022/02/10/019543210.shtml"))
    assert text_of(doc.xpath("//h1")[0]) == "江西在全省布局建设100个数字经济集聚区"
    info = text_of(doc.xpath('//div[@class="info"]')[0])
    assert info == "2022-02-10 17:07:04 来源：大江网"  # no author: the seed names none
    content = doc.xpath('//div[@id="content"]')[0]
    assert content.get("class") == "content"
    assert "在南昌九龙湖打造元宇宙试验区" in [text_of(s) for s in content.xpath("./p/strong")]
    assert "文章来源" not in text_of(content)
    page_text = text_of(doc)
    for piece in ("责任编辑", "分享到", "上一篇", "下一篇", "相关新闻", "ICP备"):
        assert piece in page_text, piece


def test_news_reposts_park_stories_later_and_edited(sites: ReplicaSites, http: requests.Session) -> None:
    news, park = build_sites()["news"], build_sites()["park"]
    pairs = [
        ("/system/2025/07/02/020911734.shtml", "富乐德·长飞半导体项目落户黄冈 助力现代产业集群构建"),
        ("/system/2025/07/02/020911735.shtml", "杭州进出口规模突破7000亿元 外贸高质量发展再谱新篇"),
    ]
    for path, park_title in pairs:
        original = next(r.expected for r in park.values() if r.expected and r.expected["title"] == park_title)
        doc = tree(get(http, sites.urls["news"] + path))
        repost = news[path].expected
        assert repost is not None and original is not None
        assert "来源：产业园区网" in text_of(doc.xpath('//div[@class="info"]')[0])
        assert repost["title"] != original["title"] and park_title.startswith(repost["title"])
        delay = repost["published_at"] - original["published_at"]
        assert timedelta(hours=2) < delay < timedelta(hours=8)
        body = text_of(doc.xpath('//div[@id="content"]')[0])
        assert f"（原标题：{park_title}）" in body
        assert squash(original["body"]) != squash(body)
        # edited, not rewritten: everything but the added line is the original's text
        kept = [line for line in repost["body"].splitlines() if not line.startswith("（原标题")]
        assert all(squash(line) in squash(original["body"]) for line in kept)
        assert len(squash("".join(kept))) > 0.7 * len(squash(original["body"]))


def test_news_sidebar_carries_other_articles_headlines(sites: ReplicaSites, http: requests.Session) -> None:
    doc = tree(get(http, f"{sites.urls['news']}/system/2022/02/10/019543210.shtml"))
    side = [text_of(a) for a in doc.xpath('//div[contains(@class, "related")]//a')]
    signing = "富乐德·长飞半导体项目落户黄冈 助力现代产业集群构建"
    assert signing in side
    assert "签约" not in text_of(doc.xpath('//div[@id="content"]')[0])


# --------------------------------------------------------------------------- park


def seed_park_items() -> list[tuple[str, str]]:
    """(title, full text) of each item, read straight from seed 003's lines."""
    lines = [line.strip() for line in read_seed("park").splitlines()]
    return [
        (line.lstrip("• "), lines[i + 2])
        for i, line in enumerate(lines)
        if line.startswith("•") and i + 4 < len(lines) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", lines[i + 4])
    ]


def test_park_listing_pages_link_every_seed_item(sites: ReplicaSites, http: requests.Session) -> None:
    src = demo_sources(sites)["cnip-park"]
    pages = follow_next(http, src["start_urls"][0])  # type: ignore[index]
    assert [urlsplit(p.url).path for p in pages] == ["/news/list_1.html", "/news/list_2.html", "/news/list_3.html"]
    listed: dict[str, str] = {}
    for page in pages:
        doc = tree(page)
        assert "共 3 页" in text_of(doc)
        items = doc.xpath('//li[@class="news-item"]')
        assert 1 <= len(items) <= 4
        for item in items:
            link = item.xpath(".//h3/a")[0]
            summary = text_of(item.xpath('.//p[@class="summary"]')[0])
            assert summary.endswith("…") and 100 <= len(summary) <= 130
            assert text_of(item.xpath('.//span[@class="date"]')[0]) == "2025-07-02"
            listed[text_of(link)] = urljoin(page.url, link.get("href"))
    seed = seed_park_items()
    assert len(seed) == 10
    assert sorted(listed) == sorted(title for title, _ in seed)
    for title, full_text in seed:
        url = listed[title]
        assert re.search(str(src["allow"]), url)
        doc = tree(get(http, url))
        assert text_of(doc.xpath("//h1")[0]) == title
        info = text_of(doc.xpath('//div[@class="article-info"]')[0])
        assert "2025-07-02" in info and "来源：产业园区网" in info
        paragraphs = [text_of(p) for p in doc.xpath('//div[@class="article-content"]/p')]
        # the full seed text, only re-paragraphed (the repeated title opening the text is the h1)
        assert squash("".join(paragraphs)) == squash(full_text.removeprefix(title))
        assert len(paragraphs) >= 4
        assert max(map(len, paragraphs)) < 1500


def test_park_reports_are_split_at_section_markers(http: requests.Session, sites: ReplicaSites) -> None:
    doc = tree(get(http, f"{sites.urls['park']}/news/2025-07-02/40318.html"))
    paragraphs = [text_of(p) for p in doc.xpath('//div[@class="article-content"]/p')]
    assert paragraphs[:2] == ["2022年1月5日在鄂州市第九届人民代表大会第一次会议上", "市长陈平"]
    assert paragraphs[2].startswith("各位代表:")
    heads = [p[:2] for p in paragraphs if re.match(r"^[一二三]、", p)]
    assert heads[:3] == ["一、", "二、", "三、"]
    assert len(paragraphs) > 60


def test_park_submission_rules_only_inside_hidden_modal(sites: ReplicaSites, http: requests.Session) -> None:
    rules = [
        "我已阅读并同意《投稿须知》",
        "一、产业园区网投稿信息内容规范",
        "二、违约责任",
        "2.3“产业园区网”尊重并保护法人",
    ]
    paths = [p for p, r in build_sites()["park"].items() if r.content_type.startswith("text/html")]
    for path in paths:
        doc = tree(get(http, sites.urls["park"] + path))
        modals = doc.xpath('//div[contains(concat(" ", @class, " "), " modal ")]')
        assert len(modals) == 1, path
        modal = modals[0]
        assert "display:none" in modal.get("style", "").replace(" ", "")
        for rule in rules:
            assert rule in text_of(modal)
        modal.getparent().remove(modal)
        rest = text_of(doc)
        assert not any(rule in rest for rule in rules), path
        assert "投稿须知" not in rest
        assert "400-162-2002" in rest  # the hotline boxes stay visible


# --------------------------------------------------------------------------- e-paper


def crawl_epaper(sites: ReplicaSites, http: requests.Session) -> dict[str, lxml.html.HtmlElement]:
    """Story pages reached from the index through 版面 pages, as the demo config describes."""
    src = demo_sources(sites)["jxdaily-epaper"]
    pages_re, allow_re = re.compile(str(src["pages"])), re.compile(str(src["allow"]))
    queue, seen, stories = [src["start_urls"][0]], set(), {}  # type: ignore[index]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        doc = tree(get(http, url))
        if allow_re.search(urlsplit(url).path):
            stories[urlsplit(url).path] = doc
        for href in doc.xpath("//a/@href"):
            target = urljoin(url, href)
            path = urlsplit(target).path
            if target.startswith(sites.urls["epaper"]) and (pages_re.search(path) or allow_re.search(path)):
                queue.append(target)
    return stories


def test_epaper_issues_pages_and_continuations(sites: ReplicaSites, http: requests.Session) -> None:
    index = tree(get(http, f"{sites.urls['epaper']}/index.html"))
    issues = index.xpath('//div[@class="past-issues"]//a/@href')
    assert issues == ["/html/2024-01/30/node_1.htm", "/html/2023-08/15/node_1.htm"]
    stories = crawl_epaper(sites, http)
    assert len(stories) == 12
    node = tree(get(http, f"{sites.urls['epaper']}/html/2023-08/15/node_1.htm"))
    assert [text_of(a) for a in node.xpath('//div[@class="bmdh"]//a')] == ["第01版：要闻", "第03版：要闻"]

    def paragraphs(doc: lxml.html.HtmlElement) -> list[str]:
        return [text_of(p) for p in doc.xpath('//div[@id="ozoom"]/founder-content/p')]

    front = stories["/html/2023-08/15/content_1_1.htm"]
    assert paragraphs(front)[-1] == "（下转第3版）"
    title = text_of(front.xpath("//h1")[0])
    back = [
        doc
        for path, doc in stories.items()
        if "/2023-08/15/content_3_" in path and text_of(doc.xpath("//h1")[0]) == title
    ]
    assert len(back) == 1 and paragraphs(back[0])[0] == "（上接第1版）"
    assert "第03版：要闻 2023年08月15日 星期二" in text_of(back[0].xpath('//div[@class="bmnum"]')[0])
    continued = [p for p in stories.values() if paragraphs(p)[-1:] == ["（下转第3版）"]]
    resumed = [p for p in stories.values() if paragraphs(p)[:1] == ["（上接第1版）"]]
    assert len(continued) == len(resumed) == 2
    rules = [d for d in stories.values() if text_of(d.xpath("//h1")[0]) == "江西省乡村振兴责任制实施细则"]
    assert len(rules) == 1


def test_epaper_keeps_every_seed_paragraph(sites: ReplicaSites, http: requests.Session) -> None:
    stories = crawl_epaper(sites, http)
    served = "".join(
        squash(text_of(h))
        for doc in stories.values()
        for h in doc.xpath('//div[@class="banner"]|//h1|//h2|//h3|//founder-content')
    )
    for key in ("epaper_2023", "qingshanhu"):
        for block in blocks(read_seed(key)):
            assert squash(block) in served, block[:40]
    special = [p for p in stories if "/2024-01/30/content_6_" in p]
    assert len(special) == 7
    section = stories["/html/2024-01/30/content_6_2.htm"]
    assert text_of(section.xpath("//h1")[0]) == "线上线下联动"
    assert text_of(section.xpath("//h2")[0]) == "文旅市场加速出圈"


# --------------------------------------------------------------------------- HTTP behaviour


def test_conditional_get_and_head(sites: ReplicaSites, http: requests.Session) -> None:
    url = f"{sites.urls['park']}/news/list_1.html"
    first = get(http, url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.status_code == 200 and etag.startswith('"')
    assert get(http, url, headers={"If-None-Match": etag}).status_code == 304
    assert get(http, url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert get(http, url, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(days=1), usegmt=True)
    assert get(http, url, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match wins over If-Modified-Since
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert get(http, url, headers=both).status_code == 200
    head = http.head(url, timeout=TIMEOUT)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(first.content))
    assert head.headers["ETag"] == etag


def _exchange(url: str, raw: bytes) -> bytes:
    """Send ``raw`` on one connection to the site at ``url``; everything it answers until it
    closes the connection."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as conn:
        conn.sendall(raw)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def test_one_connection_carries_requests_in_order_until_it_is_closed(sites: ReplicaSites) -> None:
    """Kept alive as HTTP/1.1 says: pipelined requests are answered in order, and the
    connection closes after a request that asks for it; what is not GET or HEAD, or not HTTP,
    gets an error."""
    url = sites.urls["park"]
    host = urlsplit(url).netloc.encode()
    raw = (b"GET /news/list_1.html HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
           b"HEAD /nowhere.html HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"
           b"POST /news/list_1.html HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 3\r\n\r\nabc"
           b"GET /robots.txt HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
           b"GET /news/list_1.html HTTP/1.1\r\n\r\n")  # after the close: never answered
    answers = _exchange(url, raw)
    statuses = re.findall(rb"^HTTP/1\.1 (\d{3}) ", answers, re.M)
    assert statuses == [b"200", b"404", b"501", b"200"]
    page = sites.pages("park")["/news/list_1.html"]
    assert answers.count(page.body) == 1  # the HEAD and the 404 carried no page body
    assert answers.endswith(sites.pages("park")["/robots.txt"].body)
    assert _exchange(url, b"not http at all\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request\r\n")
    # HTTP/1.0 closes after one answer unless asked to keep alive
    assert re.findall(rb"^HTTP/1\.1 (\d{3}) ", _exchange(url, b"GET /robots.txt HTTP/1.0\r\n\r\n" * 2),
                      re.M) == [b"200"]


def test_a_stopped_site_drops_its_open_connections() -> None:
    """A stopped site is a dead site, for clients holding a connection to it too."""
    session = requests.Session()
    with ReplicaSites() as site:
        url = f"{site.urls['park']}/robots.txt"
        assert get(session, url).status_code == 200  # the connection stays open in the session's pool
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=TIMEOUT)
    session.close()


def test_set_page_changes_content_and_etag(http: requests.Session) -> None:
    with ReplicaSites() as fresh:
        path = "/system/2022/02/10/019543210.shtml"
        url = fresh.urls["news"] + path
        before = get(http, url)
        fresh.set_page("news", path, before.content.replace("数字经济集聚区".encode(), "数字经济园区".encode()))
        after = get(http, url)
        assert after.status_code == 200
        assert "数字经济园区" in after.text and "数字经济集聚区" not in after.text
        assert after.headers["ETag"] != before.headers["ETag"]
        assert parsedate_to_datetime(after.headers["Last-Modified"]) > parsedate_to_datetime(
            before.headers["Last-Modified"]
        )
        assert get(http, url, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
        assert get(http, url, headers={"If-None-Match": after.headers["ETag"]}).status_code == 304
        fresh.set_page("news", "/new.html", b"<html><body>new</body></html>")
        assert get(http, fresh.urls["news"] + "/new.html").text.endswith("new</body></html>")
        with pytest.raises(KeyError):
            fresh.set_page("nope", "/x", b"")
    # the shared build is untouched
    assert b"\xe9\x9b\x86\xe8\x81\x9a\xe5\x8c\xba" in build_sites()["news"][path].body  # 集聚区


def test_fixed_ports_are_honoured() -> None:
    with ReplicaSites() as probe:
        port = int(probe.urls["epaper"].rsplit(":", 1)[1])
    with ReplicaSites(ports={"epaper": port}) as fixed:
        assert fixed.urls["epaper"] == f"http://127.0.0.1:{port}"
    with pytest.raises(ValueError):
        ReplicaSites(ports={"blog": 1})


# --------------------------------------------------------------------------- demo config


def test_demo_config_is_a_valid_source_file(sites: ReplicaSites) -> None:
    from crawler.config.sources import parse_config

    config = parse_config(yaml.safe_load(demo_config_text(sites.urls)))
    assert list(config.sources) == ["ganzhou-gov", "jxnews", "cnip-park", "jxdaily-epaper"]
    site_of = {"ganzhou-gov": "gov", "jxnews": "news", "cnip-park": "park", "jxdaily-epaper": "epaper"}
    for name, source in config.sources.items():
        pages = build_sites()[site_of[name]]
        assert all(u.startswith(sites.urls[site_of[name]]) for u in source.start_urls)
        articles = {p for p, r in pages.items() if r.expected}
        matched = {p for p in pages if re.search(source.allow, p)}
        assert matched == articles, name
        if source.kind == "epaper":
            assert {p for p in pages if re.search(source.pages, p)} == {p for p in pages if "/node_" in p}


def test_demo_config_writes_a_runnable_file(sites: ReplicaSites, tmp_path: Path) -> None:
    from crawler.config.settings import load_settings
    from crawler.config.sources import load_config

    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    settings = load_settings({"database_url": db, "data_dir": str(tmp_path), "mail_to": "a@x.org,b@x.org"}, env={})
    config, path = demo_config(sites.urls, settings, tmp_path / "cfg")
    assert path.parent == tmp_path / "cfg" and path.exists()
    assert config.path == path and len(config.sources) == 4
    assert config.settings.database_url == db
    assert config.settings.mail_to == ("a@x.org", "b@x.org")
    assert config.settings.scrapy_settings["DOWNLOAD_DELAY"] == 0
    assert "smtp_password" not in path.read_text(encoding="utf-8")
    reloaded = load_config(path, env={})
    assert reloaded.sources == config.sources
    assert reloaded.sources["ganzhou-gov"].start_urls == (f"{sites.urls['gov']}/zwgk/zcwj/index.html",)


def test_pages_keyed_by_query_and_handlers(http: requests.Session) -> None:
    """A page may be keyed by path and query, or be a handler of the request (a CMS's data
    endpoint, a challenge): exact path?query first, then the path; a handler's status and
    headers are sent as given, and only a 200 may become a 304."""
    from crawler.replica.resource import HTML_UTF8, Request, Resource, make_resource

    when = datetime(2024, 5, 1, tzinfo=CST)
    seen: list[Request] = []

    def proxy(request: Request) -> Resource | None:
        seen.append(request)
        if request.query.get("page") == ["9"]:
            return None
        page = request.query.get("page", ["1"])[0]
        cookie = request.headers.get("cookie", "")
        return Resource(f"page {page} {cookie}".encode(), HTML_UTF8, '"x"', "Wed, 01 May 2024 00:00:00 GMT",
                        status=521 if not cookie else 200, headers=(("Set-Cookie", "a=1; path=/"),))

    pages = {"/404.html": make_resource(b"missing", HTML_UTF8, when),
             "/list.html": make_resource(b"plain", HTML_UTF8, when),
             "/list.html?page=2": make_resource(b"second", HTML_UTF8, when),
             "/proxy.jsp": proxy}
    with ReplicaSites(sites={"q": pages}) as site:
        base = site.urls["q"]
        assert get(http, f"{base}/list.html").content == b"plain"
        assert get(http, f"{base}/list.html?page=2").content == b"second"
        assert get(http, f"{base}/list.html?page=3").content == b"plain"  # a static page ignores the rest
        first = requests.get(f"{base}/proxy.jsp?page=4&columnid=7", timeout=TIMEOUT)
        assert (first.status_code, first.content, first.headers["Set-Cookie"]) == (521, b"page 4 ", "a=1; path=/")
        again = requests.get(f"{base}/proxy.jsp?page=4", timeout=TIMEOUT, headers={"Cookie": "a=1",
                                                                                     "If-None-Match": '"x"'})
        assert (again.status_code, again.content) == (304, b"")
        assert get(http, f"{base}/proxy.jsp?page=9").status_code == 404
    assert seen[0].path == "/proxy.jsp" and seen[0].query == {"page": ["4"], "columnid": ["7"]}


def test_pattern_sites_are_served_beside_the_demo_sites() -> None:
    from crawler.replica.patterns import PATTERNS, build_patterns

    with pytest.raises(ValueError, match="unknown pattern"):
        build_patterns(["no-such-pattern"])
    with ReplicaSites(patterns=list(PATTERNS)) as running:
        assert running.names == (*build_sites(), *PATTERNS)
        for name in PATTERNS:
            assert requests.get(f"{running.urls[name]}/nowhere.html", timeout=TIMEOUT).status_code == 404
