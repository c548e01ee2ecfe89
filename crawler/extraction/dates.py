"""Dates as Chinese pages write them, to timezone-aware datetimes.

Handles ``2024-01-05 10:20[:30]``, ``2024/1/5``, ``2024.01.05``, ``2024年1月5日 10时20分``,
Chinese numerals (``二〇二四年一月五日``), ISO 8601 with an offset (kept as stated), compact
``20240105`` (only where the caller says so, e.g. URLs), and relative forms (``3小时前``,
``昨天 10:20``, ``前天``, ``刚刚``) resolved against the fetch time.  Without a stated offset
every time is Asia/Shanghai.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "DateMatch", "find_dates", "parse_date", "parse_date_match", "url_date"]

SHANGHAI = ZoneInfo("Asia/Shanghai")

_CN_DIGITS = {
    "〇": 0, "○": 0, "零": 0, "Ｏ": 0, "О": 0, "O": 0, "o": 0,
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_NUM = "〇○零Ｏ一二三四五六七八九十"
_YEAR_CN = "[〇○零Ｏ一二三四五六七八九]"

_SEP_TIME = r"(?:\s*|T)"
_TIME = r"(?P<H>2[0-3]|[01]?\d)\s*[:：时點点]\s*(?P<M>[0-5]\d)(?:\s*[:：分]\s*(?P<S>[0-5]\d)(?:\.\d+)?)?"
_TZ = r"(?P<tz>Z|[+-](?:[01]\d):?[0-5]\d)?"
_MONTH = r"1[0-2]|0?[1-9]"
_DAY = r"[12]\d|3[01]|0?[1-9]"

_NUMERIC = re.compile(
    rf"(?<![\d.])(?P<y>(?:19|20)\d{{2}})\s*"
    rf"(?:年\s*(?P<m1>{_MONTH})\s*月\s*(?P<d1>{_DAY})\s*[日号號]?"
    rf"|(?P<sep>[-/.])(?P<m2>{_MONTH})(?P=sep)(?P<d2>{_DAY}))(?!\d)"
    rf"(?:{_SEP_TIME}{_TIME}(?:\s*分)?{_TZ})?"
)
# M/D/YYYY [h:mm[:ss] [AM|PM]] — the IIS/ASP default that older Chinese sites still print.
_US = re.compile(
    rf"(?<![\d/])(?P<m>{_MONTH})/(?P<d>{_DAY})/(?P<y>(?:19|20)\d{{2}})(?![\d/])"
    r"(?:\s+(?P<H>1[0-2]|0?\d|1\d|2[0-3]):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?(?:\s*(?P<ampm>[AaPp][Mm]))?)?"
)
# Year and month only (2003年5月, 2003-05) — used only when nothing more precise is present.
_YEAR_MONTH = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})\s*(?:年\s*(?P<m1>0?[1-9]|1[0-2])\s*月(?!\s*\d)|[-/.](?P<m2>0?[1-9]|1[0-2])(?![\d/.-]))"
)
_CHINESE = re.compile(rf"(?P<y>{_YEAR_CN}{{4}})\s*年\s*(?P<m>[{_CN_NUM}]{{1,2}})\s*月\s*(?P<d>[{_CN_NUM}]{{1,3}})\s*日")
_COMPACT = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])(?!\d)")
_URL_SLASHED = re.compile(
    r"/(?P<y>(?:19|20)\d{2})[-_/]?(?P<m>0[1-9]|1[0-2])[-_/]?(?P<d>0[1-9]|[12]\d|3[01])?(?=[/_.-])"
)
# Every repetition is bounded and a number starts where its run starts: "\d+" before a unit that
# did not follow was retried from every digit of a long run (32,000 digits: 94 s).
_RELATIVE = re.compile(
    r"(?P<n>(?<!\d)\d{1,4}|(?<![一二三四五六七八九十两半])[一二三四五六七八九十两半]{1,4})\s{0,3}(?P<unit>秒|分钟|分鐘|小时|小時|个小时|天|日|周|星期|个月|月)\s{0,3}(?:之)?前"
    r"|(?P<word>刚刚|剛剛|今天|今日|昨天|昨日|前天|前日)\s{0,3}(?:(?P<H>[01]?\d|2[0-3])\s{0,3}[:：]\s{0,3}(?P<M>[0-5]\d))?"
)


@dataclass(frozen=True)
class DateMatch:
    """A date found in text: the value, where it was, and how precise the text was."""

    value: datetime
    start: int
    end: int
    has_time: bool
    precision: str = "day"  # "day", "month" or "relative"


def _cn_small(text: str) -> int | None:
    """一 … 三十一 → int (month/day sized numbers only)."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN_DIGITS.get(tens, -1) if tens else 1
        o = _CN_DIGITS.get(ones, -1) if ones else 0
        return None if t < 0 or o < 0 else t * 10 + o
    if len(text) == 1:
        return _CN_DIGITS.get(text)
    if len(text) == 2 and text[0] in "〇○零":  # 〇五 written digit by digit
        return _CN_DIGITS.get(text[1])
    return None


def _tzinfo(tz: str | None) -> timezone | ZoneInfo:
    if not tz:
        return SHANGHAI
    if tz == "Z":
        return UTC
    sign = 1 if tz[0] == "+" else -1
    digits = tz[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _build(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, tz: str | None = None) -> datetime | None:
    try:
        return datetime(y, m, d, hh, mm, ss, tzinfo=_tzinfo(tz))
    except ValueError:
        return None


def _plausible(value: datetime, now: datetime | None) -> bool:
    latest = (now or datetime.now(SHANGHAI)) + timedelta(days=2)
    return value.year >= 1990 and value <= latest


def find_dates(
    text: str, *, now: datetime | None = None, relative: bool = True, month_only: bool = False
) -> Iterator[DateMatch]:
    """Every plausible date in ``text``, in order of position.

    Dates later than ``now`` (+2 days of slack) or before 1990 are skipped: they are deadlines,
    phone numbers or document years rather than publication times.  Relative forms need
    ``now`` and ``relative=True``; year-month forms are yielded only with ``month_only=True``.
    """
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    for m in _NUMERIC.finditer(text):
        if m.group("sep") == "." and m.group("H") is None and _looks_like_version(text, m.start(), m.end()):
            continue
        hh = m.group("H")
        value = _build(
            int(m.group("y")), int(m.group("m1") or m.group("m2")), int(m.group("d1") or m.group("d2")),
            int(hh or 0), int(m.group("M") or 0), int(m.group("S") or 0), m.group("tz"),
        )  # fmt: skip
        if value is not None and _plausible(value, now):
            found.append(DateMatch(value, m.start(), m.end(), hh is not None))
            taken.append((m.start(), m.end()))
    if "/" in text:
        for m in _US.finditer(text):
            hh = int(m.group("H") or 0)
            ampm = (m.group("ampm") or "").lower()
            if ampm == "pm" and hh < 12:
                hh += 12
            elif ampm == "am" and hh == 12:
                hh = 0
            value = _build(
                int(m.group("y")),
                int(m.group("m")),
                int(m.group("d")),
                hh,
                int(m.group("M") or 0),
                int(m.group("S") or 0),
            )
            if value is not None and _plausible(value, now):
                found.append(DateMatch(value, m.start(), m.end(), m.group("H") is not None))
                taken.append((m.start(), m.end()))
    if any(c in text for c in "〇○零Ｏ"):
        for m in _CHINESE.finditer(text):
            year_digits = [_CN_DIGITS.get(c) for c in m.group("y")]
            month, day = _cn_small(m.group("m")), _cn_small(m.group("d"))
            if None in year_digits or month is None or day is None:
                continue
            year = int("".join(str(x) for x in year_digits))
            value = _build(year, month, day)
            if value is not None and _plausible(value, now):
                found.append(DateMatch(value, m.start(), m.end(), False))
                taken.append((m.start(), m.end()))
    if month_only:
        for m in _YEAR_MONTH.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            month = int(m.group("m1") or m.group("m2"))
            value = _build(int(m.group("y")), month, 1)
            if value is not None and _plausible(value, now):
                found.append(DateMatch(value, m.start(), m.end(), False, "month"))
    if relative and now is not None:
        for m in _RELATIVE.finditer(text):
            if not _stands_alone(text, m.end()):
                continue
            value = _relative(m, now)
            if value is not None:
                found.append(DateMatch(value, m.start(), m.end(), True, "relative"))
    found.sort(key=lambda x: x.start)
    yield from found


# What may follow a relative time on a dateline: the end, a space, a separator or Latin text.  A
# Chinese character or a comma after it makes it a word of a sentence or a name: 今日头条,
# 今日关注, 本月10日前完成, "昨天，市政府召开…" — none of them the time the page was posted.
_AFTER_DATELINE = frozenset(" \t\u3000\xa0|｜丨·•/\\-—–_)）]】>")


def _stands_alone(text: str, end: int) -> bool:
    if end >= len(text):
        return True
    nxt = text[end]
    # a digit after it starts a Chinese time of day in a sentence: 昨日8时40分许
    return nxt in _AFTER_DATELINE or (nxt.isascii() and nxt.isalpha())


def _looks_like_version(text: str, start: int, end: int) -> bool:
    # "1.2.3"-style numbers and IPs: a dotted date glued to more dotted digits.
    return (start > 0 and text[start - 1] == ".") or (end < len(text) and text[end : end + 1] == ".")


def _relative(m: re.Match[str], now: datetime) -> datetime | None:
    now = now if now.tzinfo else now.replace(tzinfo=SHANGHAI)
    now = now.astimezone(SHANGHAI)
    word = m.group("word")
    if word:
        days = {"刚刚": 0, "剛剛": 0, "今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "前日": 2}[word]
        if word in ("刚刚", "剛剛"):
            return now
        base = now - timedelta(days=days)
        if m.group("H") is not None:
            return base.replace(hour=int(m.group("H")), minute=int(m.group("M")), second=0, microsecond=0)
        return base.replace(hour=0, minute=0, second=0, microsecond=0)
    raw = m.group("n")
    n: float
    if raw == "半":
        n = 0.5
    elif raw.isdigit():
        n = int(raw)
    else:
        small = _cn_small(raw.replace("两", "二"))
        if small is None:
            return None
        n = small
    unit = m.group("unit")
    if unit == "秒":
        delta = timedelta(seconds=n)
    elif unit in ("分钟", "分鐘"):
        delta = timedelta(minutes=n)
    elif unit in ("小时", "小時", "个小时"):
        delta = timedelta(hours=n)
    elif unit in ("天", "日"):
        delta = timedelta(days=n)
    elif unit in ("周", "星期"):
        delta = timedelta(weeks=n)
    else:
        delta = timedelta(days=30 * n)
    return now - delta


def parse_date(text: str, *, now: datetime | None = None) -> datetime | None:
    """The first date in ``text`` (see :func:`find_dates`), or None.

    ``now`` is the fetch time: it anchors relative forms and bounds what counts as plausible.
    """
    match = parse_date_match(text, now=now)
    return match.value if match is not None else None


def parse_date_match(text: str, *, now: datetime | None = None) -> DateMatch | None:
    """:func:`parse_date` with where the date was and how precise (``"relative"`` for 3小时前)."""
    text = text.strip()
    if not text:
        return None
    for match in find_dates(text, now=now, month_only=True):
        return match
    m = _COMPACT.fullmatch(text)
    if m:
        value = _build(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        return DateMatch(value, 0, len(text), False) if value is not None else None
    return None


def url_date(url: str, *, now: datetime | None = None) -> datetime | None:
    """A publication day encoded in a URL path (``/t20240105_123.html``, ``/2024-01/05/``), or None."""
    path = url.split("?", 1)[0]
    path = path.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else ""
    for m in _COMPACT.finditer(path):
        value = _build(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        if value is not None and _plausible(value, now):
            return value
    for m in _URL_SLASHED.finditer(path):
        if m.group("d") is None:
            # /2024-01/05/ : the day is the next path segment
            rest = path[m.end() :]
            d = re.match(r"/(0[1-9]|[12]\d|3[01])(?=/)", rest)
            if not d:
                continue
            day = int(d.group(1))
        else:
            day = int(m.group("d"))
        value = _build(int(m.group("y")), int(m.group("m")), day)
        if value is not None and _plausible(value, now):
            return value
    return None
