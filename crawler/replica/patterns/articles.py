"""Article pages of the pattern sites: real seed text (the bulk site's recombined paragraphs,
``crawler.replica.bulk``) in a government portal's article template, with the answers tests
check (``Resource.expected``).

A pattern site differs from another in how its listings are built and paged, not in its
article pages, so they share this one template: the 政府网站 metadata every CMS here emits
(``ArticleTitle``, ``PubDate``, ``ContentSource``), a title, a 发布时间 / 来源 line, and the
body in ``div#zoom``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crawler.replica.bulk import bulk_articles
from crawler.replica.markup import answers, body_text, esc, paras, robots
from crawler.replica.resource import CST, HTML_UTF8, Resource, make_resource

LATEST = datetime(2025, 7, 2, 10, 30, tzinfo=CST)
"""When the newest article of a pattern site was published."""


@dataclass(frozen=True)
class PatternArticle:
    """One article of a pattern site; ``number`` is its place, 0 the newest."""

    number: int
    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    source: str


def pattern_articles(n: int, path_of: Callable[[int, datetime], str], *, seed: int,
                     step: timedelta = timedelta(hours=7)) -> list[PatternArticle]:
    """``n`` articles, newest first, ``step`` apart, at the paths ``path_of(number, published)``
    gives; their text is the bulk site's (``seed`` picks which), without reposts."""
    out = []
    for i, art in enumerate(bulk_articles(n, seed=seed, repost_every=0)):
        published = LATEST - step * i
        out.append(PatternArticle(i, path_of(i, published), art.title, art.paragraphs, published, art.source))
    return out


_MENU = (("政务公开", ("政府信息公开", "政策文件", "政策解读", "规划计划", "统计数据")),
         ("政务服务", ("办事指南", "网上办事", "便民服务", "办件查询")),
         ("互动交流", ("领导信箱", "在线访谈", "征集调查", "咨询投诉")),
         ("专题专栏", ("优化营商环境", "乡村振兴", "生态文明建设")))


def _menu() -> str:
    items = []
    for name, subs in _MENU:
        sub = "".join(f'<li><a href="javascript:;">{x}</a></li>' for x in subs)
        items.append(f'<li><a href="javascript:;">{name}</a><ul class="sub">{sub}</ul></li>')
    return "".join(items)


def page_html(site: str, title: str, head: str, main: str, *, charset: str = "utf-8") -> str:
    """A page of a provincial portal: header, navigation, ``main``, and the long footer (site
    map, 主办 line, 备案) that makes a real page several kilobytes."""
    departments = "".join(f'<li><a href="javascript:;">{d}</a></li>' for d in (
        "省发展改革委", "省教育厅", "省科技厅", "省工业和信息化厅", "省民政厅", "省司法厅", "省财政厅",
        "省人力资源社会保障厅", "省自然资源厅", "省生态环境厅", "省住房城乡建设厅", "省交通运输厅",
        "省水利厅", "省农业农村厅", "省商务厅", "省文化和旅游厅", "省卫生健康委", "省应急管理厅",
        "省审计厅", "省市场监管局", "省统计局", "省医保局", "省林业局", "省地方金融管理局"))
    menu = _menu()
    cities = "".join(f'<li><a href="javascript:;">{c}人民政府</a></li>' for c in (
        "南昌市", "景德镇市", "萍乡市", "九江市", "新余市", "鹰潭市", "赣州市", "吉安市", "宜春市", "抚州市", "上饶市"))
    national = "".join(f'<li><a href="javascript:;">{d}</a></li>' for d in (
        "中国政府网", "国家发展和改革委员会", "工业和信息化部", "商务部", "财政部", "生态环境部", "海关总署",
        "国家统计局"))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="SiteName" content="{esc(site)}">
{head}
<title>{esc(title)}</title>
<link rel="stylesheet" href="/images/common.css">
</head>
<body>
<div class="header"><div class="logo"><a href="/index.html">{esc(site)}</a></div>
<div class="search"><form action="/jsearch/search.do" method="get"><input type="text" name="q">\
<a href="javascript:;">搜索</a></form></div></div>
<div class="nav"><ul><li><a href="/index.html">首页</a></li>{menu}</ul></div>
{main}
<div class="footer">
  <div class="links"><h4>省直部门网站</h4><ul>{departments}</ul></div>
  <div class="links"><h4>设区市政府网站</h4><ul>{cities}</ul></div>
  <div class="links"><h4>国务院部门网站</h4><ul>{national}</ul></div>
  <p><a href="javascript:;">网站地图</a> | <a href="javascript:;">联系我们</a> | <a href="javascript:;">使用帮助</a></p>
  <p>主办：{esc(site)}　　承办：{esc(site)}办公室</p>
  <p>网站标识码：3600000001　　<a href="https://beian.miit.gov.cn/" target="_blank">赣ICP备05004317号</a></p>
</div>
</body>
</html>"""


def article_html(site: str, column: str, art: PatternArticle, *, column_href: str = "index.html",
                 extra: str = "") -> str:
    """The article page of ``art`` in column ``column`` of ``site``; ``extra`` goes after the
    body (a CMS's own script, a TRS pager)."""
    pub = f"{art.published:%Y-%m-%d %H:%M}"
    head = "\n".join([f'<meta name="ArticleTitle" content="{esc(art.title)}">',
                      f'<meta name="PubDate" content="{pub}">',
                      f'<meta name="ContentSource" content="{esc(art.source)}">',
                      f'<meta name="ColumnName" content="{esc(column)}">'])
    main = f"""<div class="main">
<div class="crumb">当前位置：<a href="/index.html">首页</a> &gt; <a href="{esc(column_href)}">{esc(column)}</a></div>
<div class="article">
  <h1>{esc(art.title)}</h1>
  <div class="info"><span>发布时间：{pub}</span><span>来源：{esc(art.source)}</span>\
<span>字号：[<a href="javascript:;">大</a> <a href="javascript:;">中</a> <a href="javascript:;">小</a>]</span></div>
  <div id="zoom">
{paras(art.paragraphs)}
  </div>
  {extra}
  <div class="print"><a href="javascript:window.print();">【打印本页】</a> \
<a href="javascript:window.close();">【关闭窗口】</a></div>
</div>
</div>"""
    return page_html(site, f"{art.title}_{site}", head, main)


def article_resources(site: str, column: str, arts: Iterable[PatternArticle], *, column_href: str = "index.html",
                      extra: Callable[[PatternArticle], str] = lambda art: "") -> dict[str, Resource]:
    """``{path: Resource}`` of the article pages, with their answers, and the site's robots.txt."""
    out: dict[str, Resource] = {"/robots.txt": robots()}
    for art in arts:
        html = article_html(site, column, art, column_href=column_href, extra=extra(art))
        expected = answers(art.title, body_text(art.paragraphs), art.published, art.source)
        out[art.path] = make_resource(html.encode("utf-8"), HTML_UTF8, art.published, expected)
    return out


__all__ = ["LATEST", "PatternArticle", "article_html", "article_resources", "page_html", "pattern_articles"]
