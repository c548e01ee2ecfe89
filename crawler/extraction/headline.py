"""The headline, and where it and the text start among the page's rendered lines.

The title is needed first: the body trimmer and the date rules both look for it.  The line
numbers of the headline and of the body's first line anchor the metadata block's generic labels
(时间, 日期 …) and the dates found near the title.
"""

from __future__ import annotations

import re

from crawler.extraction.dom import HtmlElement
from crawler.extraction.fields import meta_label
from crawler.extraction.meta import GENERIC_LABELS, LabelValue, split_site_suffix, title_candidates
from crawler.extraction.selectors import Picked

__all__ = ["compact", "find_body_start", "find_line", "pick_labels", "pick_title"]


# bounded: titles are normalised (single spaces), and unbounded runs were rescanned from each
_ANY_SEP = re.compile(r"\s{0,4}(?:[_|｜–—]+|-+|::)\s{0,4}")


def compact(s: str) -> str:
    """``s`` without any whitespace."""
    # what re.sub(r"\s+", "", s) gives (both take str.isspace's whitespace), without the regex
    # machinery: titles are compared this way twenty times a page
    return "".join(s.split())


def pick_title(metas: dict[str, str], picked: Picked, root: HtmlElement, html_title: str) -> tuple[str, str]:
    """The headline and its provenance: a selector, a CMS ``<meta>`` title, a heading the ``<title>``
    repeats, ``og:title``, or the ``<title>``'s own first part."""
    sel = picked.text("title")
    if sel:
        return sel, "selector"
    for key in ("articletitle", "enp:title"):
        if metas.get(key):
            return metas[key], f"meta:{meta_label(key)}"
    parts = split_site_suffix(html_title)
    first = parts[0] if parts else html_title
    compact_html_title = compact(html_title)
    # every piece of the <title>, also split on bare hyphens ("江西日报数字报-线上线下联动")
    pieces = {compact(p) for p in _ANY_SEP.split(html_title) if p.strip()}
    og = metas.get("og:title") or metas.get("twitter:title")
    # a heading that the <title> repeats is the headline; prefer the longest such heading
    best = ""
    best_prov = ""
    for text, prov in title_candidates(root):
        c = compact(text)
        if len(c) < 4 or len(c) > 150:
            continue
        repeated = (compact_html_title and c in compact_html_title) or (og and c in compact(og))
        if repeated and len(c) > len(compact(best)):
            best, best_prov = text, prov
    if best:
        c = compact(best)
        if c in pieces or len(c) >= 0.6 * len(compact(first)) or compact_html_title.startswith(c):
            return best, best_prov
    if og:
        og_parts = split_site_suffix(og)
        return (og_parts[0] if og_parts else og), "meta:og:title"
    if first and len(first) >= 4:
        return first, "rule:title-tag"
    for text, prov in title_candidates(root):
        if 4 <= len(text) <= 80:
            return text, prov
    return html_title, "rule:title-tag"


def find_line(lines: list[str], title: str) -> int:
    """Index of the line that holds the headline ``title``; -1 when none does."""
    t = compact(title)
    if len(t) < 4:
        return -1
    for i, line in enumerate(lines):
        c = compact(line)
        if c == t or (len(t) >= 8 and c.startswith(t) and len(c) <= len(t) + 20):
            return i
    for i, line in enumerate(lines):
        c = compact(line)
        if len(c) >= 6 and c in t and len(c) >= 0.5 * len(t):
            return i
    return -1


def find_body_start(lines: list[str], body: str, after: int) -> int:
    """Index of the line where ``body`` starts, looked for from ``after`` on first; -1 if not found."""
    if not body:
        return -1
    first = compact(body.split("\n", 1)[0])[:30]
    if not first:
        return -1
    start = max(after, 0)
    for i in range(start, len(lines)):
        if first in compact(lines[i]):
            return i
    for i in range(0, start):
        if first in compact(lines[i]):
            return i
    return -1


def pick_labels(labels: list[LabelValue], title_line: int, body_line: int) -> dict[str, LabelValue]:
    """First value per field; generic labels (时间, 日期 …) only near the title/body start."""
    anchor = title_line if title_line >= 0 else body_line
    chosen: dict[str, LabelValue] = {}
    # a field's specific labels outrank its generic ones wherever they are on the page
    for lv in labels:
        if lv.label in GENERIC_LABELS:
            continue
        if body_line >= 0 and lv.line > body_line + 40 and lv.field not in ("index_no", "doc_number", "issuer"):
            continue  # far below the article: a sidebar or footer
        chosen.setdefault(lv.field, lv)
    if anchor >= 0:
        for lv in labels:
            if lv.label in GENERIC_LABELS and lv.field not in chosen and anchor - 3 <= lv.line <= anchor + 8:
                chosen.setdefault(lv.field, lv)
    return chosen
