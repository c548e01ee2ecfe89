"""Scoring blocks by their text density: the best-scoring subtree is the article's text.

Every block gets a value from its own inline text (prose punctuation raises it, link text
lowers it) plus its children's scores; furniture and headline lists (:mod:`crawler.extraction.blocks`)
count against it.  :class:`Scorer` walks a page once and keeps the candidates; ``best`` and
``runner_up`` choose among them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crawler.extraction.blocks import (
    LIST_CONTAINERS,
    BlockStats,
    container_bonus,
    furniture_attrs,
    has_attachment,
    is_headline_list,
    is_teaser_list,
)
from crawler.extraction.dom import BLOCK_TAGS, HtmlElement, class_id

__all__ = ["Scorer", "skip_factory"]


# Prose punctuation: a block with these is written text, not a menu.
# (The colon is left out on purpose: "来源：… 时间：…" bylines are full of it.)
_PUNCT = frozenset("，。；！？、“”…")
_WS_CHARS = " \t\n\r\f\v\u3000\xa0"
_WS_RE = re.compile(f"[{re.escape(_WS_CHARS)}]")
_PUNCT_RE = re.compile(f"[{re.escape(''.join(sorted(_PUNCT)))}]")


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


class Scorer:
    """One walk over a page's blocks: their stats, the flagged furniture and the candidates."""

    def __init__(self, trusted: frozenset[HtmlElement] = frozenset()) -> None:
        # elements whose furniture-like class/id is not believed (see crawler.extraction.body._wrappers)
        self.trusted = trusted
        self.stats: dict[HtmlElement, BlockStats] = {}
        self.flagged: set[HtmlElement] = set()  # furniture and headline lists, for the renderer
        # positive blocks in post-order (children before parents), for choosing the best
        self.candidates: list[tuple[HtmlElement, float]] = []

    def visit(self, el: HtmlElement, tag: str, owner: BlockStats, in_link: bool, negative: bool) -> None:
        """Accumulate ``el``'s text into ``owner`` (its nearest block) and score blocks.

        ``tag`` is ``el.tag``, read once by the caller: lxml builds a new string at every read
        of a tag or a text, and this runs for every element of every page.
        """
        is_block = tag in BLOCK_TAGS
        attrs = class_id(el)
        furniture = tag in ("nav", "footer", "aside") or (bool(attrs) and furniture_attrs(attrs))
        if furniture and el in self.trusted:
            furniture = False
        if furniture:
            self.flagged.add(el)
        neg_here = negative or furniture
        link = in_link or tag == "a"
        if is_block:
            st = BlockStats()
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
        if not neg_here and tag in LIST_CONTAINERS and (
            is_headline_list(el, self.stats) or is_teaser_list(el, self.stats)
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
            st.final = st.score * container_bonus(attrs)
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


def skip_factory(scorer: Scorer) -> Callable[[HtmlElement], bool]:
    """The renderer's veto for a scored page: flagged furniture and link-dense negative blocks."""
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
        return st.links * 2 > st.chars and st.score <= 0 and not has_attachment(el)

    return skip
