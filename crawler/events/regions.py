"""Where an event happens: place names found with cpca's administrative-division dataset.

Place names and their hierarchy come only from cpca (its Aho-Corasick matcher over the national
adcode table, full names and short forms such as 杭州 → 浙江省杭州市); nothing here is a
hand-typed place table.  The rules add what cpca cannot know: names inside organisations
(福州海关, 四川瑞云集团), strings that only look like places (长白山), and partner or origin
spans (赴北京、浙江等地).  Lookups are cached, and the detector only asks about sentences
that fired.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

with warnings.catch_warnings():
    # cpca loads its data through pkg_resources, which warns about its own deprecation
    warnings.simplefilter("ignore")
    import cpca

from crawler.events.model import RegionFrom
from crawler.events.rules import RuleSet

__all__ = ["Place", "coarsen", "find_places", "region_name", "resolve_region"]

# City-level rows of the table that are groupings, not places.
_NOT_A_CITY = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")


@dataclass(frozen=True)
class Place:
    """A place name found in text: ``codes`` are the candidate 6-digit adcodes, best first."""

    start: int
    end: int
    name: str
    codes: tuple[str, ...]
    ranks: tuple[int, ...]
    short: bool  # written as a short form (杭州 for 杭州市)

    @property
    def short_county(self) -> bool:
        """A county-level name written short (敦化, 和龙): such names collide with ordinary words,
        so they count only inside a known context."""
        return self.short and min(self.ranks) == 2


def _prefix(code: str, rank: int) -> str:
    return code[: (rank + 1) * 2]


def _rank(code: str) -> int:
    if code.endswith("0000"):
        return 0
    return 1 if code.endswith("00") else 2


def _within(code: str, other: str) -> bool:
    """``code`` lies inside (or is) ``other``."""
    return code.startswith(_prefix(other, _rank(other)))


def region_name(code: str, written: str = "") -> str:
    """The joined 省市区 name of a 6-digit adcode ("湖北省黄冈市", "云南省曲靖市麒麟区").

    cpca's table predates many county-level cities becoming districts (奉化市 → 奉化区 in 2016,
    临安, 长乐 …): where ``written``, the text the place was read from, names the county with 区
    instead of the table's 市, the district's name is the current one and is used.
    """
    rank = _rank(code)
    parts = [cpca.adcode_name(code[:2]) or ""]
    if rank >= 1:
        city = cpca.adcode_name(code[:4]) or ""
        if city not in _NOT_A_CITY:
            parts.append(city)
    if rank == 2:
        county = cpca.adcode_name(code) or ""
        district = f"{re.escape(county[:-1])}区(?!域|块|间|别)"
        if county.endswith("市") and len(county) > 2 and re.search(district, written):
            county = county[:-1] + "区"
        parts.append(county)
    return "".join(parts)


def _mask(text: str, rules: RuleSet) -> str:
    """Blank out (same length) what must not be read as a place."""
    chars = list(text)
    for word in rules.not_places:
        start = text.find(word)
        while start >= 0:
            chars[start:start + len(word)] = "\x00" * len(word)
            start = text.find(word, start + 1)
    if rules.region_exclude is not None:
        for m in rules.region_exclude.finditer(text):
            chars[m.start():m.end()] = "\x00" * (m.end() - m.start())
    return "".join(chars)


@lru_cache(maxsize=4096)
def _places_cached(text: str, rules: RuleSet) -> tuple[Place, ...]:
    masked = _mask(text, rules)
    found: list[Place] = []
    for info in cpca.matcher.iter(masked):
        start, end = info.start_index, info.end_index + 1
        if info.origin_value in _NOT_A_CITY or end - start < 2:
            continue  # a grouping row of the table (县 of 重庆市) or a lone character: not a place name
        after = text[end:end + rules.org_window]
        for stop in (rules.clause_break, rules.org_break):
            cut = stop.search(after)
            if cut:
                after = after[:cut.start()]
        if rules.org_suffix.search(after) or rules.road_suffix.search(after):
            continue  # 福州海关, 四川瑞云集团, 新韶山南路: an organisation's home or a road, not a place
        attrs: Sequence[Any] = info.attr_infos
        codes = tuple(str(a.adcode) for a in attrs)
        found.append(Place(
            start=start, end=end, name=info.origin_value, codes=codes,
            ranks=tuple(int(a.rank) for a in attrs),
            short=all(info.origin_value != a.name for a in attrs),
        ))
    return tuple(found)


def find_places(text: str, rules: RuleSet) -> tuple[Place, ...]:
    """Place names in ``text`` that may locate an event, in order (cached)."""
    return _places_cached(text, rules)


def _pick(place: Place, context: Sequence[str]) -> str | None:
    """The candidate adcode of ``place`` consistent with ``context`` codes, or None.

    A short county-level form (慈溪, 东方) is accepted only inside a known context, because
    such two-character names collide with ordinary words.
    """
    for code in place.codes:
        if any(_within(code, c) or _within(c, code) for c in context):
            return code
    if place.short_county:
        return None
    return place.codes[0]


def _chain(ordered: Iterable[Place], context: Sequence[str], *, joined: bool = False) -> str | None:
    """Adcode of the finest place consistent with the first usable place of ``ordered``.

    With ``joined``, only the places written on right after it refine it (江西省南昌市青山湖区):
    an article's opening names many places, and a city further on is not where it is set.
    """
    places = list(ordered)
    for i, place in enumerate(places):
        current = _pick(place, context)
        if current is not None:
            if joined:
                run: list[Place] = []
                end = place.end
                for nxt in places[i + 1:]:
                    if nxt.start - end > 1:
                        break
                    run.append(nxt)
                    end = nxt.end
                return _refine(current, run)
            return _refine(current, places[:i] + places[i + 1:])
    return None


def _refine(current: str, others: Sequence[Place]) -> str:
    """Walk down to the deepest of ``others`` that lies inside ``current``."""
    changed = True
    while changed:
        changed = False
        for place in others:
            for code in place.codes:
                if code != current and _within(code, current):
                    current = code
                    changed = True
                    break
    return current


def _full_forms(places: Iterable[Place]) -> list[Place]:
    """``places`` without short county-level forms: read away from the event's own sentence,
    和龙 in "民营企业和龙头企业" or 东方 in "东方红" would name a county."""
    return [p for p in places if not p.short_county]


def coarsen(code: str, rank: int) -> str:
    """``code`` cut to ``rank`` (0 province, 1 city): 220183 → 220000 or 220100."""
    if _rank(code) <= rank:
        return code
    return code[: (rank + 1) * 2].ljust(6, "0")


def resolve_region(
    groups: Sequence[Sequence[Place]], *, hint: str, rules: RuleSet, fallbacks: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> tuple[str, RegionFrom]:
    """The adcode of the event's region ("" when nothing says) and where it came from.

    ``groups`` are place lists in order of preference (the trigger's clause first, nearest place
    first); the first group that yields a place wins, refined by the other places of that
    group (曲靖市 … 在麒麟区 → 云南省曲靖市麒麟区): ``"text"``.  Then the ``fallbacks`` (the
    title, the paragraph's and the document's opening) that agree with ``hint``, the finest
    winning; else the first of ``overrides`` (the title, the document's dominant place) that names
    any place, since an article about 吉林 reposted by a portal in 江西 is still about 吉林:
    ``"article"``.  Then ``hint``: ``"source"``.
    Short county names (敦化, 慈溪) count only inside the hint or a fallback's place, and only in
    ``groups``: a fallback or override text must write a county in full.
    """
    hint_code = _chain(find_places(hint, rules), ()) if hint else None
    context = [hint_code] if hint_code else []
    agreeing: list[str] = []
    other: list[str] = []
    for text in fallbacks:
        code = _chain(_full_forms(find_places(text, rules)), context, joined=True)
        if code is not None and (hint_code is None or _within(code, hint_code) or _within(hint_code, code)):
            if hint_code is not None and _within(hint_code, code):
                code = hint_code  # the hint is finer than the fallback text
            agreeing.append(code)
    for text in overrides:
        code = _chain(_full_forms(find_places(text, rules)), context, joined=True)
        if code is not None:
            other.append(code)
    for group in groups:
        code = _chain(group, context + agreeing + other)
        if code is not None:
            return code, "text"
    if agreeing:
        # the title names the city, the document's opening the district: take the finest
        # fallback that agrees with the first
        best = agreeing[0]
        for code in agreeing[1:]:
            if code != best and _within(code, best):
                best = code
        return best, ("article" if best != hint_code else "source")
    if other:
        return other[0], "article"
    if hint_code is not None:
        return hint_code, "source"
    return "", ""
