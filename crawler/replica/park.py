"""The industrial-park investment news portal of seed 003 (产业园区网 style, UTF-8).

Listing pages carry four items each (title link, ~120-character summary, date) inside the
portal's boilerplate: hotline boxes, the 投稿 link and a hidden 投稿提示 modal holding the
submission rules. Detail pages carry the same boilerplate around ``div.article-content``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crawler.replica.markup import SITE_EPOCH, answers, body_text, esc, paras, robots
from crawler.replica.resource import CST, HTML_UTF8, Resource, make_resource
from crawler.replica.seeds import ParkBoilerplate, park_boilerplate, park_items
from crawler.replica.text import summary

SITE_NAME = "产业园区网"
PAGE_SIZE = 4
FIRST_ID = 40318
SOURCE = "产业园区网"


@dataclass(frozen=True)
class ParkStory:
    """One detail page of the portal."""

    path: str
    title: str
    paragraphs: tuple[str, ...]
    date: str
    published: datetime


def park_stories() -> list[ParkStory]:
    """All seed-003 items as detail pages, in listing order (newest first, 9 minutes apart)."""
    out = []
    for i, item in enumerate(park_items()):
        day = datetime.fromisoformat(item.date).replace(tzinfo=CST)
        published = day + timedelta(hours=11, minutes=48) - timedelta(minutes=9 * i)
        out.append(
            ParkStory(f"/news/{item.date}/{FIRST_ID - i}.html", item.title, item.paragraphs, item.date, published)
        )
    return out


def _modal(bp: ParkBoilerplate) -> str:
    rules = "\n".join(f"<p>{esc(r)}</p>" for r in bp.modal_rules)
    terms = "\n".join(
        f"<h4>{esc(t)}</h4>" if t.startswith(("一、", "二、")) else f"<p>{esc(t)}</p>" for t in bp.modal_terms
    )
    return f"""<div class="modal" id="tougao-modal" style="display:none" aria-hidden="true">
  <div class="modal-dialog">
    <div class="modal-header"><h3>{esc(bp.modal_title)}</h3>\
<a class="modal-close" href="javascript:;">{esc(bp.modal_close)}</a></div>
    <div class="modal-body">
{rules}
      <label><input type="checkbox" name="agree"> {esc(bp.modal_agree)}</label>
      <a class="btn-confirm" href="/admin/tougao.html">{esc(bp.modal_confirm)}</a>
      <div class="tougao-terms">
{terms}
      </div>
    </div>
  </div>
</div>"""


def _sidebar(bp: ParkBoilerplate) -> str:
    hot_links = " ".join(f'<li><a href="javascript:;">{esc(t)}</a></li>' for t in bp.hotline_links)
    invest = "\n".join(f'<li><a href="javascript:;">{esc(t)}</a></li>' for t in bp.invest_items)
    return f"""<div class="sidebar">
  <div class="side-box zs-center">
    <h3>{esc(bp.hotline_title)}</h3>
    <p class="tel">{esc(bp.hotline)}</p>
    <ul>{hot_links}</ul>
    <div class="policy"><p>{esc(bp.policy_prompt)}</p>\
<a class="btn" href="javascript:;">{esc(bp.policy_button)}</a></div>
  </div>
  <div class="side-box invest-hotline">
    <h3>{esc(bp.invest_title)}</h3>
    <p class="tel">{esc(bp.invest_hotline)}</p>
    <ul>
{invest}
    </ul>
  </div>
</div>"""


def _page(title: str, main: str) -> str:
    bp = park_boilerplate()
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<meta name="keywords" content="产业园区,招商引资,园区资讯">
<link rel="stylesheet" href="/static/css/main.css">
</head>
<body>
<div class="header">
  <a class="logo" href="/index.html">{SITE_NAME}</a>
  <ul class="nav">
    <li><a href="/index.html">首页</a></li>
    <li><a href="/news/list_1.html">园区资讯</a></li>
    <li><a href="javascript:;">招商政策</a></li>
    <li><a href="javascript:;">产业园区</a></li>
  </ul>
  <div class="hotline">{esc(bp.hotline_title)} {esc(bp.hotline)}</div>
</div>
<div class="container">
{main}
{_sidebar(bp)}
</div>
{_modal(bp)}
<div class="footer">
  <p>{SITE_NAME} 版权所有　<a href="https://beian.miit.gov.cn/" target="_blank">京ICP备17035689号-2</a></p>
</div>
<script src="/static/js/modal.js"></script>
</body>
</html>
"""


def _contribute(bp: ParkBoilerplate) -> str:
    link = f'<a href="javascript:;" data-toggle="modal" data-target="#tougao-modal">{esc(bp.contribute)}</a>'
    return f'<div class="tougao">{link}</div>'


def _listing(page: int, pages: int, stories: list[ParkStory]) -> str:
    bp = park_boilerplate()
    items = "\n".join(
        f"""<li class="news-item">
  <h3><a href="{s.path}" target="_blank">{esc(s.title)}</a></h3>
  <p class="summary">{esc(summary(list(s.paragraphs)))}</p>
  <span class="date">{s.date}</span>
</li>"""
        for s in stories
    )
    nav = ['<a href="list_1.html">首页</a>']
    if page > 1:
        nav.append(f'<a class="prev" href="list_{page - 1}.html">上一页</a>')
    nav += [
        f'<span class="current">{n}</span>' if n == page else f'<a href="list_{n}.html">{n}</a>'
        for n in range(1, pages + 1)
    ]
    if page < pages:
        nav.append(f'<a class="next" href="list_{page + 1}.html">下一页</a>')
    nav.append(f'<a href="list_{pages}.html">尾页</a>')
    main = f"""<div class="main">
  <div class="crumb"><a href="/index.html">首页</a> &gt; 园区资讯</div>
  <ul class="news-list">
{items}
  </ul>
  {_contribute(bp)}
  <div class="pagination">{" ".join(nav)} <span class="total">共 {pages} 页</span></div>
</div>"""
    return _page(f"园区资讯_第{page}页_{SITE_NAME}", main)


def _detail(story: ParkStory, prev: ParkStory | None, nxt: ParkStory | None) -> str:
    bp = park_boilerplate()

    def neighbour(label: str, other: ParkStory | None) -> str:
        if other is None:
            return f"<p>{label}：没有了</p>"
        return f'<p>{label}：<a href="{other.path}">{esc(other.title)}</a></p>'

    main = f"""<div class="main">
  <div class="crumb"><a href="/index.html">首页</a> &gt; <a href="/news/list_1.html">园区资讯</a> &gt; 正文</div>
  <div class="article">
    <h1 class="article-title">{esc(story.title)}</h1>
    <div class="article-info"><span class="time">时间：{story.published:%Y-%m-%d %H:%M}</span>\
<span class="source">来源：{SOURCE}</span></div>
    <div class="article-content">
{paras(story.paragraphs)}
    </div>
    {_contribute(bp)}
    <div class="article-nav">
      {neighbour("上一篇", prev)}
      {neighbour("下一篇", nxt)}
    </div>
  </div>
</div>"""
    return _page(f"{story.title}_{SITE_NAME}", main)


def build_park() -> dict[str, Resource]:
    """Every page of the park portal, keyed by path (``/404.html`` is the not-found page)."""
    stories = park_stories()
    site: dict[str, Resource] = {"/robots.txt": robots()}
    for i, story in enumerate(stories):
        prev = stories[i - 1] if i > 0 else None
        nxt = stories[i + 1] if i + 1 < len(stories) else None
        expected = answers(story.title, body_text(story.paragraphs), story.published, SOURCE)
        html = _detail(story, prev, nxt).encode("utf-8")
        site[story.path] = make_resource(html, HTML_UTF8, story.published, expected)
    pages = -(-len(stories) // PAGE_SIZE)
    for page in range(1, pages + 1):
        chunk = stories[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        html = _listing(page, pages, chunk).encode("utf-8")
        site[f"/news/list_{page}.html"] = make_resource(html, HTML_UTF8, chunk[0].published)
    home = _page(
        SITE_NAME,
        '<div class="main"><h2><a href="/news/list_1.html">园区资讯</a></h2><ul>\n'
        + "\n".join(f'<li><a href="{s.path}">{esc(s.title)}</a></li>' for s in stories[:PAGE_SIZE])
        + "\n</ul></div>",
    )
    site["/index.html"] = make_resource(home.encode("utf-8"), HTML_UTF8, stories[0].published)
    admin = _page(f"在线投稿_{SITE_NAME}", '<div class="main"><h2>在线投稿</h2></div>')
    site["/admin/tougao.html"] = make_resource(admin.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    missing = _page(f"404_{SITE_NAME}", '<div class="main"><h2>404</h2><p>页面不存在</p></div>')
    site["/404.html"] = make_resource(missing.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    return site
