"""Which date a page gets: ``published_at`` and ``written_at`` from the most reliable source.

Metadata, JSON-LD, the source's selectors, the metadata block and script variables come first;
then, unless the time budget is spent, dates searched for in the text (near the title, in the
byline, on a "发布时间" line, at the end of the text); the URL's date in between.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from crawler.article import Article
from crawler.extraction.dates import SHANGHAI, DateMatch, find_dates, parse_date, parse_date_match, url_date
from crawler.extraction.fields import meta_label
from crawler.extraction.meta import META_FIELDS, LabelValue
from crawler.extraction.selectors import Picked

__all__ = ["fill_dates"]


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


def fill_dates(
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
            art, "published_at", parse_date_match(metas[name], now=now), f"meta:{meta_label(name)}"
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
            found = _yearless_posted_day(lines, start, metas, now)
            if found is not None:
                _set_date(art, "published_at", found[1], f"meta:{found[0]}+posted-line")
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


# modification times: not a publication date on their own (a page edited later keeps its
# publication date), but the same day as a year-less "发布时间：10-08" they give its year
_MODIFIED_METAS = ("dateupdate", "datemodified", "article:modified_time", "og:updated_time", "lastmodified")
_YEARLESS = re.compile(
    r"(?:发表于|发表时间|发布时间|发布于|发表日期|发布日期)[:：]?\s*(?:\d{2}[-/.])?(\d{1,2})[-/.月]"
    r"(0[1-9]|[12]\d|3[01]|[1-9](?!\d))(?![年/.-])"  # a time may follow unspaced: "10-0812:00"
)


def _yearless_posted_day(
    lines: list[str], start: int, metas: dict[str, str], now: datetime | None
) -> tuple[str, datetime] | None:
    """A "发布时间：10-08" line that states no year (or a two-digit one), completed by a
    modification-time meta of the same month and day: that meta's name and time. Portals such as
    百家号 print only month and day and carry the full time in ``itemprop=dateUpdate``."""
    modified = [(name, parse_date(metas[name], now=now)) for name in _MODIFIED_METAS if name in metas]
    if not any(when for _, when in modified):
        return None
    for line in lines[start:start + 40]:
        if len(line) > 120:
            continue
        m = _YEARLESS.search(line)
        if m is None:
            continue
        month, day = int(m.group(1)), int(m.group(2))
        for name, when in modified:
            if when is not None and (when.month, when.day) == (month, day):
                return meta_label(name), when
        return None  # the page's own posted line disagrees with its metadata: trust neither
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
