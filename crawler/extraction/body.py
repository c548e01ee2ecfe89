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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from crawler.extraction.attachments import ATTACHMENT_HREF
from crawler.extraction.dom import BLOCK_TAGS, HtmlElement, class_id
from crawler.extraction.rendering import render
from crawler.text.cleaning import clean_lines, is_byline, trim_tail
from crawler.text.normalize import normalize_lines, normalize_text

__all__ = ["ATTACHMENT_HREF", "BodyResult", "extract_body", "is_boilerplate_container", "is_furniture"]

# Prose punctuation: a block with these is written text, not a menu.
# (The colon is left out on purpose: "来源：… 时间：…" bylines are full of it.)
_PUNCT = frozenset("，。；！？、“”…")
_WS_CHARS = " \t\n\r\f\v\u3000\xa0"
_WS_RE = re.compile(f"[{re.escape(_WS_CHARS)}]")
_PUNCT_RE = re.compile(f"[{re.escape(''.join(sorted(_PUNCT)))}]")

# Class/id roots that are distinctive enough to match anywhere in the attribute.
_NEG_SUB = re.compile(
    r"comment|sidebar|side-bar|side_bar|footer|copyright|breadcrumb|crumb|bdshare|sharebar|share-|share_|"
    r"social|related|relate|recommend|pagination|advert|qrcode|erweima|login|navbar|topbar|top-bar|"
    r"xgwz|xgxw|xglj|tuijian|paihang|guanggao|fenxiang|dayin|bottom|gotop|backtop|"
    r"toolbar|tool-bar|weixin|wechat|subscribe|disclaimer|mianze|reply|pinglun|"
    r"navigation|topnav|leftnav|subnav|mainnav|sidenav|navlist|nav_|_nav|nav-|-nav",
    re.I,
)
# Short roots that only count as a whole token (so "photo" is not "hot", "download" not "ad").
_NEG_TOKENS = frozenset(
    [
        "nav",
        "navi",
        "menu",
        "ad",
        "ads",
        "hot",
        "tool",
        "tools",
        "link",
        "links",
        "foot",
        "print",
        "top",
        "side",
        "aside",
        "position",
        "location",
        "header",
        "head",
        "search",
        "pager",
        "share",
        "fxk",
        "lmdh",
        "dh",
        "tags",
        "tag",
        "keyword",
        "keywords",
        "sitemap",
    ]
)
# Layout/utility class names (Bootstrap, pintuer, Tailwind-ish) say nothing about content:
# "padding-big-top" is not a top bar, "text-right" not a sidebar.
_UTILITY = re.compile(
    r"^(?:padding|margin|text|pull|float|col|hidden|visible|m[trblxy]?|p[trblxy]?|font|bg|border|radius|"
    r"clearfix|fl|fr|w|h|d|flex|align|justify|row|container|span|grid|xs\d*|sm|md|lg|xl)(?:-|$|\d)",
    re.I,
)
# Containers that Chinese CMSs use for the article text itself (TRS, 大汉, 集约化, 方正 e-paper …).
_POS_SPECIFIC = re.compile(
    r"TRS_Editor|TRS_UEDITOR|trs_editor|\bzoom\b|ozoom|founder-content|article-content|article_content|"
    r"articlecontent|news_content|newscontent|content_text|contenttext|detail-content|detail_content|"
    r"art_con|artcon|main-text|maintext|xwnr|zwnr|\bzw\b|Custom_UnionStyle|post-content|entry-content|"
    r"story-body|article-body|articlebody|con_text|txt_con|text_con|pages_content|view_content",
    re.I,
)
# Generic words that wrap the text *and* its headline/byline: a smaller nudge.
_POS_GENERIC = re.compile(r"\bcontent\b|\barticle\b|\btext\b|\bdetail\b|\bmain\b|\bpost\b", re.I)
_POS_STRONG = re.compile(_POS_SPECIFIC.pattern + "|" + _POS_GENERIC.pattern, re.I)
_TOKEN_SPLIT = re.compile(r"[^a-zA-Z0-9]+")


_ITEM_TAGS = frozenset({"li", "div", "p", "dd", "dt", "tr"})


def _is_linked_item(item: HtmlElement, chars: int) -> bool:
    """The item starts with a link (a headline), or is a short list entry holding one."""
    a = item.find(".//a")
    if a is None:
        return False
    link_text = "".join(a.itertext()).strip()
    if len(link_text) < 5:
        return False
    if item.tag == "li" and chars <= 100:
        return True
    prefix = ""
    for piece in item.itertext():
        prefix += piece
        if len(prefix.strip()) >= len(link_text):
            break
    return prefix.strip().startswith(link_text)


_LIST_CONTAINERS = frozenset({"ul", "ol", "div", "dl", "table", "tbody", "td"})


def _is_headline_list(el: HtmlElement, stats: dict[HtmlElement, _Stats] | None = None) -> bool:
    """3+ sibling items (``<li>``, ``<p>``, ``<div>`` …) that mostly start with a link: other
    articles' headlines, with or without summaries, whatever the container's class says.
    Lists of document links (附件) are not headline lists."""
    counts: dict[str, int] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag in _ITEM_TAGS:
            counts[tag] = counts.get(tag, 0) + 1
    if not counts:
        return False
    tag, n = max(counts.items(), key=lambda kv: kv[1])
    if n < 3:
        return False
    items = [child for child in el if child.tag == tag]
    sizes = []
    for item in items:
        st = stats.get(item) if stats is not None else None
        sizes.append(st.chars if st is not None else len("".join(item.itertext()).split()))
    # headline items are short (a title and maybe a one-line summary); a layout wrapper whose
    # children happen to start with a logo link holds whole columns
    if max(sizes) > 300:
        return False
    linked = sum(1 for item, size in zip(items, sizes, strict=True) if _is_linked_item(item, size))
    return linked >= 0.6 * n and not _has_attachment(el)


_TRUNCATED = ("...", "…", "。。。", "……")
_DATE_ITEM = re.compile(
    r"(?<!\d)(?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}|(?<!\d)\d{1,2}[-/月]\d{1,2}日?\s{1,3}\d{1,2}:\d{2}"
    r"|(?<!\d)\d{1,3}\s{0,3}(?:分钟|小时)前"
)
_HEADINGS = ("h2", "h3", "h4", "h5")


def _is_teaser_list(el: HtmlElement, stats: dict[HtmlElement, _Stats] | None = None) -> bool:
    """3+ sibling items of one shape (tag and class) that are other articles' teasers: each has
    a heading and, in most of them, a cut-off summary (…) or a date.  A recommendation feed, with
    or without links (scripts often attach those), whatever its class says.  An article's own
    sections share a shape too, but are not cut off mid-sentence or dated each."""
    shapes: dict[tuple[str, str], list[HtmlElement]] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag in _ITEM_TAGS:
            shapes.setdefault((tag, child.get("class") or ""), []).append(child)
    if not shapes:
        return False
    items = max(shapes.values(), key=len)
    if len(items) < 3:
        return False
    st = stats.get(el) if stats is not None else None
    if st is not None and st.chars > 400 * len(items):
        return False  # items longer than teasers: sections, not a feed
    teasers = 0
    need = 0.6 * len(items)
    for i, item in enumerate(items):
        if teasers + len(items) - i < need:
            return False
        if next(item.iter(*_HEADINGS), None) is None:
            continue
        text = "".join(item.itertext()).strip()
        if len(text) > 400:
            continue
        if any(part.strip().endswith(_TRUNCATED) for part in item.itertext()) or _DATE_ITEM.search(text):
            teasers += 1
    return teasers >= need


def _furniture(el: HtmlElement) -> bool:
    """Tag, class or id say page furniture (nav, footer, share bar, comments …)."""
    tag = el.tag
    if tag in ("nav", "footer", "aside"):
        return True
    attrs = class_id(el)
    return bool(attrs) and _furniture_attrs(attrs)


def is_furniture(el: HtmlElement) -> bool:
    """True when the element's tag, class or id marks it as page furniture (nav, footer, share
    bar, comments …); unlike :func:`is_boilerplate_container`, lists of headlines are not."""
    return _furniture(el)


# A site's templates repeat a few dozen class/id values on every page: each is judged once.
@lru_cache(maxsize=8192)
def _furniture_attrs(attrs: str) -> bool:
    if _POS_STRONG.search(attrs):
        return False
    for name in attrs.split():
        if _UTILITY.match(name):
            continue
        if _NEG_SUB.search(name):
            return True
        if any(tok.lower() in _NEG_TOKENS for tok in _TOKEN_SPLIT.split(name) if tok):
            return True
    return False


@lru_cache(maxsize=8192)
def _container_bonus(attrs: str) -> float:
    """How much a class/id naming an article container raises its block's score."""
    if _POS_SPECIFIC.search(attrs):
        return 1.3
    return 1.1 if _POS_GENERIC.search(attrs) else 1.0


def is_boilerplate_container(el: HtmlElement) -> bool:
    """True when the element's tag, class or id marks it as page furniture, not article text.

    Also true for lists of headline links (相关文章, 热点新闻, 推荐阅读 …) even without a telling
    class name.
    """
    return _furniture(el) or (el.tag in _LIST_CONTAINERS and (_is_headline_list(el) or _is_teaser_list(el)))


@dataclass(slots=True)
class _Stats:
    chars: int = 0  # non-space characters in the subtree
    links: int = 0  # of which inside <a>
    punct: int = 0
    own_chars: int = 0  # inline text owned by this block (not by child blocks)
    own_links: int = 0
    own_punct: int = 0
    score: float = 0.0  # without container bonuses: what the parent adds up
    final: float = 0.0  # with this element's own bonus: what competes for "best"


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


def _count(text: str) -> tuple[int, int]:
    """(non-space characters, prose punctuation marks) of a text node."""
    if not text.strip(_WS_CHARS):  # most text nodes are the markup's indentation: skip in C
        return 0, 0
    # counted by the regex engine, in C: a loop over the characters in Python was a tenth of
    # extracting a page
    return len(text) - len(_WS_RE.findall(text)), len(_PUNCT_RE.findall(text))


def _value(chars: int, links: int, punct: int) -> float:
    """Worth of one block's own inline text: positive for prose, negative for link lists."""
    if chars == 0:
        return 0.0
    plain = chars - links
    if links * 2 > chars:
        return -0.5 * chars
    if punct <= 1 and plain < 30:
        # labels, dates, 打印/关闭, short headings: nearly neutral, slightly negative so that a
        # container does not grow to take in a strip of them
        return -0.1 * plain - 0.5 * links
    return plain * (1.0 if punct else 0.6) - 0.5 * links


class _Scorer:
    def __init__(self, trusted: frozenset[HtmlElement] = frozenset()) -> None:
        # elements whose furniture-like class/id is not believed (see _wrappers)
        self.trusted = trusted
        self.stats: dict[HtmlElement, _Stats] = {}
        self.flagged: set[HtmlElement] = set()  # furniture and headline lists, for the renderer
        # positive blocks in post-order (children before parents), for choosing the best
        self.candidates: list[tuple[HtmlElement, float]] = []

    def visit(self, el: HtmlElement, tag: str, owner: _Stats, in_link: bool, negative: bool) -> None:
        """Accumulate ``el``'s text into ``owner`` (its nearest block) and score blocks.

        ``tag`` is ``el.tag``, read once by the caller: lxml builds a new string at every read
        of a tag or a text, and this runs for every element of every page.
        """
        is_block = tag in BLOCK_TAGS
        attrs = class_id(el)
        furniture = tag in ("nav", "footer", "aside") or (bool(attrs) and _furniture_attrs(attrs))
        if furniture and el in self.trusted:
            furniture = False
        if furniture:
            self.flagged.add(el)
        neg_here = negative or furniture
        link = in_link or tag == "a"
        if is_block:
            st = _Stats()
            self.stats[el] = st
            target = st
        else:
            target = owner
        text = el.text
        if text:
            n, p = _count(text)
            target.own_chars += n
            target.own_punct += p
            if link:
                target.own_links += n
        for child in el:
            child_tag = child.tag
            if isinstance(child_tag, str):
                self.visit(child, child_tag, target, link, neg_here)
            tail = child.tail
            if tail:
                n, p = _count(tail)
                target.own_chars += n
                target.own_punct += p
                if link:
                    target.own_links += n
        if not is_block:
            return
        st.chars += st.own_chars
        st.links += st.own_links
        st.punct += st.own_punct
        st.score += _value(st.own_chars, st.own_links, st.own_punct)
        if not neg_here and tag in _LIST_CONTAINERS and (
            _is_headline_list(el, self.stats) or _is_teaser_list(el, self.stats)
        ):
            neg_here = True
            self.flagged.add(el)
        if neg_here:
            st.score = -0.5 * st.chars
        elif tag in ("h1", "h2", "h3"):
            st.score = min(st.score, 0.0)  # headings are never the article
        st.final = st.score
        # bonus for the element itself only (not passed up, so nested containers do not compound)
        if not neg_here and st.score > 0 and attrs and st.chars - st.links > 50:
            st.final = st.score * _container_bonus(attrs)
        # hand totals to the nearest block ancestor (owner is that ancestor's stats)
        owner.chars += st.chars
        owner.links += st.links
        owner.punct += st.punct
        owner.score += st.score
        if st.final > 10 and not neg_here:
            self.candidates.append((el, st.final))

    def best(self) -> HtmlElement | None:
        """The highest-scoring block; a parent replaces its descendant only when it is clearly
        better (5% + 10), so the tightest container of the text wins near-ties.  Blocks inside
        a headline list (recognised only after its items were scored) are out."""
        best: HtmlElement | None = None
        best_score = 0.0
        for el, final in self.candidates:
            if final > best_score * 1.05 + 10 and not any(a in self.flagged for a in el.iterancestors()):
                best, best_score = el, final
        return best

    def runner_up(self, first: HtmlElement | None) -> HtmlElement | None:
        """The best block that neither holds nor sits inside ``first``."""
        if first is None:
            return None
        inside = set(first.iterancestors())
        best: HtmlElement | None = None
        best_score = 0.0
        for el, final in self.candidates:
            if el is first or el in inside or any(a is first for a in el.iterancestors()):
                continue
            if final > best_score * 1.05 + 10 and not any(a in self.flagged for a in el.iterancestors()):
                best, best_score = el, final
        return best


def _skip_factory(scorer: _Scorer) -> Callable[[HtmlElement], bool]:
    stats = scorer.stats
    flagged = scorer.flagged

    def skip(el: HtmlElement) -> bool:
        if el in flagged:
            return True
        st = stats.get(el)
        if st is None or st.chars == 0:
            return False
        # link-dense block that the scorer counted against the article: a headline list,
        # pager or tag cloud sitting inside the content node
        return st.links * 2 > st.chars and st.score <= 0 and not _has_attachment(el)

    return skip


_ATTACH_HREF = ATTACHMENT_HREF  # the one attachment rule (crawler.extraction.attachments)


def _has_attachment(el: HtmlElement) -> bool:
    return any(_ATTACH_HREF.search(a.get("href") or "") for a in el.iter("a"))


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
    scorer = _Scorer()
    top = _Stats()
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
        rescored = _Scorer(wrappers)
        rescored.visit(body, body.tag, _Stats(), False, False)
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


def _text(node: HtmlElement, scorer: _Scorer, title: str) -> str:
    raw = render(node, _skip_factory(scorer))
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


def _page_prose(scorer: _Scorer, body: HtmlElement) -> int:
    """Characters of the page's prose: own text of blocks that carry prose punctuation and are
    not mostly links, wherever they sit (furniture included: that is what a fallback looks at)."""
    total = 0
    for st in scorer.stats.values():
        if st.own_punct >= 1 and st.own_links * 2 < st.own_chars:
            total += st.own_chars - st.own_links
    return total


def _too_small(text: str, prose: int) -> bool:
    return prose >= _MIN_PROSE and len("".join(text.split())) < _SMALL_SHARE * prose


def _wrappers(scorer: _Scorer, body: HtmlElement, prose: int) -> frozenset[HtmlElement]:
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
