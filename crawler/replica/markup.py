"""Small HTML helpers shared by the site builders: escaping, paragraphs, answers, robots.txt."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from crawler.replica.resource import TEXT_PLAIN, Resource, make_resource
from crawler.replica.text import bold_spans, plain

SITE_EPOCH = datetime.fromisoformat("2022-01-01T00:00:00+08:00")
"""Last-Modified of pages that never change (robots.txt, error pages)."""

ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\nDisallow: /search/\n"
"""Every replica site's robots.txt: everything but /admin/ and /search/ may be crawled."""


def esc(text: str) -> str:
    """``text`` escaped for HTML element content and attribute values."""
    return escape(text, quote=True)


def para(paragraph: str, attrs: str = "") -> str:
    """One ``<p>``; ``**bold**`` runs become ``<strong>``."""
    inner = "".join(f"<strong>{esc(t)}</strong>" if bold else esc(t) for t, bold in bold_spans(paragraph))
    return f"<p{attrs}>{inner}</p>"


def paras(paragraphs: Iterable[str], attrs: str = "") -> str:
    """``<p>`` elements, one per line."""
    return "\n".join(para(p, attrs) for p in paragraphs)


def body_text(paragraphs: Iterable[str]) -> str:
    """The answer text of a body: paragraphs without markup, one per line."""
    return "\n".join(plain(p) for p in paragraphs)


def answers(title: str, body: str, published_at: datetime, source: str = "", **extra: Any) -> dict[str, Any]:
    """The ``expected`` mapping of an article :class:`Resource`."""
    return {"title": title, "body": body, "published_at": published_at, "source": source, **extra}


def robots() -> Resource:
    """The robots.txt resource every replica site serves."""
    return make_resource(ROBOTS_TXT.encode("ascii"), TEXT_PLAIN, SITE_EPOCH)


def links(items: Iterable[tuple[str, str]], attrs: str = "") -> str:
    """``<li><a>`` items for (href, text) pairs."""
    return "\n".join(f'<li><a href="{esc(href)}"{attrs}>{esc(text)}</a></li>' for href, text in items)
