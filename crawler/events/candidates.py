"""Candidate events: the triggers of one sentence that survive their rule's contexts, the figures
in their scope, and the folding of mentions and trade breakdowns into the events they belong to.

:class:`CandidateFinder` holds the per-sentence and cross-sentence steps of
:func:`crawler.events.detect.detect_events`; the attributes filled afterwards (region, period,
parties) are :mod:`crawler.events.attributes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from crawler.events.model import Event
from crawler.events.numbers import Amount, Growth, fold_digits
from crawler.events.regions import find_places
from crawler.events.rules import PLACE_MARK, Rule, RuleSet
from crawler.events.segment import Document, Sentence, clause_bounds

__all__ = ["Candidate", "CandidateFinder", "Hit", "fill"]


# The further values of "增长27.1%、29%".
_LIST_VALUE = re.compile(r"、(\d+(?:\.\d+)?)\s?%?")


@dataclass
class Hit:
    """One rule's trigger match in one sentence."""

    rule: Rule
    start: int  # within the sentence text
    end: int


@dataclass
class Candidate:
    """An event found in one sentence, before cross-sentence merging."""

    event: Event
    sentence: Sentence
    hit: Hit
    clause: tuple[int, int]
    mention: bool
    in_title: bool = False
    merged_into: list[Sentence] = field(default_factory=list)


class CandidateFinder:
    """The steps that find candidate events in a document's sentences and merge them."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.numbers = rules.numbers

    # ---------------------------------------------------------------- per sentence
    def hits(self, sentence: Sentence) -> list[Hit]:
        """Non-overlapping trigger matches; the longer match wins an overlap."""
        found: list[tuple[int, int, Hit]] = []
        text = sentence.text
        for order, rule in enumerate(self.rules.rules):
            literals = rule.trigger_literals
            # a few substring tests rule out most rules' patterns, which Python's regex engine
            # tries at every character: the trigger search was 4 % of preparing a page
            if literals is not None and not any(lit in text for lit in literals):
                continue
            for m in rule.triggers.finditer(text):
                if m.end() > m.start():
                    found.append((m.start() - m.end(), order, Hit(rule, m.start(), m.end())))
        found.sort(key=lambda f: (f[0], f[1]))
        kept: list[Hit] = []
        for _, _, hit in found:
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        return sorted(kept, key=lambda h: h.start)

    def passes(self, hit: Hit, sentence: Sentence, clause: tuple[int, int], doc: Document) -> bool:
        """Whether the trigger survives its rule's contexts and the document's plan sections."""
        rule, text = hit.rule, sentence.text
        clause_text = text[clause[0]:clause[1]]
        before = text[clause[0]:hit.start]
        after = text[hit.end:]
        checks = (
            rule.require_any is None or rule.require_any.search(text) is not None
            or (rule.place_party and self.place_is_party(text)),
            rule.require_clause is None or rule.require_clause.search(clause_text) is not None,
            rule.negative is None or rule.negative.search(clause_text) is None,
            rule.negative_sentence is None or rule.negative_sentence.search(self.own_acts(text, hit)) is None,
            rule.negative_before is None or rule.negative_before.search(before) is None,
            rule.negative_after is None or rule.negative_after.search(after) is None,
        )
        return all(checks) and not doc.in_plan(sentence.start + hit.start)

    def own_acts(self, text: str, hit: Hit) -> str:
        """``text`` up to the first clause after the trigger that states another act of its
        subject (``settings.separate_act``: …签署框架协议，并通过收购…股权…)."""
        for m in self.rules.clause_break.finditer(text, hit.end):
            if self.rules.separate_act.match(text[m.end():]):
                return text[:m.start()]
        return text

    def place_is_party(self, text: str) -> bool:
        """Whether a province or city written as one side of an agreement stands in ``text``
        (腾讯与重庆签署…): the ``regions.place_party`` pattern of the rules, with the place names
        cpca finds put in for ``{place}``."""
        places = [p for p in find_places(text, self.rules) if min(p.ranks) <= 1]
        if not places:
            return False
        parts: list[str] = []
        end = 0
        for place in places:
            if place.start >= end:
                parts.append(text[end:place.start] + PLACE_MARK)
                end = place.end
        marked = "".join(parts) + text[end:]
        return self.rules.place_party.search(marked) is not None

    def is_mention(self, hit: Hit, sentence: Sentence, clause: tuple[int, int]) -> bool:
        """An anaphoric or attributive use: it names an event rather than reporting one."""
        text = sentence.text
        before = text[clause[0]:hit.start]
        after = text[hit.end:]
        if self.rules.anaphora.search(before):
            return True
        attributive = bool(self.rules.attributive_after.search(after)) or (
            bool(self.rules.mention_before.search(before)) and not self.rules.held.search(before)
            and not self.rules.held_after.search(after))
        return attributive and not self.rules.recent.search(text[clause[0]:clause[1]])

    def scope_amount(self, rule: Rule, text: str, lo: int, hi: int, *, skip_attributive: bool = False) -> Amount | None:
        """The first amount in text[lo:hi] labelled as the size of the investment; with
        ``skip_attributive``, not one that describes a noun after it (28亿元的中冶总部基地)."""
        rs = self.rules
        for a in self.numbers.amounts(text[lo:hi]):
            start, end = a.start + lo, a.end + lo
            cstart, _ = clause_bounds(text, start, rs)
            label = text[max(cstart, start - rs.label_window):start]
            after = text[end:]
            if rs.amount_reject_after.search(after) or rs.label_reject.search(label):
                continue
            if skip_attributive and after.startswith("的"):
                continue
            labelled = rule.amount_label is None or rule.amount_label.search(label) is not None
            if labelled or rs.amount_accept_after.search(after):
                return replace(a, start=start, end=end)
        return None

    def scope_count(self, hit: Hit, text: str, lo: int, hi: int) -> int | None:
        """The project count nearest the trigger within text[lo:hi] ("97个项目…开工", "开工178个")."""
        found = [(abs(c.start + lo - hit.start), c.value) for c in self.numbers.counts(text[lo:hi])]
        bare = self.numbers.count_after_trigger(text[hit.end:hi])
        if bare is not None:
            found.append((hit.end - hit.start + bare.start, bare.value))
        return min(found)[1] if found else None

    def adjacent_figures(
        self, hit: Hit, text: str, clause: tuple[int, int], hi: int
    ) -> tuple[Amount | None, float | None]:
        """A trade figure right after its trigger, and the growth rate that goes with it."""
        rs = self.rules
        amount: Amount | None = None
        window = text[hit.end:hi]
        rose = rs.from_to.search(window)
        if rose:  # 由X增加到Y: the figure after 到
            for a in self.numbers.amounts(window[rose.end():]):
                if len(window[rose.end():rose.end() + a.start]) <= rs.gap_max:
                    shift = hit.end + rose.end()
                    amount = replace(a, start=a.start + shift, end=a.end + shift)
                break
        for a in () if amount else self.numbers.amounts(window, labelled=True):
            gap = window[:a.start]
            if len(gap) <= rs.gap_max and not rs.gap_reject.search(gap):
                amount = replace(a, start=a.start + hit.end, end=a.end + hit.end)
            break
        growth: float | None = None
        anchor = amount.end if amount else hit.end
        for g in self.numbers.growths(text[anchor:hi]):
            between = text[anchor:anchor + g.start]
            if amount is not None:
                ok = bool(rs.growth_lead.search(between))
            else:
                ok = len(between) <= rs.gap_max and not rs.gap_reject.search(between)
            if ok:
                growth = g.value
                if rs.distributive.search(between):
                    growth = self.distribute(g, text, clause, hit, anchor)
                if amount is None:
                    amount = self.amount_after_growth(text, anchor + g.end, hi)
            break
        return amount, growth

    def amount_after_growth(self, text: str, start: int, hi: int) -> Amount | None:
        """"进出口额同比增长12%，达到500亿元": the amount stated after the growth rate."""
        for a in self.numbers.amounts(text[start:hi]):
            if self.rules.amount_after_growth.search(text[start:start + a.start]):
                return replace(a, start=a.start + start, end=a.end + start)
            break
        return None

    def distribute(self, g: Growth, text: str, clause: tuple[int, int], hit: Hit, anchor: int) -> float:
        """"A、B分别增长x%、y%": the value standing at the trigger's place in the list."""
        items = text[clause[0]:hit.end].split("、")
        index = len(items) - 1
        values = [g.value]
        rest = fold_digits(text[anchor + g.end:])
        pos = 0
        while (m := _LIST_VALUE.match(rest, pos)) is not None:
            values.append(float(m.group(1)) * (1 if g.value >= 0 else -1))
            pos = m.end()
        return values[index] if len(values) == len(items) else g.value

    def sentence_candidates(self, sentence: Sentence, doc: Document) -> list[Candidate]:
        """Events of one sentence, one per type and subtype (callers pass ``doc.triggerable()``
        sentences: the others cannot hold a trigger)."""
        # Where the literal prefilter found a trigger's literal, the union of every trigger
        # matches nearly always, and cost more than the rules' own patterns below (hits) that
        # decide anyway; without a prefilter it still rules most sentences out at once.
        if not doc.prefiltered and not self.rules.any_trigger.search(sentence.text):
            return []
        text = sentence.text
        live = []
        for hit in self.hits(sentence):
            clause = clause_bounds(text, hit.start, self.rules)
            if self.passes(hit, sentence, clause, doc):
                live.append((hit, clause))
        out: dict[tuple[str, str], Candidate] = {}
        for i, (hit, clause) in enumerate(live):
            # a trigger's figures lie between the previous and the next live trigger
            lo = max(clause[0], live[i - 1][0].end if i else 0)
            hi = live[i + 1][0].start if i + 1 < len(live) else len(text)
            cand = self.candidate(hit, sentence, clause, lo, hi)
            if cand is None:
                continue
            key = (cand.event.type, cand.event.subtype)
            if key in out:
                fill(out[key].event, cand.event)
                out[key].mention = out[key].mention and cand.mention
            else:
                out[key] = cand
        for pair, found in list(out.items()) if len(out) > 1 else ():
            # 签约仪式 beside 签署…协议 in one sentence is one signing: the yielding trigger's figures
            # go to the other event
            rule = found.hit.rule
            if rule.yields and found.event.subtype == rule.subtype:
                # (to any other event of the type that is not a plain yielding one: 项目签约仪式举行，
                # 共签约项目8个 is one aggregate)
                other = next((c for k, c in out.items() if k != pair and k[0] == pair[0]
                              and not (c.hit.rule.yields and c.event.subtype == c.hit.rule.subtype)), None)
                if other is not None:
                    fill(other.event, found.event)
                    del out[pair]
        return sorted(out.values(), key=lambda c: c.hit.start)

    def candidate(
        self, hit: Hit, sentence: Sentence, clause: tuple[int, int], lo: int, hi: int
    ) -> Candidate | None:
        """The event one surviving trigger states, or None when its rule wants figures it lacks."""
        rule, text = hit.rule, sentence.text
        amount: Amount | None = None
        growth: float | None = None
        count: int | None = None
        if rule.figures == "adjacent":
            amount, growth = self.adjacent_figures(hit, text, clause, hi)
        else:
            count = self.scope_count(hit, text, lo, hi)
            # an aggregate's size is its total, not the size of one project it lists
            # ("总投资28亿元的中冶总部基地等50个项目签约，计划总投资337亿元")
            listed = count is not None and count >= 2
            amount = self.scope_amount(rule, text, lo, hi, skip_attributive=listed)
            if amount is None and self.rules.elided_subject.search(text[clause[0]:hit.start]):
                prev = clause_bounds(text, max(0, clause[0] - 2), self.rules)
                if prev[0] < clause[0]:
                    amount = self.scope_amount(rule, text, prev[0], clause[0], skip_attributive=listed)
            for g in self.numbers.growths(text[clause[0]:clause[1]]):
                growth = g.value
                break
        if rule.requires_figure and amount is None and growth is None:
            return None
        if rule.requires_count and count is None:
            return None
        if amount is None and count is None and self.rules.vague_subject.search(text[clause[0]:hit.start]):
            return None  # 多地项目相继开建: no particular project, no figure
        subtype = rule.count_subtype if count is not None and count >= 2 else rule.subtype
        event = Event(
            type=rule.type, subtype=subtype,
            amount_text=amount.text if amount else "",
            amount=amount.amount if amount else None,
            currency=amount.currency if amount else "",
            amount_cny=amount.as_yuan if amount else None,
            qualifier=amount.qualifier if amount else "",
            project_count=count, growth_pct=growth,
            evidence=text, start=sentence.start, end=sentence.end,
            confidence=rule.confidence, rule=rule.id,
        )
        return Candidate(event, sentence, hit, clause, self.is_mention(hit, sentence, clause))

    # ---------------------------------------------------------------- across sentences
    def merge(self, cands: list[Candidate]) -> list[Candidate]:
        """Fold mentions into the events they refer to and trade breakdowns into their totals."""
        kept: list[Candidate] = []
        window = self.rules.anaphora_window
        for cand in cands:
            ev = cand.event
            if ev.type == "trade":
                total = self._breakdown_of(cand, kept)
                if total is not None:
                    total.event.details.append(_detail(cand))
                    continue
            if cand.mention:
                antecedent = next(
                    (k for k in reversed(kept)
                     if k.event.type == ev.type and k.event.subtype == ev.subtype
                     and 0 <= cand.sentence.index - k.sentence.index <= window),
                    None,
                )
                if antecedent is not None:
                    added = fill(antecedent.event, ev)
                    if added and cand.sentence.index == antecedent.sentence.index + 1:
                        antecedent.merged_into.append(cand.sentence)
                    continue
                if ev.amount is None and ev.project_count is None:
                    continue
                ev.confidence -= 0.15
            kept.append(cand)
        return kept

    def _breakdown_of(self, cand: Candidate, kept: list[Candidate]) -> Candidate | None:
        """The headline total that ``cand``, a trade figure, breaks down, if any.

        An export, import or balance figure stated after a total of the same paragraph (or just
        after it) is part of that release (其中出口…；进口…；贸易顺差…); so is any figure for a
        partner, an enterprise type, a product or a single month stated after a total anywhere
        in the document (对东盟出口…, 民营企业进出口…, 机电产品出口…, 10月份进出口…).
        """
        text = cand.sentence.text
        # the sentence up to the trigger's middle: 对美出口 holds its part in the trigger's clause,
        # "10月份，全市进出口…" in a clause before it
        clause_lead = text[:cand.hit.start + (cand.hit.end - cand.hit.start) // 2]
        part = bool(self.rules.breakdown_part.search(clause_lead))
        for k in reversed(kept):
            if k.event.type != "trade" or k.event.subtype != "total" or k is cand:
                continue
            if part:
                return k
            if cand.event.subtype == "total":
                continue
            distance = cand.sentence.index - k.sentence.index
            same_paragraph = k.sentence.paragraph == cand.sentence.paragraph
            marked = distance <= 4 and bool(self.rules.breakdown.search(text))
            if same_paragraph or 0 <= distance <= 2 or marked:
                return k
        return None


def fill(target: Event, source: Event) -> bool:
    """Copy the figures ``target`` lacks from ``source``; whether anything was copied."""
    added = False
    if target.amount is None and source.amount is not None:
        target.amount, target.amount_text = source.amount, source.amount_text
        target.currency, target.amount_cny, target.qualifier = source.currency, source.amount_cny, source.qualifier
        added = True
    if target.project_count is None and source.project_count is not None:
        target.project_count = source.project_count
        added = True
    if target.growth_pct is None and source.growth_pct is not None:
        target.growth_pct = source.growth_pct
        added = True
    return added


def _detail(cand: Candidate) -> dict[str, object]:
    """A breakdown figure as kept on its release's headline event."""
    ev = cand.event
    return {"evidence": cand.sentence.text, "subtype": ev.subtype, "amount": ev.amount,
            "currency": ev.currency, "growth_pct": ev.growth_pct}
