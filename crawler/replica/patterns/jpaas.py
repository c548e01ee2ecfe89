"""A newer Hanweb (jpaas) column of a provincial department: ``/col/col12345/index.html``.

No ``datastore``: the list is a script array, ``articleList:[{"title":…,"url":"/col/col12345/
content/content_<19-digit id>.html",…}]``, rendered into an empty container by the page's
script, and ``jquery.jpage.js`` links the pages as ``index.html?uid=7657741&pageNum=N`` (the
server renders page N). Like some provincial pages, its head carries 瑞数 (Ruishu) markers: a
``<meta … r="m">``, an inline ``$_ts`` script and an ``r='m'`` script include, in a page that
is otherwise served plainly.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from crawler.replica.patterns.articles import PatternArticle, article_resources, page_html, pattern_articles
from crawler.replica.resource import HTML_UTF8, Resource, make_resource

SITE = "江西省工业和信息化厅"
COLUMN_ID, UID = 12345, 7657741
COLUMN = f"/col/col{COLUMN_ID}/index.html"
PER_PAGE, TOTAL = 15, 35
PAGES = math.ceil(TOTAL / PER_PAGE)

# What 瑞数-protected pages carry in their head (the values are made up for the replica).
RUISHU_HEAD = """<meta content="Edx3m4jYKWIlB5qZzUzkKmOJUhMktBaOqhzqrpAlEpLl" r="m">
<script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=47211;\
$_ts.cd="qhzqrpAlEpLlDsZmDGqbcqEqDG3FrS93qGq5rpLcDpGFqp9dqG3mkqGliaEqcs3xqGqF";if($_ts.lcd)$_ts.lcd();</script>
<script type="text/javascript" charset="utf-8" src="/c3V7GxMe6Ph1/kLp2a9QeX0fW.c8d21a4.js" r='m'></script>"""


_SIDE = "".join(f'<li><a href="/col/col{COLUMN_ID + i}/index.html">{name}</a></li>' for i, name in enumerate((
    "工作动态", "通知公告", "政策文件", "政策解读", "规划计划", "统计数据", "人事信息", "财政资金", "建议提案办理",
    "行政许可", "行政处罚", "双随机一公开", "政府信息公开年报", "依申请公开", "政府信息公开指南")))


def _path(i: int, when: datetime) -> str:
    return f"/col/col{COLUMN_ID}/content/content_{1790000000000000000 + 7919 * (TOTAL - i)}.html"


def _listing(page: int, items: list[PatternArticle]) -> str:
    data = [{"id": a.path.rsplit("_", 1)[1].removesuffix(".html"), "columnId": COLUMN_ID, "title": a.title,
             "url": a.path, "publishTime": f"{a.published:%Y-%m-%d %H:%M:%S}", "source": a.source,
             "summary": a.paragraphs[0][:120]} for a in items]
    main = f"""<div class="main">
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="{COLUMN}">工作动态</a></div>
<div class="side"><h3>信息公开</h3><ul>{_SIDE}</ul></div>
<div class="list"><h2>工作动态</h2>
<ul class="List_list" id="list_{UID}"></ul>
<div class="page" id="page_{UID}"></div>
</div></div>
<script type="text/javascript" src="/module/jpage/jquery.jpage.js"></script>
<script type="text/javascript">
var listData = {{uid: "{UID}", pageNum: {page}, pageSize: {PER_PAGE}, totalRecord: {TOTAL},
  articleList:{json.dumps(data, ensure_ascii=False)}}};
$(function(){{
  var html = "";
  $.each(listData.articleList, function(i, item){{
    html += '<li><a href="' + item.url + '" target="_blank" title="' + item.title + '">' + item.title +
      '</a><span>' + item.publishTime + '</span></li>';
  }});
  $("#list_{UID}").html(html);
  $("#page_{UID}").jpage({{totalRecord: listData.totalRecord, perPage: listData.pageSize,
    currentPage: listData.pageNum, url: "index.html?uid={UID}&pageNum="}});
}});
</script>"""
    return page_html(SITE, f"工作动态_{SITE}", RUISHU_HEAD, main)


def build_jpaas() -> dict[str, Resource]:
    """Every page of the column, keyed by path, and by path and query for pages 1 … 3."""
    arts = pattern_articles(TOTAL, _path, seed=61, step=timedelta(hours=26))
    site = article_resources(SITE, "工作动态", arts, column_href=COLUMN)
    for page in range(1, PAGES + 1):
        items = arts[(page - 1) * PER_PAGE : page * PER_PAGE]
        resource = make_resource(_listing(page, items).encode("utf-8"), HTML_UTF8, items[0].published)
        site[f"{COLUMN}?uid={UID}&pageNum={page}"] = resource
        if page == 1:
            site[COLUMN] = resource
    return site


__all__ = ["COLUMN", "PAGES", "TOTAL", "UID", "build_jpaas"]
