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
_INLINE_SPACES = re.compile(r"[ \r\f\v]+")
_TABS = re.compile(r" *\t *")  # each tab is a cell boundary: empty cells keep their column
_CJK = "\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
# A space between two CJK characters carries no meaning (it is layout); between Latin words it does.
_CJK_GAP = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")


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
    out = []
    for line in fold_width(text).split("\n"):
        line = _INLINE_SPACES.sub(" ", line)
        line = _TABS.sub("\t", line).strip(" \t")
        if join_cjk_gaps:
            line = _CJK_GAP.sub("", line)
        if line:
            out.append(line)
    return "\n".join(out)


def _is_foldable(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PSZC"


def normalize_for_hash(text: str) -> str:
    """Canonical form for exact-duplicate hashing.

    NFKC (all widths), lower-case, and every whitespace, punctuation, symbol and control
    character removed: two copies of an article that differ only in layout, quotes, brackets
    or full-width/half-width forms map to the same string.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not _is_foldable(ch))
