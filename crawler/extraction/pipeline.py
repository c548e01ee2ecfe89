"""``extract()``: one page's bytes and URL in, one :class:`~crawler.article.Article` out.

Each field is taken from the most reliable source that has it, and ``Article.provenance``
records which one did:

1. government-CMS / OpenGraph ``<meta>`` tags (``meta:PubDate``, ``meta:ArticleTitle`` …);
2. JSON-LD (``jsonld:datePublished`` …);
3. the source's CSS/XPath selectors (``selector``);
4. the page's metadata block (``block:发布日期``, ``block:发文字号`` …);
5. generic rules (``rule:h1``, ``rule:date-near-title``, ``rule:url``, ``rule:signature`` …).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime

from crawler.article import Article
from crawler.extraction import epaper
from crawler.extraction.attachments import attachment_links
from crawler.extraction.body import extract_body
from crawler.extraction.dates import SHANGHAI
from crawler.extraction.dating import fill_dates
from crawler.extraction.decode import decode_html
from crawler.extraction.dom import attribute_test, parse, strip_noise, text_of
from crawler.extraction.fields import fill_account_name, fill_region, fill_signature, fill_text_fields
from crawler.extraction.headline import find_body_start, find_line, pick_labels, pick_title
from crawler.extraction.kind import page_kind
from crawler.extraction.limits import TIME_BUDGET, Budget, fallback_title, refusal
from crawler.extraction.meta import LabelValue, enp_properties, json_ld, label_values, meta_tags, script_values
from crawler.extraction.rendering import render
from crawler.extraction.selectors import apply_selectors
from crawler.text.normalize import normalize_lines, normalize_text

__all__ = ["extract"]

log = logging.getLogger(__name__)

_EPAPER_CONTAINER = re.compile(r"ozoom|founder-content|founder_content|newspaper|epaper", re.I)
_epaper_container = attribute_test(_EPAPER_CONTAINER)


def extract(
    body: bytes,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    fetched_at: datetime | None = None,
    selectors: Mapping[str, str] | None = None,
    encoding_hint: str = "",
    region_hint: str = "",
    budget: float = TIME_BUDGET,
) -> Article:
    """Turn one fetched page into an :class:`Article`.

    ``body``/``url``/``headers`` are the HTTP response; ``fetched_at`` anchors relative dates
    (3小时前, 昨天) and bounds plausible ones; ``selectors`` maps field names (title, body,
    published_at, source, author …) to CSS or XPath selectors from the source's config and
    outranks the generic rules; ``encoding_hint`` is a per-source charset that still has to
    survive the decoder's checks; ``region_hint`` is the source's own region (e.g.
    "江西省赣州市"), used unless the page is clearly about a place inside it.

    Pure: no network.  Without ``fetched_at`` relative dates are left unresolved and the clock
    is read only to reject dates in the future.

    Never raises on page content: a page with no recognisable article gives an Article with an
    empty body, and what went wrong is in ``provenance``.  A page too big to parse (see
    :mod:`crawler.extraction.limits`) is not parsed: it keeps its ``<title>`` and
    ``provenance["refused"]`` says why.  Once the page has used ``budget`` CPU seconds, the
    steps after the title and the body are left out and ``provenance["skipped"]`` lists them.
    An unexpected failure keeps the title likewise, with ``provenance["error"]``.
    """
    try:
        reason = refusal(body)
        if reason:
            return _kept(body, url, headers, encoding_hint, "refused", reason)
        return _extract(body, url, headers, fetched_at, selectors, encoding_hint, region_hint, Budget(budget))
    except Exception as exc:  # a bug meets a page: the page is kept, and the log says which
        log.warning("extraction of %s failed: %s: %s", url, type(exc).__name__, exc)
        return _kept(body, url, headers, encoding_hint, "error", f"{type(exc).__name__}: {exc}")


def _kept(body: bytes, url: str, headers: Mapping[str, str] | None, hint: str, key: str, why: str) -> Article:
    """An Article with only what survives without parsing: the encoding and the ``<title>``, both
    from the page's first 64 KiB (a refused page may be 20 MiB and more)."""
    head = body[:65536]
    try:
        text, encoding, garbled = decode_html(head, headers, hint)
    except Exception:  # the decoder was what failed
        text, encoding, garbled = head.decode("utf-8", "replace"), "utf-8", 0.0
    art = Article(url=url, encoding=encoding, garbled_score=round(garbled, 4))
    art.title = normalize_text(fallback_title(text))
    if art.title:
        art.provenance["title"] = "rule:title-tag"
    art.provenance[key] = why[:300]
    return art


def _extract(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None,
    fetched_at: datetime | None,
    selectors: Mapping[str, str] | None,
    encoding_hint: str,
    region_hint: str,
    budget: Budget,
) -> Article:
    now = _aware(fetched_at) if fetched_at is not None else None
    text, encoding, garbled = decode_html(body, headers, encoding_hint)
    root = parse(text)
    art = Article(url=url, encoding=encoding, garbled_score=round(garbled, 4))
    prov = art.provenance

    metas = meta_tags(root)
    for key, value in enp_properties(text).items():
        metas.setdefault(key, value)
    ld = json_ld(root)
    title_el = next(root.iter("title"), None)  # what root.find(".//title") finds, without ElementPath
    html_title = normalize_text(text_of(title_el)) if title_el is not None else ""
    scripted = script_values(root)  # before strip_noise drops the scripts
    strip_noise(root)
    picked = apply_selectors(root, selectors or {})

    # ---- title (needed first: the body trimmer and the date rule both look for it)
    art.title, prov_title = pick_title(metas, picked, root, html_title)
    if art.title:
        prov["title"] = prov_title

    # ---- body
    body_node = picked.element("body")
    result = extract_body(root, title=art.title, node=body_node)
    body_text = result.text
    if body_node is not None:
        prov["body"] = "selector"
    elif result.node is not None:
        prov["body"] = "rule:" + result.path  # rule:density, or the fallback that gave the text

    # ---- page lines: the whole page as rendered text, for the metadata block and dates
    page_lines: list[str] = []
    chosen: dict[str, LabelValue] = {}
    title_line = body_line = -1
    if budget.allows("page-text"):
        page_root = root.find("body")
        page_lines = normalize_lines(render(page_root if page_root is not None else root)).split("\n")
        title_line = find_line(page_lines, art.title)
        body_line = find_body_start(page_lines, body_text, title_line)
        chosen = pick_labels(label_values(page_lines), title_line, body_line)

    if "title" in chosen and not prov.get("title", "").startswith(("meta", "selector")):
        art.title = normalize_text(chosen["title"].value)
        prov["title"] = "block:" + chosen["title"].label

    # ---- dates
    scan = budget.allows("dates-in-text")
    fill_dates(art, metas, ld, picked, chosen, page_lines, title_line, body_line, body_text, url, now, scan=scan,
               scripted=scripted)

    # ---- who and what
    fill_text_fields(art, metas, ld, picked, chosen)
    fill_account_name(art, root, scripted, "js_content" in text)

    # ---- document number / issuer from the text itself
    if budget.allows("signature"):
        fill_signature(art, body_text, now)

    # ---- e-paper
    if budget.allows("epaper") and epaper.looks_like_epaper(
        url, any(_epaper_container(el.get("id") or el.get("class") or "") for el in root.iter("div"))
    ):
        body_text, art.continues_to, art.continued_from = epaper.strip_jump_markers(body_text)
        page_no, page_name = epaper.find_page_header(root, result.node)
        if page_no is not None:
            art.epaper_page = page_no
            art.epaper_page_name = page_name
            prov["epaper_page"] = "rule:page-header"

    art.body = body_text

    # ---- attachments
    if budget.allows("attachments"):
        art.attachment_links = attachment_links(root, result.node, url)

    # ---- what the page is: an article, or an index/column page, or an error or form page
    page_el = root.find("body")
    prov["page_kind"] = page_kind(
        page_el if page_el is not None else root, None if body_node is not None else result.node, body_text,
        attachments=bool(art.attachment_links),
    )

    # ---- region
    if budget.allows("region"):
        fill_region(art, region_hint, body_text)
    elif region_hint:
        art.region = region_hint
        prov["region"] = "hint"
    if budget.skipped:
        prov["skipped"] = ",".join(budget.skipped)
    return art


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)
