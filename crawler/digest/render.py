"""Digests: how the message reads. Pure: events and health alerts in, subject and MIME parts out.

Choosing the events and sending through the outbox is ``crawler.digest.delivery``; SMTP is
``crawler.digest.mailer``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from crawler.config.settings import Settings
from crawler.health.rules import Alert
from storage import outbox
from storage.models import DigestRow

TYPE_LABELS = OrderedDict([("signing", "Signings"), ("opening", "Openings"), ("trade", "Trade figures")])
_SINGULAR = {"signing": "signing", "opening": "opening", "trade": "trade figure"}
_PLURAL = {"signing": "signings", "opening": "openings", "trade": "trade figures"}

_env = Environment(
    loader=PackageLoader("crawler.digest", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),  # page text is untrusted: always escaped
    trim_blocks=True,
    lstrip_blocks=True,
)


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


def figures(view: outbox.EventView) -> str:
    """"772.67亿元 · 97 projects · +23.7% · 2021年" from what the event states."""
    e = view.event
    parts = []
    amount = format_amount(e.amount_cny, e.amount, e.currency, e.amount_text)
    if amount:
        parts.append((e.qualifier if e.qualifier and not amount.startswith(e.qualifier) else "") + amount)
    if e.project_count is not None:
        parts.append(f"{e.project_count} projects")
    if e.growth_pct is not None:
        parts.append(f"{e.growth_pct:+g}%")
    if e.period:
        parts.append(e.period)
    return " · ".join(parts)


def summary_line(views: list[outbox.EventView]) -> str:
    """"3 signings, 1 opening, 2 trade figures (江西、湖北)".

    The provinces named are those with the most events first (at most six), equal counts in the
    order of ``views``: a subject that can show only a few places shows where most happened.
    They are joined without spaces: RFC 2047 drops a space that falls between two encoded words
    when a mail client decodes the subject."""
    counts = {t: sum(1 for v in views if v.event.type == t) for t in TYPE_LABELS}
    parts = [f"{n} {_SINGULAR[t] if n == 1 else _PLURAL[t]}" for t, n in counts.items() if n]
    per_province = Counter(clean(_province(v.event.region)) for v in views if v.event.region)
    provinces = sorted(per_province, key=lambda p: -per_province[p])  # stable: ties keep their order
    text = ", ".join(parts) or "no new events"
    if provinces:
        text += " (" + "、".join(provinces[:6]) + ("…" if len(provinces) > 6 else "") + ")"
    return text


def _province(region: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市"):
        head, sep, _ = region.partition(suffix)
        if sep and head:
            return head
    return region


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text: str) -> str:
    """Page text without control characters (a header must not break, a terminal must not obey)."""
    return _CONTROL.sub("", text or "").replace("\n", " ").strip()


def safe_href(url: str) -> str:
    """``url`` when it is http(s), else empty (no ``javascript:`` links in a mail)."""
    return url if re.match(r"^https?://", url or "", re.I) else ""


def more_sql(key: str) -> str:
    """The SQL that lists every event of the digest with idempotency key ``key``."""
    quoted = key.replace("'", "''")
    return ("SELECT e.type, e.region, e.amount_text, a.title, a.url FROM digest_events d "
            "JOIN digests g ON g.id = d.digest_id JOIN events e ON e.id = d.event_id "
            f"JOIN articles a ON a.id = e.article_id WHERE g.idempotency_key = '{quoted}' "
            "ORDER BY e.type, e.region, e.id")


@dataclass
class RenderedDigest:
    """A digest ready to write and send."""

    subject: str
    text: str
    html: str
    event_ids: list[int]


def render(views: Sequence[outbox.EventView], *, settings: Settings, now: datetime, key: str = "",
           alerts: Sequence[Alert] = (), sources: int = 0, heading: str = "") -> RenderedDigest:
    """Subject, plain-text and HTML parts for ``views`` (grouped by type, then region), capped at
    ``digest_max_events`` with "and N more" and the SQL that lists them all; then the crawl-health
    section when ``sources`` (the number of sources watched) is given."""
    cap = max(1, settings.digest_max_events)
    shown, rest = list(views[:cap]), list(views[cap:])
    tz = settings.tz
    groups: list[dict[str, Any]] = []
    for kind, label in TYPE_LABELS.items():
        members = [v for v in shown if v.event.type == kind]
        if not members:
            continue
        regions: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        for v in sorted(members, key=lambda v: (v.event.region or "~", v.event.id)):
            regions.setdefault(clean(v.event.region) or "Region not stated", []).append({
                "title": clean(v.title) or "(untitled)",
                "url": v.url,
                "href": safe_href(v.url),
                "figures": clean(figures(v)),
                "parties": clean("、".join(v.event.parties)),
                "evidence": clean(v.event.evidence),
                "date": v.published_at.astimezone(tz).strftime("%Y-%m-%d") if v.published_at else "date unknown",
                "source": clean(v.source),
                "source_count": v.source_count,
            })
        groups.append({"label": label, "count": len(members),
                       "regions": [{"name": k, "events": items} for k, items in regions.items()]})
    summary = summary_line(list(views)) if views else "no new events"
    if not views and alerts:
        n = len({a.source for a in alerts})
        summary += f"; {n} source{'s' if n != 1 else ''} need{'s' if n == 1 else ''} attention"
    subject = f"Policy Radar: {summary}"
    health = None
    if sources:
        bad = {a.source for a in alerts}
        health = {"ok": max(0, sources - len(bad)), "sources": sources,
                  "alerts": [{"source": clean(a.source), "rule": a.rule, "message": clean(a.message),
                              "setting": a.setting} for a in alerts]}
    context = {
        "subject": subject, "summary": summary, "groups": groups, "more": len(rest), "total": len(views),
        "more_sql": more_sql(key) if rest else "", "health": health, "heading": clean(heading),
        "generated": now.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
    }
    return RenderedDigest(
        subject=subject,
        text=_env.get_template("digest.txt.j2").render(context),
        html=_env.get_template("digest.html.j2").render(context),
        event_ids=[v.event.id for v in views],
    )


def message_id(key: str) -> str:
    """The Message-ID of the digest with idempotency key ``key``: the same on every retry, so a
    receiving server (and the reader) can tell a resend from a new digest."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.digest@policy-radar.local>"


def build_email(digest: DigestRow, settings: Settings) -> EmailMessage:
    """The MIME message (plain text + HTML) for a stored digest: the same message on every retry
    (Date is when the digest was written, Message-ID derives from its idempotency key)."""
    msg = EmailMessage()
    msg["Subject"] = clean(digest.subject)
    msg["From"] = settings.mail_from
    msg["To"] = digest.recipients
    msg["Date"] = format_datetime(digest.created_at)
    msg["Message-ID"] = message_id(digest.idempotency_key)
    msg["X-Policy-Radar-Digest"] = digest.idempotency_key
    msg.set_content(digest.text_body)
    msg.add_alternative(digest.html_body, subtype="html")
    return msg
