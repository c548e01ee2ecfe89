"""Bytes → text for HTML pages whose declared charset may be missing or wrong.

Order of evidence: byte-order mark, then the HTTP ``Content-Type`` charset, the caller's hint
and the page's own ``<meta charset>`` / ``http-equiv`` declaration, each *checked* against the
bytes; then detection.  GBK and GB2312 are always decoded as GB18030 (a strict superset, so
characters outside GB2312 that real pages use — 镕, 堃, 喆 — do not turn into errors), Big5 as
Big5-HKSCS (likewise).  Big5 bytes also read without an error as GB18030: a GB18030 reading full
of private-use, kana and box-drawing characters is taken for Big5 when the Big5 reading is clean
(Hong Kong and Taiwan pages that declare no charset, or gb2312 by a copied template).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

__all__ = ["decode_html", "garbled_score", "normalize_encoding"]

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([a-zA-Z0-9_\-:.]+)", re.I)
_XML_DECL = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_\-.]+)""", re.I)

# Declarations that Chinese sites get wrong most often, mapped to what the bytes really are.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "hz-gb-2312": "gb18030",
    "big5": "big5hkscs",  # superset, like GB18030 for GBK
    "x-big5": "big5hkscs",
    "utf8": "utf-8",
    "unicode": "utf-8",
    "utf-16": "utf-8",  # a page that says utf-16 but parsed as bytes this far is ASCII-compatible
}
# What a declaration may name: the encodings of the WHATWG Encoding Standard that keep ASCII
# bytes as ASCII, as Python calls them.  Anything else that Python happens to know (idna,
# punycode, utf-7, rot13, EBCDIC code pages) is not a web page's text encoding: such a
# declaration is ignored and the bytes are detected instead.
_WEB_ENCODINGS = frozenset({
    "utf-8", "gb18030", "gbk", "big5", "big5hkscs", "euc_jp", "shift_jis", "cp932", "euc_kr", "cp949",
    "cp866", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874", "tis-620", "ascii",
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    *(f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
})  # fmt: skip
# Single-byte western charsets never fail to decode, so a declaration of one proves nothing
# about a Chinese page; they are verified by detection instead.
_WEAK = {"iso8859-1", "latin-1", "ascii", "cp1252", "windows-1252", "iso-8859-1", "us-ascii"}


# Characters that show up when UTF-8 is read as GBK.  Every CJK character in UTF-8 starts with
# a byte E4–E9, so mojibake is dense in GBK characters whose first byte is E4–E9 — rare level-2
# and extension characters (浜, 涓, 鍙, 鐨 …) that real text hardly uses; 锟斤拷 is U+FFFD
# re-encoded.
# Latin-1 readings of UTF-8/GBK give Ã, Â and C1 control characters.
def _gbk_row_chars(first: int, last: int) -> frozenset[str]:
    chars = set()
    for lead in range(first, last + 1):
        for trail in range(0x40, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gbk"))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


_MOJIBAKE = (
    _gbk_row_chars(0xE4, 0xE9) | frozenset("锟斤拷ÃÂ¤¦¨¬¯´¶¸¹º¼½¾¿") | frozenset(chr(c) for c in range(0x80, 0xA0))
)


def normalize_encoding(name: str) -> str:
    """Canonical Python codec name for a declared charset; '' when Python does not know it or it
    is not an ASCII-compatible web encoding (see ``_WEB_ENCODINGS``)."""
    name = name.strip().strip("\"'").lower()
    if not name:
        return ""
    name = _ALIASES.get(name, name)
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return ""
    canonical = _ALIASES.get(canonical, canonical)
    return canonical if canonical in _WEB_ENCODINGS else ""


_BAD = re.compile("[\ufffd" + "".join(re.escape(c) for c in sorted(_MOJIBAKE)) + "]")


def _non_ascii(text: str) -> int:
    # counted in C: this runs on every page, whole documents at a time, and encoding drops the
    # non-ASCII characters without building a string per character
    return len(text) - len(text.encode("ascii", "ignore"))


def garbled_score(text: str) -> float:
    """Share of U+FFFD and typical mojibake characters among the non-ASCII characters (0–1)."""
    non_ascii = _non_ascii(text)
    if not non_ascii:
        return 0.0
    return len(_BAD.findall(text)) / non_ascii


def _declared(body: bytes, headers: Mapping[str, str] | None, hint: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if headers:
        for key, value in headers.items():
            if key.lower() == "content-type":
                m = _HEADER_CHARSET.search(value)
                if m:
                    found.append(("header", m.group(1)))
    if hint:
        found.append(("hint", hint))
    head = body[:8192]
    declared = _META_CHARSET.search(head) or _XML_DECL.search(head)
    if declared:
        found.append(("meta", declared.group(1).decode("ascii", "replace")))
    return found


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeError, LookupError):
        return None


def _tolerant(body: bytes, encoding: str, max_error_share: float = 0.002) -> str | None:
    """Decode allowing a few broken bytes (truncated pages, one bad character in a comment)."""
    try:
        text = body.decode(encoding, "replace")
    except (UnicodeError, LookupError):  # a codec that raises even when told to replace
        return None
    errors = text.count("\ufffd")
    if errors == 0:
        return text
    non_ascii = _non_ascii(text)
    return text if non_ascii and errors / non_ascii <= max_error_share else None


_PLAUSIBLE = 0.05  # garbled share under which a decoding is accepted


def decode_html(body: bytes, headers: Mapping[str, str] | None = None, hint: str = "") -> tuple[str, str, float]:
    """Decode an HTML page; return ``(text, encoding, garbled_score)``.

    Never raises: when nothing fits cleanly the best guess is decoded with replacement
    characters and the garbled score says how bad it is (0 = clean, 1 = all non-ASCII is
    U+FFFD or mojibake).  ``encoding`` is the Python codec name used (``"gb18030"`` for GBK
    pages); ``hint`` is a per-source override that still has to survive the same checks.
    """
    if body.startswith(codecs.BOM_UTF8):
        text = body[3:].decode("utf-8", "replace")
        return text, "utf-8", garbled_score(text)
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = body.decode("utf-16", "replace")
        return text, "utf-16", garbled_score(text)

    declared = []
    for _, name in _declared(body, headers, hint):
        enc = normalize_encoding(name)
        if enc and enc not in declared:
            declared.append(enc)

    # Valid UTF-8 with non-ASCII bytes is almost never anything else (GBK text is not valid
    # UTF-8 beyond a few characters), so it wins over a declaration that says otherwise —
    # this is how pages whose template says gb2312 but whose CMS writes UTF-8 come out right.
    utf8 = _strict(body, "utf-8")
    if utf8 is not None and (not declared or declared[0] in ("utf-8", *_WEAK) or not body.isascii()):
        return utf8, "utf-8", garbled_score(utf8)

    for enc in declared:
        if enc in _WEAK or enc == "utf-8":
            continue  # utf-8 was checked above; weak ones are left to detection
        decoded = _tolerant(body, enc)
        if decoded is not None and (score := garbled_score(decoded)) < _PLAUSIBLE:
            if enc == "gb18030" and (big5 := _big5_instead(body, decoded)) is not None:
                return big5
            return decoded, enc, score

    # Declared charset missing or lying: Chinese pages are GB18030 far more often than
    # anything else, and a clean GB18030 decoding with CJK text is strong evidence, unless it
    # is Big5 read as GB18030 (see _big5_instead).
    gb = _tolerant(body, "gb18030")
    if gb is not None and (score := garbled_score(gb)) < _PLAUSIBLE:
        return _big5_instead(body, gb) or (gb, "gb18030", score)

    return _detect(body, declared)


# What Big5 bytes turn into when read as GB18030.  Every Big5 byte pair is a valid GB18030
# pair, so the reading never fails; but Big5's punctuation (，。「」 at A1xx), its frequent
# characters (A4xx–C6xx) and its trail bytes 40–7E land on GB18030's private-use areas, kana,
# Greek, Cyrillic, pinyin and box-drawing rows — which Chinese text hardly uses.
_BIG5_AS_GB = re.compile("[\ue000-\uf8ff\u3040-\u30ff\u0370-\u04ff\u2500-\u257f\u0100-\u01ff]")
_ODD_SHARE = 0.03  # odd characters among the non-ASCII ones above which a GB reading is doubted


def _odd_share(text: str) -> float:
    non_ascii = _non_ascii(text)
    return len(_BIG5_AS_GB.findall(text)) / non_ascii if non_ascii else 0.0


def _big5_instead(body: bytes, gb: str) -> tuple[str, str, float] | None:
    """The Big5 (HKSCS) reading of ``body`` when its GB18030 reading ``gb`` looks like Big5 read
    as GB and the Big5 reading is clean and looks like Chinese text; None otherwise."""
    odd = _odd_share(gb)
    if odd < _ODD_SHARE:
        return None
    big5 = _tolerant(body, "big5hkscs")
    if big5 is None or (score := garbled_score(big5)) >= _PLAUSIBLE or _odd_share(big5) >= odd / 2:
        return None
    return big5, "big5hkscs", score


def _detect(body: bytes, declared: list[str]) -> tuple[str, str, float]:
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    candidates = []
    if best is not None and best.encoding:
        candidates.append(normalize_encoding(best.encoding) or best.encoding)
    candidates += [*declared, "utf-8", "gb18030", "big5hkscs"]
    scored = []
    for enc in dict.fromkeys(candidates):
        try:
            text = body.decode(enc, "replace")
        except (UnicodeError, LookupError):
            continue
        score = garbled_score(text)
        if score == 0.0:
            return text, enc, 0.0
        scored.append((score, enc, text))
    score, enc, text = min(scored, key=lambda x: x[0])
    return text, enc, score
