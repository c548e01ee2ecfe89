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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from crawler.events.keys import event_key
from crawler.events.model import STAGE_OF_SUBTYPE, Event, RegionFrom
from crawler.events.numbers import Amount, Growth, fold_digits
from crawler.events.regions import Place, coarsen, find_places, region_name, resolve_region
from crawler.events.rules import Rule, RuleSet, load_rules
from crawler.events.segment import Document, Sentence, clause_bounds

__all__ = ["detect_events", "event_key"]

# Organisations named as parties: a name of 2–20 characters ending in one of these.
_ORG = re.compile(
    r"[\u4e00-\u9fa5A-Za-z0-9·（）()]{2,20}?(?:股份有限公司|有限责任公司|有限公司|集团|公司|银行|人民政府|"
    r"管委会|管理委员会|大学|研究院)"
)
# Words that open a clause before a party's name ("由某集团", "2023年3月5日上午，").
_PARTY_LEAD = re.compile(
    r"^(?:由|经|在|会上|期间)?[，,\s]*(?:\d{4}年)?(?:\d{1,2}月)?(?:\d{1,2}日)?(?:上午|下午|晚)?[，,\s]*"
    r"(?:近日|日前|当天|今天|昨天)?[，,\s]*"
)
# "A与B签署…": the two sides of a signing.
_PARTY_PAIR = re.compile(
    r"(?P<a>[^，。；,;、与和同跟]{2,30}?)(?:与|和|同|跟)(?P<b>[^，。；,;]{2,30}?)"
    r"(?=签|举行|就|正式|项目|在|的|合资|共同)"
)
_PERIOD_NORMAL = (
    (re.compile(r"^(?:今|去|上)年"), ""),
    (re.compile(r"第(?=[一二三四1-4]季度)"), ""),
    (re.compile(r"\s*[—–~～至到]\s*"), "-"),
    (re.compile(r"前(\d{1,2})个?月"), r"1-\1月"),  # 前5个月 → 1-5月
    (re.compile(r"月份$"), "月"),
)
_QUARTER_DIGIT = str.maketrans("1234", "一二三四")
# The further values of "增长27.1%、29%".
_LIST_VALUE = re.compile(r"、(\d+(?:\.\d+)?)\s?%?")


@dataclass
class _Hit:
    rule: Rule
    start: int  # within the sentence text
    end: int


@dataclass
class _Candidate:
    """An event found in one sentence, before cross-sentence merging."""

    event: Event
    sentence: Sentence
    hit: _Hit
    clause: tuple[int, int]
    mention: bool
    in_title: bool = False
    merged_into: list[Sentence] = field(default_factory=list)


class _Detector:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.numbers = rules.numbers

    # ---------------------------------------------------------------- per sentence
    def hits(self, sentence: Sentence) -> list[_Hit]:
        """Non-overlapping trigger matches; the longer match wins an overlap."""
        found: list[tuple[int, int, _Hit]] = []
        text = sentence.text
        for order, rule in enumerate(self.rules.rules):
            literals = rule.trigger_literals
            # a few substring tests rule out most rules' patterns, which Python's regex engine
            # tries at every character: the trigger search was 4 % of preparing a page
            if literals is not None and not any(lit in text for lit in literals):
                continue
            for m in rule.triggers.finditer(text):
                if m.end() > m.start():
                    found.append((m.start() - m.end(), order, _Hit(rule, m.start(), m.end())))
        found.sort(key=lambda f: (f[0], f[1]))
        kept: list[_Hit] = []
        for _, _, hit in found:
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        return sorted(kept, key=lambda h: h.start)

    def passes(self, hit: _Hit, sentence: Sentence, clause: tuple[int, int], doc: Document) -> bool:
        """Whether the trigger survives its rule's contexts and the document's plan sections."""
        rule, text = hit.rule, sentence.text
        clause_text = text[clause[0]:clause[1]]
        before = text[clause[0]:hit.start]
        after = text[hit.end:]
        checks = (
            rule.require_any is None or rule.require_any.search(text) is not None,
            rule.require_clause is None or rule.require_clause.search(clause_text) is not None,
            rule.negative is None or rule.negative.search(clause_text) is None,
            rule.negative_sentence is None or rule.negative_sentence.search(text) is None,
            rule.negative_before is None or rule.negative_before.search(before) is None,
            rule.negative_after is None or rule.negative_after.search(after) is None,
        )
        return all(checks) and not doc.in_plan(sentence.start + hit.start)

    def is_mention(self, hit: _Hit, sentence: Sentence, clause: tuple[int, int]) -> bool:
        """An anaphoric or attributive use: it names an event rather than reporting one."""
        text = sentence.text
        before = text[clause[0]:hit.start]
        after = text[hit.end:]
        if self.rules.anaphora.search(before):
            return True
        attributive = bool(self.rules.attributive_after.search(after)) or bool(
            self.rules.mention_before.search(before))
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

    def scope_count(self, hit: _Hit, text: str, lo: int, hi: int) -> int | None:
        """The project count nearest the trigger within text[lo:hi] ("97个项目…开工", "开工178个")."""
        found = [(abs(c.start + lo - hit.start), c.value) for c in self.numbers.counts(text[lo:hi])]
        bare = self.numbers.count_after_trigger(text[hit.end:hi])
        if bare is not None:
            found.append((hit.end - hit.start + bare.start, bare.value))
        return min(found)[1] if found else None

    def adjacent_figures(
        self, hit: _Hit, text: str, clause: tuple[int, int], hi: int
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

    def distribute(self, g: Growth, text: str, clause: tuple[int, int], hit: _Hit, anchor: int) -> float:
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

    def sentence_candidates(self, sentence: Sentence, doc: Document) -> list[_Candidate]:
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
        out: dict[tuple[str, str], _Candidate] = {}
        for i, (hit, clause) in enumerate(live):
            # a trigger's figures lie between the previous and the next live trigger
            lo = max(clause[0], live[i - 1][0].end if i else 0)
            hi = live[i + 1][0].start if i + 1 < len(live) else len(text)
            cand = self.candidate(hit, sentence, clause, lo, hi)
            if cand is None:
                continue
            key = (cand.event.type, cand.event.subtype)
            if key in out:
                _fill(out[key].event, cand.event)
                out[key].mention = out[key].mention and cand.mention
            else:
                out[key] = cand
        return sorted(out.values(), key=lambda c: c.hit.start)

    def candidate(
        self, hit: _Hit, sentence: Sentence, clause: tuple[int, int], lo: int, hi: int
    ) -> _Candidate | None:
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
        return _Candidate(event, sentence, hit, clause, self.is_mention(hit, sentence, clause))

    # ---------------------------------------------------------------- across sentences
    def merge(self, cands: list[_Candidate]) -> list[_Candidate]:
        """Fold mentions into the events they refer to and trade breakdowns into their totals."""
        kept: list[_Candidate] = []
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
                    added = _fill(antecedent.event, ev)
                    if added and cand.sentence.index == antecedent.sentence.index + 1:
                        antecedent.merged_into.append(cand.sentence)
                    continue
                if ev.amount is None and ev.project_count is None:
                    continue
                ev.confidence -= 0.15
            kept.append(cand)
        return kept

    def _breakdown_of(self, cand: _Candidate, kept: list[_Candidate]) -> _Candidate | None:
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

    # ---------------------------------------------------------------- attributes
    def region(self, cand: _Candidate, *, title: str, hint: str, doc_text: str) -> tuple[str, RegionFrom]:
        """The event's region and where it came from (the passage, the article, the source).

        The country (我国, 全国, a national agency) or a scope word (全省, 我市) before the trigger
        in its clause outranks the source: a city portal's "全省进出口" is the province's figure.
        """
        rs = self.rules
        text = cand.sentence.text
        places = find_places(text, rs)
        c0, c1 = cand.clause
        pos = cand.hit.start
        in_clause = [p for p in places if c0 <= p.start < c1]
        group1 = sorted((p for p in in_clause if p.start < pos), key=lambda p: -p.start)
        group1 += [p for p in in_clause if p.start >= pos]
        groups: list[list[Place]] = [group1]
        # earlier clauses that set the scene: short, locative, or ending on the place
        cuts = [0] + [m.end() for m in rs.clause_break.finditer(text, 0, c0)]
        leads: list[tuple[int, int]] = []
        for a, b in zip(reversed(cuts[:-1]), reversed(cuts[1:]), strict=True):
            clause_text = text[a:b].rstrip("，,；;：: ")
            lead = [p for p in places if a <= p.start < b]
            ends_on_place = any(p.end >= a + len(clause_text) for p in lead)
            if len(clause_text) <= rs.lead_max or rs.lead_open.search(clause_text) or ends_on_place:
                leads.append((a, b))
                if lead:
                    groups.append(sorted(lead, key=lambda p: -p.start))
        scope = self._scope(text, (c0, pos), group1, leads)
        if scope == "national":
            return "全国", "text"
        for m in rs.clause_break.finditer(text, c1):
            nxt = clause_bounds(text, m.end(), rs)
            if rs.site_open.search(text[nxt[0]:nxt[1]]):
                groups.append([p for p in places if nxt[0] <= p.start < nxt[1]])
        para_start = doc_text.rfind("\n", 0, cand.sentence.start) + 1
        para_end = doc_text.find("\n", para_start)
        para_end = len(doc_text) if para_end < 0 else para_end
        # the paragraph's own opening, not the start of the next one
        para_lead = doc_text[para_start:min(para_end, para_start + rs.doc_lead)] if not cand.in_title else ""
        fallbacks = [t for t in (title, para_lead, doc_text[:rs.doc_lead]) if t]
        stated = any(_chain_found(g) for g in groups)
        overrides = [title] if title and not cand.in_title else []
        dominant = _dominant_place(doc_text, rs)
        if dominant:
            overrides.append(dominant)
        code, origin = resolve_region(groups, hint=hint, rules=rs, fallbacks=fallbacks, overrides=overrides)
        if code and not stated and scope in ("province", "city"):
            code = coarsen(code, 0 if scope == "province" else 1)
        if not code:
            return hint.strip(), ("source" if hint.strip() else "")
        return region_name(code), origin

    def _scope(self, text: str, span: tuple[int, int], group1: list[Place],
               leads: list[tuple[int, int]]) -> str:
        """"national", "province" or "city" when a scope word, nearer the trigger than any place
        name, says whose figure it is; else ""."""
        rs = self.rules
        nearest_place = max((p.end for p in group1 if p.start < span[1]), default=-1)
        for a, b in [span, *leads]:
            words = [(m.start(), kind) for kind, rx in (("national", rs.national),
                                                      ("province", rs.scope_province),
                                                      ("city", rs.scope_city))
                     for m in rx.finditer(text, a, b)]
            if (a, b) == span:
                words = [w for w in words if w[0] >= nearest_place]
            elif nearest_place >= 0:
                return ""
            if words:
                return max(words)[1]
        return ""

    def period(self, cand: _Candidate, doc: Document, title: str) -> str:
        """The period the event belongs to: 2021年, 一季度, 1-5月 …"""
        rs = self.rules
        text = cand.sentence.text
        before = [m.group() for m in rs.periods.finditer(text, 0, cand.hit.start)]
        if before:
            return _norm_period(before[-1])
        m = rs.periods.search(text)
        if m:
            return _norm_period(m.group())
        idx = cand.sentence.index
        if idx > 0 and not cand.in_title:
            prev = doc.sentences[idx - 1]
            if prev.paragraph == cand.sentence.paragraph:
                found = list(rs.periods.finditer(prev.text))
                if found:
                    return _norm_period(found[-1].group())
        m = rs.periods.search(title) if title else None
        return _norm_period(m.group()) if m else ""

    def retrospective(self, cand: _Candidate, doc: Document, title: str, published: date) -> bool:
        """Whether the event's time ended more than ``retrospective_months`` before ``published``.

        The event's time is the latest year (and month, quarter or half) its sentence states; 去年,
        上年 and a review without dates are read against the document's own year when its head
        states one ("2022年吉林省政府工作报告"), else against ``published``.  An event that states
        no time, in a document that states no year of its own, is taken as news.
        """
        rs = self.rules
        head = f"{title}\n{doc.text[:rs.doc_lead]}"
        m = rs.document_year.search(head)
        doc_year = int(next(g for g in m.groups() if g)) if m else None
        end = _period_end(cand.sentence.text, doc_year or published.year, rs)
        if end is None:
            if doc_year is None or cand.in_title:
                return False
            end = date(doc_year, 3, 31)  # a report is read out early in its year
        months = (published.year - end.year) * 12 + published.month - end.month
        return months > rs.retrospective_months

    def parties(self, cand: _Candidate) -> list[str]:
        """Companies and governments named in the trigger's clause (best effort)."""
        if cand.event.type == "trade":
            return []
        text = cand.sentence.text
        clause = text[cand.clause[0]:cand.clause[1]]
        names: list[str] = []
        m = _PARTY_PAIR.search(clause[: cand.hit.end - cand.clause[0]] or clause)
        if m:
            for part in (m.group("a"), m.group("b")):
                part = _PARTY_LEAD.sub("", part).strip("“”\"《》 ")
                if len(part) >= 2:
                    names.append(part)
        for org in _ORG.finditer(clause):
            name = _PARTY_LEAD.sub("", org.group()).strip("“”\"《》 ")
            if name not in names and not any(name in n or n in name for n in names):
                names.append(name)
        return names[:6]


def _fill(target: Event, source: Event) -> bool:
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


def _detail(cand: _Candidate) -> dict[str, object]:
    """A breakdown figure as kept on its release's headline event."""
    ev = cand.event
    return {"evidence": cand.sentence.text, "subtype": ev.subtype, "amount": ev.amount,
            "currency": ev.currency, "growth_pct": ev.growth_pct}


def _dominant_place(doc_text: str, rules: RuleSet) -> str:
    """The first place name of the document's opening when the document keeps naming it (three
    times or more): the place a reposted report or release is about."""
    places = find_places(doc_text[:rules.doc_lead], rules)
    if places and doc_text.count(places[0].name) >= 3:
        return places[0].name
    return ""


def _chain_found(group: list[Place]) -> bool:
    return any(not (p.short and min(p.ranks) == 2) for p in group)


def _period_end(text: str, year_now: int, rules: RuleSet) -> date | None:
    """The last day of the latest time ``text`` states (a year, a month or quarter of one),
    with 去年 and 过去五年 read against ``year_now``; None when it states none."""
    ends: list[date] = []
    for m in rules.dated_period.finditer(text):
        year = int(m.group(1))
        months = re.findall(r"(1[0-2]|[1-9])\s*月", m.group())
        month = 12
        if months:
            month = int(months[-1])
        elif m.group(2):
            month = 3 * ("一二三四".find(m.group(2)) + 1 if m.group(2) in "一二三四" else int(m.group(2)))
        elif m.group(3):
            month = 6
        elif m.group(4):
            month = 9
        ends.append(date(year, month, 28))
    if not ends and rules.relative_past.search(text):
        ends.append(date(year_now - 1, 12, 28))
    return max(ends) if ends else None


def _norm_period(raw: str) -> str:
    out = raw.strip()
    for rx, repl in _PERIOD_NORMAL:
        out = rx.sub(repl, out)
    out = re.sub(r"([1-4])季度", lambda m: m.group(1).translate(_QUARTER_DIGIT) + "季度", out)
    return out


def detect_events(
    text: str, *, title: str = "", region_hint: str = "", published: date | None = None,
    rules: RuleSet | None = None,
) -> list[Event]:
    """The signings, openings and trade figures ``text`` states, in order of appearance.

    Pure and deterministic.  ``title`` adds an event only when the body states none of its type
    (its evidence is then the title, with ``start == end == 0``); ``region_hint`` (the source's
    region, e.g. "湖北省鄂州市") is used when the text names no place.  Evidence offsets index
    ``text``: ``text[event.start:event.end] == event.evidence``.  With ``published`` (the
    article's date), an event whose period ended more than ``retrospective_months`` before it is
    marked ``retrospective``.
    """
    rs = rules or load_rules()
    det = _Detector(rs)
    doc = Document(text, rs)
    cands: list[_Candidate] = []
    for sentence in doc.triggerable():
        cands.extend(det.sentence_candidates(sentence, doc))
    kept = det.merge(cands)

    if title.strip():
        tdoc = Document(title.strip(), rs)
        tcands = det.merge([c for s in tdoc.triggerable() for c in det.sentence_candidates(s, tdoc)])
        for tc in tcands:
            same = [k for k in kept if k.event.type == tc.event.type]
            exact = [k for k in same if k.event.subtype == tc.event.subtype]
            if exact:
                _fill(exact[0].event, tc.event)
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
        ev.region, ev.region_from = det.region(cand, title=title, hint=region_hint, doc_text=text)
        ev.period = det.period(cand, doc, title)
        ev.parties = det.parties(cand)
        ev.stage = STAGE_OF_SUBTYPE.get(ev.subtype, "")
        ev.retrospective = published is not None and det.retrospective(cand, doc, title, published)
        bonus = 0.05 * (ev.amount is not None) + 0.05 * (ev.project_count is not None)
        bonus -= 0.05 * (ev.region_from != "text")
        ev.confidence = round(min(0.99, max(0.05, ev.confidence + bonus)), 2)
        events.append(ev)
    events.sort(key=lambda e: (e.start, e.type, e.subtype))
    return events
