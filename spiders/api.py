"""The API spider: a JSON listing endpoint, page by page → its items' article pages.

Which part of the JSON is the list, and which field of an item is its article's URL (title,
date), are JMESPath expressions (the source's ``items`` and ``fields``). Left out, they are
inferred: the items are the largest list of objects that hold a link, the URL is the field
holding a link in most of them (not an image's), the date the field that is a date in most, the
title the ``title`` field. An item's title and date go with its page as hints
(``spiders.entries``).
Relative URLs are resolved against the endpoint's. JSONP (``callback({…})``) is read as JSON.

Pages: the source's ``page_param`` names the query parameter of the page number; left out, it is
the start URL's parameter among :data:`PAGE_PARAMS` whose value is a number. The next page is the
same URL with that number plus one (the first page is the start URL's number, else 1), until a
page lists no items, holds only stored articles, or ``max_pages`` pages were read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jmespath
from scrapy.http import TextResponse

from crawler.config.kinds import ApiKind
from spiders.entries import EntrySpider, entry_date

#: query parameters taken for the page number when ``page_param`` is not given (the names
#: Chinese government CMS endpoints use: 大汉 ``pageNum``, TRS ``page``, gov.cn's search ``p`` …)
PAGE_PARAMS = ("page", "pageNo", "pageNum", "pageIndex", "pageindex", "currentPage", "curPage", "page_no",
               "pageno", "p", "pn")
_LINK = re.compile(r"^(?:https?://|/|\.\.?/)[^\s<>\"']+$|^[\w./-]+\.s?html?(?:\?\S*)?$", re.I)
_JSONP = re.compile(r"^\s*[\w$.]+\s*\(\s*(.*?)\s*\)\s*;?\s*$", re.S)
_IMAGE = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp|svg|ico)(?:\?|$)", re.I)


def _is_link(value: Any) -> bool:
    return isinstance(value, str) and bool(_LINK.match(value.strip())) and not _IMAGE.search(value)


def _objects(data: Any) -> Iterator[list[dict[str, Any]]]:
    """Every list of objects in ``data``, outermost first."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            objects = [x for x in node if isinstance(x, dict)]
            if objects:
                yield objects
            stack.extend(reversed(node))


def url_field(items: list[dict[str, Any]]) -> str | None:
    """The field of ``items`` that holds a link in most of them ("url", "link" and "href" first
    among equals), or None when none holds one."""
    counts = Counter(k for item in items for k, v in item.items() if _is_link(v))
    if not counts:
        return None
    return max(counts, key=lambda k: (counts[k], k.lower() in ("url", "link", "href")))


def _is_date(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    if isinstance(value, str) and (len(value.strip()) > 30 or _is_link(value)):
        return False  # a text or a link that holds a date is no date
    return entry_date(value) is not None


def date_field(items: list[dict[str, Any]]) -> str | None:
    """The field of ``items`` that is a date in most of them ("…time", "…date" first among
    equals), or None."""
    counts = Counter(k for item in items for k, v in item.items() if _is_date(v))
    if not counts:
        return None
    return max(counts, key=lambda k: (counts[k], any(w in k.lower() for w in ("time", "date"))))


def find_items(data: Any) -> list[dict[str, Any]]:
    """The largest list of objects in ``data`` that hold a link ([] when there is none)."""
    best: list[dict[str, Any]] = []
    best_linked = 0
    for objects in _objects(data):
        key = url_field(objects)
        linked = sum(1 for item in objects if key is not None and _is_link(item.get(key)))
        if linked > best_linked:
            best, best_linked = objects, linked
    return best


def json_of(text: str) -> Any:
    """The JSON ``text`` holds, also when it comes as JSONP (``jQuery1123_456({…});``, as many
    government sites' search endpoints answer); ValueError when it holds none."""
    try:
        return json.loads(text)
    except ValueError:
        wrapped = _JSONP.match(text)
        if wrapped is None:
            raise
        return json.loads(wrapped.group(1))


def page_param_of(url: str, given: str = "") -> str:
    """The query parameter of the page number: ``given``, else the first of :data:`PAGE_PARAMS`
    that ``url`` carries with a number ("" when none: the API is not paged)."""
    if given:
        return given
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return next((p for p in PAGE_PARAMS if query.get(p, "").isdigit()), "")


def next_page_url(url: str, param: str) -> str:
    """``url`` with the page number in ``param`` one more (the number absent: page 1, so 2)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    current = next((int(v) for k, v in query if k == param and v.isdigit()), 1)
    if any(k == param for k, _ in query):
        query = [(k, str(current + 1) if k == param else v) for k, v in query]
    else:
        query.append((param, str(current + 1)))
    return urlunsplit(parts._replace(query=urlencode(query, safe=",:/")))


class ApiSpider(EntrySpider):
    """Follows the items of a JSON listing endpoint, page by page (see the module's docstring)."""

    name = kind = ApiKind.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items_path = jmespath.compile(self.source.items) if self.source.items else None
        self.field_paths = {name: jmespath.compile(expr) for name, expr in self.source.fields.items()}

    def links_on(self, response: TextResponse) -> tuple[list[str], str]:
        """The page's item URLs, in order, and the next page's URL ("" when this page has none)."""
        try:
            data = json_of(response.text)
        except ValueError as exc:
            self.crawler.stats.inc_value("radar/not_json")
            self.logger.warning("%s is not JSON: %s", response.url, exc)
            return [], ""
        found = self.items_path.search(data) if self.items_path is not None else find_items(data)
        items = [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []
        url_of = self.field_paths.get("url")
        url_key = None if url_of is not None else url_field(items)
        title_of, date_of = self.field_paths.get("title"), self.field_paths.get("date")
        date_key = None if date_of is not None else date_field(items)
        urls, skipped = [], self.too_old
        for item in items:
            link = url_of.search(item) if url_of is not None else item.get(url_key) if url_key else None
            if not isinstance(link, str) or not link.strip():
                continue
            when = entry_date(date_of.search(item) if date_of is not None else item.get(date_key) if date_key else None)
            url = response.urljoin(link.strip())
            title = title_of.search(item) if title_of is not None else item.get("title")
            if url.startswith(("http://", "https://")) and self.kept(url, when, title):
                urls.append(url)
        param = page_param_of(self.start_urls[0], self.source.page_param)
        return urls, self.onward(urls, skipped, next_page_url(response.url, param) if items and param else "")


__all__ = ["PAGE_PARAMS", "ApiSpider", "date_field", "find_items", "json_of", "next_page_url", "page_param_of",
           "url_field"]
