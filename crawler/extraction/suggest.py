"""A source entry for a page nobody has configured yet (``radar source suggest``).

Pure: the fetched answer (status, headers, bytes) and its URL in, a :class:`Suggestion` out.
What it infers, in order:

- the **kind**: a feed (``<rss``, Atom ``<feed``, RSS 1.0 ``<rdf:RDF``), a sitemap (``<urlset``,
  ``<sitemapindex``), a JSON listing endpoint (``api``), else listing pages;
- the **encoding**: the codec the extractor reads the page with (``crawler.extraction.decode``);
  the entry names it only when the page declares no charset;
- whether the page must be **rendered**: ``auto`` when it is a challenge page (加速乐, 瑞数 …:
  ``crawler.health.rules.challenge_kind``), ``browser`` when it shows no article list and its
  scripts fetch one (the list is built in the browser);
- the **CMS** and the **pagination** (``crawler.extraction.pagination``), which crawls follow
  without configuration;
- the **article-link pattern** (``allow``) and a sample of matched links with their titles
  (``crawler.extraction.links``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawler.extraction.decode import decode_html
from crawler.extraction.links import infer_allow, link_families, url_shape
from crawler.extraction.pagination import cms_of, next_listing_urls
from crawler.health.rules import challenge_kind

__all__ = ["Suggestion", "source_name", "suggest"]

_FEED = re.compile(rb"<(?:rss|rdf:RDF)\b|<feed\b[^>]*http://www\.w3\.org/2005/Atom", re.I)
_SITEMAP = re.compile(rb"<(?:urlset|sitemapindex)\b", re.I)
_LOC = re.compile(r"<loc>\s*(?:<!\[CDATA\[)?\s*([^<\]\s]+)", re.I)
#: a script that asks the server for data: the list it shows may be built in the browser
_SCRIPT_FETCH = re.compile(r"\$\.(?:ajax|get|getJSON|post)\s*\(|\bfetch\s*\(|XMLHttpRequest|\baxios\b", re.I)
_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*[\w-]+", re.I)
#: the 版面 pages of an e-paper (方正 Founder's e-paper system, most Chinese newspapers' own)
_EPAPER_PAGE = re.compile(r"^node_\\d\+\\\.s?html?$")  # a shape: node_\d+\.htm
_CMS_NAMES = {"hanweb": "Hanweb (大汉) JCMS: datastore records, dataproxy.jsp pages",
              "hanweb-jpaas": "Hanweb jpaas: a script articleList, index.html?uid=…&pageNum=N pages",
              "trs": "TRS (拓尔思) WCM: createPageHTML → index_N.html", "": "none recognised"}
_GENERIC_LABELS = frozenset(("www", "com", "cn", "net", "org", "gov", "edu", "html", "htm"))


@dataclass
class Suggestion:
    """What :func:`suggest` inferred: the entry's keys and what to show beside it."""

    name: str
    url: str
    kind: str = "listing"
    allow: str | None = None
    pages: str = ""  # an e-paper's 版面 pages
    render: str = ""
    encoding: str = ""  # the codec the page is read with
    declares_charset: bool = True
    cms: str = ""
    next_pages: list[str] = field(default_factory=list)
    challenge: str = ""
    sample: list[tuple[str, str]] = field(default_factory=list)  # (url, title)
    notes: list[str] = field(default_factory=list)

    def entry(self) -> dict[str, object]:
        """The source entry, as the config file takes it (keys in the config's order)."""
        out: dict[str, object] = {"name": self.name, "kind": self.kind, "start_urls": [self.url]}
        if self.pages:
            out["pages"] = self.pages
        if self.kind in ("listing", "epaper") and self.allow:
            out["allow"] = self.allow
        out["schedule"] = {"every": "1h"}
        if self.encoding and not self.declares_charset:
            out["encoding"] = self.encoding
        if self.render:
            out["render"] = self.render
        return out

    def yaml(self) -> str:
        """The entry as YAML, under ``sources:``, with what was inferred as comments."""
        import yaml

        body = yaml.safe_dump([self.entry()], allow_unicode=True, sort_keys=False, default_flow_style=None,
                              width=120)
        lines = [f"# suggested for {self.url}",
                 f"# kind: {self.kind}" + (f"; CMS: {_CMS_NAMES.get(self.cms, self.cms)}" if self.kind == "listing"
                                           else ""),
                 f"# encoding: {self.encoding or 'n/a'}" + ("" if self.declares_charset else " (not declared)")]
        if self.kind == "listing":
            lines.append(f"# next listing page: {self.next_pages[0]}" if self.next_pages
                         else "# next listing page: none found (one page only, or set next_page)")
        if self.challenge:
            lines.append(f"# challenge page ({self.challenge}): fetched through the browser when it answers")
        lines += [f"# {note}" for note in self.notes]
        lines.append("sources:")
        lines += ["  " + line for line in body.rstrip("\n").splitlines()]
        if self.sample:
            lines.append(f"# {len(self.sample)} matched link(s), first ones:")
            lines += [f"#   {title or '(no text)'}  {url}" for url, title in self.sample[:8]]
        return "\n".join(lines) + "\n"


def source_name(url: str) -> str:
    """A source name for ``url``: its host's telling labels (``www.ganzhou.gov.cn`` →
    ``ganzhou-gov``), or ``site-PORT`` for an address."""
    parts = urlsplit(url)
    host = (parts.hostname or "site").lower()
    if re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
        return f"site-{parts.port or 80}"
    labels = [label for label in host.split(".") if label not in _GENERIC_LABELS] or [host.split(".")[0]]
    name = "-".join(labels[-2:]) + ("-gov" if ".gov." in f".{host}." else "")
    return re.sub(r"[^a-z0-9_-]", "-", name)[:63].strip("-") or "site"


def _kind_of(body: bytes, content_type: str) -> str:
    head = body[:2048].lstrip()
    if _FEED.search(head):
        return "feed"
    if _SITEMAP.search(head):
        return "sitemap"
    if "json" in content_type or head[:1] in (b"{", b"["):
        try:
            json.loads(body)
        except ValueError:
            return "listing"
        return "api"
    return "listing"


def suggest(url: str, status: int, headers: Mapping[str, str], body: bytes) -> Suggestion:
    """A source entry for the page ``url`` answered with (``status``, ``headers`` with lower-case
    names, ``body``); see the module's docstring."""
    content_type = headers.get("content-type", "")
    found = Suggestion(source_name(url), url, kind=_kind_of(body, content_type))
    text, found.encoding, garbled = decode_html(body, headers)
    found.declares_charset = "charset" in content_type.lower() or bool(_CHARSET.search(body[:4096]))
    if found.kind == "feed":
        return found
    if found.kind == "sitemap":
        found.sample = [(loc, "") for loc in _LOC.findall(text)]
        return found
    if found.kind == "api":
        return found
    kind = challenge_kind(status, body)
    if kind is not None:
        found.challenge, found.render = kind, "auto"
        found.notes.append("the page answered is a challenge: the article pattern is inferred at crawl time")
        return found
    if garbled > 0.05:
        found.notes.append(f"the text reads garbled ({garbled:.0%}): check the encoding")
    found.cms = cms_of(text)
    found.next_pages = next_listing_urls(text, url)
    found.allow = infer_allow(text, url)
    if found.allow is None and not any(_EPAPER_PAGE.match(f.shape[-1]) for f in link_families(text, url)):
        if _SCRIPT_FETCH.search(text):
            found.render = "browser"
            found.notes.append("no article list in the page, and its scripts fetch data: the list is built "
                               "in the browser (the pattern is inferred from the rendered page)")
        else:
            found.notes.append("no article list recognised: give allow by hand")
        return found
    families = link_families(text, url)
    issues = [f for f in families if _EPAPER_PAGE.match(f.shape[-1]) and f.score > 0]
    if issues:  # an e-paper: its 版面 pages, whose stories are inferred on each
        found.kind = "epaper"
        found.pages = max(issues, key=lambda f: (len(f.urls), len(f.shape))).pattern
        found.notes.append("an e-paper (方正-style node_N 版面 pages): stories are inferred on each page")
        if _EPAPER_PAGE.match(url_shape(url)[-1]) is None:
            found.allow = None  # the issue index links pages only; a pattern found here is not the stories'
    best = next((f for f in families if f.pattern == found.allow), None)
    if best is not None:
        found.sample = list(zip(best.urls, best.texts, strict=True))
    return found
