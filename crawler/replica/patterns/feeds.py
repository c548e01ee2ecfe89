"""The ``feeds`` pattern site: listings that are no HTML pages, over the demo sites' real articles.

- ``/rss/yqzx.xml``: an RSS 2.0 channel (产业园区网's 园区资讯), as Chinese CMSs export it: titles
  and descriptions in CDATA, ``<pubDate>`` written ``2025-07-02 11:48:00`` (China time, not the
  RFC 822 date the RSS 2.0 spec asks for: TRS and PHPCMS feeds write it so), a permalink guid.
- ``/atom/news.xml``: an Atom 1.0 feed (RFC 4287; 产业园区网's news): ``<updated>`` and
  ``<published>`` as RFC 3339 dates with the +08:00 offset, ``<link rel="alternate">``.
- ``/sitemap.xml``: a sitemap index (sitemaps.org 0.9) naming a Google news sitemap
  (``/sitemap_news.xml``: ``<news:publication_date>``, ``<news:language>zh-cn``) and a plain
  sitemap served gzipped (``/sitemap_zwgk.xml.gz``: 政策文件 with ``<lastmod>`` dates, as
  ``application/x-gzip``); ``/robots.txt`` names the index on a ``Sitemap:`` line.
- ``/search-gov/data?t=zhengcelibrary&p=1&n=2``: a JSON listing endpoint shaped like the
  中国政府网 policy library's search API (``searchVO.catMap.gongwen.listVO``, items with
  ``title``, ``url``, ``pubtimeStr`` ``2025.07.02`` and ``ptime`` in milliseconds), paged by
  ``p`` with ``n`` items a page; a page past the last lists no items.

Feeds, sitemaps and API items carry absolute URLs, as the specs ask, built from the request's
``Host``. The article pages are the demo sites' own (``crawler.replica.sites``: real seed text),
served here at their paths, each linked from exactly one listing (:func:`listed`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from math import ceil

from crawler.replica.markup import ROBOTS_TXT, SITE_EPOCH
from crawler.replica.resource import CST, DOCX, Page, Request, Resource, make_resource
from crawler.replica.sites import build_sites

RSS_PATH, ATOM_PATH = "/rss/yqzx.xml", "/atom/news.xml"
INDEX_PATH, NEWS_SITEMAP, PLAIN_SITEMAP = "/sitemap.xml", "/sitemap_news.xml", "/sitemap_zwgk.xml.gz"
API_PATH = "/search-gov/data"
API_START = f"{API_PATH}?t=zhengcelibrary&q=&sort=pubtime&p=1&n=2"


def _articles() -> dict[str, dict[str, Resource]]:
    """The demo sites' article pages (and the documents they link), by site then path."""
    sites = build_sites()
    return {site: {path: r for path, r in sites[site].items() if r.expected is not None or r.content_type == DOCX}
            for site in ("gov", "news", "park")}


def listed() -> dict[str, list[tuple[str, Resource]]]:
    """Listing (``rss``, ``atom``, ``sitemap_news``, ``sitemap_plain``, ``api``) → the articles it
    links (path, page), newest first; every article is in one listing."""
    pages = _articles()
    park = [(p, r) for p, r in pages["park"].items() if r.expected is not None]
    news = [(p, r) for p, r in pages["news"].items() if r.expected is not None]
    gov = [(p, r) for p, r in pages["gov"].items() if r.expected is not None]
    park = park[3:]  # not the three 政府工作报告: long reports, slow to extract in every test crawl
    # the API lists 大江网's three, of 2025 and 2022: two pages of two items are years apart
    return {"rss": park[:2], "sitemap_news": park[2:4], "atom": park[4:], "api": news, "sitemap_plain": gov}


def _when(page: Resource) -> datetime:
    assert page.expected is not None
    when: datetime = page.expected["published_at"]
    return when.astimezone(CST)


def _summary(page: Resource, limit: int = 80) -> str:
    assert page.expected is not None
    return str(page.expected["body"]).split("\n", 1)[0][:limit]


def _title(page: Resource) -> str:
    assert page.expected is not None
    return str(page.expected["title"])


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _rss(base: str, items: list[tuple[str, Resource]]) -> str:
    entries = "".join(f"""
    <item>
      <title>{_cdata(_title(r))}</title>
      <link>{base}{p}</link>
      <description>{_cdata(_summary(r))}</description>
      <pubDate>{_when(r):%Y-%m-%d %H:%M:%S}</pubDate>
      <guid isPermaLink="true">{base}{p}</guid>
    </item>""" for p, r in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>{_cdata("园区资讯_产业园区网")}</title>
    <link>{base}/news/</link>
    <description>{_cdata("园区资讯")}</description>
    <language>zh-cn</language>
    <lastBuildDate>{_when(items[0][1]):%Y-%m-%d %H:%M:%S}</lastBuildDate>{entries}
  </channel>
</rss>
"""


def _atom(base: str, items: list[tuple[str, Resource]]) -> str:
    entries = "".join(f"""
  <entry>
    <title>{escape(_title(r))}</title>
    <link rel="alternate" type="text/html" href="{base}{p}"/>
    <id>{base}{p}</id>
    <published>{_when(r).isoformat()}</published>
    <updated>{_when(r).isoformat()}</updated>
    <summary type="text">{escape(_summary(r))}</summary>
  </entry>""" for p, r in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">
  <title>产业园区网</title>
  <link rel="self" type="application/atom+xml" href="{base}{ATOM_PATH}"/>
  <link rel="alternate" type="text/html" href="{base}/news/"/>
  <id>{base}/news/</id>
  <updated>{max(_when(r) for _, r in items).isoformat()}</updated>
  <author><name>产业园区网</name></author>{entries}
</feed>
"""


_SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _index(base: str, listed: Mapping[str, list[tuple[str, Resource]]]) -> str:
    maps = "".join(f"""
  <sitemap>
    <loc>{base}{path}</loc>
    <lastmod>{max(_when(r) for _, r in listed[name]).isoformat()}</lastmod>
  </sitemap>""" for path, name in ((NEWS_SITEMAP, "sitemap_news"), (PLAIN_SITEMAP, "sitemap_plain")))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {_SITEMAP_NS}>{maps}\n</sitemapindex>\n'


def _news_sitemap(base: str, items: list[tuple[str, Resource]]) -> str:
    urls = "".join(f"""
  <url>
    <loc>{base}{p}</loc>
    <news:news>
      <news:publication>
        <news:name>产业园区网</news:name>
        <news:language>zh-cn</news:language>
      </news:publication>
      <news:publication_date>{_when(r).isoformat()}</news:publication_date>
      <news:title>{escape(_title(r))}</news:title>
    </news:news>
  </url>""" for p, r in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {_SITEMAP_NS}\n'
            f'        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}\n</urlset>\n')


def _plain_sitemap(base: str, items: list[tuple[str, Resource]]) -> str:
    urls = "".join(f"""
  <url>
    <loc>{base}{p}</loc>
    <lastmod>{_when(r):%Y-%m-%d}</lastmod>
    <changefreq>monthly</changefreq>
    <priority>0.8</priority>
  </url>""" for p, r in items)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {_SITEMAP_NS}>{urls}\n</urlset>\n'


def _api(base: str, items: list[tuple[str, Resource]], page: int, size: int) -> str:
    shown = items[(page - 1) * size: page * size] if page >= 1 else []
    shown_items = [{"title": _title(r), "url": f"{base}{p}", "pubtimeStr": f"{_when(r):%Y.%m.%d}",
                    "ptime": int(_when(r).timestamp() * 1000), "summary": _summary(r, 60), "puborg": "",
                    "pcode": ""} for p, r in shown]
    return json.dumps({"code": 200, "msg": "操作成功", "searchVO": {
        "catMap": {"gongwen": {"listVO": shown_items, "totalCount": len(items)}},
        "totalCount": len(items), "totalpage": ceil(len(items) / size)}}, ensure_ascii=False)



def _serve(render: Callable[[str, Request], bytes | None], content_type: str,
           modified: datetime) -> Callable[[Request], Resource | None]:
    """A handler answering ``render(base URL, request)`` (None: 404), dated ``modified``."""
    def handler(request: Request) -> Resource | None:
        body = render(f"http://{request.headers.get('host', '127.0.0.1')}", request)
        return make_resource(body, content_type, modified) if body is not None else None
    return handler


def _number(request: Request, name: str, default: int) -> int | None:
    value = request.query.get(name, [str(default)])[0]
    return int(value) if value.isdigit() else None


def build_feeds() -> dict[str, Page]:
    """Every page of the ``feeds`` pattern site."""
    lists = listed()
    newest = {name: max(_when(r) for _, r in items) for name, items in lists.items()}

    def api(base: str, request: Request) -> bytes | None:
        page, size = _number(request, "p", 1), _number(request, "n", 20)
        if page is None or not size:
            return None
        return _api(base, lists["api"], page, size).encode()

    site: dict[str, Page] = {}
    for pages in _articles().values():
        site.update(pages)
    site.update({
        "/robots.txt": _serve(lambda base, _r: f"{ROBOTS_TXT}Sitemap: {base}{INDEX_PATH}\n".encode(),
                              "text/plain; charset=utf-8", SITE_EPOCH),
        RSS_PATH: _serve(lambda base, _r: _rss(base, lists["rss"]).encode(), "text/xml; charset=utf-8",
                         newest["rss"]),
        ATOM_PATH: _serve(lambda base, _r: _atom(base, lists["atom"]).encode(),
                          "application/atom+xml; charset=utf-8", newest["atom"]),
        INDEX_PATH: _serve(lambda base, _r: _index(base, lists).encode(), "text/xml; charset=utf-8",
                           max(newest["sitemap_news"], newest["sitemap_plain"])),
        NEWS_SITEMAP: _serve(lambda base, _r: _news_sitemap(base, lists["sitemap_news"]).encode(),
                             "text/xml; charset=utf-8", newest["sitemap_news"]),
        PLAIN_SITEMAP: _serve(lambda base, _r: gzip.compress(_plain_sitemap(base, lists["sitemap_plain"]).encode(),
                                                             mtime=0), "application/x-gzip", newest["sitemap_plain"]),
        API_PATH: _serve(api, "application/json;charset=UTF-8", newest["api"]),
    })
    return site


__all__ = ["API_PATH", "API_START", "ATOM_PATH", "INDEX_PATH", "NEWS_SITEMAP", "PLAIN_SITEMAP",
           "RSS_PATH", "build_feeds", "listed"]
