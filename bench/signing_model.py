"""Fit the learned signing check's model (crawler/events/signing_check.py) to the dev passages.

Usage::

    python bench/signing_model.py --out FILE [--dir PATH]

Every labelled dev passage (``tests/data/events``, the audit files left out) is read with the strict
rules and with the loose signing reading (``crawler/events/signing_loose.yaml``); each sentence either
proposes is an example.  Its label comes from the passage's labels: the proposed sentences are paired
with the passage's gold signings as ``crawler/events/evaluate.py`` pairs predictions (same subtype and
figures first), and a paired sentence is a signing.  The model is an L2-regularised logistic
regression over the features of ``crawler.events.signing_check.features``, fitted by full-batch
gradient descent (numpy, deterministic).  ``bench/events.py --folds K`` cross-validates the same
procedure.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crawler.events.candidates import CandidateFinder  # noqa: E402
from crawler.events.evaluate import Case, _pair_score, load_cases, split_audit  # noqa: E402
from crawler.events.rules import RuleSet, load_rules  # noqa: E402
from crawler.events.segment import Document  # noqa: E402
from crawler.events.signing_check import SigningModel, proposals  # noqa: E402

# Fitting settings, chosen by cross-validation (bench/events.py --folds 5) over a small grid.
L2 = 0.003
MIN_COUNT = 2  # a feature seen in fewer training sentences is dropped
POSITIVE_WEIGHT = 1.0
THRESHOLD = 0.4
ITERATIONS = 400

Example = tuple[list[str], int]


def examples(cases: Sequence[Case], rules: RuleSet | None = None) -> list[Example]:
    """The proposed sentences of ``cases`` with their features and labels (1: a signing)."""
    rs = rules or load_rules()
    finder = CandidateFinder(rs)
    out: list[Example] = []
    for case in cases:
        doc = Document(case.text, rs)
        kept = finder.merge([c for s in doc.triggerable() for c in finder.sentence_candidates(s, doc)])
        props = proposals(case.text, kept, rs)
        golds = [g for g in case.events if g.type == "signing"]
        pairs = sorted(((max(_pair_score(g, c.event) for c in p.events), i, j)
                        for i, g in enumerate(golds) for j, p in enumerate(props)), reverse=True)
        used_g: set[int] = set()
        positive: set[int] = set()
        for _, i, j in pairs:
            if i not in used_g and j not in positive:
                used_g.add(i)
                positive.add(j)
        out.extend((p.features, int(j in positive)) for j, p in enumerate(props))
    return out


def train(data: Sequence[Example], *, l2: float = L2, min_count: int = MIN_COUNT,
          positive_weight: float = POSITIVE_WEIGHT, threshold: float = THRESHOLD,
          iterations: int = ITERATIONS) -> SigningModel:
    """A logistic model fitted to ``data``; deterministic."""
    counts = Counter(f for feats, _ in data for f in set(feats))
    vocab = sorted(f for f, n in counts.items() if n >= min_count)
    index = {f: i for i, f in enumerate(vocab)}
    rows = [[index[f] for f in set(feats) if f in index] for feats, _ in data]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    flat = np.array([i for r in rows for i in r], dtype=np.int64)
    row_of = np.repeat(np.arange(len(rows)), lengths)
    y = np.array([label for _, label in data], dtype=np.float64)
    sample_weight = np.where(y > 0, positive_weight, 1.0)
    sample_weight /= sample_weight.sum()
    w = np.zeros(len(vocab))
    b = 0.0
    # Adagrad on the mean weighted log loss plus (l2 / 2)·|w|²: convex, so the result does not
    # depend on the start; the step sizes only decide how fast it gets there
    gw = np.full(len(vocab), 1e-8)
    gb = 1e-8
    rate = 0.5
    for _ in range(iterations):
        z = b + np.bincount(row_of, weights=w[flat], minlength=len(rows))
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        err = (p - y) * sample_weight
        grad_w = np.bincount(flat, weights=err[row_of], minlength=len(vocab)) + l2 * w
        grad_b = float(err.sum())
        gw += grad_w ** 2
        gb += grad_b ** 2
        w -= rate * grad_w / np.sqrt(gw)
        b -= rate * grad_b / np.sqrt(gb)
    return SigningModel(weights={f: float(v) for f, v in zip(vocab, w, strict=True)}, bias=b, threshold=threshold)


def dev_cases(directory: Path) -> list[Case]:
    """The dev passages of ``directory`` (the audit files are left out)."""
    dev, _ = split_audit(load_cases(directory))
    return dev


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=REPO / "tests" / "data" / "events")
    parser.add_argument("--out", type=Path, required=True, help="where to write the model (JSON)")
    args = parser.parse_args(argv)
    data = examples(dev_cases(args.dir))
    model = train(data)
    model.save(args.out)
    positives = sum(label for _, label in data)
    print(f"{len(data)} proposed sentences ({positives} signings), {len(model.to_json()['weights'])} "
          f"weights -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
