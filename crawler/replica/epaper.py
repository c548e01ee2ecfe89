"""The newspaper e-paper (江西日报 style, 方正/founder layout, UTF-8).

``/index.html`` lists the issues; each issue has 版面 pages ``/html/YYYY-MM/DD/node_<page>.htm``
and story pages ``content_<page>_<k>.htm`` next to them. Issue 2023-08-15 comes from seed 000
(page 1 starts two stories that continue on page 3, where the full 细则 is printed too); issue
2024-01-30 comes from seed 004 (a 专版 page split into its section stories, and a page 1 导读).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crawler.replica.markup import SITE_EPOCH, answers, body_text, esc, paras, robots
from crawler.replica.resource import CST, HTML_UTF8, Resource, make_resource
from crawler.replica.seeds import (
    CONTINUED_FROM_1,
    CONTINUED_ON_3,
    Story,
    continued_stories,
    qingshanhu,
    xize,
)

PAPER = "江西日报"
_MARKERS = {CONTINUED_FROM_1, CONTINUED_ON_3}
_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Page:
    """One 版面: its number, name and stories (in print order)."""

    number: int
    name: str
    stories: tuple[Story, ...] = ()
    teasers: tuple[tuple[int, int], ...] = ()  # 导读: (page, story index) of stories elsewhere
    banner: str = ""

    @property
    def label(self) -> str:
        """The 版面 name as printed, e.g. ``第03版：要闻``."""
        return f"第{self.number:02d}版：{self.name}"


@dataclass(frozen=True)
class Issue:
    """One day's paper."""

    date: datetime
    pages: tuple[Page, ...] = field(default_factory=tuple)

    @property
    def folder(self) -> str:
        """The issue's URL folder, e.g. ``/html/2023-08/15/``."""
        return f"/html/{self.date:%Y-%m}/{self.date:%d}/"

    @property
    def date_line(self) -> str:
        """The date as printed in the page header, e.g. ``2023年08月15日 星期二``."""
        return f"{self.date:%Y年%m月%d日} 星期{_WEEKDAYS[self.date.weekday()]}"

    def page(self, number: int) -> Page:
        """The page numbered ``number``."""
        return next(p for p in self.pages if p.number == number)


def issues() -> tuple[Issue, ...]:
    """The issues on the e-paper, newest first."""
    tour, qsh = continued_stories()
    issue_a = Issue(
        datetime(2023, 8, 15, tzinfo=CST),
        (
            Page(1, "要闻", (Story(tour.title, tour.front), Story(qsh.title, qsh.front))),
            Page(3, "要闻", (xize(), Story(tour.title, tour.back), Story(qsh.title, qsh.back))),
        ),
    )
    special = qingshanhu()
    issue_b = Issue(
        datetime(2024, 1, 30, tzinfo=CST),
        (
            Page(1, "要闻", teasers=tuple((6, k) for k in range(len(special.stories)))),
            Page(6, "专版", special.stories, banner=special.banner),
        ),
    )
    return issue_b, issue_a


def _story_href(page: int, k: int) -> str:
    return f"content_{page}_{k + 1}.htm"


def _page_html(issue: Issue, title: str, main: str) -> str:
    nav = "\n".join(f'<li><a id="pageLink" href="node_{p.number}.htm">{esc(p.label)}</a></li>' for p in issue.pages)
    return f"""<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{esc(title)}</title>
<link rel="stylesheet" href="/css/founder.css">
</head>
<body>
<div class="header">
  <a class="masthead" href="/index.html">{PAPER}数字报</a>
  <span class="issue-date">{esc(issue.date_line)}</span>
  <a class="search" href="/search/?key=">检索</a>
  <a class="past" href="/index.html">往期回顾</a>
</div>
<div class="bmdh"><h4>版面导航</h4>
<ul>
{nav}
</ul>
</div>
{main}
<div class="footer">
  <p>{PAPER}社 版权所有　未经许可不得复制或镜像</p>
  <p><a href="https://beian.miit.gov.cn/" target="_blank">赣ICP备05000567号</a></p>
</div>
</body>
</html>
"""


def _node(issue: Issue, page: Page) -> str:
    if page.stories:
        items = "\n".join(
            f'<li><a href="{_story_href(page.number, k)}">{esc(s.title)}</a></li>' for k, s in enumerate(page.stories)
        )
        stories = f'<div class="news-list"><h4>本版标题导航</h4>\n<ul>\n{items}\n</ul>\n</div>'
    else:
        stories = '<div class="news-list"><h4>本版标题导航</h4>\n<ul>\n</ul>\n</div>'
    teasers = ""
    if page.teasers:
        rows = []
        for number, k in page.teasers:
            target = issue.page(number)
            story = target.stories[k]
            text = " ".join(t for t in (story.kicker, story.title, story.subtitle) if t)
            rows.append(
                f'<li><a href="{_story_href(number, k)}">{esc(text)}</a><span>（{esc(target.label)}）</span></li>'
            )
        teasers = '<div class="daodu"><h4>导读</h4>\n<ul>\n' + "\n".join(rows) + "\n</ul>\n</div>"
    numbers = [p.number for p in issue.pages]
    at = numbers.index(page.number)
    prev = f'<a class="prev-page" href="node_{numbers[at - 1]}.htm">上一版</a>' if at > 0 else ""
    nxt = f'<a class="next-page" href="node_{numbers[at + 1]}.htm">下一版</a>' if at + 1 < len(numbers) else ""
    banner = f'<div class="banner">{esc(page.banner)}</div>' if page.banner else ""
    main = f"""<div class="layout">
<div class="page-title">{esc(page.label)}</div>
{banner}
<div class="paper-img"><img src="/images/page_{page.number:02d}.jpg" alt="{esc(page.label)}" usemap="#PagePicMap"></div>
{stories}
{teasers}
<div class="page-turn">{prev} {nxt}</div>
</div>"""
    return _page_html(issue, f"{PAPER}数字报-{page.label}-{issue.date:%Y年%m月%d日}", main)


def _story(issue: Issue, page: Page, k: int, order: list[tuple[int, int]]) -> str:
    story = page.stories[k]
    at = order.index((page.number, k))
    prev = f'<a href="{_story_href(*order[at - 1])}">上一篇</a>' if at > 0 else "<span>上一篇：没有了</span>"
    nxt = (
        f'<a href="{_story_href(*order[at + 1])}">下一篇</a>' if at + 1 < len(order) else "<span>下一篇：没有了</span>"
    )
    heads = []
    if story.kicker:
        heads.append(f"<h3>{esc(story.kicker)}</h3>")
    heads.append(f"<h1>{esc(story.title)}</h1>")
    if story.subtitle:
        heads.append(f"<h2>{esc(story.subtitle)}</h2>")
    enp = (
        f"<!--enpproperty <articleid>{issue.date:%Y%m%d}{page.number:02d}{k + 1:02d}</articleid>"
        f"<date>{issue.date:%Y-%m-%d}</date><author></author><title>{esc(story.title)}</title>"
        f"<keyword></keyword><subtitle>{esc(story.subtitle)}</subtitle><introtitle>{esc(story.kicker)}</introtitle>"
        f"<siteid>1</siteid><nodeid>{page.number}</nodeid><nodename>{esc(page.name)}</nodename>"
        "<nodesearchname></nodesearchname>/enpproperty-->"
    )
    banner = f'<div class="banner">{esc(page.banner)}</div>' if page.banner else ""
    main = f"""<div class="layout">
<div class="article">
  <div class="bmnum">{esc(page.label)} {esc(issue.date_line)}</div>
  {banner}
  {enp}
  <div class="article-title">
  {chr(10).join(heads)}
  </div>
  <div id="ozoom"><founder-content>
{paras(story.paragraphs)}
  </founder-content></div>
  <div class="article-turn">{prev} <a href="node_{page.number}.htm">返回版面</a> {nxt}</div>
</div>
</div>"""
    return _page_html(issue, f"{PAPER}数字报-{story.title}", main)


def _index(all_issues: tuple[Issue, ...]) -> str:
    latest = all_issues[0]
    items = "\n".join(f'<li><a href="{i.folder}node_1.htm">{esc(i.date_line)}</a></li>' for i in all_issues)
    main = f"""<div class="layout">
<div class="latest"><a href="{latest.folder}node_1.htm">最新一期：{esc(latest.date_line)}</a></div>
<div class="past-issues"><h4>往期回顾</h4>
<ul>
{items}
</ul>
</div>
</div>"""
    return _page_html(latest, f"{PAPER}数字报", main)


def build_epaper() -> dict[str, Resource]:
    """Every page of the e-paper, keyed by path (``/404.html`` is the not-found page)."""
    all_issues = issues()
    site: dict[str, Resource] = {"/robots.txt": robots()}
    for issue in all_issues:
        order = [(p.number, k) for p in issue.pages for k in range(len(p.stories))]
        for page in issue.pages:
            node = _node(issue, page).encode("utf-8")
            site[f"{issue.folder}node_{page.number}.htm"] = make_resource(node, HTML_UTF8, issue.date)
            for k, story in enumerate(page.stories):
                html = _story(issue, page, k, order).encode("utf-8")
                expected = answers(
                    story.title,
                    # the 上接/下转 lines are layout, reported as continues_to / continued_from
                    body_text(p for p in story.paragraphs if p not in _MARKERS),
                    issue.date,
                    PAPER,
                    epaper_page=page.number,
                    epaper_page_name=page.name,
                    continues_to=3 if CONTINUED_ON_3 in story.paragraphs else None,
                    continued_from=1 if CONTINUED_FROM_1 in story.paragraphs else None,
                )
                site[f"{issue.folder}{_story_href(page.number, k)}"] = make_resource(
                    html, HTML_UTF8, issue.date, expected
                )
    site["/index.html"] = make_resource(_index(all_issues).encode("utf-8"), HTML_UTF8, all_issues[0].date)
    latest = all_issues[0]
    search = _page_html(latest, f"{PAPER}数字报-检索", '<div class="layout"><h4>全文检索</h4></div>')
    site["/search/index.html"] = make_resource(search.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    missing = _page_html(latest, f"{PAPER}数字报-404", '<div class="layout"><p>404 页面不存在</p></div>')
    site["/404.html"] = make_resource(missing.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    return site
