"""Money amounts, growth rates and project counts as Chinese news writes them.

``parse_amount("约772.67亿元")`` → value 772.67, unit 1e8, currency CNY, qualifier 约.
The vocabulary (units, currencies, qualifiers, growth verbs) comes from the ``numbers`` section
of the rules, so a user rule file can add a currency; the module-level functions use the
packaged defaults.  Full-width digits (``４５亿元``) and Chinese numerals (``两千万元``) are read;
vague amounts (``数十亿元``) are not amounts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import cn2an

from crawler.events.rulefile import merged_rules

__all__ = [
    "Amount",
    "Count",
    "Growth",
    "NumberGrammar",
    "fold_digits",
    "parse_amount",
    "parse_count",
    "parse_growth",
]

# Length-preserving: offsets into the folded text are offsets into the original.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}  # ０-９
_FOLD.update({0xFF0E: ord("."), 0xFF05: ord("%"), 0x3000: ord(" "), 0xFF0B: ord("+"), 0xFF0D: ord("-")})

_CN_NUM = "零〇一二两三四五六七八九十百千"
_CN_FRACTION = "零〇一二三四五六七八九"
_COUNT_DIGITS = 12  # longer runs of digits or numerals are not a number of projects
# Arabic with optional thousands separators, or Chinese numerals with an optional 点 fraction.
# The separated groups are bounded: a long run of ",000" was rescanned from each of its groups.
_NUM = (
    rf"(?<![\d.{_CN_NUM}数几])"
    rf"(?:\d{{1,3}}(?:,\d{{3}}){{1,6}}(?:\.\d+)?|\d+(?:\.\d+)?|[{_CN_NUM}]+(?:点[{_CN_FRACTION}]+)?)"
)


def fold_digits(text: str) -> str:
    """Full-width digits, ．and ％ to ASCII; same length as ``text``."""
    return text.translate(_FOLD)


def _alternation(words: list[str]) -> str:
    # Longest first, so 超过 wins over 超 and 万亿 over 万.
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _to_decimal(raw: str) -> Decimal | None:
    """Arabic or Chinese numeral to Decimal; None when it is not a number."""
    raw = raw.replace(",", "")
    try:
        return Decimal(raw)
    except InvalidOperation:
        pass
    if raw in ("十", "百", "千"):  # 百万元, 千万元: the numeral is implied
        return Decimal({"十": 10, "百": 100, "千": 1000}[raw])
    try:
        value = cn2an.cn2an(raw, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return Decimal(str(value))


@dataclass(frozen=True)
class Amount:
    """A money amount as stated.

    ``value`` is the number as written (772.67), ``unit`` its multiplier (1e8 for 亿),
    ``amount`` = value × unit in ``currency`` units (exact decimal arithmetic, so 772.67亿 is
    77267000000.0), ``qualifier`` one of 约/超/逾/多/近 or "".  ``start``/``end`` locate ``text``
    in the string that was parsed.
    """

    value: float
    unit: float
    currency: str
    qualifier: str
    text: str
    start: int
    end: int
    amount: float

    @property
    def as_yuan(self) -> float | None:
        """The amount in yuan; None for foreign currencies (never converted at a guessed rate)."""
        return self.amount if self.currency == "CNY" else None


@dataclass(frozen=True)
class Growth:
    """A growth rate in percent, negative for a fall (下降3.2% → -3.2; 增长1倍 → 100)."""

    value: float
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Count:
    """A number of projects (``97个项目``, ``项目396个``)."""

    value: int
    text: str
    start: int
    end: int


class NumberGrammar:
    """Amount, growth and count patterns compiled from a ``numbers`` rules section.

    Construction validates the section and raises ``ValueError`` naming the bad key.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.currencies: dict[str, str] = {str(k): str(v) for k, v in _mapping(spec, "currencies").items()}
        self.units: dict[str, Decimal] = {}
        for word, mult in _mapping(spec, "units").items():
            try:
                self.units[str(word)] = Decimal(str(mult))
            except InvalidOperation as exc:
                raise ValueError(f"numbers.units.{word}: not a number: {mult!r}") from exc
        quals = _mapping(spec, "qualifiers")
        self.q_before = {str(k): str(v) for k, v in _mapping(quals, "before").items()}
        self.q_inside = {str(k): str(v) for k, v in _mapping(quals, "inside").items()}
        self.q_after = {str(k): str(v) for k, v in _mapping(quals, "after").items()}
        growth = _mapping(spec, "growth")
        self.up = [str(w) for w in _list(growth, "up")]
        self.down = [str(w) for w in _list(growth, "down")]
        self.growth_units = {str(k): Decimal(str(v)) for k, v in _mapping(growth, "units").items()}
        self.growth_words = {str(k): float(v) for k, v in _mapping(growth, "words").items()}
        counts = _mapping(spec, "counts")
        measures = [str(w) for w in _list(counts, "measures")]
        nouns = [str(w) for w in _list(counts, "nouns")]
        gap = int(counts.get("gap", 12))
        after_trigger = str(counts.get("after_trigger", r"^(?P<n>\d+)个"))
        if not self.currencies or not self.units:
            raise ValueError("numbers: currencies and units must not be empty")

        before = f"(?P<q1>{_alternation(list(self.q_before))})?" if self.q_before else "(?P<q1>)"
        inside = f"(?P<q2>{_alternation(list(self.q_inside))})?" if self.q_inside else "(?P<q2>)"
        inside2 = f"(?P<q3>{_alternation(list(self.q_inside))})?" if self.q_inside else "(?P<q3>)"
        after = f"(?P<q4>{_alternation(list(self.q_after))})?" if self.q_after else "(?P<q4>)"
        # a range (10亿—15亿元, 10-15亿元) is read as its lower bound, qualified 约
        low = (rf"(?:(?P<lo>{_NUM})\s?(?P<lounit>{_alternation(list(self.units))})?"
               rf"(?P<locur>{_alternation(list(self.currencies))})?\s?(?:[-—–~～]|至)\s?)?")
        self.amount_re = re.compile(
            before
            + low
            + rf"\s?(?P<num>{_NUM})\s?"
            + inside
            + f"(?:(?P<unit>{_alternation(list(self.units))})?"
            + inside2
            + f"(?P<cur>{_alternation(list(self.currencies))})"
            # "总投资200亿的…": a large unit with no currency, where an investment label stands
            # just before (checked in amounts) and no measure word follows (50万吨 is a tonnage)
            + f"|(?P<bare>{_alternation([u for u in self.units if Decimal(self.units[u]) >= 10000])})"
            + r"(?=[^\u4e00-\u9fa5]|的|$))"
            + after
        )
        self.bare_label = re.compile(str(spec.get("bare_label", r"(?!)")) + r"\s*$")
        verbs = _alternation(self.up + self.down)
        gunits = _alternation(list(self.growth_units))
        self.growth_re = re.compile(
            rf"(?P<verb>{verbs})了?(?:达到|达|为|约|接近|近|超过|超)?\s?"
            rf"(?:(?P<num>{_NUM})\s?(?P<unit>{gunits})|百分之(?P<pct>[{_CN_NUM}]+(?:点[{_CN_FRACTION}]+)?))"
        )
        self.growth_word_re = re.compile(_alternation(list(self.growth_words))) if self.growth_words else None
        # A count starts where its run of digits or numerals starts, and has at most _COUNT_DIGITS
        # of them: "\d+" was retried from every digit of a long run, and int() refuses a number
        # of more than 4,300 digits.
        num = (rf"(?P<n>(?<!\d)(?:\d{{1,3}}(?:,\d{{3}}){{1,4}}|\d{{1,{_COUNT_DIGITS}}})"
               rf"|(?<![{_CN_NUM}])[{_CN_NUM}]{{1,{_COUNT_DIGITS}}})")
        m_alt, n_alt = _alternation(measures), _alternation(nouns)
        self.count_res = [
            re.compile(rf"{num}(?:{m_alt})[^，。；,;、\d]{{0,{gap}}}?(?:{n_alt})"),
            re.compile(rf"(?:{n_alt})(?:[^，。；,;\d]{{0,3}}?)?{num}(?:{m_alt})(?!月|百分点)"),
        ]
        try:
            self.after_trigger_re = re.compile(after_trigger)
        except re.error as exc:
            raise ValueError(f"numbers.counts.after_trigger: {exc}") from exc

    # -- amounts ---------------------------------------------------------------------------
    def amounts(self, text: str, *, labelled: bool = False) -> list[Amount]:
        """Every amount in ``text``, in order.  An amount without its currency (200亿) counts after
        an investment or trade label in ``text``, or anywhere when the caller says ``text`` follows
        one (``labelled``: the text right after a trade trigger)."""
        folded = fold_digits(text)
        out = []
        for m in self.amount_re.finditer(folded):
            value = _to_decimal(m["num"])
            if value is None:
                continue
            if m["bare"] and not labelled and not self.bare_label.search(folded[max(0, m.start() - 8):m.start()]):
                continue
            unit_word = m["unit"] or m["bare"]
            unit = self.units[unit_word] if unit_word else Decimal(1)
            qualifier = ""
            for group, table in (("q1", self.q_before), ("q2", self.q_inside), ("q3", self.q_inside),
                                 ("q4", self.q_after)):
                if m[group]:
                    qualifier = table[m[group]]
                    break
            low = _to_decimal(m["lo"]) if m["lo"] else None
            if low is not None:
                value, qualifier = low, "约"
                if m["lounit"]:
                    unit = self.units[m["lounit"]]
            start, end = m.span()
            out.append(Amount(
                value=float(value), unit=float(unit), currency=self.currencies[m["cur"]] if m["cur"] else "CNY",
                qualifier=qualifier, text=text[start:end], start=start, end=end,
                amount=float(value * unit),
            ))
        return out

    # -- growth ----------------------------------------------------------------------------
    def growths(self, text: str) -> list[Growth]:
        """Every growth rate in ``text``, in order (percentage points are not growth rates)."""
        folded = fold_digits(text)
        found: list[Growth] = []
        for m in self.growth_re.finditer(folded):
            if m["pct"]:
                raw, mult = m["pct"], Decimal(1)
            else:
                raw, mult = m["num"], self.growth_units[m["unit"]]
            value = _to_decimal(raw)
            if value is None:
                continue
            sign = -1 if m["verb"] in self.down else 1
            found.append(Growth(float(sign * value * mult), text[m.start():m.end()], m.start(), m.end()))
        if self.growth_word_re is not None:
            for m in self.growth_word_re.finditer(folded):
                if not any(g.start <= m.start() < g.end for g in found):
                    found.append(Growth(self.growth_words[m.group()], m.group(), m.start(), m.end()))
        return sorted(found, key=lambda g: g.start)

    # -- counts ----------------------------------------------------------------------------
    def counts(self, text: str) -> list[Count]:
        """Every project count in ``text`` ("97个项目", "项目396个"), in order."""
        folded = fold_digits(text)
        found: dict[int, Count] = {}
        for rx in self.count_res:
            for m in rx.finditer(folded):
                value = _to_decimal(m["n"])
                if value is None or value != value.to_integral_value() or value <= 0:  # "一批", "0.5个"
                    continue
                found.setdefault(m.start("n"), Count(int(value), text[m.start():m.end()], m.start(), m.end()))
        return [found[k] for k in sorted(found)]

    def count_after_trigger(self, text: str) -> Count | None:
        """A bare count right after a trigger ("开工178个"), or None."""
        m = self.after_trigger_re.search(fold_digits(text))
        if m is None or len(m["n"]) > _COUNT_DIGITS:  # a user's pattern may allow any length
            return None
        return Count(int(m["n"]), text[m.start():m.end()], m.start(), m.end())


def _mapping(spec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = spec.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"numbers.{key}: expected a mapping")
    return value


def _list(spec: Mapping[str, Any], key: str) -> list[Any]:
    value = spec.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"numbers.{key}: expected a list")
    return value


@lru_cache(maxsize=1)
def _default() -> NumberGrammar:
    """The packaged rules' grammar: what ``load_rules().numbers`` holds, read here so that this
    module does not need the rule compiler that builds grammars from it."""
    return NumberGrammar(merged_rules().get("numbers", {}))


def parse_amount(text: str, grammar: NumberGrammar | None = None) -> Amount | None:
    """The first money amount in ``text`` (``超75亿元``, ``3000万美元``, ``两千万元``), or None."""
    found = (grammar or _default()).amounts(text)
    return found[0] if found else None


def parse_growth(text: str, grammar: NumberGrammar | None = None) -> float | None:
    """The first growth rate in ``text`` in percent (``同比增长23.7%`` → 23.7, ``下降3.2%`` → -3.2,
    ``增长1倍`` → 100), or None."""
    found = (grammar or _default()).growths(text)
    return found[0].value if found else None


def parse_count(text: str, grammar: NumberGrammar | None = None) -> int | None:
    """The first project count in ``text`` (``97个项目``, ``签约亿元以上项目396个``), or None."""
    found = (grammar or _default()).counts(text)
    return found[0].value if found else None
