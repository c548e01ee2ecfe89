"""Event-detector benchmark over the labelled dev set and the audit set (tests/data/events/*.yaml).

Usage::

    python bench/events.py [--dir PATH] [--rules FILE ...] [--errors] [--dev-only] [--json OUT]
    python bench/events.py --folds 5 [--seed N]

Prints, per event type, precision and recall (a predicted event is a true positive when a gold
event of the same type in the same passage pairs with it; see crawler/events/evaluate.py), then
exact-match accuracy of amount / project count / growth over true-positive pairs (a field counts
when either side states it), subtype and region accuracy, and passages per second for
``detect_events`` alone (best of three passes over the whole set, one process).

The dev set is also what the rules were written against, so these figures are an upper bound on
what a held-out set will show; the real and synthetic parts are reported separately.  The audit set
(``audit_*.yaml``: every trigger-word sentence of real text outside the dev set, labelled blind) is
reported on its own, after the dev set: it is the nearer estimate of held-out quality.
``--dev-only`` leaves the audit figures out (and the audit cases out of the speed pass): for working
runs while rules change, so the audit aggregate is seen only when it is reported.

``--folds K`` cross-validates the learned signing check (crawler/events/signing_check.py) over the
dev passages alone: the passages are grouped (two passages sharing a 16-character run are one group:
FewFC repeats a text under other leads) and the groups dealt into K folds; for each fold the model
is fitted on the other folds by ``bench/signing_model.py`` and the fold is scored with it, and with
the rules alone.  The hand-written rules were read against all of these passages, so the rules'
figures here are still an upper bound; what the folds measure is what the learned part adds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crawler.events.detect import detect_events  # noqa: E402
from crawler.events.evaluate import Case, Score, load_cases, score, split_audit  # noqa: E402
from crawler.events.model import EVENT_TYPES  # noqa: E402
from crawler.events.rules import load_rules  # noqa: E402
from crawler.events.signing_check import SigningModel  # noqa: E402

GOALS = {"precision": 0.95, "recall": 0.90, "numbers": 0.95}


def _speed(cases: list[Case], rules_paths: list[Path]) -> float:
    rules = load_rules(rules_paths)
    detect_events("预热", rules=rules)  # load cpca and compile once
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for c in cases:
            detect_events(c.text, title=c.title, region_hint=c.region_hint, rules=rules)
        best = min(best, time.perf_counter() - start)
    return len(cases) / best if best > 0 else float("inf")


def _report(name: str, cases: list[Case], s: Score) -> dict[str, object]:
    gold = sum(len(c.events) for c in cases)
    print(f"\n{name}: {len(cases)} passages, {gold} labelled events, "
          f"{sum(1 for c in cases if not c.events)} with none")
    if not gold:
        spurious = sum(t.fp for t in s.types.values())
        print(f"  false positives: {spurious} of {len(cases)} passages")
        return {"passages": len(cases), "false_positives": spurious}
    print(f"  {'type':<9}{'gold':>6}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>8}")
    out: dict[str, object] = {"passages": len(cases), "events": gold}
    for etype in EVENT_TYPES:
        t = s.types[etype]
        mark = "" if t.precision >= GOALS["precision"] and t.recall >= GOALS["recall"] else "  (below goal)"
        print(f"  {etype:<9}{t.tp + t.fn:>6}{t.tp:>6}{t.fp:>6}{t.fn:>6}{t.precision:>11.3f}{t.recall:>8.3f}{mark}")
        out[etype] = {"tp": t.tp, "fp": t.fp, "fn": t.fn, "precision": t.precision, "recall": t.recall}
    for label, ratio in (("amount", s.amount), ("project count", s.count), ("growth", s.growth),
                         ("all numbers", s.numbers), ("subtype", s.subtype), ("region", s.region),
                         ("stage", s.stage), ("retrospective", s.retrospective)):
        print(f"  {label + ' exact':<20}{ratio.right:>4}/{ratio.total:<4} {ratio.value:.3f}")
        out[label] = {"right": ratio.right, "total": ratio.total, "value": ratio.value}
    return out


def groups(cases: list[Case], run: int = 16) -> list[list[Case]]:
    """``cases`` grouped so that two passages sharing a ``run``-character string are in one group."""
    parent = list(range(len(cases)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, case in enumerate(cases):
        for k in range(len(case.text) - run + 1):
            j = first.setdefault(case.text[k:k + run], i)
            if j != i:
                parent[root(i)] = root(j)
    out: dict[int, list[Case]] = {}
    for i, case in enumerate(cases):
        out.setdefault(root(i), []).append(case)
    return list(out.values())


def folds(cases: list[Case], k: int, seed: int) -> list[list[Case]]:
    """``cases`` dealt into ``k`` folds by group (largest groups first, each to the smallest fold),
    groups of one size in an order shuffled by ``seed``."""
    import random

    grouped = sorted(groups(cases), key=lambda g: g[0].id)
    random.Random(seed).shuffle(grouped)
    out: list[list[Case]] = [[] for _ in range(k)]
    for group in sorted(grouped, key=len, reverse=True):  # (stable: the shuffle orders equal sizes)
        min(out, key=len).extend(group)
    return out


def cross_validate(cases: list[Case], k: int, seed: int, **settings: float) -> dict[str, Score]:
    """Scores summed over ``k`` held-out folds: the rules alone, and the rules with a signing check
    fitted on the other folds."""
    from bench.signing_model import examples, train

    totals = {"rules": Score(), "check": Score()}
    parts = folds(cases, k, seed)
    rules = load_rules()
    for i, held in enumerate(parts):
        fitted = train(examples([c for j, p in enumerate(parts) if j != i for c in p], rules), **settings)
        for name, model in (("rules", None), ("check", fitted)):
            def detect(text: str, *, title: str = "", region_hint: str = "", published: date | None = None,
                       model: SigningModel | None = model) -> list:  # type: ignore[type-arg]
                return detect_events(text, title=title, region_hint=region_hint, published=published,
                                     rules=rules, signing_check=model)
            _add(totals[name], score(held, detect))
    return totals


def _add(total: Score, part: Score) -> None:
    for etype in EVENT_TYPES:
        for attr in ("tp", "fp", "fn"):
            setattr(total.types[etype], attr, getattr(total.types[etype], attr) + getattr(part.types[etype], attr))
    for attr in ("amount", "count", "growth", "subtype", "region", "stage", "retrospective"):
        mine, theirs = getattr(total, attr), getattr(part, attr)
        mine.right += theirs.right
        mine.total += theirs.total
    total.errors.extend(part.errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=REPO / "tests" / "data" / "events")
    parser.add_argument("--rules", type=Path, nargs="*", default=[], help="user rule files to merge")
    parser.add_argument("--errors", action="store_true", help="list every miss and spurious event of the dev set")
    parser.add_argument("--audit-errors", action="store_true",
                        help="also list the audit set's: a case read this way moves to the dev set")
    parser.add_argument("--dev-only", action="store_true",
                        help="print the dev set's figures only, not the audit set's (for working runs)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--folds", type=int, default=0,
                        help="cross-validate the signing check over the dev passages in K folds (dev only)")
    parser.add_argument("--seed", type=int, default=20261207, help="how the folds are dealt")
    args = parser.parse_args(argv)

    if args.folds:
        dev_cases, _ = split_audit(load_cases(args.dir))
        print(f"{args.folds}-fold cross-validation over {len(dev_cases)} dev passages "
              f"({len(groups(dev_cases))} groups), seed {args.seed}")
        cv = cross_validate(dev_cases, args.folds, args.seed)
        results_cv = {name: _report(f"held-out folds, {label}", dev_cases, s) for name, label, s in (
            ("rules", "rules alone", cv["rules"]), ("check", "rules + signing check fitted on the other folds",
                                                      cv["check"]))}
        if args.errors:
            print("\nerrors, held-out folds with the check:")
            for line in cv["check"].errors:
                print("  " + line)
        if args.json:
            args.json.write_text(json.dumps(results_cv, ensure_ascii=False, indent=2), encoding="utf-8")
        return 0

    cases = load_cases(args.dir)
    rules = load_rules(args.rules)

    def detect(text: str, *, title: str = "", region_hint: str = "",
               published: date | None = None) -> list:  # type: ignore[type-arg]
        return detect_events(text, title=title, region_hint=region_hint, published=published, rules=rules)

    results: dict[str, object] = {}
    dev, audit = split_audit(cases)
    if args.dev_only:
        audit, cases = [], dev
    everything = score(dev, detect)
    results["all"] = _report("dev set, all cases", dev, everything)
    real = [c for c in dev if not c.synthetic]
    results["real"] = _report("dev set, real passages only", real, score(real, detect))
    first_dev = [c for c in dev if not c.drawn]
    results["first_dev"] = _report("dev set, first part (seeds, cwced, synthetic)", first_dev, score(first_dev, detect))
    drawn_dev = [c for c in dev if c.drawn]
    if drawn_dev:
        results["drawn_dev"] = _report("dev set, drawn part (FewFC and GNE passages)", drawn_dev,
                                       score(drawn_dev, detect))
    synthetic = [c for c in dev if c.synthetic]
    if synthetic:
        results["synthetic"] = _report("dev set, synthetic negatives only", synthetic, score(synthetic, detect))
    drawn = [c for c in audit if c.drawn]
    earlier = [c for c in audit if not c.drawn]
    audited = score(drawn, detect)
    if drawn:
        results["audit"] = _report("AUDIT set, drawn (blind labels, never read while changing a rule)",
                                   drawn, audited)
        first = [c for c in drawn if c.file == "audit_drawn.yaml"]
        if len(first) < len(drawn):
            results["audit_first"] = _report("  of it, the first draw (audit_drawn.yaml)", first, score(first, detect))
            second = [c for c in drawn if c.file != "audit_drawn.yaml"]
            results["audit_second"] = _report("  of it, the second draw (audit_drawn2.yaml)", second,
                                              score(second, detect))
    if earlier:
        results["audit_earlier"] = _report(
            "earlier audit set (cwced + seeds; its misses were read once, so it is no longer blind)",
            earlier, score(earlier, detect))
    speed = _speed(cases, args.rules)
    results["passages_per_second"] = speed
    print(f"\nspeed: {speed:,.0f} passages/s ({len(cases)} passages, best of 3)")
    if args.errors:
        shown = [("dev set", everything.errors)] + ([("audit set", audited.errors)] if args.audit_errors else [])
        for name, errors in shown:
            if errors:
                print(f"\nerrors, {name}:")
                for line in errors:
                    print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
