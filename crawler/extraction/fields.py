"""Who and what a page is: 来源, author, category, 发文字号, issuer, signature and region.

Each ``fill_*`` step fills only the :class:`~crawler.article.Article` fields still empty, from the
most reliable source that has them (``<meta>`` tags, JSON-LD, the source's selectors, the page's
metadata block, the text itself), and records the source in ``Article.provenance``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from crawler.article import Article
from crawler.extraction.dates import find_dates
from crawler.extraction.dom import HtmlElement, text_of
from crawler.extraction.meta import META_FIELDS, LabelValue
from crawler.extraction.region import find_region
from crawler.extraction.selectors import Picked
from crawler.text.normalize import normalize_text

__all__ = [
    "DOC_NUMBER",
    "fill_account_name",
    "fill_region",
    "fill_signature",
    "fill_text_fields",
    "meta_label",
]


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


def fill_signature(art: Article, body_text: str, now: datetime | None) -> None:
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


def _doc_number(text: str) -> re.Match[str] | None:
    return DOC_NUMBER.search(text) if _DOC_YEAR.search(text) else None


# The WeChat public-account template: the text in #js_content, the account's name in #js_name
# and in the script's ``var nickname``.  The account is who publishes the article: its 来源.
_ACCOUNT_IDS = ("js_name", "profileBt")


def fill_account_name(art: Article, root: HtmlElement, scripted: Mapping[str, str], account_page: bool) -> None:
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


def meta_label(name: str) -> str:
    """A ``<meta>`` name as provenance spells it: the CMS templates' own case (``meta:PubDate``)."""
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


def fill_text_fields(
    art: Article, metas: dict[str, str], ld: dict[str, str], picked: Picked, chosen: dict[str, LabelValue]
) -> None:
    """Fill the empty 来源, author, category, 索引号, issuer and 发文字号 fields from ``<meta>`` tags,
    JSON-LD, the source's selectors and the page's metadata block (``chosen``), in that order."""
    prov = art.provenance
    site_names = {metas.get(n, "") for n in META_FIELDS["site_name"]} - {""}

    def put(field: str, value: str, source: str) -> None:
        if value and not getattr(art, field):
            setattr(art, field, value)
            prov[field] = source

    for name in META_FIELDS["source_name"]:
        put("source_name", _clean_source(metas.get(name, "").removeprefix("来源：")), f"meta:{meta_label(name)}")
    put("source_name", _clean_source(picked.text("source") or picked.text("source_name")), "selector")
    if "source_name" in chosen:
        put("source_name", _clean_source(chosen["source_name"].value), "block:" + chosen["source_name"].label)

    for name in META_FIELDS["author"]:
        value = metas.get(name, "")
        if value and value not in site_names:
            put("author", _clean_author(value), f"meta:{meta_label(name)}")
    put("author", _clean_author(ld.get("author", "")), "jsonld:author")
    put("author", _clean_author(picked.text("author")), "selector")
    if "author" in chosen:
        put("author", _clean_author(chosen["author"].value), "block:" + chosen["author"].label)

    for name in META_FIELDS["category"]:
        put("category", metas.get(name, ""), f"meta:{meta_label(name)}")
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


def fill_region(art: Article, region_hint: str, body: str) -> None:
    """The place the article is about, from its issuer, title, source, column and text, weighed
    against the source's own region (``region_hint``), which it falls back to."""
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
