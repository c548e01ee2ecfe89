"""Metadata sources, each returning plain strings with the name of where they came from.

* :func:`meta_tags` — ``<meta name|property|itemprop=… content=…>`` (government CMS tags such
  as ArticleTitle / PubDate / ContentSource / ColumnName, OpenGraph, Dublin Core …);
* :func:`json_ld` — schema.org ``NewsArticle``-style JSON-LD blocks;
* :func:`label_values` — the page's own "label：value" metadata block (索引号, 发文机关,
  发文字号, 成文日期, 发布日期, 来源, 作者 …) in tables, ``<li>`` s or plain text;
* :func:`title_candidates` — ``<h1>``/title-classed headings and the ``<title>`` minus the
  site-name suffix.

Turning the strings into typed fields (dates, regions) is the caller's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from crawler.extraction.dom import HtmlElement, attribute_test, text_of
from crawler.text.normalize import normalize_text

__all__ = [
    "META_FIELDS",
    "LabelValue",
    "enp_properties",
    "json_ld",
    "label_values",
    "meta_tags",
    "script_values",
    "split_site_suffix",
    "title_candidates",
]

# Field → meta names in order of trust.  Government CMS names (集约化/TRS/大汉 templates) first,
# then OpenGraph / article:*, then generic ones that sites often fill with the site name.
META_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("articletitle", "enp:title", "og:title", "twitter:title", "dc.title", "title", "headline"),
    "published_at": (
        "pubdate", "enp:date", "publishdate", "publish_date", "publishtime", "publish-date", "article:published_time",
        "og:article:published_time", "og:release_date", "datepublished", "firstpublishedtime",
        "dc.date.issued", "dc.date", "weibo:article:create_at", "created", "date",
    ),
    "source_name": ("contentsource", "source", "og:article:source", "article:source", "mediaid"),
    "author": ("enp:author", "author", "article:author", "og:article:author", "dc.creator", "byline"),
    "category": ("columnname", "enp:nodename", "article:section", "og:category", "category", "column", "columntype"),
    "site_name": ("sitename", "og:site_name", "application-name"),
    "keywords": ("keywords",),
    "description": ("description", "og:description"),
}  # fmt: skip

_TAG = re.compile(r"<[^<>]*>")  # not [^>]*: a run of "<" without ">" was rescanned from each
_PLACEHOLDER = re.compile(r"^(?:\s*|null|none|undefined|unknown|暂无|无|-+|/|\$\{[^}]*\}|<%.*%>|\{\{.*\}\})$", re.I)


def meta_tags(root: HtmlElement) -> dict[str, str]:
    """Lower-cased meta name → first non-empty content (placeholders like ``null`` dropped)."""
    out: dict[str, str] = {}
    for el in root.iter("meta"):
        key = el.get("name") or el.get("property") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if not key or content is None:
            continue
        key = key.strip().lower()
        # some CMSs put markup in meta values (ArticleTitle="标题<div>——副题</div>")
        value = normalize_text(_TAG.sub(" ", content) if "<" in content else content)
        if key not in out and not _PLACEHOLDER.match(value):
            out[key] = value
    return out


_ENP = re.compile(r"<!--\s*enpproperty(.*?)/enpproperty\s*-->", re.S | re.I)
_ENP_FIELD = re.compile(r"<(\w+)>([^<]*)</\1>")


def enp_properties(text: str) -> dict[str, str]:
    """Fields of the ``<!--enpproperty …-->`` comment that 方正 (Founder) CMS pages carry.

    Keys are prefixed ``enp:`` (``enp:date``, ``enp:title``, ``enp:author``, ``enp:nodename`` …)
    so they can sit in the same mapping as the ``<meta>`` tags.
    """
    if "enpproperty" not in text:
        return {}
    m = _ENP.search(text)
    if not m:
        return {}
    out: dict[str, str] = {}
    for key, value in _ENP_FIELD.findall(m.group(1)):
        value = normalize_text(value)
        if value and not _PLACEHOLDER.match(value):
            out["enp:" + key.lower()] = value
    return out


def json_ld(root: HtmlElement) -> dict[str, str]:
    """headline / datePublished / dateModified / author / publisher / articleSection from JSON-LD."""
    out: dict[str, str] = {}
    for script in root.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text.strip())
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            continue
        for item in _ld_items(data):
            for key in ("headline", "datePublished", "dateModified", "articleSection"):
                value = item.get(key)
                if isinstance(value, str) and value.strip() and key not in out:
                    out[key] = normalize_text(value)
            for key in ("author", "publisher"):
                name = _ld_name(item.get(key))
                if name and key not in out:
                    out[key] = name
    return out


# How deep an article may sit in a JSON-LD document ([{"@graph": [{…}]}] is four levels): the
# parser accepts nesting hundreds deep, and a walk that followed it would exhaust the stack.
_LD_DEPTH = 8


def _ld_items(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > _LD_DEPTH:
        return
    if isinstance(data, list):
        for x in data:
            yield from _ld_items(x, depth + 1)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _ld_items(data["@graph"], depth + 1)
        kind = data.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(isinstance(k, str) and ("Article" in k or k in ("WebPage", "Report", "BlogPosting")) for k in kinds):
            yield data


def _ld_name(value: Any) -> str:
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, dict):
        name = value.get("name")
        return normalize_text(name) if isinstance(name, str) else ""
    if isinstance(value, list):
        names = [_ld_name(v) for v in value]
        return " ".join(n for n in names if n)
    return ""


# ----------------------------------------------------------------------------- script variables

# Pages whose template is filled in by a script keep the article's fields in script variables:
# the WeChat public-account template's ``var ct = "1581517074"`` (Unix time) and
# ``var nickname = "账号名"``, portal templates' ``pubtime: '2019-09-23 07:48'`` or
# ``"publish_time": "…"``.  Each name is found by str.find before any pattern runs: the scripts
# of a portal page are hundreds of kilobytes.
_SCRIPT_DATE_NAMES = ("publish_time", "publishTime", "pubtime", "pubTime", "pub_time", "publishDate",
                      "pubDate", "createTime", "create_time")  # fmt: skip
_EPOCH_VAR = re.compile(r"\bvar\s+ct\s*=\s*[\"'](\d{10}|\d{13})[\"']")
_NICKNAME_VAR = re.compile(r"\bvar\s+nickname\s*=\s*[\"']([^\"'\n<>]{1,40})[\"']")


def _assigned(name: str) -> re.Pattern[str]:
    # NAME = "value" / NAME: 'value' / "NAME": "value", the value a date-like string or epoch
    return re.compile(
        r"(?<![\w.$])[\"']?" + re.escape(name) + r"[\"']?\s{0,3}[=:]\s{0,3}[\"']?"
        r"((?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}[^\"'\n,;]{0,20}|\d{10}|\d{13})"
    )


_ASSIGNED = {name: _assigned(name) for name in _SCRIPT_DATE_NAMES}


def script_values(root: HtmlElement) -> dict[str, str]:
    """Article fields that the page's inline scripts assign, before the scripts are stripped.

    Keys: ``script:ct`` (a Unix time, seconds or milliseconds, from ``var ct``), ``script:NAME``
    for a publication-time variable (first of :data:`_SCRIPT_DATE_NAMES` found) — only when every
    assignment of that name on the page agrees, since a list of other articles repeats the name
    with their own times — and ``script:nickname`` (the WeChat account's ``var nickname``).
    Values are the raw strings; turning them into dates is the caller's job.
    """
    out: dict[str, str] = {}
    texts = [el.text for el in root.iter("script") if el.text and len(el.text) > 8]
    if not texts:
        return out
    for text in texts:
        if "ct" in text and "script:ct" not in out and (m := _EPOCH_VAR.search(text)):
            out["script:ct"] = m.group(1)
        if "nickname" in text and "script:nickname" not in out and (m := _NICKNAME_VAR.search(text)):
            value = normalize_text(m.group(1))
            if value:
                out["script:nickname"] = value
    for name in _SCRIPT_DATE_NAMES:
        values = []
        for text in texts:
            if name in text:
                values += [v.strip() for v in _ASSIGNED[name].findall(text)]
        days = {v[:10] for v in values}
        if values and len(days) == 1:
            out["script:" + name] = values[0]
            break
    return out


# ----------------------------------------------------------------------------- label: value

# canonical field → labels as pages write them.  Order matters inside a field: the first
# label found wins (发布日期 before the bare 日期).
LABELS: dict[str, tuple[str, ...]] = {
    "index_no": ("索引号",),
    "issuer": ("发文机关", "发布机关", "发布机构", "发文单位", "制发机关", "发文机构", "发布单位"),
    "doc_number": ("发文字号", "发文文号", "文号"),
    "written_at": ("成文日期", "成文时间", "印发日期", "签发日期"),
    "published_at": ("发布日期", "发布时间", "公开日期", "公布日期", "发表时间", "发表日期", "发稿时间",
                     "上传时间", "录入时间", "添加时间", "更新时间", "日期", "时间"),
    "category": ("主题分类", "所属主题", "信息分类", "主题类别", "分类", "栏目"),
    "source_name": ("信息来源", "文章来源", "稿件来源", "新闻来源", "来源", "稿源", "出处"),
    "author": ("作者", "记者", "撰稿人", "撰稿", "文字", "编辑"),
    "title": ("标题", "文件名称", "名称"),
    "effective": ("有效性", "时效性"),
}  # fmt: skip
# Traditional forms of the characters the labels above use, for Hong Kong, Macao and Taiwan
# pages (發佈日期, 發布時間, 來源, 文件名稱 …); 发布 is also written 發佈 there.
_TRADITIONAL = str.maketrans(
    "发时间来闻开录传题称号机关构单签类别属栏记编辑处标",
    "發時間來聞開錄傳題稱號機關構單簽類別屬欄記編輯處標",
)


def _traditional_forms(label: str) -> set[str]:
    forms = {label.translate(_TRADITIONAL)}
    forms |= {f.replace("發布", "發佈") for f in forms}
    forms.discard(label)
    return forms


_LABEL_FIELD: dict[str, str] = {}
# a Traditional label found on a page is recorded as its Simplified form, so that the rules
# that look at labels (generic ones, 发布日期 before 日期) hold for both
_CANONICAL: dict[str, str] = {}
for _field, _labels in LABELS.items():
    for _label in _labels:
        _LABEL_FIELD[_label] = _field
        for _form in _traditional_forms(_label):
            _LABEL_FIELD.setdefault(_form, _field)
            _CANONICAL.setdefault(_form, _label)
# Every label, longest first so 发文字号 wins over 文号; characters may be spaced out
# ("索  引 号", "标    题").  Brackets like 【来源】 or [作者] count as the separator as well.
_ALL_LABELS = sorted(_LABEL_FIELD, key=len, reverse=True)
_LABEL_RE = re.compile(
    r"(?:^|(?<=[\s|｜丨/\]】)）]))[\[【]?\s{0,4}(?P<label>"
    + "|".join(r"\s{0,4}".join(map(re.escape, lab)) for lab in _ALL_LABELS)
    + r")\s{0,4}(?:[:：]|[\]】]\s{0,4}[:：]?)\s{0,4}"
)
_NEXT_LABEL = re.compile(r"\s{1,4}[\u4e00-\u9fff]{2,6}\s{0,4}[:：]")
# Labels that are too generic to trust far from the title (时间/日期 appear in sidebars).
GENERIC_LABELS = frozenset({"日期", "时间", "名称", "栏目", "分类", "编辑", "文字", "出处"})


@dataclass(frozen=True)
class LabelValue:
    """One "label：value" pair found on a page, with the line it came from."""

    field: str
    label: str
    value: str
    line: int


def label_values(lines: Iterable[str]) -> list[LabelValue]:
    """Every known "label：value" pair, in page order.

    ``lines`` are rendered page lines where table cells are separated by tabs; a label alone
    in a cell takes the next cell as its value (the two-column metadata tables of
    government pages), otherwise the value runs to the next label on the same line.
    """
    found: list[LabelValue] = []
    for lineno, line in enumerate(lines):
        if "：" not in line and ":" not in line and "】" not in line and "]" not in line:
            continue
        cells = line.split("\t")
        for i, cell in enumerate(cells):
            matches = list(_LABEL_RE.finditer(cell))
            for j, m in enumerate(matches):
                end = matches[j + 1].start() if j + 1 < len(matches) else len(cell)
                value = cell[m.end() : end]
                # the value ends where an unknown "标签：" starts (访问统计：…, 浏览次数：…)
                value = _NEXT_LABEL.split(value, 1)[0].strip(" |｜丨;；,，")
                if not value and j + 1 == len(matches) and i + 1 < len(cells):
                    value = cells[i + 1].strip()
                    if _LABEL_RE.match(value):
                        value = ""
                label = re.sub(r"\s+", "", m.group("label"))
                if value:
                    found.append(LabelValue(_LABEL_FIELD[label], _CANONICAL.get(label, label), value, lineno))
    return found


# ----------------------------------------------------------------------------- titles

_SUFFIX_SEP = re.compile(r"\s{0,4}(?:[_|｜–—]+|--+|-\s|\s-|::|——)\s{0,4}")


def split_site_suffix(title: str) -> list[str]:
    """Split a ``<title>`` like "标题_栏目_某某市人民政府" into its parts, headline first."""
    return [p for p in _SUFFIX_SEP.split(title) if p.strip()]


_TITLE_CLASS = re.compile(r"title|biaoti|bt\b|headline|tit\b|article-h|arti_h|detail_h|news_h|h_title", re.I)


_title_class = attribute_test(_TITLE_CLASS)


def title_candidates(root: HtmlElement) -> Iterator[tuple[str, str]]:
    """(text, provenance) for headings that may be the article title, best kinds first."""
    for tag in ("h1", "h2", "h3"):
        for el in root.iter(tag):
            text = normalize_text(text_of(el))
            if text:
                yield text, f"rule:{tag}"
    for el in root.iter("div", "p", "span", "td", "strong", "b", "font"):
        attrs = (el.get("class") or "") + " " + (el.get("id") or "")
        if attrs.strip() and _title_class(attrs):
            text = normalize_text(text_of(el))
            if 4 <= len(text) <= 120:
                yield text, "rule:title-class"
