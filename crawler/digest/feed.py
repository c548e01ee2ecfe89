"""An Atom 1.0 feed per subscription (``radar feed NAME``, and ``feeds_dir/NAME.xml`` from the daemon).

The feed holds the subscription's events (its filters, its ``retrospective`` policy) first seen
in the last ``feed_days`` days, at most ``feed_max_events`` of them, newest first. Entries are
laid out as the digest lays them out (``crawler.digest.layout``), in the subscription's
language:

- one entry per evidence sentence, with every event it states;
- a page that states many fresh events (a work report, a round-up) is one entry;
- with ``retrospective: background``, a page's retrospective events are one background entry.

An entry's id is a ``urn:uuid:`` derived from the identity of its events (``event_key``, which
every repost of a story shares: ``storage.events``), never from a URL or a database id, so a
repost adds a link to the entry it joins (and moves its ``updated``), not a new entry, and
rebuilding the feed, or the database, gives the same ids. The whole document depends only on
the database: the same data gives the same bytes.

Built with ``xml.etree``: the feed is a dozen elements, which the standard library writes and
escapes correctly; what it does not do (drop the characters XML 1.0 forbids) is done here.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from crawler.config.sources import Config
from crawler.config.subscriptions import Subscription, effective_subscriptions
from crawler.digest.delivery import source_filter
from crawler.digest.labels import labels, say
from crawler.digest.layout import DOCUMENT_MIN_EVENTS, Layout, clean, safe_href
from crawler.errors import RadarError
from storage import outbox
from storage.events import Mention, mentions_of

ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: Namespace of the entries' and feeds' uuid5 ids: fixed forever, or every id changes.
ID_NAMESPACE = uuid.UUID("6c1f5b0e-3d0a-5b8e-9a57-2f4c1d0b7e21")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # an empty feed's ``updated``: stable, unlike "now"
# characters XML 1.0 does not allow (page text may hold any of them)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_env = Environment(loader=PackageLoader("crawler.digest", "templates"), autoescape=select_autoescape(["j2"]),
                   trim_blocks=True, lstrip_blocks=True)
ET.register_namespace("", ATOM)


class UnknownFeed(RadarError):
    """No subscription has this name."""


def entry_id(kind: str, event_key: str) -> str:
    """``urn:uuid:…`` of the entry led by the event ``event_key``: ``kind`` is ``sentence``,
    ``page`` (a page with many events) or ``background``."""
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, f'{kind}:{event_key}')}"


def feed_id(name: str) -> str:
    """``urn:uuid:…`` of the feed of subscription ``name``."""
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, f'feed:{name}')}"


def subscription(config: Config, name: str) -> Subscription:
    """The subscription ``name`` (``mail_to`` too when RADAR_MAIL_TO is set), or :class:`UnknownFeed`."""
    subs = {s.name: s for s in effective_subscriptions(config.settings, config.subscriptions)}
    if name not in subs:
        known = ", ".join(sorted(subs)) or "none: add subscriptions: to the config file"
        raise UnknownFeed(f"no subscription named {name!r} (subscriptions: {known})")
    return subs[name]


@dataclass
class Entry:
    """One feed entry: the events it carries and how the digest lays them out."""

    kind: str
    views: list[outbox.EventView]
    id: str = ""
    updated: datetime = _EPOCH
    mentions: Sequence[Mention] = ()


def _lead(views: Sequence[outbox.EventView]) -> outbox.EventView:
    """The event an entry's id comes from: the first seen (the others of a sentence or page may
    come later with a revision; the first stays)."""
    return min(views, key=lambda v: (v.event.first_seen_at, v.event.event_key))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def entries_of(views: Sequence[outbox.EventView], retrospective: str,
               mentions: dict[int, list[Mention]]) -> list[Entry]:
    """The entries of ``views``, newest first: per page, its retrospective events as one
    background entry (``retrospective: background``); its fresh ones as one page entry when
    there are many, else one entry per evidence sentence."""
    pages: OrderedDict[int, list[outbox.EventView]] = OrderedDict()
    for v in views:
        pages.setdefault(v.event.article_id, []).append(v)
    entries: list[Entry] = []
    for page in pages.values():
        history = [v for v in page if v.event.retrospective and retrospective == "background"]
        fresh = [v for v in page if v not in history]
        if history:
            entries.append(Entry("background", history))
        if len(fresh) >= DOCUMENT_MIN_EVENTS:
            entries.append(Entry("page", fresh))
            continue
        sentences: OrderedDict[str, list[outbox.EventView]] = OrderedDict()
        for v in fresh:
            sentences.setdefault(clean(v.event.evidence), []).append(v)
        entries += [Entry("sentence", s) for s in sentences.values()]
    for entry in entries:
        entry.id = entry_id(entry.kind, _lead(entry.views).event.event_key)
        seen: dict[str, Mention] = {}
        for v in entry.views:
            for m in mentions.get(v.event.id, []):
                if m.url not in seen or m.seen_at < seen[m.url].seen_at:
                    seen[m.url] = m
        entry.mentions = sorted(seen.values(), key=lambda m: (_aware(m.seen_at), m.url))
        times = [_aware(v.event.first_seen_at) for v in entry.views] + [_aware(m.seen_at) for m in entry.mentions]
        entry.updated = max(times)  # a repost is a change of the entry, not a new one
    entries.sort(key=lambda e: (e.updated, e.id), reverse=True)
    return entries


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _stamp(value: datetime) -> str:
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _text(text)
    return element


def _title(entry: Entry, item: dict[str, Any], language: str) -> str:
    if entry.kind == "sentence":
        events = "; ".join(f"{e['stage']} {e['figures']}".strip() for e in item["events"])
        region = clean(item["events"][0]["region"]) if item["events"] else ""
        return f"{region} · {events}" if region else events
    if entry.kind == "page":
        return f"{item['title']}{'：' if language == 'zh' else ': '}{item['counts']}"
    sep = "：" if language == "zh" else ": "
    return f"{say(language, 'background_short')}{sep}{item['title']} ({item['counts']})"


def _item(entry: Entry, layout: Layout) -> dict[str, Any]:
    """The digest's context of the entry's one sentence, page or background line."""
    body = layout.build(entry.views, lambda: "")
    if entry.kind == "background":
        return dict(body["background"][0])
    if entry.kind == "page":
        return dict(body["documents"][0])
    return dict(body["groups"][0]["regions"][0]["events"][0])


def _entry(feed: ET.Element, entry: Entry, layout: Layout, language: str) -> None:
    item = _item(entry, layout)
    lead = _lead(entry.views)
    element = _add(feed, "entry")
    _add(element, "id", entry.id)
    _add(element, "title", _title(entry, item, language))
    _add(element, "updated", _stamp(entry.updated))
    published = lead.published_at or lead.event.first_seen_at
    _add(element, "published", _stamp(published))
    first = safe_href(lead.url)
    if first:
        _add(element, "link", rel="alternate", type="text/html", href=first)
    reposts = [m for m in entry.mentions if safe_href(m.url) and m.url != lead.url]
    for m in reposts:
        _add(element, "link", rel="related", type="text/html", href=m.url, title=clean(m.source))
    for kind in dict.fromkeys(v.event.type for v in entry.views):
        _add(element, "category", term=kind, label=say(language, f"type.{kind}"))
    html = _env.get_template("feed_entry.html.j2").render(
        kind={"page": "document"}.get(entry.kind, entry.kind), item=item, L=labels(language),
        reposts=[{"href": m.url, "title": clean(m.title) or m.url, "source": clean(m.source)} for m in reposts])
    _add(element, "content", html.strip(), type="html")


def build_feed(session: Session, config: Config, name: str, *, now: datetime | None = None) -> bytes:
    """The Atom document (UTF-8) of subscription ``name`` at ``now``: its events of the last
    ``feed_days`` days, at most ``feed_max_events``. Raises :class:`UnknownFeed`."""
    sub = subscription(config, name)
    settings = config.settings
    now = now or datetime.now(UTC)
    wanted, tagged = source_filter(config, sub)
    views = outbox.recent_events(
        session, since=now - timedelta(days=settings.feed_days), limit=settings.feed_max_events, types=sub.types,
        regions=sub.regions, keywords=sub.keywords, sources=wanted, stages=sub.stages,
        min_amount_cny=sub.min_amount_cny, news_only=sub.retrospective == "exclude", tags=sub.tags,
        tagged_sources=tagged)
    entries = entries_of(views, sub.retrospective, mentions_of(session, [v.event.id for v in views]))
    language = sub.language
    feed = ET.Element(f"{{{ATOM}}}feed", {_XML_LANG: "zh-CN" if language == "zh" else "en"})
    _add(feed, "id", feed_id(sub.name))
    product = say(language, "product")
    _add(feed, "title", f"{product}{'：' if language == 'zh' else ': '}{sub.name}")
    _add(feed, "subtitle", say(language, "subscription", name=sub.name, what=sub.describe(language)))
    _add(feed, "updated", _stamp(max((e.updated for e in entries), default=_EPOCH)))
    author = _add(feed, "author")
    _add(author, "name", product)
    _add(feed, "generator", "Policy Radar")
    layout = Layout(language, settings.tz, cap=max(1, len(views)), retrospective=sub.retrospective)
    for entry in entries:
        _entry(feed, entry, layout, language)
    ET.indent(feed)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True)) + b"\n"
