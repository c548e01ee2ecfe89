"""Unit tests of the extraction chain: decoding, dates, main text, metadata, attachments, e-paper."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawler.article import Article
from crawler.extraction import (
    UnsupportedAttachmentError,
    attachment_text,
    decode_html,
    extract,
    join_continuations,
    parse_date,
)
from crawler.extraction.dates import SHANGHAI, find_dates, url_date
from crawler.extraction.decode import garbled_score
from crawler.extraction.region import find_region

NOW = datetime(2024, 1, 5, 15, 30, tzinfo=SHANGHAI)


def page(body: str, head: str = "", charset: str = "utf-8") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>标题</title>{head}</head>'
        f"<body>{body}</body></html>"
    )


PROSE = (
    "<p>　　赣州经开区今年新签约项目32个，总投资286亿元，其中新能源汽车产业项目占比超过六成，产业集聚效应持续显现。</p>"
    "<p>　　下一步，园区将围绕首位产业强链补链，完善标准厂房、人才公寓等配套设施，推动签约项目早开工、早投产。</p>"
    "<p>　　园区负责人表示，将持续优化营商环境，为企业提供全生命周期服务，确保全年工业投资增长15%以上。</p>"
)


# --------------------------------------------------------------------------- decoding


class TestDecode:
    def test_gbk_bytes_behind_a_lying_utf8_meta(self) -> None:
        text = page("<p>瑞金市签约引进重大项目，总投资八十六亿元。</p>")
        body = text.encode("gbk")
        decoded, encoding, garbled = decode_html(body)
        assert encoding == "gb18030"
        assert "瑞金市签约引进重大项目，总投资八十六亿元。" in decoded
        assert garbled == 0.0

    def test_gbk_declared_as_gb2312_with_characters_outside_gb2312(self) -> None:
        # 镕 and 堃 are in GBK/GB18030 but not GB2312: a strict gb2312 decode would fail
        body = page("<p>朱镕基、王堃出席会议。</p>", charset="gb2312").encode("gb18030")
        decoded, encoding, _ = decode_html(body)
        assert encoding == "gb18030"
        assert "朱镕基、王堃出席会议。" in decoded

    def test_utf8_bom_wins_over_a_gbk_meta(self) -> None:
        body = b"\xef\xbb\xbf" + page("<p>江西省人民政府</p>", charset="gbk").encode("utf-8")
        decoded, encoding, _ = decode_html(body)
        assert encoding == "utf-8"
        assert "江西省人民政府" in decoded
        assert not decoded.startswith("\ufeff")

    def test_http_header_charset_used_when_page_declares_nothing(self) -> None:
        html = "<html><head><title>通知</title></head><body><p>关于做好春节期间安全生产工作的通知</p></body></html>"
        decoded, encoding, _ = decode_html(html.encode("gbk"), {"Content-Type": "text/html; charset=GBK"})
        assert encoding == "gb18030"
        assert "关于做好春节期间安全生产工作的通知" in decoded

    def test_header_claiming_utf8_for_gbk_bytes_is_not_believed(self) -> None:
        html = "<html><body><p>赣州市人民政府办公室关于印发实施方案的通知</p></body></html>"
        decoded, encoding, garbled = decode_html(html.encode("gbk"), {"content-type": "text/html; charset=utf-8"})
        assert encoding == "gb18030"
        assert "赣州市人民政府办公室" in decoded
        assert garbled < 0.01

    def test_utf8_page_declaring_gb2312_is_read_as_utf8(self) -> None:
        body = page("<p>南昌市青山湖区数字经济</p>", charset="gb2312").encode("utf-8")
        decoded, encoding, _ = decode_html(body)
        assert encoding == "utf-8"
        assert "南昌市青山湖区数字经济" in decoded

    def test_garbled_score_flags_mojibake(self) -> None:
        clean = "江西省赣州市人民政府关于印发实施方案的通知"
        mojibake = clean.encode("utf-8").decode("gbk", "replace")
        assert garbled_score(clean) == 0.0
        assert garbled_score(mojibake) > 0.3
        assert garbled_score("abc") == 0.0


# --------------------------------------------------------------------------- dates


class TestDates:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("二〇二四年一月五日", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
            ("二〇二三年十二月三十一日", datetime(2023, 12, 31, tzinfo=SHANGHAI)),
            ("二○二二年三月十日", datetime(2022, 3, 10, tzinfo=SHANGHAI)),
            ("2024-01-05 10:20", datetime(2024, 1, 5, 10, 20, tzinfo=SHANGHAI)),
            ("发布时间：2024-01-05 10:20:30 来源：新华社", datetime(2024, 1, 5, 10, 20, 30, tzinfo=SHANGHAI)),
            ("2024/1/5", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
            ("2024.01.05", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
            ("2024年1月5日", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
            ("2024年01月05日 10时20分", datetime(2024, 1, 5, 10, 20, tzinfo=SHANGHAI)),
            ("1/5/2024 9:23:57 PM", datetime(2024, 1, 5, 21, 23, 57, tzinfo=SHANGHAI)),
        ],
    )
    def test_absolute_forms(self, text: str, expected: datetime) -> None:
        assert parse_date(text, now=NOW) == expected

    def test_values_are_aware_and_in_shanghai(self) -> None:
        value = parse_date("2024年1月5日", now=NOW)
        assert value is not None
        assert value.utcoffset() == timedelta(hours=8)

    def test_stated_offset_is_kept(self) -> None:
        assert parse_date("2024-01-05T02:20:00Z", now=NOW) == datetime(2024, 1, 5, 2, 20, tzinfo=UTC)
        value = parse_date("2024-01-05T10:20:00+09:00", now=NOW)
        assert value is not None and value.utcoffset() == timedelta(hours=9)
        assert value.tzinfo == timezone(timedelta(hours=9))

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("3小时前", NOW - timedelta(hours=3)),
            ("30分钟前", NOW - timedelta(minutes=30)),
            ("2天前", NOW - timedelta(days=2)),
            ("昨天 10:20", datetime(2024, 1, 4, 10, 20, tzinfo=SHANGHAI)),
            ("前天", datetime(2024, 1, 3, tzinfo=SHANGHAI)),
            ("刚刚", NOW),
        ],
    )
    def test_relative_forms_use_fetch_time(self, text: str, expected: datetime) -> None:
        assert parse_date(text, now=NOW) == expected

    def test_relative_forms_need_a_fetch_time(self) -> None:
        assert parse_date("3小时前") is None

    def test_future_and_implausible_dates_are_skipped(self) -> None:
        assert parse_date("截止时间：2024年12月31日", now=NOW) is None  # a deadline, not a publish time
        assert parse_date("1985-01-01", now=NOW) is None
        assert parse_date("2023年2月30日", now=NOW) is None

    def test_version_numbers_are_not_dates(self) -> None:
        assert list(find_dates("软件版本 v3.2024.01.05.7", now=NOW)) == []

    def test_url_dates(self) -> None:
        assert url_date("http://www.gov.cn/zhengce/content/2024-01/05/content_123.htm") == datetime(
            2024, 1, 5, tzinfo=SHANGHAI
        )
        assert url_date("http://x.gov.cn/art/t20220105_12.html") == datetime(2022, 1, 5, tzinfo=SHANGHAI)
        assert url_date("http://x.cn/n1/2022/0213/c1.html") == datetime(2022, 2, 13, tzinfo=SHANGHAI)
        assert url_date("http://x.cn/list_20.html") is None


# --------------------------------------------------------------------------- main text


def test_tables_are_kept_as_rows_with_tab_separated_cells() -> None:
    html = page(
        "<h1>2023年全市主要经济指标</h1><div class='article-content'>"
        + PROSE
        + "<table><tr><th>指标</th><th>数值</th><th>增长</th></tr>"
        "<tr><td>地区生产总值</td><td>4606亿元</td><td>4.7%</td></tr>"
        "<tr><td>规上工业增加值</td><td> 1520亿元 </td><td>7.1%</td></tr></table>"
        "<p>　　以上数据为初步核算数，最终数据以统计年鉴公布为准，请各地各部门据此做好分析研判工作。</p></div>"
    )
    art = extract(html.encode(), "http://tjj.ganzhou.gov.cn/a/1.html")
    lines = art.body.split("\n")
    assert "指标\t数值\t增长" in lines
    assert "地区生产总值\t4606亿元\t4.7%" in lines
    assert "规上工业增加值\t1520亿元\t7.1%" in lines
    # paragraphs stay one per line, the indent is gone
    assert lines[0].startswith("赣州经开区今年新签约项目32个")
    assert "\n\n" not in art.body


def test_sidebars_related_lists_and_page_furniture_are_removed() -> None:
    html = page(
        "<div class='header'><a href='/'>首页</a><a href='/xw/'>新闻中心</a><a href='/zw/'>政务公开</a></div>"
        "<div class='breadcrumb'>当前位置：<a href='/'>首页</a> &gt; <a href='/xw/'>园区动态</a></div>"
        "<div class='main'><div class='left'><h1>赣州经开区新签约项目32个</h1>"
        "<div class='info'>发布时间：2024-01-05 09:00 来源：赣州经开区管委会 【打印】【关闭】</div>"
        f"<div class='TRS_Editor'>{PROSE}</div>"
        "<div class='share'>分享到：<a href='#'>微信</a><a href='#'>微博</a></div>"
        "<div class='pre-next'><a href='/a/0.html'>上一篇：园区召开安全生产工作会议</a>"
        "<a href='/a/2.html'>下一篇：园区企业参加广交会</a></div>"
        "<div class='xgwz'><h3>相关文章</h3><ul>"
        "<li><a href='/a/3.html'>赣州经开区一季度工业投资增长百分之二十</a></li>"
        "<li><a href='/a/4.html'>新能源汽车产业链招商推介会在深圳举行</a></li>"
        "<li><a href='/a/5.html'>园区开展优化营商环境专项行动</a></li></ul></div></div>"
        "<div class='sidebar'><h3>热点新闻</h3><ul>"
        "<li><a href='/b/1.html'>全市经济工作会议召开，部署今年重点任务</a></li>"
        "<li><a href='/b/2.html'>赣州获评全国文明城市，市民点赞城市变化</a></li></ul></div></div>"
        "<div style='display:none'><p>隐藏的统计代码说明文字，不应出现在正文里面，请忽略。</p></div>"
        "<div class='modal'><p>扫描二维码，在手机上继续阅读本文，分享给更多的朋友。</p></div>"
        "<div class='footer'><p>版权所有：赣州经开区管委会 赣ICP备12003456号 赣公网安备36070202000456号</p></div>"
    )
    art = extract(html.encode(), "http://www.gzjkq.gov.cn/xw/2024/0105/1.html", fetched_at=NOW)
    assert art.body.startswith("赣州经开区今年新签约项目32个")
    assert art.body.endswith("确保全年工业投资增长15%以上。")
    junk = ("相关文章", "一季度工业投资", "热点新闻", "文明城市", "上一篇", "分享到", "打印", "ICP", "隐藏", "二维码")
    for snippet in junk:
        assert snippet not in art.body, snippet
    assert art.title == "赣州经开区新签约项目32个"
    assert art.published_at == datetime(2024, 1, 5, 9, 0, tzinfo=SHANGHAI)
    assert art.source_name == "赣州经开区管委会"


def test_strip_noise_drops_hidden_elements_and_keeps_their_tails() -> None:
    """Every way of hiding an element (inline style, the ``hidden`` attribute, a modal or
    screen-reader class) removes it; the text after it stays, and so do html, body and head
    whatever their attributes, and elements whose attributes hide nothing."""
    from lxml import etree

    from crawler.extraction.dom import parse, strip_noise

    root = parse(
        "<html class='hidden'><head><title>标题</title></head><body class='d-none'>"
        "<p>一<span style='display: none'>隐一</span>二<span hidden>隐二</span>三"
        "<span class='a sr-only'>隐三</span>四<span style='VISIBILITY:hidden'>隐四</span>五</p>"
        "<div id='x' class='hidden-xs' style='color:red'>可见</div>"
        "<script>var a = 1;</script><input value='表单'></body></html>"
    )
    body = root.find("body")
    body.append(etree.Comment("注释"))  # the parser drops comments; one added later still goes
    body[-1].tail = "尾"
    strip_noise(root)
    assert "".join(root.find("body").itertext()) == "一二三四五可见尾"
    assert [el.tag for el in root.iter()] == ["html", "head", "title", "body", "p", "div"]


def test_selectors_outrank_the_generic_rules() -> None:
    html = page(
        "<h1>栏目首页</h1><div class='box'><span class='t'>真正的标题：园区新闻</span>"
        "<span class='d' data-time='2023-12-30 08:00'>时间</span>"
        f"<div class='c'>{PROSE}</div><div class='other'>{PROSE.replace('赣州', '吉安')}</div></div>"
    )
    art = extract(
        html.encode(),
        "http://x.cn/a.html",
        selectors={
            "title": "span.t::text",
            "published_at": "span.d::attr(data-time)",
            "body": "//div[@class='c']",
            "author": "div[[invalid",  # broken selector: ignored, not fatal
        },
    )
    assert art.title == "真正的标题：园区新闻"
    assert art.provenance["title"] == "selector"
    assert art.published_at == datetime(2023, 12, 30, 8, 0, tzinfo=SHANGHAI)
    assert art.provenance["published_at"] == "selector"
    assert art.provenance["body"] == "selector"
    assert "吉安" not in art.body and "赣州经开区" in art.body


def test_metadata_block_as_plain_label_value_text() -> None:
    html = page(
        "<div class='detail'><h1>关于开展2024年度专精特新企业认定工作的通知</h1>"
        "<p class='meta'>索引号：014501/2024-00012 | 发布机构：赣州市工业和信息化局 | "
        "发文字号：赣市工信字〔2024〕3号</p>"
        "<p class='meta'>成文日期：2024-01-02　　发布日期：2024-01-04　　来源：市工信局　　作者：王五</p>"
        f"<div class='zoom'>{PROSE}</div></div>"
    )
    art = extract(html.encode(), "http://gxj.ganzhou.gov.cn/a/1.html", fetched_at=NOW)
    assert art.index_no == "014501/2024-00012"
    assert art.issuer == "赣州市工业和信息化局"
    assert art.doc_number == "赣市工信字〔2024〕3号"
    assert art.written_at == datetime(2024, 1, 2, tzinfo=SHANGHAI)
    assert art.published_at == datetime(2024, 1, 4, tzinfo=SHANGHAI)  # 发布日期, not 成文日期
    assert art.provenance["published_at"] == "block:发布日期"
    assert art.source_name == "市工信局"
    assert art.author == "王五"
    assert art.region == "江西省赣州市"
    assert "索引号" not in art.body


def test_doc_number_and_signature_from_the_text_itself() -> None:
    html = page(
        "<h1>吉安市人民政府关于加快推进新型工业化的实施意见</h1><div class='TRS_Editor'>"
        "<p>吉府发〔2023〕12号</p><p>各县（市、区）人民政府，市政府各部门：</p>"
        + PROSE
        + "<p>吉安市人民政府</p><p>2023年11月20日</p></div>"
    )
    art = extract(html.encode(), "http://www.jian.gov.cn/a/1.html", fetched_at=NOW)
    assert art.doc_number == "吉府发〔2023〕12号"
    assert art.provenance["doc_number"] == "rule:text"
    assert art.issuer == "吉安市人民政府"
    assert art.written_at == datetime(2023, 11, 20, tzinfo=SHANGHAI)
    assert art.region.startswith("江西省吉安市")


def test_region_hint_and_text() -> None:
    region, _ = find_region(("赣州市章贡区人民政府", 5.0), ("章贡区召开会议，部署章贡区重点项目建设", 1.0))
    assert region == "江西省赣州市章贡区"
    assert find_region(("今天天气很好", 1.0)) == ("", "")
    html = page(f"<h1>园区动态</h1><div class='content'>{PROSE}</div>")
    art = extract(html.encode(), "http://x.cn/a.html", region_hint="江西省赣州市")
    assert art.region == "江西省赣州市"


def test_bad_input_never_raises() -> None:
    for body in (b"", b"\xff\xfe\x00", b"<html>", b"not html at all", b"<?xml version='1.0' encoding='gbk'?><a/>"):
        art = extract(body, "http://x.cn/")
        assert isinstance(art, Article)
        assert art.url == "http://x.cn/"


# --------------------------------------------------------------------------- attachments


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("附件1：重点项目清单")
    table = document.add_table(rows=2, cols=3)
    for i, cells in enumerate((("项目", "投资（亿元）", "责任单位"), ("新能源电池", "35", "瑞金市"))):
        for j, value in enumerate(cells):
            table.cell(i, j).text = value
    document.add_paragraph("以上项目请各地按月报送进度。")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pdf_bytes(text: str) -> bytes:
    stream = f"BT /F1 18 Tf 72 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


class TestAttachments:
    def test_docx_paragraphs_and_table_rows(self) -> None:
        text = attachment_text(_docx_bytes(), "清单.docx")
        assert text.split("\n") == [
            "附件1：重点项目清单",
            "项目\t投资（亿元）\t责任单位",
            "新能源电池\t35\t瑞金市",
            "以上项目请各地按月报送进度。",
        ]

    def test_pdf_text(self) -> None:
        assert "Policy Radar 2024" in attachment_text(_pdf_bytes("Policy Radar 2024"), "a.pdf")

    def test_format_is_sniffed_from_bytes_not_the_name(self) -> None:
        assert "Policy Radar" in attachment_text(_pdf_bytes("Policy Radar"), "download.do", "application/octet-stream")

    def test_unsupported_formats_raise_a_named_error(self) -> None:
        with pytest.raises(UnsupportedAttachmentError):
            attachment_text(b"\xd0\xcf\x11\xe0legacy word file", "通知.doc", "application/msword")

    def test_links_in_the_text_and_labelled_links_elsewhere(self) -> None:
        html = page(
            f"<h1>通知</h1><div class='TRS_Editor'>{PROSE}"
            "<p><a href='./P020240105.pdf'>实施方案</a> <a href='/other/page.html'>网页链接</a></p></div>"
            "<div class='fj'>附件：<a href='/files/清单.xlsx'>重点项目清单.xlsx</a></div>"
            "<div class='side'><a href='/files/unrelated.pdf'>往期年报下载</a></div>"
        )
        art = extract(html.encode(), "http://www.ganzhou.gov.cn/zwgk/202401/t20240105_1.html")
        assert art.attachment_links == [
            ("实施方案", "http://www.ganzhou.gov.cn/zwgk/202401/P020240105.pdf"),
            ("重点项目清单.xlsx", "http://www.ganzhou.gov.cn/files/清单.xlsx"),
        ]


# --------------------------------------------------------------------------- e-paper


def _story(page_no: int, title: str, body: str, to: int | None = None, frm: int | None = None) -> Article:
    return Article(
        url=f"http://epaper.x.cn/{page_no}/{title}",
        title=title,
        body=body,
        published_at=datetime(2024, 1, 30, tzinfo=SHANGHAI),
        epaper_page=page_no,
        continues_to=to,
        continued_from=frm,
    )


class TestEpaper:
    def test_join_by_title(self) -> None:
        first = _story(1, "全市外贸创新高", "第一段。", to=3)
        other = _story(3, "另一篇报道", "无关内容。", frm=1)
        rest = _story(3, "全市外贸创新高", "第二段。", frm=1)
        alone = _story(2, "独立报道", "独立内容。")
        joined = join_continuations([first, alone, other, rest])
        assert [a.title for a in joined] == ["全市外贸创新高", "独立报道", "另一篇报道"]
        assert joined[0].body == "第一段。\n第二段。"
        assert joined[0].continues_to is None
        assert joined[0].url == first.url
        assert joined[0].part_urls == [rest.url]

    def test_join_the_only_candidate_and_follow_chains(self) -> None:
        first = _story(1, "标题甲", "甲一。", to=4)
        second = _story(4, "标题甲（续）", "甲二。", to=6, frm=1)
        third = _story(6, "", "甲三。", frm=4)
        joined = join_continuations([third, first, second])
        assert len(joined) == 1
        assert joined[0].body == "甲一。\n甲二。\n甲三。"
        assert joined[0].part_urls == [second.url, third.url]  # recorded, so never fetched again

    def test_unmatched_story_is_left_alone(self) -> None:
        first = _story(1, "标题", "正文。", to=5)
        assert join_continuations([first]) == [first]

    def test_pages_from_html_are_joined(self) -> None:
        from pathlib import Path

        pages = Path(__file__).parent / "data" / "extraction" / "pages"
        base = "http://epaper.gannan.cn/html/2024-01/30/"
        part1 = extract((pages / "epaper_part1.html").read_bytes(), base + "content_1_3.htm")
        part2 = extract((pages / "epaper_part2.html").read_bytes(), base + "content_3_1.htm")
        assert (part1.epaper_page, part1.continues_to) == (1, 3)
        assert (part2.epaper_page, part2.continued_from) == (3, 1)
        [joined] = join_continuations([part1, part2])
        assert "增势强劲。\n从贸易方式看" in joined.body
        assert "下转" not in joined.body and "上接" not in joined.body


def test_headline_lists_without_telling_class_names_are_not_the_article() -> None:
    # a short story next to a longer column of headline+summary items, in either order
    items = "".join(
        f"<div class='item'><a href='/n/{i}.html'>第{i}条要闻：某地推进重点项目建设</a>"
        f"<p>该市今年安排重点项目{i}0个，总投资超过百亿元，目前已开工建设，进展顺利，预计年内完工。</p></div>"
        for i in range(1, 7)
    )
    column = f"<div class='right'><h3>要闻</h3><div>{items}</div></div>"
    story = (
        "<div class='left'><h1>园区召开安全生产会议</h1><div class='info'>2024-01-05 来源：园区办</div>"
        "<div class='con'><p>1月4日，园区召开安全生产工作会议，部署节前安全检查工作。</p>"
        "<p>会议要求各企业落实主体责任，排查隐患，确保安全。</p></div></div>"
    )
    for layout in (story + column, column + story):
        html = f"<html><head><title>园区召开安全生产会议_园区新闻</title></head><body>{layout}</body></html>"
        art = extract(html.encode(), "http://x.cn/a.html", fetched_at=NOW)
        assert art.body == (
            "1月4日，园区召开安全生产工作会议，部署节前安全检查工作。\n会议要求各企业落实主体责任，排查隐患，确保安全。"
        )
        assert art.published_at == datetime(2024, 1, 5, tzinfo=SHANGHAI)
        assert art.source_name == "园区办"


def test_epaper_urls() -> None:
    from crawler.extraction.epaper import looks_like_epaper

    assert looks_like_epaper("http://epaper.gannan.cn/html/2024-01/30/content_3_1.htm", False)
    assert looks_like_epaper("http://szb.example.cn/html/2024-01/30/node_2.htm", False)
    assert looks_like_epaper("http://www.example.cn/a/1.html", True)  # #ozoom / founder-content on the page
    assert not looks_like_epaper("http://www.gov.cn/zhengce/content/2024-01/05/content_6924.htm", False)


def test_data_table_rows_keep_their_columns_and_cells_their_paragraphs() -> None:
    from crawler.extraction.dom import parse
    from crawler.extraction.rendering import render
    from crawler.text.normalize import normalize_lines

    html = """<html><body><div><table>
      <tr><td><p>序号</p></td><td><p>工作任务</p></td><td><p>牵头单位</p></td></tr>
      <tr><td>1</td><td rowspan="2"><p>(一) 构筑</p><p>资源承载新高地</p></td><td>市商务局</td></tr>
      <tr><td>2</td><td>市科技局</td></tr>
      <tr><td colspan="3">二、政策措施</td></tr>
    </table></div></body></html>"""
    text = normalize_lines(render(parse(html)))
    assert text.split("\n") == [
        "序号\t工作任务\t牵头单位",
        "1\t(一) 构筑 资源承载新高地\t市商务局",
        "2\t\t市科技局",  # the rowspan's column stays empty rather than shifting 市科技局 left
        "二、政策措施",
    ]


def test_layout_table_cells_keep_paragraph_breaks() -> None:
    from crawler.extraction.dom import parse
    from crawler.extraction.rendering import render
    from crawler.text.normalize import normalize_lines

    paragraphs = "".join(f"<p>第{i}段，正文内容。</p>" for i in range(6))
    html = f"<html><body><table><tr><td>导航</td><td>{paragraphs}</td></tr></table></body></html>"
    lines = normalize_lines(render(parse(html))).split("\n")
    assert lines == ["导航"] + [f"第{i}段，正文内容。" for i in range(6)]
