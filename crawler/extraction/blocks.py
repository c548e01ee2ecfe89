"""What kind of block an element is: page furniture, a list of other articles' headlines or
teasers, or a container named for article text, judged by tag, class/id and shape.

:class:`BlockStats` holds the text counts of one block that the scorer
(:mod:`crawler.extraction.density`) gathers and these tests read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from crawler.extraction.attachments import ATTACHMENT_HREF
from crawler.extraction.dom import HtmlElement, class_id

__all__ = [
    "LIST_CONTAINERS",
    "BlockStats",
    "container_bonus",
    "furniture_attrs",
    "has_attachment",
    "is_boilerplate_container",
    "is_furniture",
    "is_headline_list",
    "is_teaser_list",
]


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


LIST_CONTAINERS = frozenset({"ul", "ol", "div", "dl", "table", "tbody", "td"})


def is_headline_list(el: HtmlElement, stats: dict[HtmlElement, BlockStats] | None = None) -> bool:
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
    return linked >= 0.6 * n and not has_attachment(el)


_TRUNCATED = ("...", "…", "。。。", "……")
_DATE_ITEM = re.compile(
    r"(?<!\d)(?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}|(?<!\d)\d{1,2}[-/月]\d{1,2}日?\s{1,3}\d{1,2}:\d{2}"
    r"|(?<!\d)\d{1,3}\s{0,3}(?:分钟|小时)前"
)
_HEADINGS = ("h2", "h3", "h4", "h5")


def is_teaser_list(el: HtmlElement, stats: dict[HtmlElement, BlockStats] | None = None) -> bool:
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
    return bool(attrs) and furniture_attrs(attrs)


def is_furniture(el: HtmlElement) -> bool:
    """True when the element's tag, class or id marks it as page furniture (nav, footer, share
    bar, comments …); unlike :func:`is_boilerplate_container`, lists of headlines are not."""
    return _furniture(el)


# A site's templates repeat a few dozen class/id values on every page: each is judged once.
@lru_cache(maxsize=8192)
def furniture_attrs(attrs: str) -> bool:
    """A class/id value (``class_id``) that names page furniture and no article container."""
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
def container_bonus(attrs: str) -> float:
    """How much a class/id naming an article container raises its block's score."""
    if _POS_SPECIFIC.search(attrs):
        return 1.3
    return 1.1 if _POS_GENERIC.search(attrs) else 1.0


def is_boilerplate_container(el: HtmlElement) -> bool:
    """True when the element's tag, class or id marks it as page furniture, not article text.

    Also true for lists of headline links (相关文章, 热点新闻, 推荐阅读 …) even without a telling
    class name.
    """
    return _furniture(el) or (el.tag in LIST_CONTAINERS and (is_headline_list(el) or is_teaser_list(el)))


@dataclass(slots=True)
class BlockStats:
    """Text counts of one block and its subtree, and the scores the scorer gave it."""

    chars: int = 0  # non-space characters in the subtree
    links: int = 0  # of which inside <a>
    punct: int = 0
    own_chars: int = 0  # inline text owned by this block (not by child blocks)
    own_links: int = 0
    own_punct: int = 0
    score: float = 0.0  # without container bonuses: what the parent adds up
    final: float = 0.0  # with this element's own bonus: what competes for "best"


_ATTACH_HREF = ATTACHMENT_HREF  # the one attachment rule (crawler.extraction.attachments)


def has_attachment(el: HtmlElement) -> bool:
    """Some link below ``el`` names a document file (the shared attachment rule)."""
    return any(_ATTACH_HREF.search(a.get("href") or "") for a in el.iter("a"))
