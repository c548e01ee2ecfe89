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
from datetime import datetime, timedelta

from crawler.article import Article
from crawler.extraction import epaper
from crawler.extraction.attachments import attachment_links
from crawler.extraction.body import extract_body
from crawler.extraction.dates import SHANGHAI, DateMatch, find_dates, parse_date, parse_date_match, url_date
from crawler.extraction.decode import decode_html
from crawler.extraction.dom import HtmlElement, attribute_test, parse, strip_noise, text_of
from crawler.extraction.kind import page_kind
from crawler.extraction.limits import TIME_BUDGET, Budget, fallback_title, refusal
from crawler.extraction.meta import (
    GENERIC_LABELS,
    META_FIELDS,
    LabelValue,
    enp_properties,
    json_ld,
    label_values,
    meta_tags,
    script_values,
    split_site_suffix,
    title_candidates,
)
from crawler.extraction.region import find_region
from crawler.extraction.rendering import render
from crawler.extraction.selectors import Picked, apply_selectors
from crawler.text.normalize import normalize_lines, normalize_text

__all__ = ["extract"]

log = logging.getLogger(__name__)

# 赣市发〔2022〕5号, 国办发[2024]1号, 吉政明电〔2022〕1号, 京政办字（2023）12号
DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fffA-Za-z]{1,10}[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]\s*(?:第\s*)?\d{1,5}\s*号)"
)
# The bracketed year every 发文字号 holds. DOC_NUMBER, which must try up to ten characters
# before a bracket at every Chinese character, runs only on text that has one: it was 3 % of
# extracting a page that had none.
_DOC_YEAR = re.compile(r"[〔\[［(（【]\s*(?:19|20)\d{2}\s*[〕\]］)）】]")
_ORG_SUFFIX = re.compile(
    r"(?:人民政府|政府|委员会|办公室|办公厅|厅|局|委|部|院|中心|公司|协会|集团|管委会|领导小组|指挥部|署|会)$"
)
# Where a 来源/作者 value stops: the next label, a date, counters and tool links that templates
# put on the same line ("新华网 2024-01-05 10:20", "zboy 阅读(1660) 评论(5)", "人民网 ]").
_SOURCE_JUNK = re.compile(
    r"\s{2,}.*$|[|｜].*$|\s*(?:作者|编辑|责任编辑|发布时间|时间|日期|浏览|点击|字号)[:：].*$|"
    r"\s*(?:19|20)\d{2}\s*[-/.年].*$|\s*(?:阅读|评论|浏览|点击|网友评论|发表评论|打印|关闭|出自|访问)\s*[(（\d:：\[].*$|"
    r"\s*(?:网友评论|发表评论|我要评论|打印|关闭|收藏|分享).*$"
)
_ATTRIBUTE_LIKE = re.compile(r"^[\w-]+\s*=\s*[\"']")
# 2–4 CJK characters that end like an organisation are not a person's name
_ORG_END = re.compile(r"(?:网|报|社|台|站|部|局|团|司|会|院|所|中心|频道|杂志|日报|晚报|客户端|出版社|网络|团队)$")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,5}$")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z'\-]*(?: [A-Za-z][A-Za-z'\-]*){0,3}$")
# bounded: titles are normalised (single spaces), and unbounded runs were rescanned from each
_ANY_SEP = re.compile(r"\s{0,4}(?:[_|｜–—]+|-+|::)\s{0,4}")
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
    art.title, prov_title = _title(metas, picked, root, html_title)
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
        title_line = _find_line(page_lines, art.title)
        body_line = _find_body_start(page_lines, body_text, title_line)
        chosen = _pick_labels(label_values(page_lines), title_line, body_line)

    if "title" in chosen and not prov.get("title", "").startswith(("meta", "selector")):
        art.title = normalize_text(chosen["title"].value)
        prov["title"] = "block:" + chosen["title"].label

    # ---- dates
    scan = budget.allows("dates-in-text")
    _dates(art, metas, ld, picked, chosen, page_lines, title_line, body_line, body_text, url, now, scan=scan,
           scripted=scripted)

    # ---- who and what
    _text_fields(art, metas, ld, picked, chosen)
    _account_name(art, root, scripted, "js_content" in text)

    # ---- document number / issuer from the text itself
    if budget.allows("signature"):
        _text_signature(art, body_text, now)

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
        _region(art, region_hint, body_text)
    elif region_hint:
        art.region = region_hint
        prov["region"] = "hint"
    if budget.skipped:
        prov["skipped"] = ",".join(budget.skipped)
    return art


def _text_signature(art: Article, body_text: str, now: datetime | None) -> None:
    """Document number and issuer from the head of the text, the date from its signature."""
    prov = art.provenance
    head = "\n".join(body_text.split("\n")[:6])
    if not art.doc_number:
        m = _doc_number(head) or _doc_number(art.title)
        if m:
            art.doc_number = normalize_text(m.group(1)).replace(" ", "")
            prov["doc_number"] = "rule:text"
    signer, signed_at = _signature(body_text, now)
    if not art.issuer and signer:
        art.issuer = signer
        prov["issuer"] = "rule:signature"
    if art.written_at is None and signed_at is not None and (art.doc_number or art.issuer):
        art.written_at = signed_at
        prov["written_at"] = "rule:signature"


# ----------------------------------------------------------------------------- helpers


def _doc_number(text: str) -> re.Match[str] | None:
    return DOC_NUMBER.search(text) if _DOC_YEAR.search(text) else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)


def _compact(s: str) -> str:
    # what re.sub(r"\s+", "", s) gives (both take str.isspace's whitespace), without the regex
    # machinery: titles are compared this way twenty times a page
    return "".join(s.split())


def _title(metas: dict[str, str], picked: Picked, root: HtmlElement, html_title: str) -> tuple[str, str]:
    sel = picked.text("title")
    if sel:
        return sel, "selector"
    for key in ("articletitle", "enp:title"):
        if metas.get(key):
            return metas[key], f"meta:{_meta_label(key)}"
    parts = split_site_suffix(html_title)
    first = parts[0] if parts else html_title
    compact_html_title = _compact(html_title)
    # every piece of the <title>, also split on bare hyphens ("江西日报数字报-线上线下联动")
    pieces = {_compact(p) for p in _ANY_SEP.split(html_title) if p.strip()}
    og = metas.get("og:title") or metas.get("twitter:title")
    # a heading that the <title> repeats is the headline; prefer the longest such heading
    best = ""
    best_prov = ""
    for text, prov in title_candidates(root):
        c = _compact(text)
        if len(c) < 4 or len(c) > 150:
            continue
        repeated = (compact_html_title and c in compact_html_title) or (og and c in _compact(og))
        if repeated and len(c) > len(_compact(best)):
            best, best_prov = text, prov
    if best:
        c = _compact(best)
        if c in pieces or len(c) >= 0.6 * len(_compact(first)) or compact_html_title.startswith(c):
            return best, best_prov
    if og:
        og_parts = split_site_suffix(og)
        return (og_parts[0] if og_parts else og), "meta:og:title"
    if first and len(first) >= 4:
        return first, "rule:title-tag"
    for text, prov in title_candidates(root):
        if 4 <= len(text) <= 80:
            return text, prov
    return html_title, "rule:title-tag"


def _find_line(lines: list[str], title: str) -> int:
    t = _compact(title)
    if len(t) < 4:
        return -1
    for i, line in enumerate(lines):
        c = _compact(line)
        if c == t or (len(t) >= 8 and c.startswith(t) and len(c) <= len(t) + 20):
            return i
    for i, line in enumerate(lines):
        c = _compact(line)
        if len(c) >= 6 and c in t and len(c) >= 0.5 * len(t):
            return i
    return -1


def _find_body_start(lines: list[str], body: str, after: int) -> int:
    if not body:
        return -1
    first = _compact(body.split("\n", 1)[0])[:30]
    if not first:
        return -1
    start = max(after, 0)
    for i in range(start, len(lines)):
        if first in _compact(lines[i]):
            return i
    for i in range(0, start):
        if first in _compact(lines[i]):
            return i
    return -1


def _pick_labels(labels: list[LabelValue], title_line: int, body_line: int) -> dict[str, LabelValue]:
    """First value per field; generic labels (时间, 日期 …) only near the title/body start."""
    anchor = title_line if title_line >= 0 else body_line
    chosen: dict[str, LabelValue] = {}
    # a field's specific labels outrank its generic ones wherever they are on the page
    for lv in labels:
        if lv.label in GENERIC_LABELS:
            continue
        if body_line >= 0 and lv.line > body_line + 40 and lv.field not in ("index_no", "doc_number", "issuer"):
            continue  # far below the article: a sidebar or footer
        chosen.setdefault(lv.field, lv)
    if anchor >= 0:
        for lv in labels:
            if lv.label in GENERIC_LABELS and lv.field not in chosen and anchor - 3 <= lv.line <= anchor + 8:
                chosen.setdefault(lv.field, lv)
    return chosen


def _set_date(art: Article, field: str, value: datetime | DateMatch | None, source: str) -> bool:
    """Fill an empty date field; a relative date (3小时前, 昨天), read against the fetch time,
    is marked so in the provenance: ``"rule:date-near-title:relative"``."""
    if value is None or getattr(art, field) is not None:
        return False
    if isinstance(value, DateMatch):
        if value.precision == "relative":
            source += ":relative"
        value = value.value
    setattr(art, field, value)
    art.provenance[field] = source
    return True


def _dates(
    art: Article,
    metas: dict[str, str],
    ld: dict[str, str],
    picked: Picked,
    chosen: dict[str, LabelValue],
    lines: list[str],
    title_line: int,
    body_line: int,
    body_text: str,
    url: str,
    now: datetime | None,
    *,
    scan: bool = True,
    scripted: Mapping[str, str] | None = None,
) -> None:
    """Fill the dates from the most reliable source that has them; without ``scan``, only from
    metadata, labels, script variables and the URL, not by searching the text."""
    for name in META_FIELDS["published_at"]:
        if name in metas and _set_date(
            art, "published_at", parse_date_match(metas[name], now=now), f"meta:{_meta_label(name)}"
        ):
            break
    if art.published_at is None and "datePublished" in ld:
        _set_date(art, "published_at", parse_date_match(ld["datePublished"], now=now), "jsonld:datePublished")
    if art.published_at is None:
        sel = picked.text("published_at") or picked.text("date")
        if sel:
            _set_date(art, "published_at", parse_date_match(sel, now=now), "selector")
    if "written_at" in chosen:
        written = chosen["written_at"]
        _set_date(art, "written_at", parse_date_match(written.value, now=now), "block:" + written.label)
    if art.published_at is None and "published_at" in chosen:
        lv = chosen["published_at"]
        _set_date(art, "published_at", parse_date_match(lv.value, now=now), "block:" + lv.label)
    # a time the page's script assigns outranks what the text shows: templates filled in by a
    # script print it relative ("昨天") or not at all
    for key, value in (scripted or {}).items():
        if art.published_at is not None:
            break
        if key != "script:nickname":
            _set_date(art, "published_at", _script_date(value, now), key)
    if scan and art.published_at is None:
        _set_date(art, "published_at", _date_near_title(lines, title_line, body_line, now), "rule:date-near-title")
    if scan and art.published_at is None:
        _set_date(art, "published_at", _date_in_body_head(body_text, now), "rule:byline-in-text")
    if scan and art.published_at is None:
        start = title_line if title_line >= 0 else max(body_line - 5, 0)
        _set_date(art, "published_at", _posted_line(lines, start, now), "rule:posted-line")
    if art.published_at is None:
        _set_date(art, "published_at", url_date(url, now=now), "rule:url")
    if scan and art.published_at is None:
        _set_date(art, "published_at", _date_in_body_tail(body_text, now), "rule:date-in-text")
    if scan and art.published_at is None:
        _set_date(art, "published_at", _first_page_date(lines, body_line, now), "rule:first-date")


def _script_date(value: str, now: datetime | None) -> datetime | None:
    """A script variable's time: Unix seconds or milliseconds, else a written date."""
    if value.isdigit() and len(value) in (10, 13):
        when = datetime.fromtimestamp(int(value[:10]), SHANGHAI)
        latest = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
        return when if when.year >= 1990 and when <= latest + timedelta(days=2) else None
    return parse_date(value, now=now)


# The WeChat public-account template: the text in #js_content, the account's name in #js_name
# and in the script's ``var nickname``.  The account is who publishes the article: its 来源.
_ACCOUNT_IDS = ("js_name", "profileBt")


def _account_name(art: Article, root: HtmlElement, scripted: Mapping[str, str], account_page: bool) -> None:
    """The account's name as the 来源 of a public-account article (``account_page``), unless the
    page names its source otherwise."""
    if art.source_name or not account_page:
        return
    for el in root.iter("a", "span", "strong", "div"):
        if el.get("id") in _ACCOUNT_IDS:
            name = normalize_text(text_of(el))
            if 0 < len(name) <= 40:
                art.source_name = name
                art.provenance["source_name"] = "rule:account-name"
                return
    nickname = scripted.get("script:nickname", "")
    if nickname:
        art.source_name = nickname
        art.provenance["source_name"] = "script:nickname"


def _meta_label(name: str) -> str:
    return _CANONICAL_META.get(name, name)


# how the CMS templates spell the names (meta_tags lower-cases them for matching)
_CANONICAL_META = {
    "pubdate": "PubDate",
    "articletitle": "ArticleTitle",
    "contentsource": "ContentSource",
    "columnname": "ColumnName",
    "columntype": "ColumnType",
    "author": "Author",
    "keywords": "Keywords",
    "enp:date": "enpproperty:date",
    "enp:title": "enpproperty:title",
    "enp:author": "enpproperty:author",
    "enp:nodename": "enpproperty:nodename",
}


def _first_date(text: str, now: datetime | None, *, relative: bool = True) -> DateMatch | None:
    for m in find_dates(text, now=now, relative=relative):
        return m
    return None


def _date_near_title(lines: list[str], title_line: int, body_line: int, now: datetime | None) -> DateMatch | None:
    """A date between the headline and the start of the text (the byline), else just above it."""
    if title_line >= 0:
        end = body_line if body_line > title_line else title_line + 8
        end = min(end, title_line + 12)
        for i in range(title_line, min(end + 1, len(lines))):
            # the headline line itself may end with the date ("标题 2024-01-05")
            value = _first_date(lines[i], now)
            if value is not None:
                return value
        for i in range(max(0, title_line - 3), title_line):
            value = _first_date(lines[i], now)
            if value is not None:
                return value
    elif body_line >= 0:
        for i in range(max(0, body_line - 6), body_line + 1):
            value = _first_date(lines[i], now)
            if value is not None:
                return value
    return None


def _date_in_body_head(body: str, now: datetime | None) -> DateMatch | None:
    """A dated byline among the short lines before the prose starts ("2003-7-24 钱江晚报"); not a
    relative one, which in the text is the story's own 昨日."""
    for line in body.split("\n")[:6]:
        if len(line) > 50:
            break  # the text has started: later dates are the story's or the signature's
        value = _first_date(line, now, relative=False)
        if value is not None:
            return value
    return None


_POSTED = re.compile(
    r"发表于|发表时间|发布时间|发布于|发帖时间|发贴时间|发表日期|发布日期|更新时间|posted|发表|时间[:：]|日期[:：]",
    re.I,
)


def _posted_line(lines: list[str], start: int, now: datetime | None) -> DateMatch | None:
    """The first "发表于 2005-9-15 11:46" / "发布时间 …" line after the headline (forums, blogs)."""
    for line in lines[start:]:
        if len(line) <= 120 and _POSTED.search(line):
            value = _first_date(line, now)
            if value is not None:
                return value
    return None


def _date_in_body_tail(body: str, now: datetime | None) -> DateMatch | None:
    """A date (or 1998年3月号-style month) on one of the last short lines of the text."""
    lines = body.split("\n")[-3:]
    for line in reversed(lines):
        if len(line) <= 60:
            for m in find_dates(line, now=now, month_only=True, relative=False):
                return m
    return None


def _first_page_date(lines: list[str], body_line: int, now: datetime | None) -> DateMatch | None:
    """Last resort: the first date above the body (page header areas rarely carry other dates).
    Not a relative one: far from the headline, 刚刚/3小时前 belong to a feed's items."""
    end = body_line if body_line >= 0 else min(len(lines), 60)
    for line in lines[:end]:
        value = _first_date(line, now, relative=False)
        if value is not None:
            return value
    return None


def _clean_source(value: str) -> str:
    """A 来源 value without what templates glue to it; '' when it is not a plausible name."""
    value = normalize_text(value)
    if _ATTRIBUTE_LIKE.match(value) or "<" in value:
        return ""  # broken template output: 来源：size="20"
    value = _SOURCE_JUNK.sub("", value).strip(" ：:【】[]()（）")
    return value if 0 < len(value) <= 40 else ""


def _clean_author(value: str) -> str:
    """Person names only ("张三 李四", "记者 王五" → "王五"); '' for site names, ids, URLs."""
    value = _clean_source(value)
    value = re.sub(r"^(?:本报)?(?:记者|通讯员|作者|文|图|摄影|实习生|编辑)[:：/\s]*", "", value)
    parts = [p for p in re.split(r"[\s、,，/;；]+", value) if p and p not in ("记者", "通讯员", "实习生", "本报")]
    if not parts or len(parts) > 6:
        return ""
    for part in parts:
        if _CJK_NAME.match(part):
            if _ORG_END.search(part):
                return ""
        elif not _LATIN_NAME.match(part):
            return ""
    return " ".join(parts)


def _text_fields(
    art: Article, metas: dict[str, str], ld: dict[str, str], picked: Picked, chosen: dict[str, LabelValue]
) -> None:
    prov = art.provenance
    site_names = {metas.get(n, "") for n in META_FIELDS["site_name"]} - {""}

    def put(field: str, value: str, source: str) -> None:
        if value and not getattr(art, field):
            setattr(art, field, value)
            prov[field] = source

    for name in META_FIELDS["source_name"]:
        put("source_name", _clean_source(metas.get(name, "").removeprefix("来源：")), f"meta:{_meta_label(name)}")
    put("source_name", _clean_source(picked.text("source") or picked.text("source_name")), "selector")
    if "source_name" in chosen:
        put("source_name", _clean_source(chosen["source_name"].value), "block:" + chosen["source_name"].label)

    for name in META_FIELDS["author"]:
        value = metas.get(name, "")
        if value and value not in site_names:
            put("author", _clean_author(value), f"meta:{_meta_label(name)}")
    put("author", _clean_author(ld.get("author", "")), "jsonld:author")
    put("author", _clean_author(picked.text("author")), "selector")
    if "author" in chosen:
        put("author", _clean_author(chosen["author"].value), "block:" + chosen["author"].label)

    for name in META_FIELDS["category"]:
        put("category", metas.get(name, ""), f"meta:{_meta_label(name)}")
    if "category" in chosen:
        put("category", normalize_text(chosen["category"].value), "block:" + chosen["category"].label)
    put("category", ld.get("articleSection", ""), "jsonld:articleSection")

    for field in ("index_no", "issuer", "doc_number"):
        put(field, normalize_text(picked.text(field)), "selector")
        if field in chosen:
            value = normalize_text(chosen[field].value)
            if field == "doc_number":
                value = value.replace(" ", "")
            put(field, value, "block:" + chosen[field].label)


def _signature(body: str, now: datetime | None) -> tuple[str, datetime | None]:
    """Issuer and date from the signature block that ends official documents.

    "吉林省人民政府\\n2022年1月27日" (possibly followed by a 此件公开发布-style note): the
    date line and the organisation line right above it.
    """
    lines = [ln.strip() for ln in body.split("\n") if ln.strip()]
    tail = lines[-4:]
    for i in range(len(tail) - 1, 0, -1):
        line = tail[i]
        if len(line) > 20:
            continue
        matches = list(find_dates(line, now=now))
        if not matches or len(_DATE_STRIP.sub("", line)) > 2:
            continue
        org = tail[i - 1]
        if 2 <= len(org) <= 40 and _ORG_SUFFIX.search(org) and "。" not in org:
            return org, matches[0].value
        return "", matches[0].value
    return "", None


_DATE_STRIP = re.compile(r"[\s\d年月日〇○零一二三四五六七八九十\-/.（）()]")


def _region(art: Article, region_hint: str, body: str) -> None:
    texts: list[tuple[str, float]] = []
    if region_hint:
        texts.append((region_hint, 4.0))
    if art.issuer:
        texts.append((art.issuer, 5.0))
    texts.append((art.title, 3.0))
    # a local paper or a city column names its place ("太原晚报", 栏目 "太原")
    texts.append((art.source_name, 1.0))
    texts.append((art.category, 1.0))
    texts.append((body[:3000], 1.0))
    region, _ = find_region(*texts)
    if region:
        art.region = region
        art.provenance["region"] = "hint+text" if region_hint else ("issuer+text" if art.issuer else "rule:text")
    elif region_hint:
        art.region = region_hint
        art.provenance["region"] = "hint"
