"""Digests: which events to mail, how the message reads, and delivery through the outbox.

Building a message (``render``) is apart from sending it (``crawler.mailer``); ``deliver``
writes the digest to the database before sending and marks it sent after, so a crash or an
SMTP failure never loses a digest and never sends one twice.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from crawler.config import Settings
from crawler.errors import DigestError
from crawler.mailer import send_message
from storage import outbox
from storage.db import transaction
from storage.models import DigestRow

TYPE_LABELS = OrderedDict([("signing", "Signings"), ("opening", "Openings"), ("trade", "Trade figures")])
_SINGULAR = {"signing": "signing", "opening": "opening", "trade": "trade figure"}
_PLURAL = {"signing": "signings", "opening": "openings", "trade": "trade figures"}

_env = Environment(
    loader=PackageLoader("crawler", "templates"),
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

    The places are joined without spaces: RFC 2047 drops a space that falls between two encoded
    words when a mail client decodes the subject."""
    counts = {t: sum(1 for v in views if v.event.type == t) for t in TYPE_LABELS}
    parts = [f"{n} {_SINGULAR[t] if n == 1 else _PLURAL[t]}" for t, n in counts.items() if n]
    provinces = list(dict.fromkeys(_province(v.event.region) for v in views if v.event.region))
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


@dataclass
class RenderedDigest:
    """A digest ready to write and send."""

    subject: str
    text: str
    html: str
    event_ids: list[int]


def render(views: list[outbox.EventView], *, settings: Settings, now: datetime) -> RenderedDigest:
    """Subject, plain-text and HTML parts for ``views`` (grouped by type, then region)."""
    cap = max(1, settings.digest_max_events)
    shown, rest = views[:cap], views[cap:]
    tz = settings.tz
    groups: list[dict[str, Any]] = []
    for kind, label in TYPE_LABELS.items():
        members = [v for v in shown if v.event.type == kind]
        if not members:
            continue
        regions: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        for v in sorted(members, key=lambda v: (v.event.region or "~", v.event.id)):
            regions.setdefault(v.event.region or "Region not stated", []).append({
                "title": v.title or "(untitled)",
                "url": v.url,
                "figures": figures(v),
                "parties": "、".join(v.event.parties),
                "evidence": v.event.evidence,
                "date": v.published_at.astimezone(tz).strftime("%Y-%m-%d") if v.published_at else "date unknown",
                "source": v.source,
                "source_count": v.source_count,
            })
        groups.append({"label": label, "count": len(members),
                       "regions": [{"name": k, "events": items} for k, items in regions.items()]})
    summary = summary_line(views)
    more_sql = ""
    if rest:
        more_sql = ("SELECT type, region, amount_text, evidence FROM events WHERE id IN ("
                    + ", ".join(str(v.event.id) for v in rest[:50]) + (", …" if len(rest) > 50 else "") + ")")
    subject = f"Policy Radar: {summary}"
    context = {
        "subject": subject, "summary": summary, "groups": groups, "more": len(rest),
        "more_sql": more_sql, "generated": now.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
    }
    return RenderedDigest(
        subject=subject,
        text=_env.get_template("digest.txt.j2").render(context),
        html=_env.get_template("digest.html.j2").render(context),
        event_ids=[v.event.id for v in views],
    )


def build_email(digest: DigestRow, settings: Settings) -> EmailMessage:
    """The MIME message (plain text + HTML) for a stored digest."""
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = settings.mail_from
    msg["To"] = digest.recipients
    msg["Date"] = format_datetime(digest.created_at)
    # A stable Message-ID lets receiving servers drop a resend of the very same digest.
    msg["Message-ID"] = make_msgid(idstring=hashlib.sha1(digest.idempotency_key.encode()).hexdigest()[:16],
                                   domain="policy-radar.local")
    msg["X-Policy-Radar-Digest"] = digest.idempotency_key
    msg.set_content(digest.text_body)
    msg.add_alternative(digest.html_body, subtype="html")
    return msg


@dataclass
class DeliveryResult:
    """What a digest run did."""

    status: str  # "sent" | "nothing" | "dry-run" | "failed"
    digest_id: int | None = None
    event_count: int = 0
    subject: str = ""
    recipients: str = ""
    message: EmailMessage | None = None
    error: str = ""


def deliver(factory: sessionmaker[Session], settings: Settings, *, dry_run: bool = False,
            now: datetime | None = None) -> DeliveryResult:
    """Send the digest of events not yet mailed to the configured recipients.

    A digest written earlier but not sent is sent first (the same message). With ``dry_run``
    nothing is written or sent; the result carries the message that would go out.
    """
    now = now or datetime.now(UTC)
    if not settings.mail_to:
        raise DigestError("no recipients: set RADAR_MAIL_TO (comma-separated addresses)")
    recipients = ", ".join(settings.mail_to)
    with transaction(factory) as session:
        digest = outbox.pending_digest(session, recipients)
        if digest is None:
            views = outbox.unclaimed_events(session, recipients)
            if not views:
                return DeliveryResult("nothing", recipients=recipients)
            rendered = render(views, settings=settings, now=now)
            key = f"{recipients}|events:{min(rendered.event_ids)}-{max(rendered.event_ids)}|n={len(views)}"
            if dry_run:
                preview = DigestRow(  # never added to the session: nothing is written
                    idempotency_key=key, recipients=recipients, subject=rendered.subject,
                    text_body=rendered.text, html_body=rendered.html, created_at=now)
                return DeliveryResult("dry-run", None, len(views), rendered.subject, recipients,
                                      build_email(preview, settings))
            digest = outbox.write_digest(session, recipients=recipients, key=key, subject=rendered.subject,
                                         text_body=rendered.text, html_body=rendered.html,
                                         event_ids=rendered.event_ids, now=now)
        message = build_email(digest, settings)
        result = DeliveryResult("dry-run" if dry_run else "sent", digest.id, digest.event_count,
                                digest.subject, recipients, message)
    if dry_run:
        return result
    try:
        send_message(message, settings)
    except DigestError as exc:
        with transaction(factory) as session:
            outbox.mark_failed(session, digest.id, str(exc), datetime.now(UTC))
        result.status, result.error = "failed", str(exc)
        return result
    with transaction(factory) as session:
        outbox.mark_sent(session, digest.id, datetime.now(UTC))
    return result
