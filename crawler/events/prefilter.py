"""A cheap test that rules a text out before the trigger regex runs: required literals.

The trigger alternation of every rule together is a big regular expression, and Python's ``re``
tries each of its branches at every position of every sentence: most of event detection's time
went there, on sentences that hold no trigger at all. Every trigger, though, contains one of a
few dozen plain strings (签约, 落户, 开工, 投产, 进出口 …). :func:`required_literals` reads them
off the parsed pattern, the way RE2 and ripgrep build their prefilters, and
:class:`TriggerFilter` looks for all of them in one Aho–Corasick pass (``ahocorasick_rs``).

The filter only ever says "no match possible" when that is certain; where a pattern holds
nothing it can reason about (an optional-only trigger, a case-insensitive flag, syntax this
module does not know) it derives no literals and every text passes, so user rule files can
never lose a match to it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import AhoCorasick

__all__ = ["TriggerFilter", "any_within", "required_literals", "shortest_literals"]

_CAP = 64  # most strings a set may grow to by concatenation before it is cut
_CLASS_MAX = 16  # a character class of at most this many literal characters is a set of strings


@dataclass(frozen=True)
class _Info:
    """What a piece of pattern matches: exactly one of ``exact`` (when known), else at least one
    of ``need`` somewhere in its match (when known); neither when nothing is known."""

    exact: frozenset[str] | None = None
    need: frozenset[str] | None = None

    def requirement(self) -> frozenset[str] | None:
        found = self.exact if self.exact is not None else self.need
        return found if found and "" not in found else None


_ANY = _Info()
_EMPTY = _Info(exact=frozenset({""}))  # zero-width: anchors and lookarounds consume nothing


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective requirement: longer shortest string, then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    return max((a, b), key=lambda s: (min(map(len, s)), -len(s)))


def _sequence(items: Any, consts: Any) -> _Info:
    exact: frozenset[str] = frozenset({""})  # the run of exactly-known pieces so far
    all_exact = True
    best: frozenset[str] | None = None
    for op, av in items:
        info = _node(op, av, consts)
        if info.exact is not None and len(exact) * len(info.exact) <= _CAP:
            exact = frozenset(a + b for a in exact for b in info.exact)
            continue
        all_exact = False
        best = _better(best, _Info(exact=exact).requirement())
        if info.exact is not None:  # too many combinations: a fresh run starts here
            exact = info.exact
        else:
            exact = frozenset({""})
            best = _better(best, info.requirement())
    if all_exact:
        return _Info(exact=exact)
    best = _better(best, _Info(exact=exact).requirement())
    return _Info(need=best) if best is not None else _ANY


def _node(op: Any, av: Any, c: Any) -> _Info:
    if op is c.LITERAL:
        return _Info(exact=frozenset({chr(av)}))
    if op is c.IN:
        if len(av) <= _CLASS_MAX and all(kind is c.LITERAL for kind, _ in av):
            return _Info(exact=frozenset(chr(code) for _, code in av))
        return _ANY
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, pattern = av
        return _ANY if add_flags & re.IGNORECASE else _sequence(pattern, c)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _sequence(av, c)
    if op is c.BRANCH:
        infos = [_sequence(branch, c) for branch in av[1]]
        exact = [i.exact for i in infos]
        if all(e is not None for e in exact):
            union = frozenset().union(*(e for e in exact if e is not None))
            return _Info(exact=union) if len(union) <= _CAP else _Info(need=union)
        needs = [i.requirement() for i in infos]
        if all(n is not None for n in needs):
            return _Info(need=frozenset().union(*(n for n in needs if n is not None)))
        return _ANY
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, high, pattern = av
        if low == 0:
            return _ANY
        inner = _sequence(pattern, c)
        if low == high == 1:
            return inner
        need = inner.requirement()
        return _Info(need=need) if need is not None else _ANY
    if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
        return _EMPTY
    return _ANY  # any character, a category, a negated literal, a back-reference …


def required_literals(pattern: str) -> frozenset[str] | None:
    """Strings of which every non-empty match of ``pattern`` contains at least one; None when
    the pattern gives no such set (the caller must then run the pattern on every text)."""
    try:
        from re import _constants as consts  # type: ignore[attr-defined]
        from re import _parser as parser  # type: ignore[attr-defined]

        parsed = parser.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return None
        return _sequence(parsed.data, consts).requirement()
    except Exception:  # a Python whose private parser differs: no filter, never a wrong one
        return None


def shortest_literals(literals: frozenset[str] | None) -> tuple[str, ...] | None:
    """``literals`` less those that hold another of them (finding the shorter implies it)."""
    if literals is None:
        return None
    return tuple(sorted(lit for lit in literals if not any(o != lit and o in lit for o in literals)))


class TriggerFilter:
    """Where ``pattern`` may match: :meth:`spans` gives every occurrence of its required
    literals in a text, and a stretch of the text without one cannot hold a non-empty match."""

    def __init__(self, pattern: str) -> None:
        self.literals = required_literals(pattern)
        self._automaton: AhoCorasick | None = None
        if self.literals is not None:
            # a literal holding another is implied by it: only the shorter needs looking for
            self._automaton = AhoCorasick(list(shortest_literals(self.literals) or ()))

    def spans(self, text: str) -> list[tuple[int, int]] | None:
        """(start, end) of every literal occurrence, overlapping ones too, by start; None when
        the pattern has no literals (anything may match anywhere)."""
        if self._automaton is None:
            return None
        return [(start, end) for _, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True)]


def any_within(spans: list[tuple[int, int]] | None, start: int, end: int) -> bool:
    """Whether one of ``spans`` (sorted by start, from :meth:`TriggerFilter.spans`) lies
    wholly inside [start, end); True when ``spans`` is None."""
    if spans is None:
        return True
    i = bisect.bisect_left(spans, (start, start))
    while i < len(spans) and spans[i][0] < end:
        if spans[i][1] <= end:
            return True
        i += 1
    return False
