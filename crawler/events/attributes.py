"""Attributes of a found event: its region (and where that came from), period, retrospective
flag and parties, read from its sentence, the paragraph, the title and the source's region.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from crawler.events.candidates import Candidate
from crawler.events.model import RegionFrom
from crawler.events.regions import Place, coarsen, find_places, region_name, resolve_region
from crawler.events.rules import RuleSet
from crawler.events.segment import Document, clause_bounds

__all__ = ["Attributes"]


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


class Attributes:
    """The attribute steps of detection, read with one rule set."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules

    def region(self, cand: Candidate, *, title: str, hint: str, doc_text: str) -> tuple[str, RegionFrom]:
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
        if cand.event.type == "signing":
            # a public party's place outranks company names and venues in the clause
            party = [p for p in group1 if p.start < pos and rs.party_after.match(text, p.end)]
            if party:
                groups.insert(0, party[:1])
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
        return region_name(code, written=doc_text if not cand.in_title else title), origin

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

    def period(self, cand: Candidate, doc: Document, title: str) -> str:
        """The period the event belongs to: 2021年, 一季度, 1-5月 …"""
        rs = self.rules
        text = cand.sentence.text
        before = [m.group() for m in rs.periods.finditer(text, 0, cand.hit.start)]
        if before:
            return rs.period_grammar.norm(before[-1])
        m = rs.periods.search(text)
        if m:
            return rs.period_grammar.norm(m.group())
        idx = cand.sentence.index
        if idx > 0 and not cand.in_title:
            prev = doc.sentences[idx - 1]
            if prev.paragraph == cand.sentence.paragraph:
                found = list(rs.periods.finditer(prev.text))
                if found:
                    return rs.period_grammar.norm(found[-1].group())
        m = rs.periods.search(title) if title else None
        return rs.period_grammar.norm(m.group()) if m else ""

    def retrospective(self, cand: Candidate, doc: Document, title: str, published: date) -> bool:
        """Whether the event's time ended more than ``retrospective_months`` before ``published``.

        The event's time is the latest year (and month, quarter or half) its sentence states; 去年,
        上年 and a review without dates are read against the document's own year when its head
        states one ("2022年吉林省政府工作报告"), else against ``published``.  A sentence that states
        no time takes its article opening's; an event with no time anywhere, in a document that
        states no year of its own, is taken as news.
        """
        rs = self.rules
        doc_year = _document_year(f"{title}\n{doc.text[:rs.doc_lead]}", rs)
        end = rs.period_grammar.end(cand.sentence.text, doc_year or published.year)
        if end is None and not cand.in_title:
            # a sentence that states no time belongs to the time its article's opening states
            # ("2024年4月，南宁市…集中开工" then "…等8个项目集中开工"): one article, one time
            end = rs.period_grammar.end(doc.text[:rs.doc_lead], doc_year or published.year)
        if end is None:
            if doc_year is None or cand.in_title:
                return False
            end = date(doc_year, 3, 31)  # a report is read out early in its year
        months = (published.year - end.year) * 12 + published.month - end.month
        return months > rs.retrospective_months

    def parties(self, cand: Candidate) -> list[str]:
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


# The document-level answers below are the same for every event of a document: cached, so a work
# report with dozens of events reads its opening and counts its places once.
@lru_cache(maxsize=16)
def _document_year(head: str, rules: RuleSet) -> int | None:
    """The year a document's head gives as its own ("2022年吉林省政府工作报告"), if any."""
    m = rules.document_year.search(head)
    return int(next(g for g in m.groups() if g)) if m else None


@lru_cache(maxsize=16)
def _dominant_place(doc_text: str, rules: RuleSet) -> str:
    """The first place name of the document's opening when the document keeps naming it (three
    times or more): the place a reposted report or release is about."""
    places = find_places(doc_text[:rules.doc_lead], rules)
    if places and doc_text.count(places[0].name) >= 3:
        return places[0].name
    return ""


def _chain_found(group: list[Place]) -> bool:
    return any(not p.short_county for p in group)
