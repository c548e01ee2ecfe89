"""Whitespace and character-width normalisation shared by extraction, dedupe and signals.

Two promises:

* :func:`normalize_text` makes text *look* consistent without changing what it says:
  full-width digits and Latin letters become ASCII (``２０２４`` → ``2024``), Chinese
  punctuation (，。：“”（）) is kept as it is, invisible characters are dropped and whitespace
  runs collapse to one space.  :func:`normalize_lines` does the same per line and keeps
  paragraph breaks (and tab-separated table cells).
* :func:`normalize_for_hash` folds everything that does not change meaning for exact-duplicate
  detection: width, case, all whitespace and all punctuation/symbols.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

__all__ = ["fold_width", "normalize_for_hash", "normalize_lines", "normalize_text"]

# Full-width ASCII letters/digits (and the ideographic space) → ASCII.  Only these: NFKC on
# the whole string would also turn Chinese punctuation （，：） into ASCII, which readers and
# the 〔2022〕-style document numbers rely on.
_WIDTH = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
_WIDTH.update({c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)})
_WIDTH.update({c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)})
_WIDTH.update({0xFF0E: ord(".")})  # full stop used inside numbers: ３．５ → 3.5
_WIDTH.update({0xFF05: ord("%")})
# Spaces of every kind become a plain space; zero-width characters and BOMs disappear.
for _c in (0x3000, 0x00A0, 0x2002, 0x2003, 0x2009, 0x200A, 0x202F, 0x205F, 0x1680):
    _WIDTH[_c] = ord(" ")
_DROP = {0x200B: None, 0x200C: None, 0x200D: None, 0x2060: None, 0xFEFF: None, 0x00AD: None}
# Private-use code points: GBK "user-defined" bytes decode to these and no font shows them as
# text (they are icons and bullets in old templates).
_DROP.update({c: None for c in range(0xE000, 0xF900)})
_TABLE: dict[int, int | None] = {**_WIDTH, **_DROP}

_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_ODD_SPACES = str.maketrans("\r\f\v", "   ")  # plain spaces in normalize_lines
_SPACE_RUN = re.compile("  +")  # two spaces first: the engine scans for them in C
_TABS = re.compile(r" *\t *")  # each tab is a cell boundary: empty cells keep their column
_CJK = "\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
# A space between two CJK characters carries no meaning (it is layout); between Latin words it does.
# The space comes first so that the regex engine can skip ahead to each space in C; a pattern
# opening with the lookbehind was tried at every character (5x slower on a page's text).
_CJK_GAP = re.compile(rf" (?<=[{_CJK}] )(?=[{_CJK}])")


# One character class of everything in _TABLE: most text has few such characters, and a regex
# finds them much faster than str.translate walks a 6,000-entry dict for every character.
_FOLDABLE = re.compile(
    "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff0e\uff05\u3000\u00a0\u2002\u2003\u2009\u200a\u202f"
    "\u205f\u1680\u200b\u200c\u200d\u2060\ufeff\u00ad\ue000-\uf8ff]"
)


def _fold_one(m: re.Match[str]) -> str:
    return m.group().translate(_TABLE)


def fold_width(text: str) -> str:
    """Full-width digits/letters to ASCII, odd spaces to ' ', zero-width characters removed."""
    if text.isascii():  # none of them is ASCII, and the check reads a flag: most short strings
        return text
    return _FOLDABLE.sub(_fold_one, text)


def normalize_text(text: str) -> str:
    """One-line normalised form: width folded, whitespace collapsed to single spaces, stripped.

    Spaces between two Chinese characters are kept (``索  引 号`` → ``索 引 号``); use
    :func:`normalize_for_hash` when layout spaces must not matter.
    """
    return _SPACES.sub(" ", fold_width(text)).strip()


def normalize_lines(text: str, *, join_cjk_gaps: bool = False) -> str:
    """Multi-line normalised form: paragraphs separated by exactly one ``\\n``.

    Each line is normalised like :func:`normalize_text` except that tabs (table cell
    separators) survive, one per cell boundary, so an empty cell inside a row keeps the
    columns aligned; tabs at either end of a line and empty lines are dropped.  With
    ``join_cjk_gaps`` a single space between two CJK characters is removed as well.
    """
    # None of the three patterns spans a line break, so each runs once over the whole text
    # rather than once per line (a page has dozens of lines)
    text = fold_width(text)
    if "\r" in text or "\f" in text or "\v" in text:
        text = text.translate(_ODD_SPACES)
    # runs of spaces to one (a rendered page is mostly its markup's indentation): 4x faster
    # than one [ \r\f\v]+ pattern, which matched and rewrote every single space too
    text = _SPACE_RUN.sub(" ", text)
    if "\t" in text:  # _TABS can match nothing but a tab, yet starts by trying " *" everywhere
        text = _TABS.sub("\t", text)
    out = [line for raw in text.split("\n") if (line := raw.strip(" \t"))]
    if join_cjk_gaps:
        out = [line for line in _CJK_GAP.sub("", "\n".join(out)).split("\n") if line]
    return "\n".join(out)


def _is_foldable(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PSZC"


@cache
def _foldable_bmp() -> re.Pattern[str]:
    # One character class of every BMP code point _is_foldable accepts, as ranges: removing them
    # with one regex is ~20x faster than testing each character in Python, and hashing runs on
    # every article body (exact and near-duplicate detection). Built on first use (60 ms): a
    # crawl that finds nothing new never hashes a body.
    ranges: list[str] = []
    start = None
    for code in range(0x10000 + 1):
        hit = code < 0x10000 and _is_foldable(chr(code))
        if hit and start is None:
            start = code
        elif not hit and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{code - 1:04x}")
            start = None
    return re.compile("[" + "".join(ranges) + "]")


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Where Chinese article text lives: ASCII and Latin-1, Greek and Cyrillic letters, general
# punctuation, symbols (letterlike … dingbats: ①, ℃, →, ─, ★), CJK punctuation, kana, CJK
# ideographs, private-use icons, compatibility and full-width forms. Characters of these blocks
# that pass the checks in _simple_tables are normalised one by one (see there).
_SIMPLE_BLOCKS = ((0x09, 0x0D), (0x20, 0x7E), (0xA0, 0xFF), (0x370, 0x4FF), (0x2000, 0x206F), (0x2100, 0x27BF),
                  (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xE000, 0xFAFF), (0xFE30, 0xFE6F), (0xFF00, 0xFFEF))


def _class(chars: list[str]) -> str:
    codes = sorted(ord(c) for c in chars)
    parts: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        parts.append(f"\\u{codes[i]:04x}" + (f"-\\u{codes[j]:04x}" if j > i else ""))
        i = j + 1
    return "".join(parts)


@cache
def _simple_tables() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """For text made only of "simple" characters, NFKC + lower + folding is a per-character map.

    A character is simple when neither it nor its compatibility decomposition holds a character
    that takes part in canonical ordering or composition (non-zero combining class, or the
    second half of some canonical pair); NFKC then composes nothing across characters, so
    NFKC(text) is the concatenation of NFKC(c). Lower-casing is per character too (only Σ's
    final form depends on context, and no simple character maps to Σ). So each simple character
    either vanishes, maps to a fixed string, or stays. Returns (not simple, vanishes, maps, map).
    """
    seconds = {chr(c) for c in range(0x1161, 0x1176)} | {chr(c) for c in range(0x11A8, 0x11C3)}  # Hangul V, T
    for code in range(0x10000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(chr(int(parts[1], 16)))
    simple: list[str] = []
    vanish: list[str] = []
    mapped: dict[str, str] = {}
    for low, high in _SIMPLE_BLOCKS:
        for code in range(low, high + 1):
            ch = chr(code)
            nfkc = unicodedata.normalize("NFKC", ch)
            if any(unicodedata.combining(x) or x in seconds
                   for x in ch + unicodedata.normalize("NFKD", ch)) or "Σ" in nfkc:
                continue
            simple.append(ch)
            out = "".join(x for x in nfkc.lower() if not _is_foldable(x))
            if not out:
                vanish.append(ch)
            elif out != ch.lower():
                mapped[ch] = out
    return (re.compile(f"[^{_class(simple)}]"), re.compile(f"[{_class(vanish)}]"),
            re.compile(f"[{_class(list(mapped))}]"), mapped)


def normalize_for_hash(text: str) -> str:
    """Canonical form for exact-duplicate hashing.

    NFKC (all widths), lower-case, and every whitespace, punctuation, symbol and control
    character removed: two copies of an article that differ only in layout, quotes, brackets
    or full-width/half-width forms map to the same string.
    """
    not_simple, vanish, maps, mapping = _simple_tables()
    if not_simple.search(text) is None:
        # the common case (Chinese article text), ~4x faster and the same result: see _simple_tables
        return maps.sub(lambda m: mapping[m.group()], vanish.sub("", text)).lower()
    text = unicodedata.normalize("NFKC", text).lower()
    if _ASTRAL.search(text):  # rare (emoji, CJK extension B): the per-character test covers all planes
        return "".join(ch for ch in text if not _is_foldable(ch))
    return _foldable_bmp().sub("", text)
