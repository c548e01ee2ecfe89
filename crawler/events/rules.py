"""Validating and compiling the declarative event rules (``rules.yaml``) into a :class:`RuleSet`.

``load_rules()`` returns the packaged defaults; ``load_rules([Path("mine.yaml")])`` merges user
files over them (see the header of ``rules.yaml`` for the merge semantics).  Every pattern is
compiled once here, so detection never compiles a regex.  A bad rule raises :class:`RuleError`
naming the rule id and the offending key.  Reading and merging the files is
:mod:`crawler.events.rulefile`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from crawler.events.model import EVENT_TYPES, EventType
from crawler.events.numbers import NumberGrammar
from crawler.events.periods import PeriodGrammar
from crawler.events.prefilter import TriggerFilter, required_literals, shortest_literals
from crawler.events.rulefile import DEFAULT_RULES, RuleError, merged_rules

__all__ = ["DEFAULT_RULES", "PLACE_MARK", "Rule", "RuleError", "RuleSet", "load_rules"]

SUBTYPES: dict[str, tuple[str, ...]] = {
    "signing": ("project", "agreement", "aggregate"),
    "opening": ("groundbreaking", "production", "completion", "business"),
    "trade": ("total", "export", "import", "balance"),
}
_RULE_KEYS = {
    "id", "type", "subtype", "triggers", "require_any", "require_clause", "negative", "negative_sentence",
    "negative_before",
    "negative_after", "figures", "requires_figure", "requires_count", "count_subtype", "amount_label",
    "confidence", "description", "yields", "place_party",
}
_PATTERN_LIST_KEYS = ("triggers", "require_any", "require_clause", "negative", "negative_sentence",
                      "negative_before", "negative_after", "amount_label")
_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
# What stands in a sentence for a place name when RuleSet.place_party is matched (a private-use
# character: no text holds it)
PLACE_MARK = "\ue000"


@dataclass(frozen=True, eq=False)
class Rule:
    """One compiled rule; see the header of ``rules.yaml`` for what each key means."""

    id: str
    type: EventType
    subtype: str
    triggers: re.Pattern[str]
    require_any: re.Pattern[str] | None
    require_clause: re.Pattern[str] | None
    negative: re.Pattern[str] | None
    negative_sentence: re.Pattern[str] | None
    negative_before: re.Pattern[str] | None
    negative_after: re.Pattern[str] | None
    figures: str
    requires_figure: bool
    requires_count: bool
    yields: bool  # names the act another rule's trigger in the sentence names (签约仪式 beside 签署协议)
    count_subtype: str
    amount_label: re.Pattern[str] | None
    confidence: float
    # Strings one of which every trigger match contains (crawler.events.prefilter), or None
    # when the pattern gives none: a sentence holding none of them is not searched
    trigger_literals: tuple[str, ...] | None = None
    # a province or city written as a party (RuleSet.place_party) also satisfies require_any
    place_party: bool = False


@dataclass(frozen=True, eq=False)  # identity hash: used as a cache key
class RuleSet:
    """Everything the detector needs, compiled: rules, contexts, number grammar, region settings."""

    rules: tuple[Rule, ...]
    any_trigger: re.Pattern[str]
    trigger_filter: TriggerFilter  # rules out sentences that any_trigger cannot match, cheaply
    sentence_end: re.Pattern[str]
    clause_break: re.Pattern[str]
    max_sentence: int
    attributive_after: re.Pattern[str]
    mention_before: re.Pattern[str]
    anaphora: re.Pattern[str]
    anaphora_window: int
    recent: re.Pattern[str]
    held: re.Pattern[str]
    held_after: re.Pattern[str]
    separate_act: re.Pattern[str]
    breakdown: re.Pattern[str]
    distributive: re.Pattern[str]
    breakdown_part: re.Pattern[str]
    vague_subject: re.Pattern[str]
    from_to: re.Pattern[str]
    gap_max: int
    gap_reject: re.Pattern[str]
    growth_lead: re.Pattern[str]
    amount_after_growth: re.Pattern[str]
    label_window: int
    elided_subject: re.Pattern[str]
    label_reject: re.Pattern[str]
    amount_reject_after: re.Pattern[str]
    amount_accept_after: re.Pattern[str]
    org_suffix: re.Pattern[str]
    org_window: int
    org_break: re.Pattern[str]
    party_after: re.Pattern[str]
    place_party: re.Pattern[str]  # {place} stands as PLACE_MARK
    road_suffix: re.Pattern[str]
    not_places: tuple[str, ...]
    region_exclude: re.Pattern[str] | None
    lead_max: int
    lead_open: re.Pattern[str]
    site_open: re.Pattern[str]
    doc_lead: int
    national: re.Pattern[str]
    scope_province: re.Pattern[str]
    scope_city: re.Pattern[str]
    periods: re.Pattern[str]
    document_year: re.Pattern[str]
    period_grammar: PeriodGrammar  # when a stated time ends; one form for period strings
    retrospective_months: int
    plan_start: re.Pattern[str]
    plan_end: re.Pattern[str]
    reset_line: re.Pattern[str]
    numbers: NumberGrammar
    sources: tuple[str, ...]


# ------------------------------------------------------------------------------ compiling
def _compile_one(pattern: Any, rid: str, key: str, source: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise RuleError(rid, key, f"pattern must be a non-empty string, got {pattern!r}", source)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleError(rid, key, f"bad regular expression {pattern!r}: {exc}", source) from exc


def _expand(patterns: Any, contexts: Mapping[str, Any], rid: str, key: str, source: str) -> list[str]:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        raise RuleError(rid, key, "expected a list of patterns", source)
    out: list[str] = []
    for p in patterns:
        if isinstance(p, str) and p.startswith("@"):
            name = p[1:]
            if name not in contexts:
                raise RuleError(rid, key, f"unknown context {p!r}", source)
            out.extend(_expand(contexts[name], contexts, rid, f"{key}{p}", source))
        else:
            _compile_one(p, rid, key, source)
            out.append(cast(str, p))
    return out


def _alternation(patterns: list[str], rid: str, key: str, source: str) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return _compile_one("|".join(f"(?:{p})" for p in patterns), rid, key, source)


def _compile_rule(raw: Mapping[str, Any], contexts: Mapping[str, Any]) -> Rule:
    rid = str(raw.get("id", "<unnamed>"))
    source = str(raw.get("_source", DEFAULT_RULES))
    if not _ID.match(rid):
        raise RuleError(rid, "id", "ids are letters, digits, '.', '_' and '-'", source)
    for key in raw:
        if key != "_source" and key not in _RULE_KEYS:
            raise RuleError(rid, str(key), f"unknown key (known: {sorted(_RULE_KEYS)})", source)
    etype = raw.get("type")
    if etype not in EVENT_TYPES:
        raise RuleError(rid, "type", f"must be one of {EVENT_TYPES}, got {etype!r}", source)
    subtype = raw.get("subtype")
    allowed = SUBTYPES[str(etype)]
    if subtype not in allowed:
        raise RuleError(rid, "subtype", f"a {etype} subtype is one of {allowed}, got {subtype!r}", source)
    count_subtype = raw.get("count_subtype", subtype)
    if count_subtype not in allowed:
        raise RuleError(rid, "count_subtype", f"must be one of {allowed}, got {count_subtype!r}", source)
    if "triggers" not in raw or not raw["triggers"]:
        raise RuleError(rid, "triggers", "a rule needs at least one trigger", source)
    compiled: dict[str, re.Pattern[str] | None] = {}
    for key in _PATTERN_LIST_KEYS:
        compiled[key] = _alternation(_expand(raw.get(key, []), contexts, rid, key, source), rid, key, source)
    figures = raw.get("figures", "scope")
    if figures not in ("scope", "adjacent"):
        raise RuleError(rid, "figures", f"must be 'scope' or 'adjacent', got {figures!r}", source)
    for key in ("requires_figure", "requires_count", "yields", "place_party"):
        if not isinstance(raw.get(key, False), bool):
            raise RuleError(rid, key, "must be true or false", source)
    confidence = raw.get("confidence", 0.7)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise RuleError(rid, "confidence", f"must be a number in 0..1, got {confidence!r}", source)
    triggers = compiled["triggers"]
    assert triggers is not None  # checked non-empty above
    return Rule(
        id=rid, type=cast(EventType, etype), subtype=str(subtype), triggers=triggers,
        require_any=compiled["require_any"], require_clause=compiled["require_clause"],
        negative=compiled["negative"], negative_sentence=compiled["negative_sentence"],
        negative_before=compiled["negative_before"],
        negative_after=compiled["negative_after"], figures=str(figures),
        requires_figure=bool(raw.get("requires_figure", False)),
        requires_count=bool(raw.get("requires_count", False)), count_subtype=str(count_subtype),
        yields=bool(raw.get("yields", False)),
        amount_label=compiled["amount_label"], confidence=float(confidence),
        trigger_literals=shortest_literals(required_literals(triggers.pattern)),
        place_party=bool(raw.get("place_party", False)),
    )


def _section(merged: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = merged.get(name, {})
    if not isinstance(value, Mapping):
        raise RuleError(name, name, "expected a mapping")
    return value


def _pattern(sec: Mapping[str, Any], name: str, key: str) -> re.Pattern[str]:
    if key not in sec:
        raise RuleError(name, key, "missing")
    value = sec[key]
    if isinstance(value, list):
        found = _alternation([str(v) for v in value], name, key, "")
        if found is None:
            raise RuleError(name, key, "must not be empty")
        return found
    return _compile_one(value, name, key, "")


def _place_pattern(sec: Mapping[str, Any], key: str) -> re.Pattern[str]:
    """A regions pattern in which ``{place}`` stands for a place name (:data:`PLACE_MARK`)."""
    value = sec.get(key)
    if not isinstance(value, str) or "{place}" not in value:
        raise RuleError("regions", key, "expected a pattern holding {place}")
    return _compile_one(value.replace("{place}", PLACE_MARK), "regions", key, "")


def _heading(sec: Mapping[str, Any], key: str) -> re.Pattern[str]:
    """A section marker, matched only where a heading can stand (``sections.heading`` before it)."""
    heading = _pattern(sec, "sections", "heading").pattern
    marker = _pattern(sec, "sections", key).pattern
    return _compile_one(f"(?m:{heading}(?:{marker}))", "sections", key, "")


def _int(sec: Mapping[str, Any], name: str, key: str) -> int:
    value = sec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleError(name, key, f"must be a non-negative integer, got {value!r}")
    return value


def _build(merged: dict[str, Any], sources: tuple[str, ...]) -> RuleSet:
    contexts = _section(merged, "contexts")
    for name, value in contexts.items():
        if not isinstance(value, list):
            raise RuleError("contexts", str(name), "a context is a list of patterns")
        _expand(value, contexts, "contexts", str(name), "")
    disabled = set(merged.get("disable", []))
    raw_rules = merged.get("rules", [])
    ids = [str(r.get("id")) for r in raw_rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(sorted(dupes)[0], "id", "duplicate rule id")
    rules = tuple(_compile_rule(r, contexts) for r in raw_rules if str(r.get("id")) not in disabled)
    if not rules:
        raise RuleError("<top>", "rules", "no rules left")
    any_trigger = re.compile("|".join(f"(?:{r.triggers.pattern})" for r in rules))

    st = _section(merged, "settings")
    adj = _section(merged, "adjacent")
    amt = _section(merged, "amounts")
    reg = _section(merged, "regions")
    per = _section(merged, "periods")
    sec = _section(merged, "sections")
    try:
        numbers = NumberGrammar(_section(merged, "numbers"))
    except (ValueError, TypeError) as exc:
        raise RuleError("numbers", "numbers", str(exc)) from exc
    try:
        period_grammar = PeriodGrammar.from_spec(per)
    except ValueError as exc:
        raise RuleError("periods", str(exc).partition(":")[0].removeprefix("periods."), str(exc)) from exc
    not_places = reg.get("not_places", [])
    if not isinstance(not_places, list):
        raise RuleError("regions", "not_places", "expected a list of strings")
    exclude = _alternation([str(p) for p in reg.get("exclude", [])], "regions", "exclude", "")
    return RuleSet(
        rules=rules, any_trigger=any_trigger, trigger_filter=TriggerFilter(any_trigger.pattern),
        sentence_end=_pattern(st, "settings", "sentence_end"),
        clause_break=_pattern(st, "settings", "clause_break"),
        max_sentence=_int(st, "settings", "max_sentence"),
        attributive_after=_pattern(st, "settings", "attributive_after"),
        mention_before=_pattern(st, "settings", "mention_before"),
        anaphora=_pattern(st, "settings", "anaphora"),
        anaphora_window=_int(st, "settings", "anaphora_window"),
        recent=_pattern(st, "settings", "recent"),
        held=_pattern(st, "settings", "held"),
        held_after=_pattern(st, "settings", "held_after"),
        separate_act=_pattern(st, "settings", "separate_act"),
        breakdown=_pattern(st, "settings", "breakdown"),
        distributive=_pattern(st, "settings", "distributive"),
        breakdown_part=_pattern(st, "settings", "breakdown_part"),
        vague_subject=_pattern(st, "settings", "vague_subject"),
        from_to=_pattern(adj, "adjacent", "from_to"),
        gap_max=_int(adj, "adjacent", "gap_max"),
        gap_reject=_pattern(adj, "adjacent", "gap_reject"),
        growth_lead=_pattern(adj, "adjacent", "growth_lead"),
        amount_after_growth=_pattern(adj, "adjacent", "amount_after_growth"),
        label_window=_int(amt, "amounts", "label_window"),
        elided_subject=_pattern(amt, "amounts", "elided_subject"),
        label_reject=_pattern(amt, "amounts", "label_reject"),
        amount_reject_after=_pattern(amt, "amounts", "reject_after"),
        amount_accept_after=_pattern(amt, "amounts", "accept_after"),
        org_suffix=_pattern(reg, "regions", "org_suffix"),
        org_window=_int(reg, "regions", "org_window"),
        org_break=_pattern(reg, "regions", "org_break"),
        party_after=_pattern(reg, "regions", "party_after"),
        place_party=_place_pattern(reg, "place_party"),
        road_suffix=_pattern(reg, "regions", "road_suffix"),
        not_places=tuple(str(p) for p in not_places),
        region_exclude=exclude,
        lead_max=_int(reg, "regions", "lead_max"),
        lead_open=_pattern(reg, "regions", "lead_open"),
        site_open=_pattern(reg, "regions", "site_open"),
        doc_lead=_int(reg, "regions", "doc_lead"),
        national=_pattern(reg, "regions", "national"),
        scope_province=_pattern(reg, "regions", "scope_province"),
        scope_city=_pattern(reg, "regions", "scope_city"),
        periods=_pattern(per, "periods", "patterns"),
        document_year=_pattern(per, "periods", "document_year"),
        period_grammar=period_grammar,
        retrospective_months=_int(per, "periods", "retrospective_months"),
        plan_start=_heading(sec, "plan_start"),
        plan_end=_heading(sec, "plan_end"),
        reset_line=re.compile(_pattern(sec, "sections", "reset_line").pattern, re.MULTILINE),
        numbers=numbers, sources=sources,
    )


@lru_cache(maxsize=16)
def _load(keys: tuple[tuple[str, int], ...]) -> RuleSet:
    return _build(merged_rules(p for p, _ in keys), (str(DEFAULT_RULES), *(p for p, _ in keys)))


def load_rules(paths: list[Path] | None = None) -> RuleSet:
    """The packaged rules with each file in ``paths`` merged over them, in order.

    Validated and compiled; raises :class:`RuleError` (naming the rule id and key) on a bad
    file.  Results are cached per set of files (and their modification times), so calling this
    on every detection is cheap.
    """
    keys = []
    for p in paths or []:
        path = Path(p)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError as exc:
            raise RuleError("<file>", str(path), f"cannot read rules: {exc}", str(path)) from exc
        keys.append((str(path), mtime))
    return _load(tuple(keys))
