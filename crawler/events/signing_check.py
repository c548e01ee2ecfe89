"""The learned signing check: which sentences that may report a signing do report one.

The hand-written signing rules (``rules.yaml``) decide on a few words: a public party or an
investment project somewhere in the sentence, no share deal or purchase anywhere in it.  On
company news that is too brittle both ways.  Here a looser reading of the same rules
(``signing_loose.yaml`` merged over them) proposes every sentence that may report a signing,
and a logistic model over what the rule contexts find in it (in the trigger's clause or
elsewhere in the sentence), the proposing rule and the figures stated, decides.  An accepted
sentence keeps the events the strict rules found in it, or else the loose reading's.

The check is off unless a model is passed (``detect_events(..., signing_check=model)``): over
the labelled dev passages, cross-validated (``bench/events.py --folds 5``), it does not beat the
rules, which were written while reading those passages (docs/benchmarks.md has the figures).
``bench/signing_model.py`` fits a model from the dev passages and writes it as JSON;
:meth:`SigningModel.load` reads it back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from crawler.events.candidates import Candidate, CandidateFinder
from crawler.events.rulefile import merged_rules
from crawler.events.rules import RuleSet, load_rules
from crawler.events.segment import Document

__all__ = ["LOOSE_RULES", "Proposal", "SigningModel", "check_signings", "features", "proposals"]

LOOSE_RULES = Path(__file__).with_name("signing_loose.yaml")

# Words without which no sentence is proposed (the loose rules' triggers all hold one).
_SIGNING_WORDS = re.compile(r"签|落户|落地|引进|入驻|达成")

# Rule contexts (rules.yaml) whose presence the model weighs rather than obeys.
FLAG_CONTEXTS = (
    "public_party", "investment_project", "company", "investment", "finance", "property", "deals",
    "personal", "treaty", "works", "research", "charity", "signing_mention", "attendance", "gatherings",
    "plan", "negation", "hukou", "routine", "future_after", "purpose_after", "duration", "transport",
    "incentive",
)


@dataclass(frozen=True)
class SigningModel:
    """A logistic model: ``P(signing) = σ(bias + Σ weights[f])`` over a sentence's features.

    ``threshold`` is the probability at and above which a proposed sentence is accepted.
    """

    weights: Mapping[str, float]
    bias: float
    threshold: float = 0.5

    def probability(self, feats: Iterable[str]) -> float:
        """The model's probability that the sentence with these features reports a signing."""
        z = self.bias + sum(self.weights.get(f, 0.0) for f in set(feats))
        return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form, weights sorted for stable files."""
        return {"bias": self.bias, "threshold": self.threshold,
                "weights": {k: round(v, 5) for k, v in sorted(self.weights.items()) if round(v, 5)}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SigningModel:
        """The model :meth:`to_json` wrote."""
        return cls(weights=dict(data["weights"]), bias=float(data["bias"]),
                   threshold=float(data.get("threshold", 0.5)))

    def save(self, path: Path) -> None:
        """Write the model to ``path`` as JSON."""
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=0, sort_keys=True) + "\n",
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SigningModel:
        """The model :meth:`save` wrote to ``path``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=16)
def loose_rules(rules: RuleSet) -> RuleSet:
    """``rules`` with the loose signing reading merged over it."""
    return load_rules([Path(p) for p in rules.sources[1:]] + [LOOSE_RULES])


def _expand(patterns: Sequence[Any], contexts: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for p in patterns:
        if isinstance(p, str) and p.startswith("@"):
            out.extend(_expand(contexts[p[1:]], contexts))
        else:
            out.append(str(p))
    return out


@lru_cache(maxsize=16)
def _flags(sources: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    contexts = merged_rules(sources[1:]).get("contexts", {})
    return tuple((name, re.compile("|".join(f"(?:{p})" for p in _expand(contexts[name], contexts))))
                 for name in FLAG_CONTEXTS if name in contexts)


def features(cand: Candidate, rules: RuleSet) -> list[str]:
    """The features of the sentence ``cand`` was proposed from: the loose rule that proposed it,
    its subtype, whether it states an amount, a project count, whether it refers back, and which
    rule contexts (:data:`FLAG_CONTEXTS`) match in the trigger's clause or elsewhere in the sentence.

    Nothing here says whether the strict rules fired: they were written while reading the very
    passages the model learns from, where they find nearly every signing, so a model told of them
    learns to trust them and nothing else.  Nor are there character n-grams: with some seventy
    signings to learn from they fitted the passages, not the language (cross-validated F1 0.80
    against 0.89 without them).
    """
    text = cand.sentence.text
    clause = text[cand.clause[0]:cand.clause[1]]
    ev = cand.event
    out = {"rule:" + cand.hit.rule.id, "sub:" + ev.subtype}
    if ev.amount is not None:
        out.add("amount")
    if ev.project_count is not None:
        out.add("count")
    if cand.mention:
        out.add("mention")
    for name, pattern in _flags(rules.sources):
        if pattern.search(clause):
            out.add("cx:" + name)
        elif pattern.search(text):
            out.add("sx:" + name)
    return sorted(out)


@dataclass
class Proposal:
    """One sentence that may report a signing: the events to keep if it does, and its features."""

    start: int  # the sentence's offset in the text
    events: list[Candidate]
    strict: bool  # the strict rules found a signing in it
    features: list[str]


def proposals(text: str, kept: Sequence[Candidate], rules: RuleSet) -> list[Proposal]:
    """The sentences of ``text`` that may report a signing, given ``kept``, the strict rules'
    merged candidates for the same text."""
    strict: dict[int, list[Candidate]] = {}
    for c in kept:
        if c.event.type == "signing":
            strict.setdefault(c.sentence.start, []).append(c)
    loose: dict[int, list[Candidate]] = {}
    if _SIGNING_WORDS.search(text):
        lrs = loose_rules(rules)
        finder = CandidateFinder(lrs)
        doc = Document(text, lrs)
        cands = [c for s in doc.triggerable() for c in finder.sentence_candidates(s, doc)
                 if c.event.type == "signing"]
        for c in finder.merge(cands):
            loose.setdefault(c.sentence.start, []).append(c)
    out: list[Proposal] = []
    for start in sorted(set(strict) | set(loose)):
        found = strict.get(start)
        events = found or loose[start]
        # the loose reading's candidate describes the sentence the same way whether or not the
        # strict rules fired
        described = loose.get(start, events)[0]
        out.append(Proposal(start, events, bool(found), features(described, rules)))
    return out


def check_signings(text: str, kept: list[Candidate], rules: RuleSet, model: SigningModel) -> list[Candidate]:
    """``kept`` with its signings replaced by those of the proposed sentences ``model`` accepts."""
    accepted = [c for p in proposals(text, kept, rules)
                if model.probability(p.features) >= model.threshold for c in p.events]
    others = [c for c in kept if c.event.type != "signing"]
    return sorted(others + accepted, key=lambda c: (c.sentence.start, c.hit.start))
