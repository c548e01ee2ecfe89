"""Where a listing goes on, without configuration: the next listing page of a page, the CMS that
built it, and the article links it keeps in scripts rather than in anchors.

Pure functions of a page's text and URL (the network is the spider's). The patterns, in the
order :func:`next_listing_urls` tries them:

1. **Hanweb (大汉) JCMS**: a column page keeps its first records as CDATA in
   ``<script type="text/xml"><datastore><recordset><record>…``, and ``jquery.jpage`` asks
   ``/module/web/jpage/dataproxy.jsp?startrecord=…&endrecord=…&perpage=…`` for the next ones,
   with the column's parameters (``columnid``, ``unitid``, ``webid`` … from the datastore's
   ``<nextgroup>`` link and the ``jpage({ajaxParam: …})`` call). The proxy answers XML records
   and ``<totalrecord>``: each answer leads to the next group until that total is reached. The
   parameters go in the query string (real servers read them from the query or a form body).
2. **Hanweb jpaas**: the list is a script array ``articleList:[{…"url":"/col/colN/content/
   content_<19 digits>.html"…}]`` and the pages are ``index.html?uid=<module>&pageNum=N``, up to
   the page count the script gives (``totalPage``, or ``totalRecord`` / ``perPage``).
3. **TRS (拓尔思) WCM**: ``createPageHTML(countPage, currentPage, "index", "html")`` (or with a
   container id first and a record count last) writes the pager: page 0 is ``index.html``, page k
   ``index_k.html``, up to ``countPage - 1``. Arguments may be variables set in the page.
4. A **下一页 link**: an anchor whose text is 下一页, 下页, ›, », next (brackets and arrows
   around it ignored), or ``rel="next"``, going somewhere else on the same site.
5. A **page-number family**, when no such link exists: a link to this page's URL with its number
   one up (``index.html`` → ``index_1.html`` or ``index_2.html``; ``list_2.shtml`` →
   ``list_3.shtml``; ``?page=2`` → ``?page=3``; ``_2.htm`` → ``_3.htm``). Only links the page
   carries are followed: a number is never guessed.
"""

from __future__ import annotations

import html as htmlmod
import json
import math
import re
from datetime import date
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

from crawler.extraction.dom import parse

__all__ = ["cms_of", "listing_dates", "next_listing_urls", "script_article_urls"]

DATAPROXY = "/module/web/jpage/dataproxy.jsp"
"""Where Hanweb's jpage plugin asks for a column's further records, unless the page says."""

_DATASTORE = re.compile(r"<datastore>(.*?)</datastore>", re.S | re.I)
_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S | re.I)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[.*?href\s*=\s*([\"'])(.*?)\1", re.S | re.I)
_HREF = re.compile(r"""href\s*=\s*["']([^"'\s]+)["']""", re.I)
_AJAXPARAM = re.compile(r"ajaxParam\s*:\s*\{([^{}]*)\}", re.S)
# a key starts where no word or quote stands before it: a long word is then scanned once, not
# again from each of its characters
_JS_PAIR = re.compile(r"""(?<![\w"'])["']?(\w+)["']?\s*:\s*(?:"([^"]*)"|'([^']*)'|([\w.\-/%]+))""")
# both start with their literal, which the regex engine then searches for fast
_ARTICLE_LIST = re.compile(r"""articleList["']?\s*[:=]\s*\[""")
_TRS_CALL = re.compile(r"createPageHTML\s*\(([^()]*)\)")
_FUNCTION_BEFORE = re.compile(r"function\s*$")
_JS_ARG = re.compile(r""""([^"]*)"|'([^']*)'|(-?\d+)|([A-Za-z_$][\w$]*)""")
_NEXT_TEXTS = frozenset(("下一页", "下页", "next", "nextpage", "后一页"))
_NEXT_SIGNS = frozenset(("›", "»", "＞", ">"))
#: ``rel``, ``class`` or ``title`` words of a next-page anchor (``<a class="next">›</a>``)
_NEXT_MARKS = frozenset(("next", "next-page", "nextpage", "page-next", "下一页", "下页"))
_TRIM = " \t\r\n\u3000\xa0[]【】()（）<>《》«»‹›>＞→"
_NUMBERED = re.compile(r"^(?P<stem>.+?)(?:(?P<sep>[_-])(?P<n>\d{1,4}))?\.(?P<ext>s?html?|jsp|php|aspx?)$", re.I)
_PAGE_KEYS = ("page", "pageno", "pagenum", "pageindex", "curpage", "currentpage", "p", "pn")
_SKIP = ("javascript:", "mailto:", "tel:", "#", "data:")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_ITEM_TAGS = ("li", "tr", "dd", "dt", "p")


def _number(pattern: str, text: str) -> int | None:
    """The first integer ``pattern`` (one group) finds in ``text``."""
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def cms_of(html: str) -> str:
    """The CMS that built a page, by the marks its templates leave: ``"hanweb-jpaas"``,
    ``"hanweb"``, ``"trs"``, or ``""`` when none is recognised."""
    if _ARTICLE_LIST.search(html) or re.search(r"/content/content_\d{19}\.html|[?&]uid=\d+&(?:amp;)?pageNum=",
                                               html):
        return "hanweb-jpaas"
    if re.search(r"<datastore>|/module/web/jpage/|/art/\d{4}/\d{1,2}/\d{1,2}/art_\d+_\d+\.html", html, re.I):
        return "hanweb"
    if re.search(r"createPageHTML|/t\d{8}_\d+\.s?html?", html):
        return "trs"
    return ""


def _absolute(href: str, base: str) -> str:
    href = htmlmod.unescape(href.strip())
    if not href or href.lower().startswith(_SKIP):
        return ""
    url = urljoin(base, href)
    return url if url.startswith(("http://", "https://")) else ""


# --------------------------------------------------------------------------- article URLs in scripts

def _records(html: str) -> list[str]:
    """The CDATA records of a page's (or a dataproxy answer's) Hanweb datastore."""
    return [r for block in _DATASTORE.findall(html) for r in _RECORD.findall(block)] or _RECORD.findall(html)


def _array_at(text: str, start: int) -> str:
    """The bracketed array starting at ``text[start]`` (``[``), brackets in strings ignored."""
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return ""


_URLISH = re.compile(r"""["']((?:https?:)?/[^"'\s<>]+|[\w./-]+\.s?html?)["']""")
_URL_KEYS = ("url", "link", "href", "pcurl", "linkurl", "docpuburl", "path")


def _article_items(html: str) -> list[tuple[str, str]]:
    """(URL, the item's other text) of each item of a jpaas ``articleList:[…]`` array: its
    ``url`` (or ``link``, ``href`` …) or, if it has none of those, its first URL-like string."""
    out: list[tuple[str, str]] = []
    for m in _ARTICLE_LIST.finditer(html):
        array = _array_at(html, m.end() - 1)
        try:
            items = json.loads(array)
        except ValueError:  # a script literal, not JSON: its quoted URLs
            out += [(u, "") for u in _URLISH.findall(array)]
            continue
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                out.append((item, ""))
            elif isinstance(item, dict):
                lowered = {str(k).lower(): v for k, v in item.items() if isinstance(v, str)}
                url = next((lowered[k] for k in _URL_KEYS if lowered.get(k)), "")
                if not url:
                    url = next((v for v in lowered.values() if _URLISH.fullmatch(f'"{v}"')), "")
                if url:
                    out.append((url, " ".join(v for v in lowered.values() if v != url)))
    return out


def script_article_urls(html: str, url: str) -> list[str]:
    """Absolute URLs of the articles a listing keeps in scripts, in page order, once each: the
    first link of each Hanweb datastore record and each item of a jpaas ``articleList`` array."""
    hrefs = [m.group(1) for r in _records(html) if (m := _HREF.search(r))] + [u for u, _ in _article_items(html)]
    return list(dict.fromkeys(u for h in hrefs if (u := _absolute(h, url))))


def _date_in(text: str) -> date | None:
    for m in _DATE.finditer(text):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    return None


def listing_dates(html: str, url: str) -> dict[str, date]:
    """The date a listing page prints beside each article link it shows (absolute URL → date):
    in the link's list item (``li``, ``tr``, ``dd`` …), its datastore record or its
    ``articleList`` item. Links without one are left out."""
    held: list[tuple[str, str]] = [(m.group(1), r) for r in _records(html) if (m := _HREF.search(r))]
    held += _article_items(html)
    out: dict[str, date] = {}
    for href, text in held:
        absolute, when = _absolute(href, url), _date_in(text)
        if absolute and when:
            out.setdefault(absolute, when)
    try:
        root = parse(html)
    except (etree.ParserError, ValueError):
        return out
    for a in root.iter("a"):
        absolute = _absolute(a.get("href") or "", url)
        item = next((e for e in a.iterancestors() if e.tag in _ITEM_TAGS), None)
        when = _date_in("".join(item.itertext())) if item is not None else None
        if absolute and when:
            out.setdefault(absolute.split("#", 1)[0], when)
    return out


# --------------------------------------------------------------------------- the CMS patterns

def _hanweb_next(html: str, url: str) -> str:
    """The dataproxy URL of the records after a Hanweb column page's (or a dataproxy answer's)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    total = _number(r"<totalrecord>\s*(\d+)", html)
    if parts.path.endswith("dataproxy.jsp"):
        if "startrecord" in query and "endrecord" in query:
            start, end = int(query["startrecord"]), int(query["endrecord"])
            step = end - start + 1
            if total is None or end >= total or step <= 0:
                return ""
            query.update(startrecord=str(end + 1), endrecord=str(min(end + step, total)))
        elif "page" in query:  # the nextgroup link's own form: page=N, the answer says how many
            pages = _number(r"<totalpage>\s*(\d+)", html)
            if pages is None or int(query["page"]) >= pages:
                return ""
            query["page"] = str(int(query["page"]) + 1)
        else:
            return ""
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    if not _DATASTORE.search(html):
        return ""
    params: dict[str, str] = {}
    group = _NEXTGROUP.search(html)
    if group:
        params.update(parse_qsl(urlsplit(htmlmod.unescape(group.group(2))).query, keep_blank_values=True))
        params.pop("page", None)
    for block in _AJAXPARAM.findall(html):
        for key, dq, sq, bare in _JS_PAIR.findall(block):
            params[key] = dq or sq or bare
    if "columnid" not in params:
        return ""
    records = len(_records(html))
    per_page = _number(r"perPage\s*:\s*['\"]?(\d+)", html) or records or 15
    total = _number(r"totalRecord\s*:\s*['\"]?(\d+)", html)
    start = records + 1
    end = start + max(records, per_page) - 1
    if total is not None:
        if start > total:
            return ""
        end = min(end, total)
    proxy = re.search(r"proxyUrl\s*:\s*['\"]([^'\"]+)['\"]", html)
    # the jpage call's proxyUrl, else the <nextgroup> link's path (older sites serve it from
    # /module/jslib/jquery/jpage/), else where current sites have it
    path = proxy.group(1) if proxy else urlsplit(htmlmod.unescape(group.group(2))).path if group else ""
    base = _absolute(path or DATAPROXY, url)
    query_text = urlencode({"startrecord": start, "endrecord": end, "perpage": per_page, **params})
    return f"{base}?{query_text}"


def _jpaas_next(html: str, url: str) -> str:
    """The next ``index.html?uid=…&pageNum=N`` of a jpaas column page with an ``articleList``."""
    if not _ARTICLE_LIST.search(html):
        return ""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    found = re.search(r"[?&]uid=(\w+)", html) or re.search(r"""\buid["']?\s*[:=]\s*["']?(\w+)""", html)
    uid = query.get("uid") or (found.group(1) if found else "")
    if not uid:
        return ""
    current = int(query.get("pageNum", "1") or 1)
    pages = _number(r"""totalPage["']?\s*[:=]\s*["']?(\d+)""", html)
    if pages is None:
        total = _number(r"""total(?:Record|Count)?["']?\s*[:=]\s*["']?(\d+)""", html)
        per_page = _number(r"""(?:perPage|pageSize)["']?\s*[:=]\s*["']?(\d+)""", html)
        if total is None or not per_page:
            return ""
        pages = math.ceil(total / per_page)
    if current >= pages:
        return ""
    path = parts.path if parts.path.endswith(".html") else parts.path.rstrip("/") + "/index.html"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode({"uid": uid, "pageNum": current + 1}), ""))


def _js_value(token: tuple[str, str, str, str], html: str) -> str | int | None:
    """A createPageHTML argument: a string, a number, or a variable set to one in the page."""
    dq, sq, num, name = token
    if num:
        return int(num)
    if name:
        m = re.search(rf"(?<![\w$.]){re.escape(name)}\s*=\s*(?:(-?\d+)|[\"']([^\"']*)[\"'])", html)
        if not m:
            return None
        return int(m.group(1)) if m.group(1) else m.group(2)
    return dq or sq


def _trs_next(html: str, url: str) -> str:
    """The next page a TRS ``createPageHTML(countPage, currentPage, name, ext)`` call writes."""
    for m in _TRS_CALL.finditer(html):
        if m.start() and (html[m.start() - 1].isalnum() or html[m.start() - 1] in "_.$"):
            continue  # another function's name (myCreatePageHTML, obj.createPageHTML)
        if _FUNCTION_BEFORE.search(html, max(0, m.start() - 20), m.start()):
            continue  # "function createPageHTML(_nPageCount, …)": the definition, not a call
        values = [_js_value(t, html) for t in _JS_ARG.findall(m.group(1))]
        numbers = [v for v in values if isinstance(v, int)]
        names = [v for v in values if isinstance(v, str)]
        if len(numbers) < 2 or len(names) < 2:
            continue
        count, current = numbers[0], numbers[1]
        name, ext = names[-2], names[-1]
        if current + 1 < count:
            return urljoin(url, f"{name}_{current + 1}.{ext}")
        return ""
    return ""


# --------------------------------------------------------------------------- links of the page

def _anchors(html: str, url: str) -> list[tuple[str, str, str]]:
    """(absolute URL, text, its ``rel``, ``class`` and ``title`` lower-cased) of each followable
    anchor, in page order."""
    try:
        root = parse(html)
    except (etree.ParserError, ValueError):
        return []
    out = []
    for a in root.iter("a"):
        href = a.get("href")
        absolute = _absolute(href, url) if href else ""
        if absolute:
            marks = " ".join(a.get(name) or "" for name in ("rel", "class", "title")).lower()
            out.append((absolute.split("#", 1)[0], "".join(a.itertext()), marks))
    return out


def _same_page(a: str, b: str) -> bool:
    """Whether two URLs name one page (``/news/`` is ``/news/index.html``)."""
    pa, pb = urlsplit(a), urlsplit(b)
    path_a = pa.path + "index.html" if pa.path.endswith("/") else pa.path
    path_b = pb.path + "index.html" if pb.path.endswith("/") else pb.path
    return (pa.netloc, path_a, pa.query) == (pb.netloc, path_b, pb.query)


def _next_link(anchors: list[tuple[str, str, str]], url: str) -> str:
    host = urlsplit(url).netloc
    for href, text, marks in anchors:
        core = text.strip(_TRIM).replace(" ", "").lower()
        raw = text.strip()
        if (core in _NEXT_TEXTS or raw in _NEXT_SIGNS or not _NEXT_MARKS.isdisjoint(marks.split())) \
                and urlsplit(href).netloc == host and not _same_page(href, url):
            return href
    return ""


def _family_next(anchors: list[tuple[str, str, str]], url: str) -> str:
    """A linked URL that is ``url`` with its page number one up (see the module's docstring)."""
    parts = urlsplit(url)
    links = {href for href, _text, _rel in anchors}
    query = parse_qsl(parts.query, keep_blank_values=True)
    for href in links:  # ?page=N → ?page=N+1, the rest of the query unchanged
        other = urlsplit(href)
        if (other.netloc, other.path) != (parts.netloc, parts.path):
            continue
        theirs = parse_qsl(other.query, keep_blank_values=True)
        for key in _PAGE_KEYS:
            mine = next((v for k, v in query if k.lower() == key), "1")
            value = next((v for k, v in theirs if k.lower() == key), None)
            rest_mine = [(k, v) for k, v in query if k.lower() != key]
            rest_theirs = [(k, v) for k, v in theirs if k.lower() != key]
            if value is not None and mine.isdigit() and value == str(int(mine) + 1) and rest_mine == rest_theirs:
                return href
    directory, _, name = parts.path.rpartition("/")
    m = _NUMBERED.match(name or "index.html")
    if not m:
        return ""
    stem, ext = m.group("stem"), m.group("ext").lower()
    wanted = {1, 2} if m.group("n") is None else {int(m.group("n")) + 1}
    for href in sorted(links):
        other = urlsplit(href)
        o_dir, _, o_name = other.path.rpartition("/")
        o = _NUMBERED.match(o_name)
        if (other.netloc == parts.netloc and o_dir == directory and o and o.group("n")
                and o.group("stem") == stem and o.group("ext").lower() == ext and int(o.group("n")) in wanted
                and not other.query):
            return href
    return ""


def next_listing_urls(html: str, url: str) -> list[str]:
    """The next listing page(s) after the page ``url`` whose text is ``html``, best first, by the
    patterns of the module's docstring (the first that answers wins); empty at the last page or
    when no pattern is recognised."""
    for rule in (_hanweb_next, _jpaas_next, _trs_next):
        found = rule(html, url)
        if found:
            return [found]
    if (urlsplit(url).path.endswith("dataproxy.jsp") or _DATASTORE.search(html) or _ARTICLE_LIST.search(html)
            or _TRS_CALL.search(html)):
        return []  # a CMS pager at its last page: no link elsewhere on the page is the next one
    anchors = _anchors(html, url)
    found = _next_link(anchors, url) or _family_next(anchors, url)
    return [found] if found else []
