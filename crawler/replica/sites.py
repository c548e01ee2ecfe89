"""All four replica sites as data: ``{site: {path: Resource}}``, built once per process."""

from __future__ import annotations

from functools import cache

from crawler.replica.epaper import build_epaper
from crawler.replica.gov import build_gov
from crawler.replica.news import build_news
from crawler.replica.park import build_park
from crawler.replica.resource import Resource

SITES = ("gov", "news", "park", "epaper")
"""The replica sites, in the order they are started and listed."""

NOT_FOUND = "/404.html"
"""The path of each site's not-found page (served with status 404 for unknown paths)."""


@cache
def _build() -> dict[str, dict[str, Resource]]:
    return {"gov": build_gov(), "news": build_news(), "park": build_park(), "epaper": build_epaper()}


def build_sites() -> dict[str, dict[str, Resource]]:
    """Every page of every replica site, keyed by site name then URL path.

    Pure and deterministic: the same package always builds the same bytes, ETags and
    Last-Modified dates. The pages are built once and cached; each call returns fresh outer
    dicts, so callers may add or replace entries without affecting other callers.
    """
    return {site: dict(pages) for site, pages in _build().items()}
