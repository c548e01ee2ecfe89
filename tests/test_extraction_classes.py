"""Classes of pages that extraction used to get wrong, each tested on real pages.

The gne pages (53 real Chinese pages, GPL-3.0) live in ``../shared/pages/gne`` beside the repo,
their hand-written answers in tests/data/extraction/gne/.  Tests that need a gne page are
skipped when the pages are not there; the answers are read, never written, here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.article import Article
from crawler.extraction import extract
from crawler.extraction.dates import SHANGHAI
from crawler.extraction.scoring import char_f1, load_answers

DATA = Path(__file__).parent / "data" / "extraction"
GNE_PAGES = Path(__file__).resolve().parents[2] / "shared" / "pages" / "gne"
ANSWERS = {a["page"]: a for a in load_answers(DATA / "gne")}


def gne(page: str) -> tuple[bytes, dict[str, Any]]:
    """A gne page's bytes and its answer; skips when either is missing."""
    path = GNE_PAGES / page
    if not path.is_file():
        pytest.skip(f"gne pages not found at {GNE_PAGES}")
    if page not in ANSWERS:
        pytest.skip(f"{page} has no answer yet")
    return path.read_bytes(), ANSWERS[page]


def run(html: bytes, answer: dict[str, Any], fetched_at: datetime | None = None) -> Article:
    return extract(html, answer.get("url") or f"http://gne.invalid/{answer['page']}", fetched_at=fetched_at)


# --------------------------------------------------------------------------- 1. empty bodies


class TestFallbackWhenTheChosenBlockIsTiny:
    def test_article_inside_a_never_closed_header_div_is_found(self) -> None:
        # 163-1: the template opens <div class="post_header"> and never closes it, so the whole
        # article sits in a "header"; the first choice was an empty body
        html, answer = gne("163-1.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95
        assert art.provenance["body"] == "rule:density:unwrapped"

    def test_article_after_a_premature_end_of_document_is_found(self) -> None:
        # other-1: the 国务院公报 template ends its <html> before the article, which the parser
        # hangs beside the document root; the body was empty
        html, answer = gne("other-1.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95

    def test_ordinary_page_keeps_the_first_choice(self) -> None:
        html, answer = gne("163-3.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95
        assert art.provenance["body"] == "rule:density"

    def test_runner_up_block_when_the_best_block_is_a_caption(self) -> None:
        # the best-scoring block is a short promo paragraph in a content-classed box; the
        # article's paragraphs sit in a plain div beside it
        prose = "".join(
            f"<p>第{i}段：园区今年新签约项目三十二个，总投资二百八十六亿元，其中新能源汽车产业项目占比超过六成，"
            "产业集聚效应持续显现，下一步将围绕首位产业强链补链。</p>"
            for i in range(8)
        )
        html = (
            "<html><head><title>园区签约项目</title></head><body>"
            '<div class="article-content"><p>扫码关注，获取更多资讯，欢迎转发。</p></div>'
            f'<div class="header">{prose}</div>'
            "</body></html>"
        ).encode()
        art = extract(html, "http://example.invalid/a.html")
        assert "第7段" in art.body and "第0段" in art.body
        assert art.provenance["body"] in ("rule:density:unwrapped", "rule:density:second")


# --------------------------------------------------------------------------- 2. WeChat


def as_served(html: bytes) -> bytes:
    """A saved WeChat page as the server sends it: the saved copy was taken after the page's
    script had revealed #js_content; before that its inline style is visibility: hidden."""
    shown = b'id="js_content" style="visibility: visible;"'
    assert shown in html
    return html.replace(shown, b'id="js_content" style="visibility: hidden;"')


@pytest.mark.parametrize("page", ["wechat-1.html", "wechat-2.html"])
class TestWeChatArticles:
    def test_text_hidden_until_a_script_shows_it_is_the_body(self, page: str) -> None:
        html, answer = gne(page)
        art = run(as_served(html), answer)
        assert char_f1(art.body, answer["body"]) >= 0.95

    def test_publish_time_from_the_script_not_the_relative_text(self, page: str) -> None:
        # the page shows only 昨天/前天 next to the title; with a fetch time a week later that
        # text would give the wrong day, the script's var ct gives the right minute
        html, answer = gne(page)
        art = run(as_served(html), answer, fetched_at=datetime(2020, 2, 20, 9, 0, tzinfo=SHANGHAI))
        want = datetime.strptime(str(answer["published"]), "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
        assert art.published_at is not None
        assert art.published_at.replace(second=0) == want
        assert art.provenance["published_at"] == "script:ct"

    def test_account_name_is_the_source(self, page: str) -> None:
        html, answer = gne(page)
        art = run(as_served(html), answer)
        assert art.source_name == answer["source"]


def test_hidden_block_of_a_few_words_stays_hidden() -> None:
    html = (
        "<html><head><title>园区签约</title></head><body><div class='content'>"
        "<p>园区今年新签约项目三十二个，总投资二百八十六亿元，其中新能源汽车产业项目占比超过六成。</p>"
        "<p style='visibility:hidden'>加载中，请稍候。</p></div></body></html>"
    ).encode()
    art = extract(html, "http://example.invalid/a.html")
    assert "新签约项目" in art.body and "加载中" not in art.body


def test_a_list_of_other_articles_times_is_not_the_publish_time() -> None:
    # the same variable name assigned several different times: a feed, not this article
    prose = "<p>园区今年新签约项目三十二个，总投资二百八十六亿元，其中新能源汽车产业项目占比超过六成。</p>" * 3
    html = (
        "<html><head><title>园区签约</title><script>var feed=[{publish_time:'2019-09-01 10:00'},"
        "{publish_time:'2019-08-30 09:00'}];</script></head>"
        f"<body><div class='content'>{prose}</div></body></html>"
    ).encode()
    assert extract(html, "http://example.invalid/a.html").published_at is None


# --------------------------------------------------------------------------- 6. dates

FIXTURES = DATA / "pages"
CWCED = Path(__file__).parent / "data" / "cwced"


class TestDatesComeFromThePage:
    def test_relative_dateline_is_read_against_the_fetch_time_and_marked(self) -> None:
        html = (FIXTURES / "news_relative_date.html").read_bytes()
        art = extract(html, "http://www.kejia.com/news/ln/88012.html", fetched_at=datetime(2024, 5, 20, 15, 0))
        assert art.published_at == datetime(2024, 5, 20, 12, 0, tzinfo=SHANGHAI)
        assert art.provenance["published_at"].endswith(":relative")

    def test_wechat_relative_text_without_the_script_time(self) -> None:
        # wechat-1 without its var ct: only the dateline's 昨天 is left
        html, answer = gne("wechat-1.html")
        html = html.replace(b'var ct = "1581517074"', b'var ct_gone = ""')
        art = run(html, answer, fetched_at=datetime(2020, 2, 13, 9, 0, tzinfo=SHANGHAI))
        assert art.published_at is not None and art.published_at.date().isoformat() == "2020-02-12"
        assert art.provenance["published_at"].endswith(":relative")

    def test_a_relative_date_is_not_read_without_a_fetch_time(self) -> None:
        html = (FIXTURES / "news_relative_date.html").read_bytes()
        assert extract(html, "http://www.kejia.com/news/ln/88012.html").published_at is None

    def test_yesterday_in_the_story_is_not_the_publication_date(self) -> None:
        # cwced 064b591b: the story starts "昨日8时40分许，她在长春市某医院生下…"; the page is
        # dated 2005-07-31 12:30 above it
        page = CWCED / "original" / "064b591b-3cac-4a08-88d0-41c193a2350d.html"
        fetched = datetime(2026, 1, 1, tzinfo=SHANGHAI)
        art = extract(page.read_bytes(), "http://cwced.invalid/a.html", fetched_at=fetched)
        assert art.published_at == datetime(2005, 7, 31, 12, 30, tzinfo=SHANGHAI)
        assert "relative" not in art.provenance["published_at"]

    @pytest.mark.parametrize("words", ["今日头条", "今日关注", "今天推荐", "刚刚发布的政策解读"])
    def test_words_that_contain_today_are_not_a_date(self, words: str) -> None:
        prose = "<p>园区今年新签约项目三十二个，总投资二百八十六亿元，其中新能源汽车产业项目占比超过六成。</p>" * 3
        html = (
            f"<html><head><title>园区签约项目</title></head><body><div class='top'>{words}</div>"
            f"<h1>园区签约项目</h1><div class='content'>{prose}</div></body></html>"
        ).encode()
        art = extract(html, "http://example.invalid/a.html", fetched_at=datetime(2024, 5, 20, 15, 0))
        assert art.published_at is None, art.provenance


class TestYearlessPostedDay:
    """百家号 pages print "发布时间：10-08" (no year, or 18-03-08) and carry the full time only in
    ``itemprop=dateUpdate``: a modification time, trusted only when it is the same day."""

    @pytest.mark.parametrize("page", ["baijiahao-1.html", "baijiahao-2.html", "baijiahao-3.html",
                                      "baijiahao-4.html"])
    def test_modification_time_of_the_same_day_gives_the_year(self, page: str) -> None:
        html, answer = gne(page)
        art = run(html, answer)
        assert art.published_at is not None
        assert art.published_at.date().isoformat() == str(answer["published"])[:10]
        assert art.provenance["published_at"] == "meta:dateupdate+posted-line"

    def test_a_modification_time_of_another_day_is_not_the_publication_date(self) -> None:
        html, answer = gne("baijiahao-1.html")
        edited = html.replace(b'content="2019-10-08 12:00:57"', b'content="2019-10-09 12:00:57"')
        assert edited != html
        assert run(edited, answer).published_at is None

    def test_a_modification_time_alone_is_not_the_publication_date(self) -> None:
        html, answer = gne("baijiahao-1.html")
        undated = html.replace("发布时间：10-08".encode(), "发布时间：".encode())
        assert undated != html
        assert run(undated, answer).published_at is None


def test_cwced_pages_without_a_date_get_none_not_the_fetch_day() -> None:
    fetched = datetime(2026, 1, 1, 8, 0, tzinfo=SHANGHAI)
    for page in sorted((CWCED / "original").glob("*.html")):
        if (CWCED / "date" / f"{page.stem}.txt").read_text("utf-8-sig").strip() != "UNKNOWN":
            continue
        art = extract(page.read_bytes(), "http://cwced.invalid/a.html", fetched_at=fetched)
        assert art.published_at is None or art.published_at.year < 2026, (page.stem, art.provenance)


# --------------------------------------------------------------------------- 3. portal pages


class TestShortArticleInALongPortalPage:
    def test_feed_of_other_articles_teasers_is_left_out(self) -> None:
        # sina-3: under the article, a slider of other articles (heading, summary cut off with
        # "…", date) inside the same content column, with no links in the static page
        html, answer = gne("sina-3.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95
        assert "龙湖集团长沙项目质量风波调查" not in art.body

    def test_account_promotion_and_comment_form_after_the_article_are_left_out(self) -> None:
        # thepaper-2: a 政务号 repost ends with 扫描下方二维码 / 回复【…】 lines and 评论（0）
        html, answer = gne("thepaper-2.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95
        assert "回复【" not in art.body and "评论（0）" not in art.body

    def test_an_articles_own_sections_are_not_a_feed(self) -> None:
        sections = "".join(
            f"<div class='sec'><h3>第{n}部分</h3><p>园区今年新签约项目三十二个，总投资二百八十六亿元，"
            "其中新能源汽车产业项目占比超过六成，产业集聚效应持续显现。</p></div>"
            for n in "一二三四"
        )
        html = f"<html><head><title>园区签约</title></head><body><div class='content'>{sections}</div></body></html>"
        art = extract(html.encode(), "http://example.invalid/a.html")
        assert "第四部分" in art.body and "第一部分" in art.body


# --------------------------------------------------------------------------- 4. index pages


def _replica_pages(with_answer: bool) -> list[tuple[str, bytes, str]]:
    """(site+path, bytes, content type) of the replica's HTML pages with or without an answer."""
    from crawler.replica import build_sites

    out = []
    for site, resources in build_sites().items():
        for path, res in resources.items():
            if "html" in res.content_type and bool(res.expected) == with_answer:
                out.append((f"{site}{path}", res.body, res.content_type))
    return out


class TestIndexPagesAreNotArticles:
    def test_replica_listing_column_and_issue_pages_are_index_pages(self) -> None:
        # column lists (政策文件, 江西新闻, 园区资讯 with teasers), home pages and e-paper page
        # pages (版面导航 + 本版标题导航), built from real sites' structures
        for name, body, ctype in _replica_pages(with_answer=False):
            art = extract(body, f"http://{name}", headers={"Content-Type": ctype})
            if "/404" in name or "/admin/" in name or "/search/" in name:
                assert art.provenance["page_kind"] != "article", (name, art.body)
            else:
                assert art.provenance["page_kind"] == "index", (name, art.body)

    def test_listing_whose_teasers_make_a_body_is_still_an_index(self) -> None:
        # park list_3 holds two items only (no headline list to the scorer), so the teasers
        # became a 265-character "article"
        from crawler.replica import build_sites

        res = build_sites()["park"]["/news/list_3.html"]
        art = extract(res.body, "http://park/news/list_3.html", headers={"Content-Type": res.content_type})
        assert art.body  # the text is still there …
        assert art.provenance["page_kind"] == "index"  # … but the page says what it is

    def test_replica_articles_cwced_and_gne_pages_are_articles(self) -> None:
        for name, body, ctype in _replica_pages(with_answer=True):
            art = extract(body, f"http://{name}", headers={"Content-Type": ctype})
            assert art.provenance["page_kind"] == "article", name
        for page in sorted((CWCED / "original").glob("*.html")):
            art = extract(page.read_bytes(), "http://cwced.invalid/a.html")
            assert art.provenance["page_kind"] == "article", page.stem
        if GNE_PAGES.is_dir():
            for page in sorted(GNE_PAGES.glob("*.html")):
                art = extract(page.read_bytes(), f"http://gne.invalid/{page.name}")
                assert art.provenance["page_kind"] == "article", page.name

    def test_short_notice_with_its_attachments_is_an_article(self) -> None:
        # 详见附件: four characters of body, the document is the attachment list
        items = "".join(f"<li><a href='/files/P020240105{n}.pdf'>附件{n}：赣州市重点项目名单（第{n}批）</a></li>"
                        for n in range(1, 4))
        html = ("<html><head><title>关于公布2024年重点项目名单的通知</title></head><body>"
                "<h1>关于公布2024年重点项目名单的通知</h1><div class='content'><p>详见附件。</p>"
                f"<ul>{items}</ul></div></body></html>")
        art = extract(html.encode(), "http://gov.invalid/a.html")
        assert art.provenance["page_kind"] == "article"

    def test_crawl_drops_an_index_page_and_says_why(self) -> None:
        import pickle

        from crawler.config.sources import parse_source
        from crawler.ingest.prepare import EmptyPage, NotAnArticle, prepare
        from crawler.items import PageItem

        source = parse_source({"name": "park", "start_urls": ["http://127.0.0.1/news/list_1.html"],
                               "allow": r"/news/\d", "schedule": "every: 1h"}, 0)
        from crawler.replica import build_sites

        park = build_sites()["park"]
        at = datetime(2025, 7, 2, tzinfo=SHANGHAI)
        listing = PageItem("park", "http://127.0.0.1/news/list_3.html", park["/news/list_3.html"].body, at,
                           headers={"content-type": park["/news/list_3.html"].content_type})
        with pytest.raises(NotAnArticle) as caught:
            prepare(listing, source, detect=False)
        assert caught.value.kind == "index"
        assert isinstance(caught.value, EmptyPage)  # what callers that only know EmptyPage catch
        # raised in a worker process, re-raised in the crawl process: the kind survives
        again = pickle.loads(pickle.dumps(caught.value))
        assert isinstance(again, NotAnArticle) and again.kind == "index"
        article_path = next(p for p, r in park.items() if r.expected)
        article = PageItem("park", f"http://127.0.0.1{article_path}", park[article_path].body, at,
                           headers={"content-type": park[article_path].content_type})
        assert prepare(article, source, detect=False).article.body


# --------------------------------------------------------------------------- 5. Traditional / Big5

BIG5_PAGE = DATA / "pages" / "big5_hk_yunnan_daily.html"  # see its .NOTE.md: a real page, transcoded
BIG5_META = b'<meta charset="big5" />'


def big5(text: str) -> bytes:
    return text.encode("big5")


class TestTraditionalChineseBig5Pages:
    def answer(self) -> str:
        return (DATA / "pages" / "big5_hk_yunnan_daily.txt").read_text("utf-8")

    @pytest.mark.parametrize("meta", [BIG5_META, b"", b'<meta charset="gb2312" />', b'<meta charset="big5-hkscs" />'],
                             ids=["declared", "undeclared", "declared-gb2312", "declared-hkscs"])
    def test_big5_bytes_are_read_as_big5_whatever_the_page_declares(self, meta: bytes) -> None:
        from crawler.extraction import decode_html

        page = BIG5_PAGE.read_bytes().replace(BIG5_META, meta)
        text, encoding, garbled = decode_html(page)
        assert encoding == "big5hkscs"
        assert "發佈時間：2022-02-13" in text and "雲南日報" in text
        assert garbled < 0.05

    def test_gbk_pages_stay_gbk(self) -> None:
        # the Big5 test must not take Simplified pages read as GB18030 for Big5 (lying and
        # missing declarations included): every GBK page of cwced and the fixtures
        from crawler.extraction import decode_html

        pages = [*sorted((CWCED / "original").glob("*.html")), *sorted((DATA / "pages").glob("*.html"))]
        gbk = 0
        for page in pages:
            raw = page.read_bytes()
            _, encoding, _ = decode_html(raw)
            if page != BIG5_PAGE:
                assert encoding != "big5hkscs", page.name
                gbk += encoding == "gb18030"
        assert gbk >= 5

    @pytest.mark.parametrize("meta", [BIG5_META, b""], ids=["declared", "undeclared"])
    def test_body_title_date_and_source_of_a_traditional_page(self, meta: bytes) -> None:
        art = extract(BIG5_PAGE.read_bytes().replace(BIG5_META, meta), "http://hk.invalid/a.html")
        assert char_f1(art.body, self.answer()) >= 0.95
        assert art.title == "17種產品、1個園區入選國家綠色製造名單"
        assert art.published_at == datetime(2022, 2, 13, 4, 22, 18, tzinfo=SHANGHAI)
        assert art.provenance["published_at"] == "block:发布时间"  # 發佈時間, read as its label
        assert art.source_name == "雲南日報" and art.provenance["source_name"] == "block:来源"

    @pytest.mark.parametrize(
        ("line", "when", "label"),
        [
            ("發布時間：2022-02-13 04:22:18", datetime(2022, 2, 13, 4, 22, 18), "block:发布时间"),  # Taiwan 發布
            ("發佈日期：2022年2月13日", datetime(2022, 2, 13), "block:发布日期"),
            ("更新時間：2022年2月13日", datetime(2022, 2, 13), "block:更新时间"),
        ],
    )
    def test_traditional_date_labels_and_chinese_dates(self, line: str, when: datetime, label: str) -> None:
        page = BIG5_PAGE.read_bytes().replace(big5("發佈時間：2022-02-13 04:22:18"), big5(line))
        assert page != BIG5_PAGE.read_bytes()
        # and a page dated otherwise (2019年5月3日) is read at that date, from the label
        other = page.replace(big5("2022年2月13日"), big5("2019年5月3日")).replace(b"2022-02-13", b"2019-05-03")
        art = extract(other, "http://hk.invalid/a.html")
        assert art.published_at is not None
        assert art.published_at.replace(tzinfo=None) == when.replace(year=2019, month=5, day=3)
        assert art.provenance["published_at"] == label
