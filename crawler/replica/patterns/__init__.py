"""Pattern sites: small replicas of how the CMSs and feeds analysts meet list and page their
articles (Hanweb datastore records, TRS ``createPageHTML``, feeds, challenges …), each built
from the seeds' real text like the demo sites.

:data:`PATTERNS` maps a pattern site's name to its builder, which returns what the site serves:
``{path or path?query: Page}`` (a :class:`~crawler.replica.resource.Resource`, or a handler
computing the answer per request). ``ReplicaSites(patterns=[...])`` and ``python -m
crawler.replica --patterns`` serve them beside (or instead of) the four demo sites. Add a
pattern with one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from crawler.replica.markup import SITE_EPOCH
from crawler.replica.patterns.challenge import build_challenge
from crawler.replica.patterns.feeds import build_feeds
from crawler.replica.patterns.hanweb import build_hanweb
from crawler.replica.patterns.jpaas import build_jpaas
from crawler.replica.patterns.pagenum import build_pagenum
from crawler.replica.patterns.scripted import build_scripted
from crawler.replica.patterns.trs import build_trs
from crawler.replica.resource import HTML_UTF8, Page, make_resource
from crawler.replica.sites import NOT_FOUND

Builder = Callable[[], Mapping[str, Page]]

PATTERNS: dict[str, Builder] = {
    "challenge": build_challenge,
    "feeds": build_feeds,
    "hanweb": build_hanweb,
    "jpaas": build_jpaas,
    "pagenum": build_pagenum,
    "scripted": build_scripted,
    "trs": build_trs,
}
"""Pattern site name → builder of its pages."""

_MISSING = make_resource("<html><head><title>404</title></head><body><h2>404</h2><p>页面不存在</p></body></html>"
                         .encode(), HTML_UTF8, SITE_EPOCH)


def build_patterns(names: Iterable[str] | None = None) -> dict[str, dict[str, Page]]:
    """The pages of the pattern sites named (all when None), each with a ``/404.html``.

    Raises ValueError for an unknown name."""
    wanted = list(PATTERNS) if names is None else list(names)
    unknown = [n for n in wanted if n not in PATTERNS]
    if unknown:
        raise ValueError(f"unknown pattern site(s): {', '.join(unknown)}; known: {', '.join(PATTERNS)}")
    return {name: {NOT_FOUND: _MISSING, **PATTERNS[name]()} for name in wanted}


__all__ = ["PATTERNS", "Builder", "build_patterns"]
