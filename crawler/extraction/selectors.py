"""Per-site selector packs (from the source config) applied with parsel.

A selector is CSS unless it starts with ``/``, ``(`` or ``./`` (then XPath).  Scrapy-style
``::text`` and ``::attr(name)`` suffixes are allowed.  A selector that is invalid or matches
nothing is simply ignored, so the generic rules still apply — a broken site pack degrades to
the generic extractor rather than to an empty article.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from crawler.extraction.dom import HtmlElement
from crawler.text.normalize import normalize_text

__all__ = ["Picked", "apply_selectors"]

log = logging.getLogger(__name__)


@dataclass
class Picked:
    """What the selectors matched: text per field, and the matched element when there is one."""

    texts: dict[str, str] = field(default_factory=dict)
    elements: dict[str, HtmlElement] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """Normalised text for ``name`` ('' when no selector matched)."""
        return self.texts.get(name, "")

    def element(self, name: str) -> HtmlElement | None:
        """The first element matched for ``name`` (None for text/attribute selectors)."""
        return self.elements.get(name)


def _is_xpath(selector: str) -> bool:
    return selector.startswith(("/", "(", "./"))


def apply_selectors(root: HtmlElement, selectors: Mapping[str, str]) -> Picked:
    """Run each field's selector against the (already cleaned) tree."""
    picked = Picked()
    if not selectors:
        return picked
    from parsel import Selector

    sel = Selector(root=root, type="html")
    for name, query in selectors.items():
        if not query or not isinstance(query, str):
            continue
        try:
            result = sel.xpath(query) if _is_xpath(query) else sel.css(query)
        except Exception as exc:  # parsel raises several types for bad expressions
            log.warning("selector for %s is invalid (%r): %s", name, query, exc)
            continue
        if not result:
            continue
        first = result[0].root
        if isinstance(first, etree._Element) and isinstance(first.tag, str):  # not a comment
            picked.elements[name] = first
            picked.texts[name] = normalize_text(" ".join(first.itertext()))
        else:
            # ::text / ::attr(...) give strings; several text nodes are joined in order
            parts = [str(x.root) for x in result]
            picked.texts[name] = normalize_text(" ".join(parts))
    return picked
