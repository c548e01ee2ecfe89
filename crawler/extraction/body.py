"""Main-text extraction without per-site rules.

How it works (one pass over the tree, then one render):

1. Every block element gets a *value* from its own inline text: characters outside links,
   weighted by punctuation (prose has ，。; menus and headline lists do not), minus a penalty
   for link text (navigation, 相关文章 lists, pagers).  Elements whose class/id says they are
   boilerplate (comments, sidebars, footers, share bars, breadcrumbs …) count negative as a
   whole.
2. A block's *score* is its value plus its children's scores, so the best node is the
   maximum-scoring subtree: it grows to take in all prose and stops where growing would
   mostly add links and boilerplate.  Known content containers (TRS_Editor, #zoom, #ozoom,
   founder-content, article/content classes) get a bonus so near-ties go their way.
3. Inside the chosen node, boilerplate-classed and link-dense negative blocks are skipped,
   the rest is rendered with paragraphs on their own lines and table rows as tab-separated
   cells, and the head/tail of the text is trimmed of title, byline and 上一篇/相关文章 lines.

Steps 1 and 2 are :mod:`crawler.extraction.density` (the scorer) and
:mod:`crawler.extraction.blocks` (what counts as furniture); this module chooses the node, renders
and trims it, and falls back when the chosen text is tiny next to the page's prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.extraction.blocks import BlockStats, is_boilerplate_container, is_furniture
from crawler.extraction.density import Scorer, skip_factory
from crawler.extraction.dom import HtmlElement
from crawler.extraction.rendering import render
from crawler.text.cleaning import clean_lines, is_byline, trim_tail
from crawler.text.normalize import normalize_lines, normalize_text

__all__ = ["BodyResult", "extract_body", "is_boilerplate_container", "is_furniture"]


@dataclass
class BodyResult:
    """The main text, the element it came from and which path chose it.

    ``path`` is "density" (the best-scoring block), "selector" (the caller's node),
    "density:unwrapped" (furniture-classed wrappers that hold most of the page were re-scored as
    ordinary blocks), "density:second" (the runner-up block) or "" when nothing was found.
    """

    text: str
    node: HtmlElement | None
    path: str = ""


def extract_body(root: HtmlElement, *, title: str = "", node: HtmlElement | None = None) -> BodyResult:
    """The article text of a parsed page (``root`` from :func:`crawler.extraction.dom.parse`).

    ``node`` forces the container (a per-site selector matched it); otherwise the best-scoring
    subtree is used.  ``title`` helps trim a repeated headline off the top.  The text has one
    paragraph per line, table rows as tab-separated cells, and no boilerplate lines.

    When the chosen text is tiny next to the prose the page holds (see :func:`_too_small`), two
    fallbacks are tried in order and the first that gives a text of a fair size wins: the page
    re-scored with furniture-classed wrappers that hold most of its prose taken as ordinary
    blocks (a template that opens ``<div class="post_header">`` and never closes it puts the whole
    article inside a "header"), then the runner-up block outside the first choice.
    """
    body = root.find("body")
    if body is None or any(isinstance(c.tag, str) and c.tag not in ("head", "body") for c in root):
        # no <body>, or markup after a premature </body> that the parser hung under <html>
        body = root
    scorer = Scorer()
    top = BlockStats()
    scorer.visit(body, body.tag, top, False, False)
    if node is not None:
        return BodyResult(_text(node, scorer, title), node, "selector")
    chosen = scorer.best()
    text = _text(chosen if chosen is not None else body, scorer, title)
    prose = _page_prose(scorer, body)
    if not _too_small(text, prose):
        return BodyResult(text, chosen, "density" if chosen is not None else "")
    wrappers = _wrappers(scorer, body, prose)
    if wrappers:
        rescored = Scorer(wrappers)
        rescored.visit(body, body.tag, BlockStats(), False, False)
        again = rescored.best()
        if again is not None:
            alt = _text(again, rescored, title)
            if not _too_small(alt, prose):
                return BodyResult(alt, again, "density:unwrapped")
    second = scorer.runner_up(chosen)
    if second is not None:
        alt = _text(second, scorer, title)
        if not _too_small(alt, prose) and len(alt) > len(text):
            return BodyResult(alt, second, "density:second")
    return BodyResult(text, chosen, "density" if chosen is not None else "")


def _text(node: HtmlElement, scorer: Scorer, title: str) -> str:
    raw = render(node, skip_factory(scorer))
    text = normalize_lines(raw, join_cjk_gaps=True)
    lines = _trim_head(text.split("\n"), title)
    lines = trim_tail(lines)
    lines = _trim_end_furniture(clean_lines(lines))
    return "\n".join(lines)


# Where an account's promotion starts after the article: 扫描下方二维码, 长按识别二维码, 扫码关注,
# 关注我们的公众号 …; what follows it (回复【…】查看, 点【在看】) is all promotion.
_PROMO_START = re.compile(r"(?:扫描|长按|识别).{0,8}二维码|扫码关注|关注.{0,6}公众号|点击.{0,6}关注|回复【")
# The comment form and counters that end a portal's article block: 评论（0） 我要跟帖 已输入0字
_COMMENT_FORM = re.compile(
    r"^(?:评论|跟帖|留言)\s*[（(]\s*\d+\s*[)）]$|^我要(?:跟帖|评论|留言)$|^已输入\s*\d+\s*字$"
    r"|^阅读数?\s*[(（]?\s*\d+\s*[)）]?$"
)
# A portal's disclaimer under a reposted article
_DISCLAIMER = re.compile(r"^[【\[(（]?(?:免责声明|版权声明|特别声明)[】\])）]?[:：]")  # on stripped lines
_END_WINDOW = 15  # how many last lines are looked at


def _trim_end_furniture(lines: list[str]) -> list[str]:
    """Drop what follows an article inside its block: the comment form and counters, a repost
    disclaimer, and a public account's promotion (from its first 扫码关注-style line on, when
    only short lines follow)."""
    while lines:
        last = lines[-1].strip()
        if not (_COMMENT_FORM.match(last) or (_DISCLAIMER.match(last) and len(last) <= 200)):
            break
        lines = lines[:-1]
    start = max(0, len(lines) - _END_WINDOW)
    for i in range(start, len(lines)):
        if len(lines[i]) <= 60 and _PROMO_START.search(lines[i]) and all(len(x) <= 60 for x in lines[i + 1 :]):
            return lines[:i] if i > 0 else lines
    return lines


# A body this share of the page's prose or less, on a page with at least _MIN_PROSE characters of
# prose, is "tiny next to the page's text": an empty body, or a caption where an article was.
_SMALL_SHARE = 0.12
_MIN_PROSE = 300


def _page_prose(scorer: Scorer, body: HtmlElement) -> int:
    """Characters of the page's prose: own text of blocks that carry prose punctuation and are
    not mostly links, wherever they sit (furniture included: that is what a fallback looks at)."""
    total = 0
    for st in scorer.stats.values():
        if st.own_punct >= 1 and st.own_links * 2 < st.own_chars:
            total += st.own_chars - st.own_links
    return total


def _too_small(text: str, prose: int) -> bool:
    return prose >= _MIN_PROSE and len("".join(text.split())) < _SMALL_SHARE * prose


def _wrappers(scorer: Scorer, body: HtmlElement, prose: int) -> frozenset[HtmlElement]:
    """Furniture-classed elements holding half the page's prose or more: layout wrappers with an
    unlucky name, or a mis-nested header/footer, not the furniture their class says."""
    out = []
    for el in scorer.flagged:
        st = scorer.stats.get(el)
        if st is not None and st.punct >= 3 and st.chars - st.links >= 0.5 * prose:
            out.append(el)
    return frozenset(out)


def _trim_head(lines: list[str], title: str) -> list[str]:
    """Drop the headline, byline and tool strip that containers often repeat above the text."""
    t = normalize_text(title).replace(" ", "")
    i = 0
    limit = min(len(lines), 8)
    while i < limit:
        line = lines[i]
        compact = line.replace(" ", "").replace("\t", "")
        if t and len(compact) >= 4 and (compact == t or (len(compact) >= 8 and compact in t)):
            i += 1
            continue
        if is_byline(line):
            i += 1
            continue
        break
    return lines[i:]
