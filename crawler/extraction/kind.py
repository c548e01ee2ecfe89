"""What kind of page a parsed page is: an article, an index (column, listing, issue or home page),
or other (an error page, a login or search form): decided by the page's structure.

An index page's main content is a list of links to other pages (headlines, with dates or
teasers) and little running prose of its own; the body extractor finds a few characters on it
(a teaser, a column name) or none, and those are not an article.  Pages are judged by:

1. the chosen body block: when most of its text sits in items that each start with a headline
   link (a listing the scorer did not recognise: two items, or items with long teasers), the
   page is an index;
2. a short body (under :data:`SHORT_BODY` characters) that is not running prose (a column name,
   a caption, "页面不存在"): the page is an index when its non-furniture parts hold more
   headline-link text than the body has text, "other" when there is next to nothing (no body
   worth the name, no headline links, no attachment links).

Everything else is an article, so that a short notice with an attachment (详见附件) stays one.
"""

from __future__ import annotations

from crawler.extraction.attachments import ATTACHMENT_HREF
from crawler.extraction.body import is_furniture
from crawler.extraction.dom import HtmlElement

__all__ = ["ARTICLE", "INDEX", "OTHER", "SHORT_BODY", "page_kind"]

ARTICLE = "article"
INDEX = "index"
OTHER = "other"

#: A body this long (non-space characters) is an article unless it is itself a listing.
SHORT_BODY = 200
#: A body this short with no headline links and no attachments is not an article at all.
_NOTHING = 30
#: Non-space characters of a link text that reads as a headline, not a menu entry (首页, 更多).
_HEADLINE = 6
#: Share of the chosen block's text inside linked items that makes it a listing.
_LIST_SHARE = 0.6
_ITEM_TAGS = frozenset({"li", "dd", "dt", "tr", "p", "div"})
_LIST_TAGS = ("ul", "ol", "div", "dl", "table", "tbody", "td")
#: Longest item (non-space characters) that is a headline with its teaser, not a post or section.
_ITEM_MAX = 300
#: Prose punctuation: a short body with some of it is a short article, not a list's leftovers.
_PUNCT = frozenset("，。；！？")
_PROSE_MIN = 50


def _chars(text: str) -> int:
    return len("".join(text.split()))


def _link_text(a: HtmlElement) -> str:
    return "".join(a.itertext()).strip()


def _is_headline_link(a: HtmlElement) -> bool:
    href = (a.get("href") or "").strip().lower()
    if not href or href.startswith(("javascript:", "#", "mailto:")) or ATTACHMENT_HREF.search(href):
        return False  # a list of documents (附件) is an article's, not an index's
    return _chars(_link_text(a)) >= _HEADLINE


def _listing_share(block: HtmlElement) -> int:
    """Characters of ``block``'s text in lists: 2+ sibling items of one tag that each open with
    a headline link and are no longer than a headline with its teaser.  Lists inside a counted
    item are not counted again."""
    total = 0
    counted: set[HtmlElement] = set()
    for parent in block.iter(*_LIST_TAGS):
        if any(a in counted for a in parent.iterancestors()):
            continue
        items: list[tuple[HtmlElement, int]] = []
        for child in parent:
            tag = child.tag
            if not isinstance(tag, str) or tag not in _ITEM_TAGS:
                continue
            n = _linked_item(child)
            if n:
                items.append((child, n))
        tags = {el.tag for el, _ in items}
        for tag in tags:
            same = [(el, n) for el, n in items if el.tag == tag]
            if len(same) >= 2:
                counted.update(el for el, _ in same)
                total += sum(n for _, n in same)
    return total


def _linked_item(item: HtmlElement) -> int:
    """The item's characters when it opens with a headline link and is short enough to be a
    headline with a teaser and a date; 0 otherwise."""
    a = next(item.iter("a"), None)
    if a is None or not _is_headline_link(a):
        return 0
    text = "".join(item.itertext()).strip()
    n = _chars(text)
    if n > _ITEM_MAX or not text.startswith(_link_text(a)[:10]):
        return 0
    return n


def _headline_chars(page: HtmlElement) -> int:
    """Characters of headline-link text outside page furniture (nav, header, footer …)."""
    furniture: dict[HtmlElement, bool] = {}

    def in_furniture(el: HtmlElement) -> bool:
        chain = []
        node: HtmlElement | None = el
        verdict = False
        while node is not None and node is not page:
            if node in furniture:
                verdict = furniture[node]
                break
            chain.append(node)
            if isinstance(node.tag, str) and is_furniture(node):
                verdict = True
                break
            node = node.getparent()
        for n in chain:
            furniture[n] = verdict
        return verdict

    total = 0
    for a in page.iter("a"):
        if _is_headline_link(a) and not in_furniture(a):
            total += _chars(_link_text(a))
    return total


def page_kind(page: HtmlElement, chosen: HtmlElement | None, body_text: str, *, attachments: bool) -> str:
    """``"article"``, ``"index"`` or ``"other"`` for a parsed page (``page`` its ``<body>``).

    ``chosen`` is the block the body came from (None when none was found), ``body_text`` the
    extracted body and ``attachments`` whether the page links documents (附件)."""
    body_chars = _chars(body_text)
    if chosen is not None and body_chars:
        block_chars = _chars("".join(chosen.itertext()))
        if block_chars and _listing_share(chosen) >= _LIST_SHARE * block_chars:
            return INDEX
    if body_chars >= SHORT_BODY:
        return ARTICLE
    if body_chars >= _PROSE_MIN and sum(1 for ch in body_text if ch in _PUNCT) >= 2:
        return ARTICLE  # a short article: running prose, not a column name or a teaser
    headlines = _headline_chars(page)
    if headlines > max(body_chars, _HEADLINE):
        return INDEX
    if body_chars < _NOTHING and not attachments and headlines == 0:
        return OTHER
    return ARTICLE
