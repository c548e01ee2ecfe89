"""Newspaper (e-paper) stories: page position, 下转/上接 markers, and joining continued stories.

E-paper systems (方正 founder, 北大方正 ``#ozoom``, 华光 …) put each story on its own page with
a header like "第03版：要闻" and mark stories that jump pages with "（下转第3版）" at the end of
the first part and "（上接第1版）" at the start of the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from crawler.article import Article
from crawler.extraction.dom import HtmlElement
from crawler.text.normalize import normalize_for_hash

__all__ = ["find_page_header", "join_continuations", "strip_jump_markers"]

_PAGE_HEADER = re.compile(
    r"第\s*(?P<letter>[A-Za-z]?)(?P<num>\d{1,3})\s*版\s*[:：]?\s*(?:[（(【\[]\s*)?(?P<name>[\u4e00-\u9fff·A-Za-z0-9]{1,12})?"
)
_CN_NUM = "一二三四五六七八九十"
# （下转第3版） / 下转A2版 / (转第3版) / （上接第1版） / 接第一版
_JUMP = re.compile(
    r"[（(【\[]?\s{0,4}(?P<kind>下转|转|上接|接)\s{0,4}(?:第\s{0,4})?"
    r"(?P<page>[A-Za-z]?\d{1,3}|[" + _CN_NUM + r"]{1,3})\s{0,4}版"
    r"(?:\s{0,4}[）)】\]])?"
)
# e-paper hosts/paths (epaper., /dzb/, /szb/) and the 方正 layout html/2024-01/30/content_3_1.htm;
# a bare content_123.htm is also what www.gov.cn uses, so it does not count on its own
_EPAPER_URL = re.compile(r"e?paper|dzb|szb|dzbk|html/\d{4}-\d{2}/\d{2}/(?:content|node)_", re.I)


def _page_number(raw: str) -> int | None:
    raw = raw.strip()
    digits = re.sub(r"^[A-Za-z]", "", raw)
    if digits.isdigit():
        return int(digits)
    total = 0
    if raw and all(c in _CN_NUM for c in raw):
        if raw == "十":
            return 10
        if raw.startswith("十"):
            return 10 + _CN_NUM.index(raw[1]) + 1
        if "十" in raw:
            tens, _, ones = raw.partition("十")
            total = (_CN_NUM.index(tens) + 1) * 10 + ((_CN_NUM.index(ones) + 1) if ones else 0)
            return total
        return _CN_NUM.index(raw) + 1
    return None


def looks_like_epaper(url: str, has_epaper_container: bool) -> bool:
    """URL or layout says this is a newspaper page (so 第N版 in the header is a page number)."""
    return has_epaper_container or bool(_EPAPER_URL.search(url))


def find_page_header(root: HtmlElement, body: HtmlElement | None = None) -> tuple[int | None, str]:
    """(page number, page name) from the story's "第03版：要闻" header.

    Only text outside links counts: e-paper pages also carry a 版面导航 list linking every
    page of the issue ("第01版：要闻", "第02版：综合" …), and those links say nothing about
    which page this story is on.  Text inside the story body is ignored too.
    """
    skip = set(body.iter()) if body is not None else set()
    for text in _plain_texts(root, skip):
        m = _PAGE_HEADER.search(text)
        if m:
            name = (m.group("name") or "").strip()
            # "第03版：要闻 上一版" → the name stops at navigation words
            name = re.split(r"上一版|下一版|版面|导航|PDF", name)[0]
            return int(m.group("num")), name
    return None, ""


def _plain_texts(el: HtmlElement, skip: set[HtmlElement]) -> Iterator[str]:
    """Own text of every element that is not a link, not inside one and not in ``skip``."""
    if el.tag == "a" or el in skip:
        return
    own = (el.text or "") + "".join(child.tail or "" for child in el)
    if own.strip():
        yield own
    for child in el:
        if isinstance(child.tag, str):
            yield from _plain_texts(child, skip)


def strip_jump_markers(body: str) -> tuple[str, int | None, int | None]:
    """Remove 下转/上接 markers; return (body, continues_to, continued_from).

    Only markers at the very start (上接) or end (下转) of the text, or on lines of their own,
    count: "转第3版" in the middle of a sentence is left alone.
    """
    lines = body.split("\n")
    continues_to: int | None = None
    continued_from: int | None = None
    out: list[str] = []
    last = len(lines) - 1
    for i, line in enumerate(lines):
        new = line
        for m in list(_JUMP.finditer(line)):
            at_edge = m.start() <= 2 or m.end() >= len(line.rstrip()) - 1 or line.strip() == m.group(0).strip()
            if not at_edge:
                continue
            page = _page_number(m.group("page"))
            kind = m.group("kind")
            if kind in ("下转", "转") and (i == last or i >= last - 1 or line.strip() == m.group(0).strip()):
                continues_to = page
                new = new.replace(m.group(0), "")
            elif kind in ("上接", "接") and (i <= 1 or line.strip() == m.group(0).strip()):
                continued_from = page
                new = new.replace(m.group(0), "")
        new = new.strip()
        if new:
            out.append(new)
    return "\n".join(out), continues_to, continued_from


def _same_edition(a: Article, b: Article) -> bool:
    if a.published_at is None or b.published_at is None:
        return True
    return a.published_at.date() == b.published_at.date()


def _title_key(title: str) -> str:
    return normalize_for_hash(re.sub(r"[（(]\s*(?:上接|接)[^）)]*[）)]", "", title))


def join_continuations(articles: list[Article]) -> list[Article]:
    """Join each story that continues on another page with its continuation.

    A story with ``continues_to = N`` is joined with the story on page N of the same edition
    that says it is ``continued_from`` the story's page and has the same title — or, when no
    title matches, with the only such story on page N.  The joined Article keeps the first
    part's metadata and URL; its body is both parts, in order; attachments and links are
    merged; ``continues_to`` becomes the continuation's own (chains of jumps are followed);
    ``part_urls`` lists the continuations' URLs, so they are known and not fetched again.
    The continuation no longer appears on its own.  Unmatched articles pass through unchanged.
    """
    used: set[int] = set()
    result: list[Article] = []
    index = {id(a): i for i, a in enumerate(articles)}
    for art in articles:
        if index[id(art)] in used:
            continue
        current = art
        page = art.epaper_page  # page of the part joined last: the next part says "上接" that page
        guard = 0
        while current.continues_to is not None and guard < 10:
            guard += 1
            target = _find_continuation(current, page, articles, used)
            if target is None:
                break
            used.add(index[id(target)])
            page = target.epaper_page
            current = replace(
                current,
                body=(current.body + "\n" + target.body).strip("\n"),
                continues_to=target.continues_to,
                part_urls=[*current.part_urls, target.url, *target.part_urls],
                attachments=current.attachments + [x for x in target.attachments if x not in current.attachments],
                attachment_links=current.attachment_links
                + [x for x in target.attachment_links if x not in current.attachment_links],
                provenance={**current.provenance, "body": current.provenance.get("body", "") + "+continuation"},
            )
        result.append(current)
    return [a for a in result if index.get(id(a)) not in used]


def _find_continuation(story: Article, page: int | None, articles: list[Article], used: set[int]) -> Article | None:
    candidates = [
        a
        for i, a in enumerate(articles)
        if i not in used
        and a is not story
        and a.epaper_page == story.continues_to
        and a.continued_from is not None
        and (page is None or a.continued_from == page)
        and _same_edition(story, a)
    ]
    if not candidates:
        return None
    key = _title_key(story.title)
    same_title = [a for a in candidates if key and _title_key(a.title) == key]
    if len(same_title) == 1:
        return same_title[0]
    if len(candidates) == 1:
        return candidates[0]
    return None
