"""The provincial news site (大江网 / jxnews style, UTF-8): a 江西新闻 section and its articles.

Besides seed 001 it carries two reposts of park-portal stories, published a few hours after the
originals, credited 来源：产业园区网, with a shortened headline and an edited body. They exist so
that dedupe has a story with two sources to merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from crawler.replica.markup import SITE_EPOCH, answers, body_text, esc, links, paras, robots
from crawler.replica.resource import CST, HTML_UTF8, Resource, make_resource
from crawler.replica.seeds import dajiang, park_items
from crawler.replica.text import sentences, summary

SITE_NAME = "大江网"
SECTION = "/jxxw/"
PAGE_SIZE = 2

# Park-portal items reposted here: (title prefix in seed 003, repost headline, repost time, edit).
# The repost headline drops the original's second clause, as news sites shorten headlines.
REPOSTS = (
    (
        "富乐德·长飞半导体项目落户黄冈",
        "富乐德·长飞半导体项目落户黄冈",
        datetime(2025, 7, 2, 15, 26, 31, tzinfo=CST),
        "drop-last-sentence",
    ),
    (
        "杭州进出口规模突破7000亿元",
        "杭州进出口规模突破7000亿元",
        datetime(2025, 7, 2, 16, 2, 17, tzinfo=CST),
        "drop-last-paragraph",
    ),
)


@dataclass(frozen=True)
class NewsStory:
    """One article page of the news site."""

    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    source: str
    editor: str
    author: str = ""
    original_title: str = ""


def _path(published: datetime, number: int) -> str:
    return f"/system/{published:%Y/%m/%d}/{number:09d}.shtml"


def _edited(paragraphs: tuple[str, ...], edit: str) -> tuple[str, ...]:
    if edit == "drop-last-paragraph":
        return paragraphs[:-1]
    last = sentences(paragraphs[-1])
    return (*paragraphs[:-1], "".join(last[:-1]))


def news_stories() -> list[NewsStory]:
    """The section's articles, newest first."""
    seed = dajiang()
    out = [
        NewsStory(
            _path(seed.published_at, 19543210),
            seed.story.title,
            seed.story.paragraphs,
            seed.published_at,
            seed.source,
            editor="网络编辑",
        )
    ]
    items = park_items()
    for n, (prefix, headline, when, edit) in enumerate(REPOSTS):
        item = next(i for i in items if i.title.startswith(prefix))
        body = (*_edited(item.paragraphs, edit), f"（原标题：{item.title}）")
        out.append(
            NewsStory(
                _path(when, 20911734 + n),
                headline,
                body,
                when,
                "产业园区网",
                editor="网络编辑",
                original_title=item.title,
            )
        )
    return sorted(out, key=lambda a: a.published, reverse=True)


def _page(title: str, description: str, main: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<meta name="keywords" content="江西新闻,大江网,中国江西网">
<meta name="description" content="{esc(description)}">
<link rel="stylesheet" href="/css/article.css">
</head>
<body>
<div class="topbar">
  <a class="logo" href="/index.html">{SITE_NAME}（中国江西网）</a>
  <ul class="menu">
    <li><a href="/index.html">首页</a></li>
    <li><a href="{SECTION}index.html">江西新闻</a></li>
    <li><a href="javascript:;">时政</a></li>
    <li><a href="javascript:;">财经</a></li>
    <li><a href="javascript:;">民生</a></li>
  </ul>
  <form class="search" action="/search/" method="get"><input name="q" type="text">\
<a href="/search/?q=jiangxi">搜索</a></form>
</div>
{main}
<div class="footer">
  <p><a href="javascript:;">关于我们</a> | <a href="javascript:;">广告服务</a> | <a href="javascript:;">联系我们</a></p>
  <p>江西日报社主管 中国江西网主办　版权所有 未经书面授权禁止使用</p>
  <p><a href="https://beian.miit.gov.cn/" target="_blank">赣ICP备09000813号-1</a>　\
赣公网安备 36010802000101号　互联网新闻信息服务许可证 36120170001</p>
</div>
</body>
</html>
"""


def _crumb() -> str:
    return (
        f'<div class="crumb">您的位置：<a href="/index.html">首页</a> &gt; '
        f'<a href="{SECTION}index.html">江西新闻</a> &gt; 正文</div>'
    )


def _article_page(art: NewsStory, prev: NewsStory | None, nxt: NewsStory | None, others: list[NewsStory]) -> str:
    line = f"{art.published:%Y-%m-%d %H:%M:%S} 来源：{esc(art.source)}"
    if art.author:
        line += f" 作者：{esc(art.author)}"

    def neighbour(label: str, other: NewsStory | None) -> str:
        if other is None:
            return f"<li>{label}：没有了</li>"
        return f'<li>{label}：<a href="{other.path}">{esc(other.title)}</a></li>'

    related = links([(o.path, o.original_title or o.title) for o in others], ' target="_blank"')
    main = f"""<div class="wrap">
{_crumb()}
<div class="left">
  <div class="article">
    <h1>{esc(art.title)}</h1>
    <div class="info"><span class="time">{line}</span></div>
    <div class="share">分享到：<a class="wx" href="javascript:;">微信</a> <a class="wb" href="javascript:;">微博</a> \
<a class="qzone" href="javascript:;">QQ空间</a></div>
    <div class="content" id="content">
{paras(art.paragraphs)}
    </div>
    <div class="editor">【责任编辑：{esc(art.editor)}】</div>
    <ul class="pn">
      {neighbour("上一篇", prev)}
      {neighbour("下一篇", nxt)}
    </ul>
  </div>
</div>
<div class="right">
  <div class="side-box related"><h3>相关新闻</h3>
  <ul>
{related}
  </ul>
  </div>
</div>
</div>"""
    return _page(f"{art.title}_{SITE_NAME}", summary(list(art.paragraphs), 80), main)


class Listed(Protocol):
    """What a listing row shows of an article (NewsStory, or a bulk article)."""

    @property
    def path(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def published(self) -> datetime: ...


def _listing_page(page: int, pages: int, items: Sequence[Listed], window: int | None = None) -> str:
    """Listing page ``page`` of ``pages``; ``window`` limits the page-number links to that many
    either side of the current page (a 1,000-page listing does not link every page)."""
    rows = "\n".join(
        f'<li><a href="{a.path}" target="_blank">{esc(a.title)}</a><span class="date">{a.published:%Y-%m-%d %H:%M}'
        f"</span></li>"
        for a in items
    )

    def name(n: int) -> str:
        return "index.html" if n == 1 else f"index_{n}.html"

    first, last = (1, pages) if window is None else (max(1, page - window), min(pages, page + window))
    nav = [f'<a href="{name(1)}">首页</a>']
    if page > 1:
        nav.append(f'<a class="prev" href="{name(page - 1)}">上一页</a>')
    nav += [f'<a href="{name(n)}"{" class=cur" if n == page else ""}>{n}</a>' for n in range(first, last + 1)]
    if page < pages:
        nav.append(f'<a class="next" href="{name(page + 1)}">下一页</a>')
    nav.append(f'<a href="{name(pages)}">尾页</a>')
    main = f"""<div class="wrap">
<div class="crumb">您的位置：<a href="/index.html">首页</a> &gt; 江西新闻</div>
<div class="left">
  <h2 class="column">江西新闻</h2>
  <ul class="newslist">
{rows}
  </ul>
  <div class="pages">{" ".join(nav)} 共{pages}页</div>
</div>
</div>"""
    return _page(f"江西新闻_{SITE_NAME}", "江西新闻", main)


def build_news() -> dict[str, Resource]:
    """Every page of the news site, keyed by path (``/404.html`` is the not-found page)."""
    arts = news_stories()
    site: dict[str, Resource] = {"/robots.txt": robots()}
    for i, art in enumerate(arts):
        prev = arts[i - 1] if i > 0 else None
        nxt = arts[i + 1] if i + 1 < len(arts) else None
        html = _article_page(art, prev, nxt, [a for a in arts if a is not art])
        expected = answers(art.title, body_text(art.paragraphs), art.published, art.source)
        site[art.path] = make_resource(html.encode("utf-8"), HTML_UTF8, art.published, expected)
    pages = -(-len(arts) // PAGE_SIZE)
    for page in range(1, pages + 1):
        chunk = arts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        name = "index.html" if page == 1 else f"index_{page}.html"
        html = _listing_page(page, pages, chunk)
        site[f"{SECTION}{name}"] = make_resource(html.encode("utf-8"), HTML_UTF8, chunk[0].published)
    home = _page(
        f"{SITE_NAME}_中国江西网",
        "江西新闻",
        f'<div class="wrap"><h2><a href="{SECTION}index.html">江西新闻</a></h2><ul>\n'
        f"{links([(a.path, a.title) for a in arts])}\n</ul></div>",
    )
    site["/index.html"] = make_resource(home.encode("utf-8"), HTML_UTF8, arts[0].published)
    search = _page(f"搜索_{SITE_NAME}", "搜索", '<div class="wrap"><h2>站内搜索</h2></div>')
    site["/search/index.html"] = make_resource(search.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    missing = _page(f"404_{SITE_NAME}", "404", '<div class="wrap"><h2>404</h2><p>抱歉，您访问的页面不存在。</p></div>')
    site["/404.html"] = make_resource(missing.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    return site
