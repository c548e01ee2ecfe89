"""Paragraph surgery on seed text: undo page-break splits, cut run-on text where a site would.

The seeds are scans and copies: a paragraph broken across a printed page arrives as two blocks,
and the industrial-park portal ran whole reports together on one line. These helpers rebuild the
paragraphs a publishing site would have had without adding or dropping a character of content.
Inline emphasis is carried as ``**bold**`` markers; :func:`plain` removes them.
"""

from __future__ import annotations

import random
import re

# A paragraph that ends with one of these is complete; one that ends otherwise and reads like
# running prose (has a comma, colon or full stop inside, or is longer than a heading) was cut by
# a page break.
_TERMINAL = set("。！？；：”’）)〕】]…—!?;:》*")
_PROSE = re.compile(r"[，。；,：:]")
_SENTENCE = re.compile(r"[^。！？!?]*(?:[。！？!?]+[”’」』）)]*|$)")
_INLINE_MARKER = re.compile(r"(?<=[。！？!?:：”])\s+|\s+(?=[一二三四五六七八九十]{1,2}、)(?<![一二三四五六七八九十]\s)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def blocks(text: str) -> list[str]:
    """Blank-line separated blocks of ``text``, stripped, empty ones dropped."""
    return [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]


def is_broken(paragraph: str) -> bool:
    """True when ``paragraph`` stops mid-sentence (its end was cut off by a page break).

    Headings (short, no sentence punctuation) never count as broken.
    """
    if not paragraph or paragraph[-1] in _TERMINAL:
        return False
    return bool(_PROSE.search(paragraph)) or len(paragraph) > 20


def join_broken(paragraphs: list[str]) -> list[str]:
    """Glue each paragraph cut by a page break to its continuation."""
    out: list[str] = []
    for para in paragraphs:
        if out and is_broken(out[-1]):
            out[-1] += para
        else:
            out.append(para)
    return out


def is_heading(paragraph: str, limit: int = 30) -> bool:
    """True for a short line without sentence punctuation: a title, section head or sub-head."""
    return len(paragraph) <= limit and not _PROSE.search(paragraph) and not paragraph.startswith("(")


def sentences(text: str) -> list[str]:
    """``text`` cut after each 。！？ (closing quotes stay with their sentence)."""
    return [s for s in _SENTENCE.findall(text) if s]


def split_inline(text: str) -> list[str]:
    """Cut run-on text at the whitespace a copy left where paragraph breaks used to be.

    A break is whitespace after sentence-final punctuation, or whitespace before an inline section
    marker such as ``一、`` (unless a numeral precedes the space, as in a garbled ``三 一、``).
    """
    return [p.strip() for p in _INLINE_MARKER.split(text.strip()) if p.strip()]


def rechunk(paragraph: str, min_chars: int = 150, max_sentences: int = 5) -> list[str]:
    """Split an over-long paragraph into paragraphs of 2–5 whole sentences.

    A paragraph closes once it has at least two sentences and ``min_chars`` characters, or
    ``max_sentences`` sentences; a short tail is merged into the paragraph before it.
    """
    parts = sentences(paragraph)
    if len(parts) <= 2:
        return [paragraph]
    chunks: list[list[str]] = [[]]
    for sentence in parts:
        current = chunks[-1]
        current.append(sentence)
        if (len(current) >= 2 and sum(map(len, current)) >= min_chars) or len(current) >= max_sentences:
            chunks.append([])
    if not chunks[-1]:
        chunks.pop()
    if len(chunks) > 1 and (len(chunks[-1]) < 2 and sum(map(len, chunks[-1])) < min_chars // 2):
        tail = chunks.pop()
        chunks[-1].extend(tail)
    return ["".join(c) for c in chunks]


def plain(paragraph: str) -> str:
    """``paragraph`` without ``**bold**`` markers."""
    return _BOLD.sub(r"\1", paragraph)


def bold_spans(paragraph: str) -> list[tuple[str, bool]]:
    """``paragraph`` as (text, is_bold) runs, in order."""
    runs: list[tuple[str, bool]] = []
    pos = 0
    for match in _BOLD.finditer(paragraph):
        if match.start() > pos:
            runs.append((paragraph[pos : match.start()], False))
        runs.append((match.group(1), True))
        pos = match.end()
    if pos < len(paragraph):
        runs.append((paragraph[pos:], False))
    return runs


def summary(paragraphs: list[str], limit: int = 120) -> str:
    """The first ``limit`` characters of the text, with ``…`` when it was cut."""
    text = "".join(plain(p) for p in paragraphs)
    return text if len(text) <= limit else text[:limit] + "…"


def edit_characters(text: str, rate: float, rng: random.Random) -> str:
    """``text`` with about ``rate`` of its characters (at least one) substituted, deleted or
    inserted, using the text's own Chinese characters; line breaks are kept, so paragraphs stay
    paragraphs. How a repost's typos and small rewordings are derived from real text."""
    chars = list(text)
    own = [c for c in text if "\u4e00" <= c <= "\u9fff"] or ["的"]
    for _ in range(max(1, int(len(chars) * rate))):
        i = rng.randrange(len(chars))
        if chars[i] == "\n":
            continue
        op = rng.random()
        if op < 0.5:
            chars[i] = rng.choice(own)
        elif op < 0.75:
            del chars[i]
        else:
            chars.insert(i, rng.choice(own))
    return "".join(chars)
