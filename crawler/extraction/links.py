"""Article links of a listing page, without a configured pattern.

A listing page (栏目) links its articles with URLs of one shape, made by one CMS template:
``/art/2024/12/3/art_123_456.html`` (Hanweb), ``/zwgk/zcwj/202308/t20230816_4587216.html``
(TRS), ``/col/col123/content/content_<19 digits>.html`` (Hanweb jpaas),
``/system/2025/07/02/020911735.shtml``. Its navigation, breadcrumbs, pagination and footer link
other shapes, with short texts, often without digits. :func:`infer_allow` groups a page's
same-host links by shape and returns a regular expression of the family that looks most like
the page's article list: many members, digits in the path, title-long link texts, one dense list
block, no chrome (nav, header, footer) and no listing-page names (``index_2.html``,
``list_3.html``, ``?page=2``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from statistics import median
from urllib.parse import parse_qsl, urljoin, urlsplit

from crawler.extraction.dom import HtmlElement, parse

__all__ = ["LinkFamily", "infer_allow", "link_families", "page_links"]

_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"([-_.])")
#: letters and digits mixed, long enough to be an id (``F6ISIFBD0001899O``, ``iicezueu4076655``)
_MIXED_ID = re.compile(r"^(?=[a-z]*\d)(?=\d*[a-z])[0-9a-z]{8,}$", re.I)
#: lower-case hexadecimal with letters and digits (``d80b1f``, ``5f3a9c0b2e7d41aa``)
_HEX_ID = re.compile(r"^(?=[a-f]*\d)(?=\d*[a-f])[0-9a-f]{6,}$")
#: a short word and a number (``t20230816``, ``col123``, ``P0202203153915678``): a template's literal
_PREFIXED_NUMBER = re.compile(r"^[a-z]{1,5}\d+$", re.I)
#: file names of listing pages (a column's index and its pages), not of articles
_LISTING_STEM = re.compile(r"^(?:index|list|default|more|node|page|column|col)(?:[_-]?\d+)?$", re.I)
#: query keys that page a listing
_PAGING_KEYS = frozenset(("page", "pageno", "pagenum", "page_no", "pagesize", "curpage", "currpage", "p", "pn",
                          "start", "startrecord", "endrecord", "perpage", "offset", "uid"))
#: class or id words of page chrome: navigation, header, footer, breadcrumbs
_CHROME = re.compile(r"nav|menu|head|foot|top|bottom|crumb|position|location|copyright|banner|share|friend|link",
                     re.I)
_CHROME_TAGS = frozenset(("nav", "header", "footer"))
#: containers a list of links sits in
_LIST_TAGS = frozenset(("ul", "ol", "table", "tbody", "dl"))
#: quoted URLs in scripts: Hanweb's datastore records (``<a href='…'>`` in CDATA) and jpaas's
#: ``articleList:[{url:"…"}]`` arrays hold the list there, not in the page's anchors
_SCRIPT_HREF = re.compile(r"""href\s*=\s*\\?["']([^"'\\\s]+)\\?["'][^>]*>([^<]{0,200})<""", re.I)
_SCRIPT_URL = re.compile(r"""["']((?:https?:)?/[^"'\s<>]*\.(?:s?html?|jhtml|jsp|php|aspx?)(?:\?[^"'\s<>]*)?)["']""",
                         re.I)
#: what a real link is written with (not a template's ``{{url}}`` or ``@@=value$$``)
_URL_CHARS = re.compile(r"^[\w\-./%~?=&:+,;!#@()\\\u0080-\uffff]+$")
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "#", "data:")
#: a family scoring below this is not an article list (a page of nav links only)
_MIN_SCORE = 0.6


@dataclass
class LinkFamily:
    """Same-host links of one URL shape, and what their anchors look like."""

    shape: tuple[str, ...]
    urls: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    chrome: int = 0  # members linked only from navigation, header or footer
    blocks: Counter[str] = field(default_factory=Counter)  # list block (its path) → members in it
    score: float = 0.0

    @property
    def pattern(self) -> str:
        """A regular expression matching this family's URLs (their path and query)."""
        return _pattern(self.shape, self.urls)


def _escape(text: str) -> str:
    """``re.escape`` without escaping ``-`` (a literal outside brackets), for readable patterns."""
    return re.escape(text).replace("\\-", "-")


def _token_shape(token: str) -> str:
    """One separator-free piece of a path segment: digit runs as ``\\d+`` after a short letter
    prefix (``t20230816``, ``col123``, ``art``); a hash or mixed id (``F6ISIFBD0001899O``,
    ``iicezueu4076655``, ``d80b1f``) as a class, so members of one family share one shape."""
    if token.isdigit():
        return r"\d+"
    if _PREFIXED_NUMBER.match(token):  # before the ids: ``c100444`` is a column, not a hash
        return r"\d+".join(_escape(p) for p in _DIGITS.split(token))
    if _HEX_ID.match(token):
        return "[0-9a-f]+"
    if _MIXED_ID.match(token):
        return "[0-9a-zA-Z]+"
    return r"\d+".join(_escape(p) for p in _DIGITS.split(token))


def _segment_shape(segment: str) -> str:
    """A path segment's shape: its pieces between ``-``, ``_`` and ``.`` shaped by
    :func:`_token_shape`, the separators kept."""
    pieces = _SEPARATORS.split(segment)  # token, separator, token, …
    return "".join(_escape(p) if i % 2 else _token_shape(p) if p else "" for i, p in enumerate(pieces))


def _query_shape(query: str) -> tuple[str, ...]:
    """Each query parameter as ``key=`` plus a digit marker when its value is a number."""
    return tuple(f"{k}={'#' if v.isdigit() else '*'}" for k, v in parse_qsl(query, keep_blank_values=True))


def url_shape(url: str) -> tuple[str, ...]:
    """The shape of ``url``: its host, then each path segment with digit runs generalised, then
    its query's keys (and whether each value is a number)."""
    parts = urlsplit(url)
    segments = parts.path.split("/")[1:] or [""]
    return (parts.netloc.lower(), *(_segment_shape(s) for s in segments), *(("?", *_query_shape(parts.query))
                                                                             if parts.query else ()))


def _pattern(shape: tuple[str, ...], urls: list[str]) -> str:
    path: list[str] = []
    query: list[str] = []
    into = path
    for part in shape[1:]:
        if part == "?":
            into = query
            continue
        into.append(part)
    out = "/" + "/".join(path)
    if query:
        values: dict[str, set[str]] = defaultdict(set)
        for url in urls:
            for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True):
                values[k].add(v)
        params = []
        for part in query:
            key, _, kind = part.partition("=")
            seen = values.get(key, set())
            if kind == "#":
                value = r"\d+"
            elif len(seen) == 1:
                value = _escape(next(iter(seen)))
            else:
                value = "[^&]*"
            params.append(_escape(key) + "=" + value)
        out += r"\?" + "&".join(params)
    return out + "$"


def _is_chrome(el: HtmlElement) -> bool:
    for anc in el.iterancestors():
        if anc.tag in _CHROME_TAGS:
            return True
        words = f"{anc.get('class', '')} {anc.get('id', '')}"
        if words.strip() and _CHROME.search(words):
            return True
    return False


def _block_of(el: HtmlElement) -> HtmlElement:
    """The list block holding ``el``: the nearest ul/ol/table/dl, else its grandparent."""
    for depth, anc in enumerate(el.iterancestors()):
        if anc.tag in _LIST_TAGS:
            return anc
        if depth >= 5:
            break
    parent = el.getparent()
    grand = parent.getparent() if parent is not None else None
    return grand if grand is not None else parent if parent is not None else el


def page_links(html: str, url: str) -> Iterator[tuple[str, str, bool, str]]:
    """Each same-host http(s) link of the page: (absolute URL without fragment, its anchor text
    or title, whether it sits in page chrome, the path of its list block). URLs quoted in
    scripts come too (with the script as their block), since some CMSs build their list from
    them."""
    root = parse(html)
    # blocks are named by their path in the tree: lxml makes a new Python object for an element
    # each time one is asked for, so an object's id() does not name an element
    path_of = root.getroottree().getpath
    base = url
    for b in root.iter("base"):
        if b.get("href"):
            base = urljoin(url, b.get("href", "").strip())
            break
    host = urlsplit(url).netloc.lower()
    for el in root.iter("a", "script"):
        if el.tag == "a":
            href = (el.get("href") or "").strip()
            text = " ".join("".join(el.itertext()).split()) or (el.get("title") or "").strip()
            found = [(href, text)]
            chrome, block = _is_chrome(el), path_of(_block_of(el))
        else:
            body = el.text or ""
            found = [(h, " ".join(t.split())) for h, t in _SCRIPT_HREF.findall(body)]
            seen = {h for h, _t in found}
            found += [(h, "") for h in _SCRIPT_URL.findall(body) if h not in seen]
            chrome, block = False, path_of(el)
        for raw, text in found:
            href = "".join(raw.split())  # " mailto : x" and line-broken hrefs
            if not href or href.lower().startswith(_SKIP_SCHEMES) or not _URL_CHARS.match(href):
                continue
            absolute = urljoin(base, href.replace("\\/", "/")).split("#", 1)[0]
            parts = urlsplit(absolute)
            if parts.scheme not in ("http", "https") or parts.netloc.lower() != host:
                continue
            yield absolute, text, chrome, block


def _listing_like(shape: tuple[str, ...]) -> bool:
    """Whether URLs of ``shape`` are listing pages (a column's index or its pages)."""
    end = shape.index("?") if "?" in shape else len(shape)
    last = shape[end - 1] if end > 1 else ""
    stem = last.replace(r"\d+", "1").replace("\\", "").rsplit(".", 1)[0]
    if not stem or _LISTING_STEM.match(stem):
        return True
    if "?" in shape:
        keys = {p.partition("=")[0].lower() for p in shape[shape.index("?") + 1:]}
        return bool(keys & _PAGING_KEYS)
    return False


def _score(family: LinkFamily, own_shape: tuple[str, ...]) -> float:
    n = len(family.urls)
    lengths = [len(t) for t in family.texts if t]
    text_len = median(lengths) if lengths else 8.0  # script URLs often come without a text
    score = float(n) * min(2.0, max(0.15, text_len / 8))
    if not any(r"\d+" in p for p in family.shape[1:]) and "?" not in family.shape:
        score *= 0.2  # article URLs carry an id or a date; section pages seldom do
    if _listing_like(family.shape) or family.shape == own_shape:
        score *= 0.1  # the listing's own pages (pagination, sibling columns)
    score *= 1.0 - 0.8 * family.chrome / n
    densest = max(family.blocks.values()) if family.blocks else 0
    return score * (0.5 + densest / n)


def link_families(html: str, url: str) -> list[LinkFamily]:
    """The page's same-host links grouped by URL shape, best article-list candidate first."""
    families: dict[tuple[str, ...], LinkFamily] = {}
    seen: dict[str, LinkFamily] = {}
    page = url.split("#", 1)[0]
    for link, text, chrome, block in page_links(html, url):
        if link == page:
            continue
        family = seen.get(link)
        if family is not None:  # linked twice (a title and a "more"): keep the longer text
            i = family.urls.index(link)
            if len(text) > len(family.texts[i]):
                family.texts[i] = text
            continue
        shape = url_shape(link)
        family = families.setdefault(shape, LinkFamily(shape))
        family.urls.append(link)
        family.texts.append(text)
        family.chrome += chrome
        family.blocks[block] += 1
        seen[link] = family
    own = url_shape(page)
    candidates = [*families.values(), *_sections_merged(list(families.values()))]
    for family in candidates:
        family.score = _score(family, own)
    return sorted(candidates, key=lambda f: -f.score)


def _section_key(shape: tuple[str, ...]) -> tuple[str, ...]:
    """``shape`` with its wordy directories (no number in them: a channel, a column) as ``*``."""
    end = shape.index("?") if "?" in shape else len(shape)
    return tuple("*" if 0 < i < end - 1 and "\\d" not in part and "[" not in part else part
                 for i, part in enumerate(shape))


def _sections_merged(families: list[LinkFamily]) -> list[LinkFamily]:
    """Families that differ only in a wordy directory (``/shxw/…/t123.htm`` and
    ``/djak/…/t456.htm``: one template, several channels), each group as one more candidate
    whose pattern names the directories it saw."""
    groups: dict[tuple[str, ...], list[LinkFamily]] = defaultdict(list)
    for family in families:
        key = _section_key(family.shape)
        if "*" in key:
            groups[key].append(family)
    merged = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        shape = tuple(part if part != "*" else "(?:" + "|".join(sorted({m.shape[i] for m in members})) + ")"
                      for i, part in enumerate(key))
        union = LinkFamily(shape)
        for member in members:
            union.urls += member.urls
            union.texts += member.texts
            union.chrome += member.chrome
            union.blocks.update(member.blocks)
        merged.append(union)
    return merged


def infer_allow(html: str, url: str) -> str | None:
    """A regular expression of the article links of the listing page ``html`` (fetched from
    ``url``), for ``LinkExtractor(allow=…)``: the path (and query) shape of its best family of
    same-host links (see the module's docstring), anchored at the end. None when no family
    looks like an article list (a page of navigation only)."""
    families = link_families(html, url)
    if not families or families[0].score < _MIN_SCORE:
        return None
    return families[0].pattern
