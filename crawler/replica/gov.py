"""The municipal government portal (赣州市人民政府 style): a GBK-encoded TRS-CMS 政策文件 column.

Pages are encoded in GBK and served as bare ``text/html``; only the ``<meta http-equiv>`` names
the charset. The column lists one document per page (``index.html``, ``index_1.html`` …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from crawler.replica.docx_builder import task_table_docx
from crawler.replica.markup import SITE_EPOCH, answers, body_text, esc, links, para, robots
from crawler.replica.resource import CST, DOCX, HTML_BARE, Resource, make_resource
from crawler.replica.seeds import ganzhou_plan, xize

SITE_NAME = "赣州市人民政府"
COLUMN = "/zwgk/zcwj/"
_ENCODING = "gbk"


@dataclass(frozen=True)
class _Doc:
    """One 政策文件 page and its 信息公开 metadata."""

    path: str
    title: str
    paragraphs: tuple[str, ...]
    index_no: str
    topic: str
    issuer: str
    written: datetime
    published: datetime
    doc_number: str
    content_source: str
    table_html: str = ""
    table_text: str = ""
    attachment: tuple[str, str] | None = None  # (href relative to the page, link text)


def _table(header: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> tuple[str, str]:
    """The task table as HTML (工作任务 cells merged with rowspan, like a Word table pasted into a
    CMS) and as answer text (one line per row, cells joined by tabs, merged cells once)."""
    spans: dict[int, int] = {}
    start = None
    for i, row in enumerate(rows):
        if len(row) == 1:
            start = None
        elif row[1] or start is None:
            start = i
            spans[i] = 1
        else:
            spans[start] += 1
    html = ['<table class="rwqd" border="1" cellspacing="0" cellpadding="0" width="100%">']
    html.append("<tr>" + "".join(f"<td><p><strong>{esc(c)}</strong></p></td>" for c in header) + "</tr>")
    text = ["\t".join(header)]
    for i, row in enumerate(rows):
        if len(row) == 1:
            html.append(f'<tr><td colspan="{len(header)}"><p><strong>{esc(row[0])}</strong></p></td></tr>')
            text.append(row[0])
            continue
        cells = []
        for j, cell in enumerate(row):
            if j == 1:
                if i not in spans:
                    continue
                rowspan = f' rowspan="{spans[i]}"' if spans[i] > 1 else ""
                cells.append(f'<td{rowspan} valign="middle"><p>{esc(cell)}</p></td>')
            else:
                cells.append(f"<td><p>{esc(cell)}</p></td>")
        html.append("<tr>" + "".join(cells) + "</tr>")
        text.append("\t".join(c for j, c in enumerate(row) if j != 1 or i in spans))
    html.append("</table>")
    return "\n".join(html), "\n".join(text)


def _documents() -> tuple[list[_Doc], bytes]:
    plan = ganzhou_plan()
    table_html, table_text = _table(plan.table.header, plan.table.rows)
    plan_written = datetime(2022, 3, 10, tzinfo=CST)
    docx_name = "P0202203153915678.docx"
    plan_doc = _Doc(
        path=f"{COLUMN}202203/t20220315_3915678.html",
        title=plan.title,
        paragraphs=(plan.red_header, plan.doc_number, *plan.paragraphs),
        index_no="014500000/2022-00123",
        topic="工业、交通\\信息产业(含电信)",
        issuer="中共赣州市委 赣州市人民政府",
        written=plan_written,
        published=datetime(2022, 3, 15, 10, 20, tzinfo=CST),
        doc_number=plan.doc_number,
        content_source="赣州市人民政府办公室",
        table_html=table_html,
        table_text=table_text,
        attachment=(f"./{docx_name}", f"{plan.attachment_title}.docx"),
    )
    rules = xize()
    rules_doc = _Doc(
        path=f"{COLUMN}202308/t20230816_4587216.html",
        title=rules.title,
        paragraphs=rules.paragraphs,
        index_no="014500000/2023-00456",
        topic="农业、林业、水利\\农业",
        issuer="中共江西省委办公厅 江西省人民政府办公厅",
        written=datetime(2023, 8, 10, tzinfo=CST),
        published=datetime(2023, 8, 16, 9, 5, tzinfo=CST),
        doc_number="",
        content_source="江西日报",
    )
    docx = task_table_docx(plan, plan_written)
    return [rules_doc, plan_doc], docx  # newest first, as the column lists them


def _page(title: str, column: str, head_meta: str, main: str) -> str:
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{esc(title)}</title>
<meta name="SiteName" content="{SITE_NAME}">
<meta name="SiteDomain" content="www.ganzhou.gov.cn">
<meta name="SiteIDCode" content="3607000001">
<meta name="ColumnName" content="{esc(column)}">
<meta name="ColumnType" content="{esc(column)}">
{head_meta}
<link rel="stylesheet" type="text/css" href="/images/style.css">
</head>
<body>
<div class="header">
  <div class="logo"><a href="/index.html">{SITE_NAME}</a></div>
  <div class="top-links"><a href="/index.html">网站首页</a> | <a href="javascript:;">无障碍浏览</a> | \
<a href="javascript:;">长者模式</a></div>
</div>
<div class="nav">
  <ul>
    <li><a href="/index.html">首页</a></li>
    <li><a href="/zwgk/index.html">政务公开</a></li>
    <li><a href="{COLUMN}index.html">政策文件</a></li>
    <li><a href="https://www.jxzwfww.gov.cn/" target="_blank">政务服务</a></li>
    <li><a href="http://www.jiangxi.gov.cn/" target="_blank">走进江西</a></li>
  </ul>
</div>
{main}
<div class="footer">
  <p><a href="/index.html">网站首页</a> | <a href="javascript:;">联系我们</a> | \
<a href="/admin/login.html">网站管理</a></p>
  <p>主办单位：赣州市人民政府办公室　承办单位：赣州市信息中心</p>
  <p>网站标识码：3607000001　<a href="https://beian.miit.gov.cn/" target="_blank">赣ICP备05004127号</a>　\
<img src="/images/ga.png" alt="">公安备案号：赣公网安备 36070202000195号</p>
</div>
</body>
</html>
"""


def _crumb(*parts: tuple[str, str]) -> str:
    items = " &gt; ".join(f'<a href="{href}">{esc(text)}</a>' if href else esc(text) for href, text in parts)
    return f'<div class="position">当前位置：{items}</div>'


_CRUMB = (("/index.html", "首页"), ("/zwgk/index.html", "政务公开"), (f"{COLUMN}index.html", "政策文件"))


_INDENT = ' style="text-indent: 2em;"'
_CENTER = ' style="text-align: center;"'
_ENUMERATED = re.compile(r"^\*\*(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)")


def _centred(paragraph: str, doc: _Doc) -> bool:
    """Red-header lines, document titles and chapter heads are centred; numbered heads are not."""
    if paragraph in doc.paragraphs[:2] and doc.doc_number:
        return True
    return paragraph.startswith("**") and paragraph.endswith("**") and not _ENUMERATED.match(paragraph)


def _doc_page(doc: _Doc, prev: _Doc | None, nxt: _Doc | None, others: list[_Doc]) -> str:
    pub = doc.published.strftime("%Y-%m-%d %H:%M")
    meta = "\n".join(
        [
            f'<meta name="ArticleTitle" content="{esc(doc.title)}">',
            f'<meta name="PubDate" content="{pub}">',
            f'<meta name="ContentSource" content="{esc(doc.content_source)}">',
            f'<meta name="Keywords" content="{esc(doc.title)}">',
            f'<meta name="Description" content="{esc(doc.title)}">',
        ]
    )
    xxgk = f"""<div class="xxgk-info">
<table class="xxgk-table" cellspacing="0" cellpadding="0">
<tr><th>索引号：</th><td>{esc(doc.index_no)}</td><th>主题分类：</th><td>{esc(doc.topic)}</td></tr>
<tr><th>发文机关：</th><td>{esc(doc.issuer)}</td><th>成文日期：</th><td>{doc.written:%Y-%m-%d}</td></tr>
<tr><th>标　　题：</th><td colspan="3">{esc(doc.title)}</td></tr>
<tr><th>发文字号：</th><td>{esc(doc.doc_number)}</td><th>发布日期：</th><td>{doc.published:%Y-%m-%d}</td></tr>
</table>
</div>"""
    body = [para(p, _CENTER if _centred(p, doc) else _INDENT) for p in doc.paragraphs]
    if doc.table_html:
        assert doc.attachment is not None
        body += [para("附件"), para(f"**{doc.attachment[1].removesuffix('.docx')}**", ' align="center"')]
        body.append(doc.table_html)
    attachment = ""
    if doc.attachment:
        href, text = doc.attachment
        attachment = f'<div class="fujian"><p>附件：<a href="{href}" target="_blank">{esc(text)}</a></p></div>'

    def neighbour(label: str, other: _Doc | None) -> str:
        if other is None:
            return f"<p>{label}：没有了</p>"
        return f'<p>{label}：<a href="{other.path}">{esc(other.title)}</a></p>'

    related = links([(o.path, o.title) for o in others])
    main = f"""<div class="main">
{_crumb(*_CRUMB)}
<div class="article-left">
{xxgk}
<div class="article">
  <h1>{esc(doc.title)}</h1>
  <div class="info"><span>发布时间：{pub}</span><span>来源：{esc(doc.content_source)}</span>\
<span>字号：[<a href="javascript:;">大</a> <a href="javascript:;">中</a> <a href="javascript:;">小</a>]</span></div>
  <div class="TRS_Editor">
{chr(10).join(body)}
  </div>
  {attachment}
  <div class="prev-next">
    {neighbour("上一篇", prev)}
    {neighbour("下一篇", nxt)}
  </div>
  <div class="print-bar"><a href="javascript:window.print();">【打印本页】</a>　\
<a href="javascript:window.close();">【关闭窗口】</a></div>
</div>
</div>
<div class="article-right">
  <div class="side-box"><h3>相关链接</h3>
  <ul>
{related}
<li><a href="https://www.gov.cn/zhengce/" target="_blank">中国政府网·政策</a></li>
<li><a href="http://www.jiangxi.gov.cn/" target="_blank">江西省人民政府</a></li>
  </ul>
  </div>
</div>
</div>"""
    return _page(f"{doc.title}_{SITE_NAME}", "政策文件", meta, main)


def _listing_page(page: int, pages: int, docs: list[_Doc]) -> str:
    items = "\n".join(
        f'<li><a href=".{d.path[len(COLUMN) - 1 :]}" target="_blank" title="{esc(d.title)}">{esc(d.title)}</a>'
        f"<span>{d.published:%Y-%m-%d}</span></li>"
        for d in docs
    )
    nav = [f"共{pages}页", '<a href="index.html">首页</a>']
    if page > 0:
        prev = "index.html" if page == 1 else f"index_{page - 1}.html"
        nav.append(f'<a class="prev" href="{prev}">上一页</a>')
    if page < pages - 1:
        nav.append(f'<a class="next" href="index_{page + 1}.html">下一页</a>')
    last = "index.html" if pages == 1 else f"index_{pages - 1}.html"
    nav.append(f'<a href="{last}">尾页</a>')
    main = f"""<div class="main">
{_crumb(*_CRUMB)}
<div class="list-box">
  <h2 class="column-title">政策文件</h2>
  <ul class="list">
{items}
  </ul>
  <script type="text/javascript">
    var countPage = {pages}, currentPage = {page}, prefixName = "index", suffixName = "html";
  </script>
  <div class="page">{" ".join(nav)}</div>
</div>
</div>"""
    return _page(f"政策文件_{SITE_NAME}", "政策文件", "", main)


def _simple_page(title: str, column: str, inner: str) -> str:
    return _page(f"{title}_{SITE_NAME}", column, "", f'<div class="main">\n{inner}\n</div>')


def _html(text: str, modified: datetime, expected: dict[str, object] | None = None) -> Resource:
    return make_resource(text.encode(_ENCODING), HTML_BARE, modified, expected)


def build_gov() -> dict[str, Resource]:
    """Every page of the government portal, keyed by path (``/404.html`` is the not-found page)."""
    docs, docx = _documents()
    site: dict[str, Resource] = {"/robots.txt": robots()}
    newest = docs[0].published
    for i, doc in enumerate(docs):
        prev = docs[i - 1] if i > 0 else None
        nxt = docs[i + 1] if i + 1 < len(docs) else None
        html = _doc_page(doc, prev, nxt, [d for d in docs if d is not doc])
        expected = answers(
            doc.title,
            _expected_body(doc),
            doc.published,
            doc.content_source,
            written_at=doc.written,
            doc_number=doc.doc_number,
            issuer=doc.issuer,
            index_no=doc.index_no,
        )
        site[doc.path] = _html(html, doc.published, expected)
        if doc.attachment:
            folder = doc.path.rsplit("/", 1)[0]
            site[f"{folder}/{doc.attachment[0].removeprefix('./')}"] = make_resource(docx, DOCX, doc.published)
    for page, doc in enumerate(docs):
        name = "index.html" if page == 0 else f"index_{page}.html"
        site[f"{COLUMN}{name}"] = _html(_listing_page(page, len(docs), [doc]), doc.published)
    latest = links([(d.path, d.title) for d in docs])
    site["/index.html"] = _html(
        _simple_page(
            "首页",
            "首页",
            f'<div class="box"><h3><a href="{COLUMN}index.html">政策文件</a></h3><ul>\n{latest}\n</ul></div>',
        ),
        newest,
    )
    site["/zwgk/index.html"] = _html(
        _simple_page(
            "政务公开",
            "政务公开",
            f"{_crumb(('/index.html', '首页'), ('', '政务公开'))}\n"
            f'<div class="box"><h3><a href="{COLUMN}index.html">政策文件</a></h3><ul>\n{latest}\n</ul></div>',
        ),
        newest,
    )
    site["/admin/login.html"] = _html(_simple_page("网站管理", "网站管理", "<h2>网站管理登录</h2>"), SITE_EPOCH)
    site["/404.html"] = _html(
        _simple_page("页面不存在", "404", "<h2>404</h2><p>您访问的页面不存在或已被删除。</p>"), SITE_EPOCH
    )
    return site


def _expected_body(doc: _Doc) -> str:
    body = body_text(doc.paragraphs)
    if doc.table_text and doc.attachment:
        body += "\n附件\n" + doc.attachment[1].removesuffix(".docx") + "\n" + doc.table_text
    return body
