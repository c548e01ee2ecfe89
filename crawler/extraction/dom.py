"""Parsing of HTML trees (lxml) and element helpers, shared by the extraction modules.

``parse`` builds a tree without comments and stray markup; ``strip_noise`` drops scripts, styles
and hidden elements from it.  Turning a tree into text is :mod:`crawler.extraction.rendering`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeAlias

from lxml import etree

# Plain lxml elements, not lxml.html's HtmlElement: lxml.html picks each element's class with a
# Python callback every time an element is touched from Python (a quarter of a million calls
# per thousand pages), and nothing here needs its extra methods.
HtmlElement: TypeAlias = etree._Element

__all__ = [
    "ATTR_SCAN",
    "BLOCK_TAGS",
    "HtmlElement",
    "attribute_test",
    "class_id",
    "is_hidden",
    "parse",
    "strip_noise",
    "text_of",
]

# Elements that start a new line when rendered and that the main-text scorer treats as blocks.
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "caption",
        "summary",
        "legend",
    ]
)
# Never text: dropped from the tree before anything else looks at it.
_DROP_TAGS = (
    "script", "style", "noscript", "iframe", "object", "embed", "svg", "canvas", "template",
    "select", "button", "input", "textarea", "map", "audio", "video", "link", "frameset", "frame",
)  # fmt: skip
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Hidden "until a script shows it" (WeChat's #js_content, lazy-rendered article bodies): such a
# block is kept when it holds this much prose; display:none stays hidden whatever it holds.
# (opacity:0 never hid anything here: fade-in effects use it on what is shown.)
_SHOWN_LATER = re.compile(r"visibility\s*:\s*hidden", re.I)
_SHOWN_LATER_CHARS = 200
# whole class names that mean "not shown to a reader" (dialogs, screen-reader-only helpers);
# breakpoint helpers such as Bootstrap's hidden-xs hide only on some screens and do not count
_HIDDEN_CLASS = re.compile(
    r"(?:^|\s)(?:modal|modal-[a-z]+|hidden|hide|popup|sr-only|visually-hidden|d-none|invisible|is-hidden)(?:$|\s)",
    re.I,
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# Attribute values are tested on their first ATTR_SCAN characters: real class, id, style and href
# values are far shorter, and a value of megabytes (an unclosed quote that swallowed the rest of
# the page) made each pattern search over it take seconds.
ATTR_SCAN = 2048


def attribute_test(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """``pattern.search(value) is not None``, remembered per distinct value.

    For patterns run on class, id or href values: a site's templates repeat a few dozen of them
    on every page, and these patterns (case-insensitive alternations of words) cost half a
    microsecond or more per value otherwise.
    """

    @lru_cache(maxsize=8192)
    def test(value: str) -> bool:
        return pattern.search(value, 0, ATTR_SCAN) is not None

    return test


_hidden_class = attribute_test(_HIDDEN_CLASS)


_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False, default_doctype=False)
_EMPTY = "<html><body></body></html>"


def parse(text: str) -> HtmlElement:
    """Parse decoded HTML into an lxml tree (``<html>`` root), tolerant of broken markup.

    Scripts, styles, comments, form controls and elements hidden with inline
    ``display:none`` / ``visibility:hidden``, a ``hidden`` attribute or a modal/hidden class
    are removed, so nothing downstream can mistake them for content.
    """
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        text = _EMPTY
    try:
        root = etree.fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError):
        root = None
    if root is None:  # a document of nothing but markup lxml drops
        root = etree.fromstring(_EMPTY, parser=_PARSER)
    _adopt_strays(root)
    return root


def _adopt_strays(root: HtmlElement) -> None:
    """Move elements that the parser left beside the root (markup after a premature ``</html>``,
    a second ``<html>``: whole articles on some government templates) into the root's body."""
    stray = root.getnext()
    if stray is None:
        return
    home = root.find("body")
    if home is None:
        home = root
    while stray is not None:
        following = stray.getnext()
        if isinstance(stray.tag, str):
            if stray.tag in ("html", "body"):
                for child in list(stray):
                    if child.tag != "head":
                        home.append(child)
            else:
                home.append(stray)
        stray = following


# Stray comment and PI nodes (the parser drops most) are removed with the hidden elements.
_STRAY_NODES = (etree.Comment, etree.ProcessingInstruction)


def strip_noise(root: HtmlElement) -> None:
    """Remove non-text elements and hidden ones (in place).  ``<head>`` is left for metadata."""
    etree.strip_elements(root, *_DROP_TAGS, with_tail=False)
    doomed = []
    # One walk in Python, testing attributes only where an element has any: the XPath that
    # selected the candidates in C (``//*[@style or @hidden or @class]``, with comments and PIs)
    # took 35–40 µs on a page of 66 elements, more than this whole walk (strip_noise 58 → 43 µs
    # on bench/crawl.py's pages).
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            if tag in _STRAY_NODES:
                doomed.append(el)
            continue
        attrib = el.attrib
        if not attrib or tag in ("html", "body", "head"):
            continue
        style = attrib.get("style")
        if style and _HIDDEN_STYLE.search(style, 0, ATTR_SCAN) and not _shown_later(el, style):
            doomed.append(el)
            continue
        if attrib.get("hidden") is not None:
            doomed.append(el)
            continue
        cls = attrib.get("class")
        if cls and _hidden_class(cls):
            doomed.append(el)
    for el in doomed:
        drop(el)


def _shown_later(el: HtmlElement, style: str) -> bool:
    """Hidden by visibility/opacity rather than display, and holding a text's worth of prose:
    content that the page's script reveals once loaded, not an element meant to stay hidden."""
    if not _SHOWN_LATER.search(style, 0, ATTR_SCAN) or _HIDDEN_DISPLAY.search(style, 0, ATTR_SCAN):
        return False
    text = "".join(el.itertext())
    return len(text) >= _SHOWN_LATER_CHARS and sum(text.count(p) for p in "，。") >= 3


_HIDDEN_DISPLAY = re.compile(r"display\s*:\s*none", re.I)


def drop(el: HtmlElement) -> None:
    """Remove ``el`` but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = _xml_safe((prev.tail or "") + tail)
        else:
            parent.text = _xml_safe((parent.text or "") + tail)
    parent.remove(el)


# What lxml refuses to store (it parses them, then rejects them on assignment with a ValueError):
# C0 controls other than tab, line feed and carriage return, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """``text`` with the characters lxml cannot store replaced by spaces."""
    return _NOT_XML.sub(" ", text) if _NOT_XML.search(text) else text


def is_hidden(el: HtmlElement) -> bool:
    """True when the element's own attributes hide it from readers."""
    style = el.get("style")
    cls = el.get("class")
    return bool(
        (style and _HIDDEN_STYLE.search(style, 0, ATTR_SCAN))
        or el.get("hidden") is not None
        or (cls and _hidden_class(cls))
    )


def class_id(el: HtmlElement) -> str:
    """``class`` and ``id`` attributes joined, for pattern tests (at most ``ATTR_SCAN`` characters)."""
    cls = el.get("class")
    ident = el.get("id")
    if cls and ident:
        return f"{cls} {ident}"[:ATTR_SCAN]
    return (cls or ident or "")[:ATTR_SCAN]


def text_of(el: HtmlElement) -> str:
    """All text below ``el`` joined without any separators (for short inline things)."""
    return "".join(el.itertext())


def iter_blocks(root: HtmlElement) -> Iterable[HtmlElement]:
    """Block-level elements in document order."""
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in BLOCK_TAGS:
            yield el
