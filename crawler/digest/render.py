"""Digests: how the message reads. Pure: events and health alerts in, subject and MIME parts out.

Choosing the events and sending through the outbox is ``crawler.digest.delivery``; SMTP is
``crawler.digest.mailer``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from crawler.config.settings import Settings
from crawler.digest.labels import labels, say
from crawler.digest.layout import TYPES, Layout, clean, figures, format_amount, province, safe_href
from crawler.health.rules import Alert
from storage import outbox
from storage.models import DigestRow

_env = Environment(
    loader=PackageLoader("crawler.digest", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),  # page text is untrusted: always escaped
    trim_blocks=True,
    lstrip_blocks=True,
)
# markdown for chat channels: page text is escaped for markdown instead of HTML
_md_env = Environment(loader=PackageLoader("crawler.digest", "templates"), autoescape=False, trim_blocks=True,
                      lstrip_blocks=True)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_md_env.filters["md"] = lambda text: _MD_SPECIAL.sub(r"\\\1", str(text))

__all__ = ["RenderedDigest", "build_email", "clean", "figures", "format_amount", "message_id", "more_sql",
           "render", "safe_href", "summary_line"]


def summary_line(views: Sequence[outbox.EventView], language: str = "en") -> str:
    """"3 signings, 1 opening, 2 trade figures (江西、湖北)" (or "签约 3 项、开工投产 1 项…").

    Retrospective events are counted apart ("; 70 background"). The provinces named are those
    with the most fresh events first (at most six), equal counts in the order of ``views``: a
    subject that can show only a few places shows where most happened. They are joined without
    spaces: RFC 2047 drops a space that falls between two encoded words when a mail client
    decodes the subject."""
    fresh = [v for v in views if not v.event.retrospective]
    past = len(views) - len(fresh)
    counts = {t: sum(1 for v in fresh if v.event.type == t) for t in TYPES}
    parts = [say(language, f"count.{t}", n) for t, n in counts.items() if n]
    per_province = Counter(clean(province(v.event.region)) for v in fresh if v.event.region)
    provinces = sorted(per_province, key=lambda p: -per_province[p])  # stable: ties keep their order
    text = say(language, "list_sep").join(parts) or say(language, "no_events")
    if provinces:
        text += ("（" if language == "zh" else " (") + "、".join(provinces[:6]) + ("…" if len(provinces) > 6 else "")
        text += "）" if language == "zh" else ")"
    if past:
        text += ("；" if language == "zh" else "; ") + say(language, "background_count", past)
    return text


def more_sql(key: str) -> str:
    """The SQL that lists every event of the digest with idempotency key ``key``."""
    quoted = key.replace("'", "''")
    return ("SELECT e.type, e.region, e.amount_text, a.title, a.url FROM digest_events d "
            "JOIN digests g ON g.id = d.digest_id JOIN events e ON e.id = d.event_id "
            f"JOIN articles a ON a.id = e.article_id WHERE g.idempotency_key = '{quoted}' "
            "ORDER BY e.type, e.region, e.id")


@dataclass
class RenderedDigest:
    """A digest ready to write and send: ``markdown`` is the body for chat channels."""

    subject: str
    text: str
    html: str
    event_ids: list[int]
    markdown: str = ""


def render(views: Sequence[outbox.EventView], *, settings: Settings, now: datetime, key: str = "",
           alerts: Sequence[Alert] = (), sources: int = 0, heading: str = "", language: str = "en",
           retrospective: str = "background", channel_limit: int = 0) -> RenderedDigest:
    """Subject, plain-text, HTML (and, with ``channel_limit``, markdown of at most that many UTF-8
    bytes) for ``views``, in ``language``, laid out by :class:`crawler.digest.layout.Layout`:
    fresh events by type and region (pages with many events as one entry each), at most
    ``digest_max_events`` of them, then "and N more" with the SQL that lists them all; the
    retrospective ones in a background block (``retrospective``: ``background``) or among the
    fresh (``include``); then the crawl-health section when ``sources`` (the number of sources
    watched) is given. Every event of ``views`` is claimed (``event_ids``)."""
    tz = settings.tz
    layout = Layout(language, tz, settings.digest_max_events, retrospective)
    body = layout.build(views, lambda: more_sql(key))
    summary = summary_line(views, language) if views else say(language, "no_events")
    if not views and alerts:
        n = len({a.source for a in alerts})
        summary += ("；" if language == "zh" else "; ") + say(language, "need_attention", n)
    subject = f"{say(language, 'product')}{'：' if language == 'zh' else ': '}{summary}"
    health = None
    if sources:
        bad = {a.source for a in alerts}
        health = {"ok": max(0, sources - len(bad)), "sources": sources,
                  "alerts": [{"source": clean(a.source), "rule": a.label(language),
                              "message": clean(a.text(language)), "setting": a.setting} for a in alerts]}
    context = {
        **body, "subject": subject, "summary": summary, "health": health, "heading": clean(heading),
        "generated": now.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"), "L": labels(language),
        "lang": "zh-CN" if language == "zh" else "en", "digest_sql": more_sql(key),
    }
    return RenderedDigest(
        subject=subject,
        text=_env.get_template("digest.txt.j2").render(context),
        html=_env.get_template("digest.html.j2").render(context),
        event_ids=[v.event.id for v in views],
        markdown=fit_markdown(context, channel_limit) if channel_limit else "",
    )


def fit_markdown(context: dict[str, Any], limit: int) -> str:
    """The markdown body in at most ``limit`` UTF-8 bytes: when the whole does not fit, entries
    are dropped from the end (least important last) and the "and N more" line says where the
    rest is; the health section is kept."""
    template = _md_env.get_template("digest.md.j2")
    text = template.render(context)
    if len(text.encode()) <= limit:
        return text
    # the order entries are dropped in: background pages, then page entries, then sentences
    ctx = {**context, "background": list(context["background"]), "documents": list(context["documents"]),
           "groups": [{**g, "regions": [{**r, "events": list(r["events"])} for r in g["regions"]]}
                      for g in context["groups"]]}
    dropped = 0
    while len(text.encode()) > limit:
        if ctx["background"]:
            ctx["background"].pop()
            ctx["bg_more"] = ctx.get("bg_more", 0) + 1
        elif ctx["documents"]:
            dropped += ctx["documents"].pop()["n"]
        elif any(r["events"] for g in ctx["groups"] for r in g["regions"]):
            group = next(g for g in reversed(ctx["groups"]) if any(r["events"] for r in g["regions"]))
            region = next(r for r in reversed(group["regions"]) if r["events"])
            dropped += len(region["events"].pop()["events"])
            group["regions"] = [r for r in group["regions"] if r["events"]]
            ctx["groups"] = [g for g in ctx["groups"] if g["regions"]]
        else:  # even the frame does not fit: cut it, whole characters only
            return text.encode()[: max(0, limit - 3)].decode(errors="ignore") + "…"
        ctx["more"] = context["more"] + dropped
        ctx["more_sql"] = context["digest_sql"]
        text = template.render(ctx)
    return text


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
