"""A TRS (拓尔思) WCM column: ``/zwgk/tzgg/index.html``, ``index_1.html`` … ``index_4.html``.

The pages carry no pager links: TRS templates define ``createPageHTML(_nPageCount, _nCurrIndex,
_sPageName, _sPageExt)`` in the head and call it where the pager goes, and the browser writes
the links (page 0 is ``index.html``, page k ``index_k.html``). Article links are relative,
``./202507/t20250702_5012345.html``, and article pages call the same function for their own
(single) page, as TRS article templates do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crawler.replica.markup import esc
from crawler.replica.patterns.articles import PatternArticle, article_resources, page_html, pattern_articles
from crawler.replica.resource import HTML_UTF8, Resource, make_resource

SITE = "赣州市发展和改革委员会"
COLUMN = "/zwgk/tzgg/"
PAGES, PER_PAGE = 5, 4

# The pager function, as TRS templates put it in the head (written for the replica).
PAGER_SCRIPT = """<script type="text/javascript">
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
  if(_nPageCount == null || _nPageCount <= 1){ return; }
  var nCurrIndex = _nCurrIndex || 0;
  var name = function(i){ return i == 0 ? _sPageName + "." + _sPageExt : _sPageName + "_" + i + "." + _sPageExt; };
  document.write("<a href=\\"" + name(0) + "\\">首页</a>&nbsp;");
  if(nCurrIndex > 0){ document.write("<a href=\\"" + name(nCurrIndex - 1) + "\\">上一页</a>&nbsp;"); }
  else { document.write("<span>上一页</span>&nbsp;"); }
  if(nCurrIndex + 1 < _nPageCount){ document.write("<a href=\\"" + name(nCurrIndex + 1) + "\\">下一页</a>&nbsp;"); }
  else { document.write("<span>下一页</span>&nbsp;"); }
  document.write("<a href=\\"" + name(_nPageCount - 1) + "\\">尾页</a>&nbsp;");
  document.write("<span>当前第" + (nCurrIndex + 1) + "页 共" + _nPageCount + "页</span>");
}
</script>"""


def _path(i: int, when: datetime) -> str:
    return f"{COLUMN}{when:%Y%m}/t{when:%Y%m%d}_{5012345 - i}.html"


def _listing(page: int, items: list[PatternArticle]) -> str:
    rows = "\n".join(f'<li><a href=".{a.path[len(COLUMN) - 1:]}" target="_blank" title="{esc(a.title)}">'
                     f'{esc(a.title)}</a><span>{a.published:%Y-%m-%d}</span></li>' for a in items)
    main = f"""<div class="main"><div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> \
&gt; <a href="{COLUMN}">通知公告</a></div>
<div class="list"><h2>通知公告</h2><ul class="list-ul">
{rows}
</ul>
<div class="page"><script type="text/javascript">createPageHTML({PAGES}, {page}, "index", "html");</script></div>
</div></div>"""
    return page_html(SITE, f"通知公告_{SITE}", PAGER_SCRIPT, main)


def build_trs() -> dict[str, Resource]:
    """Every page of the column, keyed by path."""
    arts = pattern_articles(PAGES * PER_PAGE, _path, seed=41, step=timedelta(hours=30))

    def own_pager(art: PatternArticle) -> str:
        name = art.path.rsplit("/", 1)[1].removesuffix(".html")
        return (f'{PAGER_SCRIPT}<div class="page"><script type="text/javascript">'
                f'createPageHTML(1, 0, "{name}", "html")</script></div>')

    site = article_resources(SITE, "通知公告", arts, column_href=COLUMN, extra=own_pager)
    for page in range(PAGES):
        items = arts[page * PER_PAGE : (page + 1) * PER_PAGE]
        name = "index.html" if page == 0 else f"index_{page}.html"
        site[COLUMN + name] = make_resource(_listing(page, items).encode("utf-8"), HTML_UTF8, items[0].published)
    return site


__all__ = ["COLUMN", "PAGES", "PER_PAGE", "build_trs"]
