"""What one page may make the extractor do: the size checks before parsing, and the time budget.

lxml has no limits of its own that help here: a page of a few hundred thousand elements, or one
element with tens of thousands of attributes (libxml2 compares each attribute with the ones
before it), holds a worker for minutes.  :func:`refusal` looks at the raw bytes first, in a few
linear C scans, and names what is too big; :class:`Budget` counts the CPU time a page has used,
so that the optional steps of an extraction can be left out once it is spent.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator

__all__ = [
    "LONG_TAG",
    "MAX_PAGE_BYTES",
    "MAX_TAGS",
    "MAX_TAG_ATTRIBUTES",
    "QUOTED_SCAN",
    "TIME_BUDGET",
    "Budget",
    "fallback_title",
    "refusal",
]

MAX_PAGE_BYTES = 20 * 1024 * 1024  # the crawl's own download limit (DOWNLOAD_MAXSIZE)
MAX_TAGS = 200_000  # "<" in the page; large real pages have a few tens of thousands
LONG_TAG = 16_384  # characters of one tag above which its attributes are counted
MAX_TAG_ATTRIBUTES = 2_000  # words or "=" in one tag (an inline data: URI is one word)
# Pages with more "=" than this have their tags read quote by quote: quoted values may hold "<" and
# ">", which hide a tag's length from the window scan; one element with this many attributes still
# parses in well under a second.
QUOTED_SCAN = 20_000
TIME_BUDGET = 5.0  # CPU seconds per page, after which the optional steps are skipped

# A start tag, its quoted values taken whole; possessive, so that an unclosed quote is read once.
_START_TAG = re.compile(rb"""<[A-Za-z](?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")
_TITLE = re.compile(r"<title[^<>]{0,200}>([^<]{0,1000})", re.I)


def refusal(body: bytes) -> str:
    """Why ``body`` is too big to parse (one line), or '' when it may be parsed."""
    if len(body) > MAX_PAGE_BYTES:
        return f"page of {len(body):,} bytes (limit {MAX_PAGE_BYTES:,})"
    tags = body.count(b"<")
    if tags > MAX_TAGS:
        return f"{tags:,} tags (limit {MAX_TAGS:,})"
    for tag in _long_tags(body) if body.count(b"=") <= QUOTED_SCAN else _long_quoted_tags(body):
        words = max(len(tag.split()), tag.count(b"="))  # attributes may follow without a space
        if words > MAX_TAG_ATTRIBUTES:
            return f"a tag with {words:,} attributes (limit {MAX_TAG_ATTRIBUTES:,})"
    return ""


def _long_tags(body: bytes) -> Iterator[bytes]:
    """Every tag of at least LONG_TAG bytes, found without stepping through the page byte by byte.

    Such a tag's inside (no "<", no ">") covers one of the page's consecutive windows of
    LONG_TAG / 2 bytes; a window's search stops at its first "<" (memchr), so ordinary pages,
    where every window has one within a few hundred bytes, cost microseconds.
    """
    step = LONG_TAG // 2
    start = 0
    while start + step <= len(body):
        end = start + step
        if body.find(b"<", start, end) >= 0 or body.find(b">", start, end) >= 0:
            start = end
            continue
        # the stretch without "<" or ">" that holds this window: the window before it has one
        back = max(body.rfind(b"<", max(0, start - step), start), body.rfind(b">", max(0, start - step), start))
        ahead = [i for i in (body.find(b"<", end), body.find(b">", end)) if i >= 0]
        after = min(ahead) if ahead else len(body)
        if back >= 0 and body[back : back + 1] == b"<" and after - back > LONG_TAG:
            yield body[back:after]
        start = after


def _long_quoted_tags(body: bytes) -> Iterator[bytes]:
    """Every start tag of more than LONG_TAG bytes, quoted values read whole (a linear scan)."""
    for m in _START_TAG.finditer(body):
        if m.end() - m.start() > LONG_TAG:
            yield m.group()
    yield from _long_tags(body)  # and what an unclosed "<" leaves open


def fallback_title(text: str) -> str:
    """The ``<title>`` of a page that is not parsed, by a bounded pattern ('' when none)."""
    m = _TITLE.search(text)
    return " ".join(html.unescape(m.group(1)).split()) if m else ""


class Budget:
    """CPU seconds left for one page; :meth:`allows` says whether an optional step may still run
    and remembers the ones it refused.

    CPU time of the calling thread, not wall time: on a loaded machine a page waiting for a CPU
    has not cost anything, and must not lose its dates for it.  A step that has started runs to
    its end, so a page may exceed its budget by one step, whose cost the size limits bound.
    """

    def __init__(self, seconds: float) -> None:
        self.deadline = time.thread_time() + seconds
        self.skipped: list[str] = []

    def allows(self, step: str) -> bool:
        """Whether ``step`` may run; if not, it is recorded in :attr:`skipped`."""
        if time.thread_time() <= self.deadline:
            return True
        self.skipped.append(step)
        return False
