"""A Hanweb (大汉) JCMS column: ``/col/col4296/index.html`` and its ``dataproxy.jsp`` records.

The column page lists nothing in HTML. Its first group of records (``perPage`` × ``groupSize``)
sits as CDATA in ``<script type="text/xml"><datastore><recordset><record>…``, with a
``<nextgroup>`` link carrying the column's parameters, and a ``jpage({…})`` call giving
``proxyUrl``, ``perPage``, ``totalRecord`` and ``ajaxParam``. The browser's jpage plugin asks
``/module/web/jpage/dataproxy.jsp?startrecord=16&endrecord=30&perpage=5`` (with the parameters)
for the next group, which answers XML: ``<totalrecord>``, ``<totalpage>`` and the records.
A request without the column's ``columnid`` and ``unitid`` gets an empty recordset, as on a
real site. Articles are ``/art/2025/7/2/art_4296_<id>.html``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import quote

from crawler.replica.markup import esc
from crawler.replica.patterns.articles import PatternArticle, article_resources, page_html, pattern_articles
from crawler.replica.resource import HTML_UTF8, Page, Request, Resource, make_resource

SITE = "江西省人民政府"
COLUMN_ID, UNIT_ID, WEB_ID = 4296, 31227, 3
COLUMN = f"/col/col{COLUMN_ID}/index.html"
PROXY = "/module/web/jpage/dataproxy.jsp"
PER_PAGE, GROUP_SIZE, TOTAL = 5, 3, 40
XML_UTF8 = "text/xml;charset=UTF-8"


def _path(i: int, when: datetime) -> str:
    return f"/art/{when.year}/{when.month}/{when.day}/art_{COLUMN_ID}_{3500000 - i}.html"


def _record(art: PatternArticle) -> str:
    return (f"<record><![CDATA[\n<li><a href='{art.path}' target='_blank' title='{esc(art.title)}'>{esc(art.title)}"
            f"</a><span class='bt-data-time'>{art.published:%Y-%m-%d}</span></li>]]></record>")


def _params() -> str:
    return (f"appid=1&webid={WEB_ID}&path=/&columnid={COLUMN_ID}&unitid={UNIT_ID}"
            f"&webname={quote(quote(SITE))}&permissiontype=0")


def _column_page(arts: list[PatternArticle]) -> str:
    first = arts[: PER_PAGE * GROUP_SIZE]
    records = "\n".join(_record(a) for a in first)
    main = f"""<div class="main">
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="{COLUMN}">政务要闻</a></div>
<div class="list"><h2>政务要闻</h2>
<div id="{UNIT_ID}"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="{PROXY}?page=1&{_params()}"></a>]]></nextgroup>
<recordset>
{records}
</recordset>
</datastore></script></div>
<script language="javascript" src="/module/web/jpage/jquery.jpage.js"></script>
<script type="text/javascript">
$(document).ready(function(){{
  $('#{UNIT_ID}').jpage({{
    dataStore: $('#{UNIT_ID} script[type="text/xml"]').html(),
    proxyUrl: '{PROXY}', perPage: {PER_PAGE}, totalRecord: {TOTAL}, groupSize: {GROUP_SIZE},
    barPosition: 'bottom', dataBefore: '<ul class="bt-list">', dataAfter: '</ul>',
    ajaxParam: {{col:1, appid:1, webid:{WEB_ID}, path:'/', columnid:{COLUMN_ID}, sourceContentType:1,
      unitid:'{UNIT_ID}', webname:'{SITE}', permissiontype:0}}
  }});
}});
</script>
</div></div>"""
    return page_html(SITE, f"政务要闻_{SITE}", '<meta name="ColumnName" content="政务要闻">', main)


def _proxy(arts: list[PatternArticle]) -> Page:
    @cache
    def answer(start: int, end: int, per_page: int, ours: bool) -> Resource:
        chosen = arts[max(start, 1) - 1 : end] if ours and start <= end else []
        total = TOTAL if ours else 0
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<datastore>\n'
                f"<totalrecord>{total}</totalrecord>\n<totalpage>{math.ceil(total / max(per_page, 1))}</totalpage>\n"
                "<recordset>\n" + "\n".join(_record(a) for a in chosen) + "\n</recordset>\n</datastore>\n")
        modified = chosen[0].published if chosen else arts[-1].published
        return make_resource(body.encode("utf-8"), XML_UTF8, modified)

    def handle(request: Request) -> Resource | None:
        q = {k: v[0] for k, v in request.query.items()}
        try:
            start, end = int(q.get("startrecord", "1")), int(q.get("endrecord", "0"))
            per_page = int(q.get("perpage", str(PER_PAGE)))
        except ValueError:
            return None
        ours = q.get("columnid") == str(COLUMN_ID) and q.get("unitid") == str(UNIT_ID)
        return answer(start, end, per_page, ours)

    return handle


def build_hanweb() -> dict[str, Page]:
    """Every page of the column: the column page, the data proxy (a handler) and the articles."""
    arts = pattern_articles(TOTAL, _path, seed=51, step=timedelta(hours=20))
    site: dict[str, Page] = dict(article_resources(SITE, "政务要闻", arts, column_href=COLUMN))
    site[COLUMN] = make_resource(_column_page(arts).encode("utf-8"), HTML_UTF8, arts[0].published)
    site[PROXY] = _proxy(arts)
    return site


__all__ = ["COLUMN", "PROXY", "TOTAL", "build_hanweb"]
