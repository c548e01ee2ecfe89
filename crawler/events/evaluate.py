"""Scoring the detector against a labelled dev set (``tests/data/events/*.yaml``).

A case is ``{id, text, title?, region_hint?, events: [{type, subtype, amount_cny | amount +
currency, project_count, growth_pct, region?}]}``.  Within a case, predicted and gold events of
the same type are paired greedily (same subtype and same figures first); a pair is a true
positive for its type.  Figures are judged on true-positive pairs only, counting a field when
either side states it; a field is right when both state the same value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from crawler.events.model import EVENT_TYPES, Event

__all__ = ["Case", "GoldEvent", "Score", "load_cases", "score", "split_audit"]

DEV_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "events"


@dataclass(frozen=True)
class GoldEvent:
    """One labelled event; ``amount`` is in ``currency`` units (yuan for CNY)."""

    type: str
    subtype: str
    amount: float | None = None
    currency: str = "CNY"
    project_count: int | None = None
    growth_pct: float | None = None
    region: str | None = None
    stage: str | None = None
    retrospective: bool | None = None


@dataclass(frozen=True)
class Case:
    """One labelled passage."""

    id: str
    text: str
    events: tuple[GoldEvent, ...]
    title: str = ""
    region_hint: str = ""
    file: str = ""  # the YAML file it came from
    source_file: str = ""  # for cwced cases: the cleaned text it was taken from
    synthetic: bool = False
    elided: bool = False
    audit: bool = False  # labelled blind, after the rules were written: the held-out check
    published: date | None = None  # the article's date, when known: retrospective is judged on it
    drawn: str = ""  # how the passage was drawn (trigger, hard-negative, random), for drawn sets
    moved: str = ""  # why a drawn audit case was moved to the dev set


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _gold(raw: dict[str, Any], case_id: str) -> GoldEvent:
    etype = raw.get("type")
    if etype not in EVENT_TYPES:
        raise ValueError(f"{case_id}: bad event type {etype!r}")
    if "amount_cny" in raw and raw["amount_cny"] is not None:
        amount, currency = _float(raw["amount_cny"]), "CNY"
    else:
        amount, currency = _float(raw.get("amount")), str(raw.get("currency", "CNY"))
    count = raw.get("project_count")
    return GoldEvent(
        type=str(etype), subtype=str(raw.get("subtype", "")), amount=amount, currency=currency,
        project_count=None if count is None else int(count), growth_pct=_float(raw.get("growth_pct")),
        region=raw.get("region"), stage=raw.get("stage"),
        retrospective=None if raw.get("retrospective") is None else bool(raw["retrospective"]),
    )


def load_cases(directory: Path = DEV_DIR) -> list[Case]:
    """Every case of every ``*.yaml`` file in ``directory``, in file order.

    A case is an audit case (``Case.audit``) when it or its file says ``audit: true``: the audit
    files (``audit_*.yaml``) hold passages labelled blind from text the rules were not written
    against, and are scored apart from the dev set (``split_audit``).
    """
    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        file_audit = bool(data.get("audit", False))
        for raw in data.get("cases", []):
            cid = str(raw["id"])
            cases.append(Case(
                id=cid, text=str(raw["text"]), title=str(raw.get("title", "")),
                region_hint=str(raw.get("region_hint", "")),
                events=tuple(_gold(e, cid) for e in raw.get("events") or []),
                file=path.name, source_file=str(raw.get("file", "")),
                synthetic=bool(raw.get("synthetic", False)), elided=bool(raw.get("elided", False)),
                audit=bool(raw.get("audit", file_audit)),
                published=_date(raw.get("published")), drawn=str(raw.get("drawn", "")),
                moved=str(raw.get("moved", "")),
            ))
    ids = [c.id for c in cases]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate case ids: {sorted(dupes)}")
    return cases


def split_audit(cases: Iterable[Case]) -> tuple[list[Case], list[Case]]:
    """The dev cases and the audit cases of ``cases``, each in order."""
    dev: list[Case] = []
    audit: list[Case] = []
    for case in cases:
        (audit if case.audit else dev).append(case)
    return dev, audit


@dataclass
class TypeScore:
    """Counts for one event type."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Ratio:
    """right / total."""

    right: int = 0
    total: int = 0

    @property
    def value(self) -> float:
        return self.right / self.total if self.total else 1.0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.right += ok


@dataclass
class Score:
    """The detector's quality over a set of cases."""

    types: dict[str, TypeScore] = field(default_factory=lambda: {t: TypeScore() for t in EVENT_TYPES})
    amount: Ratio = field(default_factory=Ratio)
    count: Ratio = field(default_factory=Ratio)
    growth: Ratio = field(default_factory=Ratio)
    subtype: Ratio = field(default_factory=Ratio)
    region: Ratio = field(default_factory=Ratio)
    stage: Ratio = field(default_factory=Ratio)
    retrospective: Ratio = field(default_factory=Ratio)
    errors: list[str] = field(default_factory=list)

    @property
    def numbers(self) -> Ratio:
        """Amount, count and growth together."""
        return Ratio(self.amount.right + self.count.right + self.growth.right,
                     self.amount.total + self.count.total + self.growth.total)


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _pred_amount(ev: Event) -> tuple[float | None, str]:
    return ev.amount, ev.currency or "CNY"


def _pair_score(g: GoldEvent, p: Event) -> int:
    amount, currency = _pred_amount(p)
    return (4 * (g.subtype == p.subtype) + (_same(g.amount, amount) and g.currency == currency)
            + (g.project_count == p.project_count) + (g.growth_pct == p.growth_pct))


def _judge(total: Ratio, gold: float | None, pred: float | None, ok: bool) -> None:
    if gold is not None or pred is not None:
        total.add(ok)


def score(cases: Iterable[Case], detect: Callable[..., list[Event]]) -> Score:
    """Run ``detect(text, title=…, region_hint=…, published=…)`` on each case and compare with its
    labels.  Stage is judged where the label states one; retrospective where the label states it
    and the case has a publication date."""
    result = Score()
    for case in cases:
        predicted = detect(case.text, title=case.title, region_hint=case.region_hint, published=case.published)
        for etype in EVENT_TYPES:
            golds = [g for g in case.events if g.type == etype]
            preds = [p for p in predicted if p.type == etype]
            pairs = sorted(((_pair_score(g, p), i, j) for i, g in enumerate(golds) for j, p in enumerate(preds)),
                           reverse=True)
            used_g: set[int] = set()
            used_p: set[int] = set()
            ts = result.types[etype]
            for _, i, j in pairs:
                if i in used_g or j in used_p:
                    continue
                used_g.add(i)
                used_p.add(j)
                ts.tp += 1
                g, p = golds[i], preds[j]
                amount, currency = _pred_amount(p)
                ok_amount = _same(g.amount, amount) and g.currency == currency
                _judge(result.amount, g.amount, amount, ok_amount)
                _judge(result.count, g.project_count, p.project_count, g.project_count == p.project_count)
                _judge(result.growth, g.growth_pct, p.growth_pct, _same(g.growth_pct, p.growth_pct))
                result.subtype.add(g.subtype == p.subtype)
                if g.region is not None:
                    result.region.add(g.region == p.region)
                if g.stage is not None:
                    result.stage.add(g.stage == p.stage)
                if g.retrospective is not None and case.published is not None:
                    result.retrospective.add(g.retrospective == p.retrospective)
                for name, ok in (("amount", ok_amount or (g.amount is None and amount is None)),
                                 ("count", g.project_count == p.project_count),
                                 ("growth", g.growth_pct == p.growth_pct or _same(g.growth_pct, p.growth_pct)),
                                 ("subtype", g.subtype == p.subtype),
                                 ("region", g.region is None or g.region == p.region),
                                 ("stage", g.stage is None or g.stage == p.stage),
                                 ("retrospective", g.retrospective is None or case.published is None
                                  or g.retrospective == p.retrospective)):
                    if not ok:
                        result.errors.append(f"{case.id}: {etype} {name}: gold {g} got {p.subtype} "
                                             f"{p.amount_text or p.amount} n={p.project_count} "
                                             f"g={p.growth_pct} {p.region}")
            for i, g in enumerate(golds):
                if i not in used_g:
                    ts.fn += 1
                    result.errors.append(f"{case.id}: missed {etype}/{g.subtype}")
            for j, p in enumerate(preds):
                if j not in used_p:
                    ts.fp += 1
                    result.errors.append(f"{case.id}: spurious {etype}/{p.subtype} ({p.rule}) «{p.evidence[:60]}»")
    return result
