"""How a digest is laid out: which events lead, which are grouped by page, which are background.

Pure: event views in, a template context out (the same context feeds the HTML, plain-text and
channel templates). The rules:

- fresh events (not ``retrospective``) lead; retrospective ones go to a short background block
  (one line per page with its counts) or stay out, per subscription;
- a page that states many fresh events (a work report, a 招商 round-up) is one entry: its
  title, date, source, counts by type and stage, then its few most important sentences (named
  projects with parties and amounts ahead of aggregate statistics) and the ``radar sql`` that
  lists the rest;
- the other events are grouped by type, then region; one line per evidence sentence lists
  every event that sentence states, ordered by amount, then project count.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any

from crawler.digest.labels import say
from crawler.events.model import STAGE_OF_SUBTYPE
from storage import outbox

TYPES = ("signing", "opening", "trade")
STAGES = ("signed", "started", "producing", "completed", "opened")
#: A page with at least this many fresh events in one digest is shown as one entry.
DOCUMENT_MIN_EVENTS = 4
#: Sentences shown under a page entry; the rest are one ``radar sql`` away.
DOCUMENT_TOP = 3
#: Pages listed in the background block; the rest are one ``radar sql`` away.
BACKGROUND_TOP = 8
_PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# words that state a project's stage or a trade flow: marked in the quoted sentence
_TRIGGERS = re.compile(r"签约|签署|开工|动工|投产|竣工|建成|落成|完工|开业|运营|投用|投入使用|进出口|出口|进口")


def clean(text: str) -> str:
    """Page text without control characters (a header must not break, a terminal must not obey)."""
    return _CONTROL.sub("", text or "").replace("\n", " ").strip()


def safe_href(url: str) -> str:
    """``url`` when it is http(s), else empty (no ``javascript:`` links in a mail)."""
    return url if re.match(r"^https?://", url or "", re.I) else ""


def province(region: str) -> str:
    """The province (or municipality) a region starts with: 江西 for 江西省赣州市."""
    for suffix in _PROVINCE_SUFFIXES:
        head, sep, _ = region.partition(suffix)
        if sep and head:
            return head
    return region


def format_amount(amount_cny: float | None, amount: float | None, currency: str, text: str) -> str:
    """The amount as the page stated it, else in 亿/万 of its currency."""
    if text:
        return text
    value = amount_cny if amount_cny is not None else amount
    if value is None:
        return ""
    unit = "元" if currency in ("", "CNY") else currency
    if abs(value) >= 1e8:
        return f"{value / 1e8:.2f}".rstrip("0").rstrip(".") + "亿" + unit
    if abs(value) >= 1e4:
        return f"{value / 1e4:.2f}".rstrip("0").rstrip(".") + "万" + unit
    return f"{value:g}{unit}"


def figures(view: outbox.EventView, language: str = "en") -> str:
    """"772.67亿元 · 97 projects · +23.7% · 2021年" from what the event states."""
    e = view.event
    parts = []
    amount = format_amount(e.amount_cny, e.amount, e.currency, e.amount_text)
    if amount:
        parts.append((e.qualifier if e.qualifier and not amount.startswith(e.qualifier) else "") + amount)
    if e.project_count is not None:
        parts.append(say(language, "projects", e.project_count))
    if e.growth_pct is not None:
        parts.append(f"{e.growth_pct:+g}%")
    if e.period:
        parts.append(e.period)
    return " · ".join(parts)


def _stage(view: outbox.EventView) -> str:
    """The event's stage, from its subtype when it was stored without one (older rows)."""
    return view.event.stage or STAGE_OF_SUBTYPE.get(view.event.subtype, "")


def stage_label(view: outbox.EventView, language: str) -> str:
    """签约 / 开工 / 投产 / 竣工 / 开业 (or their English), 外贸 for a trade figure."""
    stage = _stage(view) or ("trade" if view.event.type == "trade" else "")
    return say(language, f"stage.{stage}") if stage else say(language, f"type.{view.event.type}")


def importance(view: outbox.EventView) -> tuple[float, ...]:
    """Sort key, most important first: named projects (parties, an amount, not an aggregate)
    ahead of aggregate statistics, then by amount, then by project count."""
    e = view.event
    has_amount = e.amount_cny is not None or e.amount is not None
    tier = bool(e.parties) + has_amount + (e.subtype not in ("aggregate", "total"))
    return (-tier, -(e.amount_cny or e.amount or 0.0), -(e.project_count or 0), e.id)


def _magnitude(views: Sequence[outbox.EventView]) -> tuple[float, ...]:
    """Sort key of a sentence or region: largest amount, then largest project count."""
    amount = max((v.event.amount_cny or v.event.amount or 0.0 for v in views), default=0.0)
    count = max((v.event.project_count or 0 for v in views), default=0)
    return (-amount, -count, min(v.event.id for v in views))


def segments(evidence: str, views: Sequence[outbox.EventView]) -> list[dict[str, Any]]:
    """The sentence cut into ``{"text", "mark"}`` pieces: the figures the events state and the
    words that state a stage are marked (the template escapes every piece)."""
    literals = {v.event.amount_text for v in views if v.event.amount_text}
    literals |= {f"{v.event.project_count}个" for v in views if v.event.project_count is not None}
    alternatives = [re.escape(t) for t in sorted(literals, key=len, reverse=True)]
    pattern = re.compile("|".join([*alternatives, _TRIGGERS.pattern]))
    out: list[dict[str, Any]] = []
    pos = 0
    for m in pattern.finditer(evidence):
        if m.start() > pos:
            out.append({"text": evidence[pos:m.start()], "mark": False})
        out.append({"text": m.group(), "mark": True})
        pos = m.end()
    if pos < len(evidence):
        out.append({"text": evidence[pos:], "mark": False})
    return out


def _sentences(views: Sequence[outbox.EventView]) -> list[list[outbox.EventView]]:
    """Events grouped by the sentence that states them (same page, same evidence), in order."""
    by: OrderedDict[tuple[int, str], list[outbox.EventView]] = OrderedDict()
    for v in views:
        by.setdefault((v.event.article_id, clean(v.event.evidence)), []).append(v)
    return list(by.values())


def document_sql(article_id: int) -> str:
    """The SQL that lists every event of one page."""
    return ("SELECT type, stage, region, amount_text, project_count, evidence FROM events "
            f"WHERE article_id = {int(article_id)} ORDER BY id")


def background_sql(article_ids: Sequence[int]) -> str:
    """The SQL that lists the retrospective events of the pages not shown in the background block."""
    ids = ", ".join(str(int(i)) for i in article_ids)
    return ("SELECT a.title, e.type, e.stage, e.region, e.amount_text, e.period FROM events e "
            f"JOIN articles a ON a.id = e.article_id WHERE e.article_id IN ({ids}) AND e.retrospective "
            "ORDER BY e.article_id, e.id")


def counts_line(views: Sequence[outbox.EventView], language: str) -> str:
    """"12 events: signed 3, started 5, trade figure 2" — counts by stage (trade by type)."""
    per = Counter(_stage(v) or ("trade" if v.event.type == "trade" else v.event.type) for v in views)
    order = list(dict.fromkeys([*STAGES, "trade", *TYPES]))
    parts = [f"{say(language, f'stage.{s}') if s in (*STAGES, 'trade') else s} {per[s]}" for s in order if per.get(s)]
    sep = "：" if language == "zh" else ": "
    return say(language, "events", len(views)) + sep + say(language, "list_sep").join(parts)


class Layout:
    """Builds the template context of one digest."""

    def __init__(self, language: str, tz: tzinfo, cap: int, retrospective: str = "background") -> None:
        self.language = language
        self.tz = tz
        self.cap = max(1, cap)
        self.retrospective = retrospective

    def _page(self, v: outbox.EventView) -> dict[str, Any]:
        return {
            "title": clean(v.title) or say(self.language, "untitled"),
            "url": v.url,
            "href": safe_href(v.url),
            "date": v.published_at.astimezone(self.tz).strftime("%Y-%m-%d") if v.published_at
            else say(self.language, "date_unknown"),
            "source": clean(v.source),
        }

    def sentence(self, views: Sequence[outbox.EventView]) -> dict[str, Any]:
        """One evidence sentence with every event it states."""
        ordered = sorted(views, key=importance)
        first = ordered[0]
        parties: list[str] = []
        for v in ordered:
            parties += [p for p in v.event.parties if p not in parties]
        n_sources = max(v.source_count for v in views)
        evidence = clean(first.event.evidence)
        return {
            **self._page(first),
            "events": [{"stage": stage_label(v, self.language), "figures": clean(figures(v, self.language)),
                        "region": clean(v.event.region)} for v in ordered],
            "parties": clean("、".join(parties)),
            "evidence": evidence,
            "segments": segments(evidence, views),
            "source_count": n_sources,
            "reported": say(self.language, "sources", n_sources) if n_sources > 1 else "",
        }

    def build(self, views: Sequence[outbox.EventView], more_sql: Callable[[], str]) -> dict[str, Any]:
        """The context: ``groups`` (type → region → sentences), ``documents`` (page entries),
        ``background`` (one line per page of retrospective events), ``more``/``more_sql``."""
        fresh = [v for v in views if not v.event.retrospective or self.retrospective == "include"]
        history = [v for v in views if v.event.retrospective and self.retrospective == "background"]
        shown = sorted(fresh, key=importance)[: self.cap]
        shown_ids = {v.event.id for v in shown}
        shown = [v for v in fresh if v.event.id in shown_ids]  # back in arrival order
        per_page = Counter(v.event.article_id for v in shown)
        big = {a for a, n in per_page.items() if n >= DOCUMENT_MIN_EVENTS}
        documents = [self._document([v for v in shown if v.event.article_id == a]) for a in per_page if a in big]
        documents.sort(key=lambda d: (-d["n"], d["title"]))
        groups = self._groups([v for v in shown if v.event.article_id not in big])
        background, bg_rest = self._background(history)
        rest = len(fresh) - len(shown)
        return {
            "groups": groups, "documents": documents, "background": background,
            "bg_more": len(bg_rest), "bg_sql": background_sql(bg_rest) if bg_rest else "",
            "more": rest, "total": len(views), "more_sql": more_sql() if rest else "",
        }

    def _groups(self, views: Sequence[outbox.EventView]) -> list[dict[str, Any]]:
        placed: dict[str, OrderedDict[str, list[list[outbox.EventView]]]] = {t: OrderedDict() for t in TYPES}
        for sentence in _sentences(views):
            lead = min(sentence, key=lambda v: (TYPES.index(v.event.type), importance(v)))
            region = clean(lead.event.region) or say(self.language, "region_unknown")
            placed[lead.event.type].setdefault(region, []).append(sentence)
        groups = []
        for kind in TYPES:
            regions = placed[kind]
            if not regions:
                continue
            ranked = sorted(regions.items(), key=lambda kv: _magnitude([v for s in kv[1] for v in s]))
            groups.append({
                "label": say(self.language, f"type.{kind}"),
                "count": sum(len(s) for _, ss in ranked for s in ss),
                "regions": [{"name": name, "events": [self.sentence(s) for s in sorted(ss, key=_magnitude)]}
                            for name, ss in ranked],
            })
        return groups

    def _document(self, views: Sequence[outbox.EventView]) -> dict[str, Any]:
        sentences = sorted(_sentences(views), key=lambda s: min(importance(v) for v in s))
        top = sentences[:DOCUMENT_TOP]
        hidden = sum(len(s) for s in sentences[DOCUMENT_TOP:])
        first = views[0]
        return {**self._page(first), "n": len(views), "counts": counts_line(views, self.language),
                "region": clean(province(first.event.region)),
                "top": [self.sentence(s) for s in top], "more": hidden,
                "more_sql": document_sql(first.event.article_id) if hidden else ""}

    def _background(self, views: Sequence[outbox.EventView]) -> tuple[list[dict[str, Any]], list[int]]:
        per_page: OrderedDict[int, list[outbox.EventView]] = OrderedDict()
        for v in views:
            per_page.setdefault(v.event.article_id, []).append(v)
        pages = sorted(per_page.values(), key=lambda vs: (-len(vs), vs[0].event.article_id))
        lines = []
        for vs in pages[:BACKGROUND_TOP]:
            best = min(vs, key=lambda v: _magnitude([v]))
            stated = best.event.amount_cny or best.event.amount or best.event.project_count
            lead = clean(figures(best, self.language)) if stated else ""
            n_sources = max(v.source_count for v in vs)
            lines.append({**self._page(vs[0]), "counts": counts_line(vs, self.language),
                          "lead": f"{stage_label(best, self.language)} {lead}".strip() if lead else "",
                          "reported": say(self.language, "sources", n_sources) if n_sources > 1 else ""})
        return lines, [vs[0].event.article_id for vs in pages[BACKGROUND_TOP:]]
