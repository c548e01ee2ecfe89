"""A news portal whose listings page by number only: no 下一页 link, no script.

* ``/xwzx/list.shtml``, ``list_2.shtml`` … ``list_30.shtml``: 30 pages of two articles, one a
  day back from :data:`~crawler.replica.patterns.articles.LATEST` (the backfill tests' listing);
* ``/tzgg/list.jsp``, ``list.jsp?page=2`` … ``?page=4``: a dynamic column paged by query, three
  articles a page.

Each pager shows 首页, up to three page numbers either side of the current one, 尾页 and
共N页, as many portals do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from crawler.replica.markup import esc
from crawler.replica.patterns.articles import PatternArticle, article_resources, page_html, pattern_articles
from crawler.replica.resource import HTML_UTF8, Resource, make_resource

SITE = "大江网"
NEWS, NEWS_PAGES, NEWS_PER_PAGE = "/xwzx/", 30, 2
NOTICES, NOTICE_PAGES, NOTICES_PER_PAGE = "/tzgg/", 4, 3


def _pager(page: int, pages: int, name: Callable[[int], str]) -> str:
    around = range(max(1, page - 3), min(pages, page + 3) + 1)
    numbers = " ".join(f"<span class='current'>{n}</span>" if n == page else f'<a href="{name(n)}">{n}</a>'
                       for n in around)
    return (f'<div class="page"><a href="{name(1)}">首页</a> {numbers} <a href="{name(pages)}">尾页</a> '
            f"<span>共{pages}页</span></div>")


def _listing(column: str, title: str, page: int, pages: int, items: list[PatternArticle],
             name: Callable[[int], str]) -> str:
    rows = "\n".join(f'<li><a href="{a.path}" target="_blank">{esc(a.title)}</a>'
                     f'<span class="date">{a.published:%Y-%m-%d}</span></li>' for a in items)
    main = f"""<div class="main"><div class="crumb">当前位置：<a href="/index.html">首页</a> &gt; \
<a href="{column}">{esc(title)}</a></div>
<div class="list"><h2>{esc(title)}</h2><ul class="news-list">
{rows}
</ul>
{_pager(page, pages, name)}
</div></div>"""
    return page_html(SITE, f"{title}_{SITE}", "", main)


def _column(column: str, title: str, pages: int, arts: list[PatternArticle], name: Callable[[int], str],
            key: Callable[[int], str]) -> dict[str, Resource]:
    per_page = len(arts) // pages
    out = article_resources(SITE, title, arts, column_href=column)
    for page in range(1, pages + 1):
        items = arts[(page - 1) * per_page : page * per_page]
        html = _listing(column, title, page, pages, items, name)
        out[key(page)] = make_resource(html.encode("utf-8"), HTML_UTF8, items[0].published)
    return out


def _news_path(i: int, when: datetime) -> str:
    return f"{NEWS}system/{when:%Y/%m/%d}/0{30100000 + i}.shtml"


def _notice_path(i: int, when: datetime) -> str:
    return f"{NOTICES}{when:%Y%m}/{6100 + i}.htm"


def build_pagenum() -> dict[str, Resource]:
    """Every page of the portal, keyed by path (and query for the dynamic column)."""
    news = pattern_articles(NEWS_PAGES * NEWS_PER_PAGE, _news_path, seed=31, step=timedelta(days=1))
    notices = pattern_articles(NOTICE_PAGES * NOTICES_PER_PAGE, _notice_path, seed=32, step=timedelta(days=2))

    def news_name(n: int) -> str:
        return "list.shtml" if n == 1 else f"list_{n}.shtml"

    def notice_name(n: int) -> str:
        return "list.jsp" if n == 1 else f"list.jsp?page={n}"

    site = _column(NEWS, "新闻中心", NEWS_PAGES, news, news_name, lambda n: NEWS + news_name(n))
    site |= _column(NOTICES, "通知公告", NOTICE_PAGES, notices, notice_name, lambda n: NOTICES + notice_name(n))
    return site


__all__ = ["NEWS", "NEWS_PAGES", "NEWS_PER_PAGE", "NOTICES", "NOTICES_PER_PAGE", "NOTICE_PAGES", "build_pagenum"]
