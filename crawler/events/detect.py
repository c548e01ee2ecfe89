"""The event detector: a pure function from text to signings, openings and trade figures.

``detect_events(text)`` reads ``text`` sentence by sentence.  Each rule of the rule set
(``rules.yaml``) looks for its triggers; a trigger survives when its sentence and clause pass the
rule's required and negative contexts, it is not in a plan section of a work report, and — for
trade — a figure follows it.  Figures (amount, project count, growth) are read from the
trigger's scope.  Then, across sentences:

* an anaphoric or attributive mention ("此次签约…", "开工的项目…") adds its figures to the event
  it refers back to, and is not an event of its own unless it carries figures;
* export/import figures that break down a total (``其中出口…进口…``) are folded into the total;
* the title adds an event only when the body states none of that type.

Granularity: one event per sentence per type and subtype.  Region, period and parties are filled
last, and only for sentences that fired, so cpca is consulted rarely.

The per-sentence and merging steps are :mod:`crawler.events.candidates`; the attributes are
:mod:`crawler.events.attributes`.
"""

from __future__ import annotations

from datetime import date

from crawler.events.attributes import Attributes
from crawler.events.candidates import Candidate, CandidateFinder, fill
from crawler.events.keys import event_key
from crawler.events.model import STAGE_OF_SUBTYPE, Event
from crawler.events.rules import RuleSet, load_rules
from crawler.events.segment import Document
from crawler.events.signing_check import SigningModel, check_signings

__all__ = ["detect_events", "event_key"]


def detect_events(
    text: str, *, title: str = "", region_hint: str = "", published: date | None = None,
    rules: RuleSet | None = None, signing_check: SigningModel | None = None,
) -> list[Event]:
    """The signings, openings and trade figures ``text`` states, in order of appearance.

    Pure and deterministic.  ``title`` adds an event only when the body states none of its type
    (its evidence is then the title, with ``start == end == 0``); ``region_hint`` (the source's
    region, e.g. "湖北省鄂州市") is used when the text names no place.  Evidence offsets index
    ``text``: ``text[event.start:event.end] == event.evidence``.  With ``published`` (the
    article's date), an event whose period ended more than ``retrospective_months`` before it is
    marked ``retrospective``.

    With ``signing_check``, a model of the learned signing check
    (:mod:`crawler.events.signing_check`), it decides which sentences report signings; without
    it (the default) the rules alone decide.
    """
    rs = rules or load_rules()
    det = CandidateFinder(rs)
    attrs = Attributes(rs)
    doc = Document(text, rs)
    cands: list[Candidate] = []
    for sentence in doc.triggerable():
        cands.extend(det.sentence_candidates(sentence, doc))
    kept = det.merge(cands)
    model = signing_check
    if model is not None:
        kept = check_signings(text, kept, rs, model)

    if title.strip():
        tdoc = Document(title.strip(), rs)
        tcands = det.merge([c for s in tdoc.triggerable() for c in det.sentence_candidates(s, tdoc)])
        if model is not None:
            tcands = check_signings(title.strip(), tcands, rs, model)
        for tc in tcands:
            same = [k for k in kept if k.event.type == tc.event.type]
            exact = [k for k in same if k.event.subtype == tc.event.subtype]
            if exact:
                fill(exact[0].event, tc.event)
            elif not same:
                tc.in_title = True
                tc.event.start = tc.event.end = 0
                tc.event.evidence = title.strip()
                tc.event.confidence -= 0.1
                kept.append(tc)

    events: list[Event] = []
    for cand in kept:
        ev = cand.event
        if cand.merged_into and not cand.in_title:
            last = cand.merged_into[-1]
            if last.end - ev.start <= 2 * rs.max_sentence:
                ev.end = last.end
                ev.evidence = text[ev.start:ev.end]
        ev.region, ev.region_from = attrs.region(cand, title=title, hint=region_hint, doc_text=text)
        ev.period = attrs.period(cand, doc, title)
        ev.parties = attrs.parties(cand)
        ev.stage = STAGE_OF_SUBTYPE.get(ev.subtype, "")
        ev.retrospective = published is not None and attrs.retrospective(cand, doc, title, published)
        bonus = 0.05 * (ev.amount is not None) + 0.05 * (ev.project_count is not None)
        bonus -= 0.05 * (ev.region_from != "text")
        ev.confidence = round(min(0.99, max(0.05, ev.confidence + bonus)), 2)
        events.append(ev)
    events.sort(key=lambda e: (e.start, e.type, e.subtype))
    return events
