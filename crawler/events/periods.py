"""Reading stated times: when a dated period ends (for the retrospective flag) and the one form
an event's period string takes.  The vocabulary (which words say a year, a month range, a
quarter, a half) is ``periods`` in ``rules.yaml``; this module only does the arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

__all__ = ["PeriodEnd", "PeriodGrammar", "small_number"]

_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}


def small_number(raw: str) -> int | None:
    """An Arabic or Chinese numeral up to 99 (10, 十, 十二, 二十三); None otherwise."""
    raw = raw.strip()
    if raw.isdigit():
        return int(raw)
    if not raw or any(c not in _CN_DIGIT and c != "十" for c in raw):
        return None
    if "十" not in raw:
        return _CN_DIGIT[raw] if len(raw) == 1 else None
    tens, _, ones = raw.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


@dataclass(frozen=True)
class PeriodEnd:
    """One way a part of a year is said (``ends`` in rules.yaml): a fixed last ``month``, or the
    ``group`` of ``pattern`` that holds the last month (``unit`` 1) or quarter (``unit`` 3)."""

    pattern: re.Pattern[str]
    month: int = 0
    group: int = 0
    unit: int = 1


def _compile(spec: Mapping[str, Any], key: str) -> re.Pattern[str]:
    value = spec.get(key)
    if isinstance(value, list):
        value = "|".join(f"(?:{v})" for v in value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"periods.{key}: expected a pattern")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"periods.{key}: bad regular expression {value!r}: {exc}") from exc


def _end(raw: Any) -> PeriodEnd:
    if not isinstance(raw, Mapping) or "pattern" not in raw:
        raise ValueError(f"periods.ends: expected {{pattern, month | month_group | quarter_group}}, got {raw!r}")
    pattern = _compile(raw, "pattern")
    if "month" in raw:
        month = raw["month"]
        if not isinstance(month, int) or not 1 <= month <= 12:
            raise ValueError(f"periods.ends: month must be 1..12, got {month!r}")
        return PeriodEnd(pattern, month=month)
    for key, unit in (("month_group", 1), ("quarter_group", 3)):
        if key in raw:
            group = raw[key]
            if not isinstance(group, int) or not 1 <= group <= pattern.groups:
                raise ValueError(f"periods.ends: {key} {group!r} is not a group of {pattern.pattern!r}")
            return PeriodEnd(pattern, group=group, unit=unit)
    raise ValueError(f"periods.ends: {raw!r} says no month, month_group or quarter_group")


@dataclass(frozen=True, eq=False)  # identity hash: used as a cache key
class PeriodGrammar:
    """The compiled ``periods`` vocabulary; see ``rules.yaml`` for what each key says."""

    dated: re.Pattern[str]
    relative: re.Pattern[str]
    relative_years: Mapping[str, int]
    relative_past: re.Pattern[str]
    ends: tuple[PeriodEnd, ...]
    normal: tuple[tuple[re.Pattern[str], str], ...]
    month_numeral: re.Pattern[str]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PeriodGrammar:
        """Compile the ``periods`` section; ``ValueError`` names the bad key."""
        years = spec.get("relative_years")
        if not isinstance(years, Mapping) or not all(isinstance(v, int) for v in years.values()):
            raise ValueError("periods.relative_years: expected a mapping of words to years back")
        ends = spec.get("ends")
        normal = spec.get("normal")
        if not isinstance(ends, list) or not ends:
            raise ValueError("periods.ends: expected a non-empty list")
        if not isinstance(normal, list) or not all(isinstance(n, list) and len(n) == 2 for n in normal):
            raise ValueError("periods.normal: expected a list of [pattern, replacement]")
        return cls(
            dated=_compile(spec, "dated"), relative=_compile(spec, "relative"),
            relative_years={str(k): int(v) for k, v in years.items()},
            relative_past=_compile(spec, "relative_past"), ends=tuple(_end(e) for e in ends),
            normal=tuple((_compile({"p": p}, "p"), str(r)) for p, r in normal),
            month_numeral=_compile(spec, "month_numeral"),
        )

    def end_month(self, after: str) -> int:
        """The last month of the part of a year that ``after`` (the text right after the year)
        opens with; 12 when it names no part (the whole year)."""
        for end in self.ends:
            m = end.pattern.match(after)
            if m is None:
                continue
            if end.month:
                return end.month
            n = small_number(m.group(end.group))
            if n is not None and 1 <= n * end.unit <= 12:
                return n * end.unit
        return 12

    def end(self, text: str, year_now: int) -> date | None:
        """The last month (as its 28th) of the latest time ``text`` states: a year with a part
        of it (2024年1-10月, 2023年前三季度); else a year said relative to ``year_now`` (去年上半年);
        else a review of past years (过去五年, 去年 …) as the end of the year before; None when it
        states no time."""
        return _end_of(text, year_now, self)

    def norm(self, raw: str) -> str:
        """A period string in one form: 前三个月 / 一至三月 / 1—3月份 → 1-3月, 第1季度 → 一季度."""
        out = self.month_numeral.sub(lambda m: str(small_number(m.group()) or m.group()), raw.strip())
        for rx, repl in self.normal:
            out = rx.sub(repl, out)
        return out


@lru_cache(maxsize=256)
def _end_of(text: str, year_now: int, grammar: PeriodGrammar) -> date | None:
    ends = [date(int(m.group(1)), grammar.end_month(text[m.end():]), 28) for m in grammar.dated.finditer(text)]
    if not ends:
        ends = [date(year_now - grammar.relative_years.get(m.group(1), 1), grammar.end_month(text[m.end():]), 28)
                for m in grammar.relative.finditer(text)]
    if not ends and grammar.relative_past.search(text):
        ends.append(date(year_now - 1, 12, 28))
    return max(ends) if ends else None
