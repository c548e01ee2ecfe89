"""Character-level search tokens, the same for the index and for queries (issue 22).

Text is first *folded*, one character for one character so offsets and substrings survive:
traditional characters to simplified (OpenCC's ``t2s`` table, character by character), full-width
ASCII to ASCII, Latin letters to lower case. The folded text is then cut into runs of *word
characters* (Unicode letters and digits); every character of a run is a unigram token and every
two neighbours a bigram token. A term of the query needs the tokens of its own runs: a run of one
character its unigram, a longer run all its bigrams. Every text containing the term has those
tokens, so the index never misses; it can over-match (the bigrams present but not in a row), which
the exact re-check on the folded text removes.

Tokens come in two spellings: text (``光 伏 光伏``, for SQLite FTS5's unicode61 tokenizer) and
32-bit integers (for a PostgreSQL GIN index over an ``int[]``; bigrams are hashed, and a collision
is one more over-match for the re-check).
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from functools import cache

UNICODE_LIMIT = 0x110000
_BIGRAM_SPACE = 2**31 - 1 - UNICODE_LIMIT
# The characters whose runs PostgreSQL's SQL-level search takes tokens from (regex class): a
# subset of the word characters, so its tokens are always among the indexed ones.
PG_QUERY_CLASS = "0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"


@cache
def fold_table() -> dict[int, str]:
    """The folding as a ``str.translate`` table: only characters that change, each to one character."""
    table: dict[int, str] = {}
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = chr(code + 32)
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[code] = chr(code - 0xFEE0).lower()
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a dependency
        return table
    converter = opencc.OpenCC("t2s")
    chars = [chr(c) for c in range(0x3400, 0xA000)] + [chr(c) for c in range(0xF900, 0xFB00)]
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) == len(chars):
        for old, new in zip(chars, converted, strict=True):
            if len(new) == 1 and new != old:
                table[ord(old)] = new
    return table


def fold(text: str) -> str:
    """``text`` folded (same length): traditional → simplified, full-width → ASCII, lower case."""
    return text.translate(fold_table())


def folds_traditional() -> bool:
    """Whether traditional characters fold to simplified ones here (OpenCC is installed)."""
    return ord("簽") in fold_table()


def _is_word(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


_RUN_CACHE: dict[str, bool] = {}


def runs(folded: str) -> list[str]:
    """The runs of word characters of an already folded text."""
    out: list[str] = []
    start = -1
    for i, char in enumerate(folded):
        word = _RUN_CACHE.get(char)
        if word is None:
            word = _RUN_CACHE[char] = _is_word(char)
        if word:
            if start < 0:
                start = i
        elif start >= 0:
            out.append(folded[start:i])
            start = -1
    if start >= 0:
        out.append(folded[start:])
    return out


def text_tokens(title: str, body: str) -> set[str]:
    """The distinct tokens of an article (title and body), as strings."""
    tokens: set[str] = set()
    for run in runs(fold(title) + "\n" + fold(body)):
        tokens.update(run)
        tokens.update(run[i:i + 2] for i in range(len(run) - 1))
    return tokens


def index_text(title: str, body: str) -> str:
    """The tokens of an article as one space-separated string (what the SQLite index holds)."""
    return " ".join(sorted(text_tokens(title, body)))


def token_number(token: str) -> int:
    """A token as a 32-bit integer: a unigram is its code point, a bigram a hash above them."""
    if len(token) == 1:
        return ord(token)
    return UNICODE_LIMIT + (ord(token[0]) * UNICODE_LIMIT + ord(token[1])) % _BIGRAM_SPACE


_NOT_WORD = re.compile(r"[\W_]")  # Python's \w less "_" is exactly the letters and digits (L*, N*)


def index_numbers(title: str, body: str) -> list[int]:
    """The tokens of an article as sorted distinct integers (what the PostgreSQL index holds):
    the same as ``token_number`` of each of :func:`text_tokens`."""
    import numpy as np

    # array arithmetic rather than a set of Python strings: this runs for every stored article,
    # and the per-character loop cost more than the database's own work on the row
    blanked = _NOT_WORD.sub("\0", fold(title) + "\n" + fold(body))
    codes = np.frombuffer(blanked.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    first, second = codes[:-1], codes[1:]
    pair = (first != 0) & (second != 0)
    bigrams = UNICODE_LIMIT + (first[pair] * UNICODE_LIMIT + second[pair]) % _BIGRAM_SPACE
    numbers: list[int] = np.unique(np.concatenate([codes[codes != 0], bigrams])).tolist()
    return numbers


def term_tokens(folded_term: str) -> list[str]:
    """The tokens every text containing ``folded_term`` has (none for a term without word characters)."""
    out: list[str] = []
    for run in runs(folded_term):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Query:
    """A parsed query: terms every hit contains and terms none contains, folded."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = field(default=())

    def tokens(self) -> list[str]:
        """The index tokens the included terms need, distinct."""
        return list(dict.fromkeys(t for term in self.include for t in term_tokens(term)))

    def exact(self) -> bool:
        """Whether the index alone answers it: each term one token, nothing excluded."""
        return not self.exclude and all(len(term_tokens(t)) == 1 and term_tokens(t)[0] == t for t in self.include)

    def matches(self, folded_text: str) -> bool:
        """The exact test, on folded text."""
        return (all(t in folded_text for t in self.include)
                and not any(t in folded_text for t in self.exclude))


_SPACE = re.compile(r"\s+")


def parse_query(query: str) -> Query:
    """Parse ``光伏 "新能源 汽车" -芯片``: whitespace-separated terms ANDed, ``"…"`` a phrase kept
    whole (spaces included), ``-term`` an exclusion. Raises ValueError when nothing is included."""
    try:
        parts = shlex.split(query, posix=True)
    except ValueError:  # an unbalanced quote: take the words as they are
        parts = query.replace('"', " ").split()
    include: list[str] = []
    exclude: list[str] = []
    for part in parts:
        negative = part.startswith("-") and len(part) > 1
        term = fold(_SPACE.sub(" ", part[1:] if negative else part))
        if term.strip():
            (exclude if negative else include).append(term)
    if not include:
        raise ValueError("the query has no term to look for (only exclusions or nothing)")
    return Query(tuple(dict.fromkeys(include)), tuple(dict.fromkeys(exclude)))


def highlight(text: str, query: Query, *, width: int = 80, mark: tuple[str, str] = ("[", "]")) -> str:
    """A snippet of ``text`` around the first hit of a term, each hit wrapped in ``mark``."""
    folded = fold(text)
    positions = [folded.find(t) for t in query.include]
    found = [p for p in positions if p >= 0]
    start = max(0, (min(found) if found else 0) - width // 4)
    end = min(len(text), start + width)
    spans: list[tuple[int, int]] = []
    for term in query.include:
        at = folded.find(term, start)
        while 0 <= at < end:
            spans.append((at, min(end, at + len(term))))
            at = folded.find(term, at + len(term))
    out: list[str] = []
    cursor = start
    for a, b in sorted(spans):
        if a < cursor:
            continue
        out += [text[cursor:a], mark[0], text[a:b], mark[1]]
        cursor = b
    out.append(text[cursor:end])
    snippet = "".join(out).replace("\n", " ")
    return ("…" if start > 0 else "") + snippet + ("…" if end < len(text) else "")
