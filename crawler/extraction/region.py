"""Which province / city / county a page is about, from the cpca administrative-division data.

The division table is the one the ``cpca`` package ships (``cpca/resources/adcodes.csv``,
3,500+ provinces, prefectures and counties with their adcodes).  It is read directly —
importing ``cpca`` itself would pull in pandas and take a second — and matched with an
Aho-Corasick automaton (``ahocorasick_rs``).

Names are matched in full (江西省, 赣州市, 章贡区) and, for provinces and prefectures, without
their 省/市/自治区 suffix (江西, 赣州), like cpca does; county names are only matched in full
because short county names collide with ordinary words.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ahocorasick_rs import AhoCorasick, MatchKind

__all__ = ["Division", "find_region", "load_divisions", "region_chain"]

# cpca's own abbreviations for autonomous regions (the rest lose 省/市/自治区).
_SPECIAL_ABBR = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "新疆维吾尔自治区": "新疆",
    "宁夏回族自治区": "宁夏",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}
_STOP_SUFFIX = re.compile(r"(?:省|市|特别行政区|自治区)$")
# Prefecture short names that are ordinary words far more often than places.
_AMBIGUOUS_SHORT = frozenset({"中山", "黄山", "吉林", "海南", "白山", "通化", "长治", "保山", "江门", "新余"})


@dataclass(frozen=True)
class Division:
    """One administrative division: adcode (6 digits) and name."""

    adcode: str
    name: str

    @property
    def rank(self) -> int:
        """0 province, 1 prefecture-level city, 2 county."""
        if self.adcode.endswith("0000"):
            return 0
        if self.adcode.endswith("00"):
            return 1
        return 2


@dataclass
class _Table:
    by_code: dict[str, Division]
    names: dict[str, list[Division]]  # matchable name → divisions
    keys: list[str]  # the names in the automaton's order (it reports their indexes)
    automaton: AhoCorasick | None


def _csv_path() -> Path | None:
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / "resources" / "adcodes.csv"
        if path.exists():
            return path
    return None


@lru_cache(maxsize=1)
def load_divisions() -> _Table:
    """Read cpca's adcode table once; empty table when cpca is not installed."""
    by_code: dict[str, Division] = {}
    names: dict[str, list[Division]] = defaultdict(list)
    path = _csv_path()
    if path is not None:
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                code = row["adcode"][:6]
                div = Division(code, row["name"])
                by_code[code] = div
                names[div.name].append(div)
                if div.rank < 2:
                    short = _SPECIAL_ABBR.get(div.name) or _STOP_SUFFIX.sub("", div.name)
                    if len(short) >= 2 and short != div.name and short not in _AMBIGUOUS_SHORT:
                        names[short].append(div)
    # leftmost-longest is built in (郑州市 wins over 郑州 where both match), in Rust: thirty times
    # faster here than pyahocorasick, whose root node of a thousand first characters is searched
    # linearly at every character of the text
    keys = list(names)
    automaton = AhoCorasick(keys, matchkind=MatchKind.LeftmostLongest) if keys else None
    return _Table(by_code, dict(names), keys, automaton)


def _mentions(text: str, table: _Table) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, name) matches, longest-leftmost."""
    if table.automaton is None:
        return []
    keys = table.keys
    return [(start, end, keys[i]) for i, start, end in table.automaton.find_matches_as_indexes(text)]


def region_chain(div: Division) -> str:
    """ "江西省赣州市章贡区"-style name of a division and its parents (市辖区 levels skipped)."""
    table = load_divisions()
    parts = []
    prov = table.by_code.get(div.adcode[:2] + "0000")
    if prov is not None:
        parts.append(prov.name)
    if div.rank >= 1:
        city = table.by_code.get(div.adcode[:4] + "00")
        if city is not None and city.name not in parts and city.name not in ("市辖区", "县", "省直辖县级行政区划"):
            parts.append(city.name)
    if div.rank == 2 and div.name not in parts:
        parts.append(div.name)
    return "".join(parts)


def find_region(*weighted_texts: tuple[str, float], min_weight: float = 2.0) -> tuple[str, str]:
    """The most specific division that the weighted texts agree on, as (chain, evidence).

    Each mention adds its weight to the division and to its parents; the province with most
    weight is chosen, then the best city inside it, then the best county inside that city —
    a lower level is only taken when it has at least half the weight of its parent, so one
    passing mention of a county does not override a page about a whole city.  Ambiguous
    names (朝阳区 exists twice) count only for the candidate whose parents are mentioned.
    Returns ("", "") when nothing matches or the best province has less than ``min_weight``.
    """
    table = load_divisions()
    if not table.names:
        return "", ""
    weight: dict[str, float] = defaultdict(float)
    ambiguous: list[tuple[list[Division], float]] = []
    for text, w in weighted_texts:
        if not text:
            continue
        for _, _, name in _mentions(text, table):
            divs = table.names[name]
            if len({d.adcode for d in divs}) == 1:
                _credit(weight, divs[0], w)
            else:
                ambiguous.append((divs, w))
    for divs, w in ambiguous:
        # pick the candidate whose province/city already has weight
        scored = sorted(divs, key=lambda d: weight.get(d.adcode[:4] + "00", 0) + weight.get(d.adcode[:2] + "0000", 0))
        best = scored[-1]
        support = weight.get(best.adcode[:4] + "00", 0) + weight.get(best.adcode[:2] + "0000", 0)
        if support > 0:
            _credit(weight, best, w)
    if not weight:
        return "", ""
    provinces = {c: w for c, w in weight.items() if c.endswith("0000")}
    prov = max(provinces, key=lambda c: provinces[c])
    if provinces[prov] < min_weight:
        return "", ""  # one passing mention in the text is not what the page is about
    chosen = prov
    cities = {c: w for c, w in weight.items() if c[:2] == prov[:2] and c.endswith("00") and not c.endswith("0000")}
    if cities:
        city = max(cities, key=lambda c: cities[c])
        if cities[city] >= 0.5 * provinces[prov]:
            chosen = city
            counties = {c: w for c, w in weight.items() if c[:4] == city[:4] and not c.endswith("00")}
            if counties:
                county = max(counties, key=lambda c: counties[c])
                if counties[county] >= 0.5 * cities[city]:
                    chosen = county
    else:
        # municipalities: counties hang directly below the province (北京市 → 朝阳区)
        counties = {c: w for c, w in weight.items() if c[:2] == prov[:2] and not c.endswith("00")}
        if counties:
            county = max(counties, key=lambda c: counties[c])
            if counties[county] >= 0.5 * provinces[prov]:
                chosen = county
    div = table.by_code.get(chosen)
    return (region_chain(div), chosen) if div is not None else ("", "")


def _credit(weight: dict[str, float], div: Division, w: float) -> None:
    weight[div.adcode] += w
    if div.rank >= 1:
        weight[div.adcode[:2] + "0000"] += w
    if div.rank == 2:
        weight[div.adcode[:4] + "00"] += w
