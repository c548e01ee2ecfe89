"""Sentences, clauses and plan sections of a text, with offsets into it.

The detector reads sentence by sentence (evidence is a sentence) and clause by clause (negative
contexts and figures stay inside a clause); government work reports switch to "plan" mode after a
heading like ``2022年工作安排``, where statements are targets rather than facts.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property

from crawler.events.prefilter import any_within
from crawler.events.rules import RuleSet

__all__ = ["Document", "Sentence", "clause_bounds"]

_NEWLINE = re.compile("\n")


@dataclass(frozen=True)
class Sentence:
    """A sentence of the document: ``text == document[start:end]``, whitespace trimmed."""

    index: int
    start: int
    end: int
    text: str
    paragraph: int


def clause_bounds(text: str, pos: int, rules: RuleSet) -> tuple[int, int]:
    """Start and end (within ``text``) of the clause holding position ``pos``."""
    start = 0
    for m in rules.clause_break.finditer(text, 0, pos):
        start = m.end()
    after = rules.clause_break.search(text, pos)
    return start, (after.start() if after else len(text))


def _split_long(text: str, start: int, end: int, rules: RuleSet) -> list[tuple[int, int]]:
    """Cut [start, end) at clause breaks into pieces of at most ``max_sentence`` characters."""
    limit = rules.max_sentence
    if limit <= 0 or end - start <= limit:
        return [(start, end)]
    pieces = []
    piece_start = last_break = start
    for m in rules.clause_break.finditer(text, start, end):
        if m.end() - piece_start > limit and last_break > piece_start:
            pieces.append((piece_start, last_break))
            piece_start = last_break
        last_break = m.end()
    pieces.append((piece_start, end))
    return pieces


class Document:
    """A text split into sentences, with its plan sections marked."""

    def __init__(self, text: str, rules: RuleSet) -> None:
        self.text = text
        self.rules = rules
        self._trigger_spans = rules.trigger_filter.spans(text)

    @cached_property
    def sentences(self) -> list[Sentence]:
        """Every sentence, in order (split when first asked: see :meth:`triggerable`)."""
        text, rules = self.text, self.rules
        sentences: list[Sentence] = []
        newlines = [m.start() for m in _NEWLINE.finditer(text)]
        pos = 0
        bounds: list[tuple[int, int]] = []
        for m in rules.sentence_end.finditer(text):
            bounds.append((pos, m.end()))
            pos = m.end()
        if pos < len(text):
            bounds.append((pos, len(text)))
        for raw_start, raw_end in bounds:
            for s, e in _split_long(text, raw_start, raw_end, rules):
                piece = text[s:e]
                stripped = piece.strip()
                if not stripped:
                    continue
                lead = len(piece) - len(piece.lstrip())
                s2 = s + lead
                e2 = s2 + len(stripped)
                sentences.append(Sentence(
                    index=len(sentences), start=s2, end=e2, text=stripped,
                    paragraph=bisect.bisect_right(newlines, s2),
                ))
        return sentences

    def triggerable(self) -> list[Sentence]:
        """The sentences in which some trigger may match (:meth:`may_trigger`). A text holding
        none of the triggers' literals (about half the articles) is not split at all."""
        if self._trigger_spans == []:  # None: the filter knows no literals, anything may match
            return []
        return [s for s in self.sentences if self.may_trigger(s)]

    @property
    def prefiltered(self) -> bool:
        """Whether :meth:`may_trigger` rules sentences out (the rules' triggers have literals)."""
        return self._trigger_spans is not None

    def may_trigger(self, sentence: Sentence) -> bool:
        """False when no rule's trigger can match in ``sentence`` (none of the literals every
        trigger holds is in it): most sentences are ruled out without running the triggers."""
        return any_within(self._trigger_spans, sentence.start, sentence.end)

    @cached_property
    def _plan_marks(self) -> list[tuple[int, bool]]:
        # found when first asked: only a sentence whose trigger fired asks, and most texts have
        # none, while the three heading patterns scan the whole text
        marks: list[tuple[int, bool]] = []
        for m in self.rules.plan_start.finditer(self.text):
            marks.append((m.start(), True))
        for m in self.rules.plan_end.finditer(self.text):
            marks.append((m.start(), False))
        for m in self.rules.reset_line.finditer(self.text):
            marks.append((m.start(), False))
        marks.sort()
        return marks

    def in_plan(self, pos: int) -> bool:
        """Whether ``pos`` lies in a section of targets (after 2022年工作安排, before a review)."""
        if not self._plan_marks:
            return False
        i = bisect.bisect_right(self._plan_marks, (pos, True)) - 1
        return i >= 0 and self._plan_marks[i][1]
